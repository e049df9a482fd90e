/** Issue 14's diagnoses as tables: each names the object and the cause in the operator's words. */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/paths.js';
import { describeExclusions, explainNoNode, readNode, type NodeInfo } from '../../src/validate/nodes.js';
import { diagnosePod, fixForNoNode, isUnschedulable } from '../../src/validate/pod-state.js';
import { checkSchedulable, checkSpecNodes } from '../../src/validate/checks.js';

function node(name: string, o: { cp?: boolean; cordon?: boolean; notReady?: string; taints?: { key: string; value?: string; effect: string }[] } = {}): NodeInfo {
  const taints = o.taints ?? (o.cp ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] : []);
  return readNode({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.cp ? { 'node-role.kubernetes.io/control-plane': '' } : {}) } },
    spec: { unschedulable: o.cordon, taints },
    status: { conditions: [o.notReady ? { type: 'Ready', status: 'False', reason: o.notReady } : { type: 'Ready', status: 'True' }] },
  });
}

const CP = node('cp-1', { cp: true });
const W1 = node('w-1');
const W2 = node('w-2');

describe('which nodes take no pods, and why', () => {
  it.each([
    ['workers cordoned, control plane tainted', [CP, node('w-1', { cordon: true }), node('w-2', { cordon: true })], 'no node takes the test pod: w-1, w-2 cordoned; cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule'],
    ['a single tainted node', [CP], 'no node takes the test pod: cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule'],
    ['CNI not ready: every node NotReady', [node('cp-1', { cp: true, notReady: 'KubeletNotReady' }), node('w-1', { notReady: 'KubeletNotReady' })], 'no node takes the test pod: cp-1, w-1 NotReady (False: KubeletNotReady)'],
    ['workers NoExecute-tainted', [CP, node('w-1', { taints: [{ key: 'maintenance', value: 'yes', effect: 'NoExecute' }] })], 'no node takes the test pod: cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule; w-1 tainted maintenance=yes:NoExecute'],
    ['no nodes at all', [], 'no node takes the test pod: the cluster has no nodes'],
  ])('%s', (_name, nodes, want) => {
    expect(explainNoNode(nodes)).toBe(want);
  });

  it('says nothing when some node takes pods', () => {
    expect(explainNoNode([CP, W1])).toBeUndefined();
  });

  it('the fix puts the nodes back', () => {
    expect(fixForNoNode([CP, node('w-1', { cordon: true }), node('w-2', { cordon: true })])).toBe('kubectl uncordon w-1 w-2; kubectl taint nodes cp-1 node-role.kubernetes.io/control-plane:NoSchedule- (or let workloads tolerate it)');
  });

  it('groups only identical causes', () => {
    expect(describeExclusions([node('a', { cordon: true }), node('b', { taints: [{ key: 'x', effect: 'NoSchedule' }] }), node('c', { cordon: true })])).toBe('a, c cordoned; b tainted x:NoSchedule');
  });
});

describe('a pod the scheduler refused', () => {
  const pending = (message: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'writer', namespace: 'gv' },
    spec: { containers: [{ name: 'write' }] },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }] },
  });
  const msg = '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';

  it.each([
    [msg, true],
    ['0/3 nodes are available: 3 Insufficient cpu.', true],
    ['0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.', false],
    ['persistentvolumeclaim "data" not found', false],
  ])('%s → stop waiting: %s', (m, want) => {
    expect(isUnschedulable(pending(m))).toBe(want);
  });

  it('is explained by node names, with the scheduler\'s words as evidence, not blamed on the provisioner', () => {
    const d = diagnosePod(pending(msg), [{ type: 'Warning', reason: 'FailedScheduling', message: msg, object: 'Pod/writer', count: 1 }], [CP, node('w-1', { cordon: true }), node('w-2', { cordon: true })]);
    expect(d.cause).toBe(`no node takes the test pod: w-1, w-2 cordoned; cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule (FailedScheduling: ${msg})`);
    expect(d.cause).not.toMatch(/provision/);
    expect(d.fix).toMatch(/^kubectl uncordon w-1 w-2/);
  });

  it('without a node-wide cause it keeps the scheduler\'s message', () => {
    expect(diagnosePod(pending('0/3 nodes are available: 3 Insufficient cpu.'), [], [CP, W1, W2]).cause).toBe('the scheduler cannot place the pod: 0/3 nodes are available: 3 Insufficient cpu.');
  });
});

describe('control-plane: nodes that are Ready but take no pods', () => {
  it.each([
    ['healthy: the control plane\'s own taint is by design', [CP, W1, W2], 'pass', '2 nodes take pods'],
    ['every worker cordoned', [CP, node('w-1', { cordon: true }), node('w-2', { cordon: true })], 'warn', '2 Ready nodes take no pods: w-1, w-2 cordoned; no node takes pods at all'],
    ['a worker NoExecute-tainted', [CP, W1, node('w-2', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }] })], 'warn', '1 Ready node takes no pods: w-2 tainted dedicated=gpu:NoExecute'],
    ['a control plane with an extra taint', [node('cp-1', { cp: true, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }, { key: 'broken', effect: 'NoSchedule' }] }), W1], 'warn', '1 Ready node takes no pods: cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule, broken:NoSchedule'],
    ['a NotReady node is the nodes check\'s, not this one\'s', [CP, W1, node('w-2', { notReady: 'NodeStatusUnknown' })], 'pass', '1 node takes pods'],
  ])('%s', (_name, nodes, status, summary) => {
    const c = checkSchedulable(nodes);
    expect([c.status, c.summary]).toEqual([status, summary]);
  });

  it('a node the spec lists but the cluster lacks is a failure naming it', () => {
    const c = checkSpecNodes(['cp-1', 'w-1', 'w-2', 'w-3'], [CP, W1, W2])!;
    expect([c.status, c.summary]).toEqual(['fail', '1 of 4 nodes in the spec are missing from the cluster: w-3']);
    expect(c.fix).toContain('w-3');
    expect(checkSpecNodes(['cp-1', 'w-1'], [CP, W1, W2])!.status).toBe('pass');
    expect(checkSpecNodes(undefined, [CP])).toBeUndefined();
  });
});
