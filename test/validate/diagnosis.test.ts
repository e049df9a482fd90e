/** Issue 14's diagnoses as tables: each names the object and the cause in the operator's words. */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/paths.js';
import { describeExclusions, describeSettling, explainNoNode, podNodes, readNode, settlingNodes, type NodeInfo } from '../../src/validate/nodes.js';
import { diagnosePod, fixForNoNode, isUnschedulable } from '../../src/validate/pod-state.js';
import { apiServiceAddresses, checkApiService, checkCoreDns, checkSchedulable, checkSpecNodes } from '../../src/validate/checks.js';
import { multipleDefaults } from '../../src/validate/suites/storage.js';

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

  it('Ready nodes the node lifecycle controller has not untainted after the wait: the warning names the controller', () => {
    const lagging = (name: string) => node(name, { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] });
    const c = checkSchedulable([CP, W1, lagging('w-2'), lagging('w-3')]);
    expect([c.status, c.summary]).toEqual(['warn', '2 Ready nodes take no pods: w-2, w-3 tainted node.kubernetes.io/not-ready:NoSchedule']);
    expect(c.why).toBe('workloads have fewer nodes than the cluster seems to have; Ready nodes still carry the taint the node lifecycle controller removes once a node is Ready (validate waited up to 30 s for it)');
    expect(c.fix).toMatch(/^check kube-controller-manager/);
    // A taint of the operator's beside it: the fix is the operator's.
    expect(checkSchedulable([CP, W1, lagging('w-2'), node('w-3', { taints: [{ key: 'dedicated', effect: 'NoSchedule' }] })]).fix).toBe('kubectl describe node w-2 and remove the taint if it is left over');
  });

  it('a node the spec lists but the cluster lacks is a failure naming it', () => {
    const c = checkSpecNodes(['cp-1', 'w-1', 'w-2', 'w-3'], [CP, W1, W2])!;
    expect([c.status, c.summary]).toEqual(['fail', '1 of 4 nodes in the spec are missing from the cluster: w-3']);
    expect(c.fix).toContain('w-3');
    expect(checkSpecNodes(['cp-1', 'w-1'], [CP, W1, W2])!.status).toBe('pass');
    expect(checkSpecNodes(undefined, [CP])).toBeUndefined();
  });
});

describe('new checks', () => {
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 443 }] } } as KubeObject;
  const ep = (ips: string[]) => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes' }, subsets: ips.length ? [{ addresses: ips.map((ip) => ({ ip })), ports: [{ port: 6443 }] }] : [] }) as KubeObject;

  it.each([
    ['healthy', svc, ['10.0.0.11:6443'], [{ node: 'w-1', ok: true }], 'pass', 'pods reach the API through the kubernetes Service (10.96.0.1:443 -> 10.0.0.11:6443) from 1 node'],
    ['no endpoints', svc, [], [{ node: 'w-1', ok: false }], 'fail', 'pods cannot reach the API: the kubernetes Service (10.96.0.1:443) has no endpoints'],
    ['endpoints, but a node cannot connect', svc, ['10.0.0.11:6443'], [{ node: 'w-1', ok: true }, { node: 'w-2', ok: false }], 'fail', 'pods on w-2 cannot reach the API through the kubernetes Service (10.96.0.1:443 -> 10.0.0.11:6443)'],
    ['no Service', undefined, [], [], 'fail', 'the kubernetes Service (default/kubernetes) is missing: pods cannot reach the API'],
    ['endpoints not readable (RBAC): the probes judge', svc, undefined, [{ node: 'w-1', ok: true }], 'pass', 'pods reach the API through the kubernetes Service (10.96.0.1:443) from 1 node'],
  ] as const)('kubernetes Service: %s', (_n, s, addrs, probes, status, summary) => {
    const c = checkApiService(s, addrs ? [...addrs] : undefined, [...probes]);
    expect([c.status, c.summary]).toEqual([status, summary]);
  });

  it('reads the API addresses from Endpoints, else from ready EndpointSlice endpoints', () => {
    expect(apiServiceAddresses(ep(['10.0.0.11', '10.0.0.12']), [])).toEqual(['10.0.0.11:6443', '10.0.0.12:6443']);
    expect(apiServiceAddresses(ep([]), [{ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'kubernetes' }, endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }, { addresses: ['10.0.0.12'], conditions: { ready: false } }], ports: [{ port: 6443 }] } as KubeObject])).toEqual(['10.0.0.11:6443']);
    expect(apiServiceAddresses(undefined, [])).toEqual([]);
  });

  const dep = (replicas: number) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }, spec: { replicas } }) as KubeObject;
  const dnsPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns-1' } } as KubeObject;
  it.each([
    ['scaled to zero', [], 0, [dep(0)], 'fail', 'CoreDNS is scaled to zero: deployment kube-system/coredns has replicas: 0'],
    ['scaled to zero, a pod still terminating', [dnsPod], 0, [dep(0)], 'fail', 'CoreDNS is scaled to zero: deployment kube-system/coredns has replicas: 0'],
    ['no pods, no deployment', [], 0, [], 'fail', 'no CoreDNS pods (kube-system, k8s-app=kube-dns)'],
    ['down', [dnsPod, dnsPod], 0, [dep(2)], 'fail', 'CoreDNS is down: 0 of 2 CoreDNS pods Ready'],
    ['half Ready', [dnsPod, dnsPod], 1, [dep(2)], 'warn', '1/2 CoreDNS pods Ready'],
    ['healthy', [dnsPod, dnsPod], 2, [dep(2)], 'pass', '2/2 CoreDNS pods Ready'],
  ] as const)('CoreDNS: %s', (_n, pods, ready, deps, status, summary) => {
    const c = checkCoreDns([...pods], ready, [...deps]);
    expect([c.status, c.summary]).toEqual([status, summary]);
  });
  it('a CoreDNS scaled to zero says how to scale it back', () => {
    expect(checkCoreDns([], 0, [dep(0)]).fix).toBe('kubectl -n kube-system scale deployment coredns --replicas=2');
  });

  const sc = (name: string, at: string) => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name, creationTimestamp: at } }) as KubeObject;
  it('two default StorageClasses: a warning naming both and the one claims get', () => {
    const w = multipleDefaults([sc('standard', '2026-01-01T00:00:00Z'), sc('fast', '2026-02-01T00:00:00Z')])!;
    expect(w.summary).toBe('2 StorageClasses are marked default (standard, fast): claims without storageClassName get the newest (fast), not a choice');
    expect(w.fix).toContain('kubectl patch storageclass standard');
    expect(multipleDefaults([sc('standard', '2026-01-01T00:00:00Z')])).toBeUndefined();
  });
});

describe('which nodes the connectivity matrix covers', () => {
  it('control planes with only their own NoSchedule taint are in (tolerated); cordoned, NotReady and otherwise tainted are out, with why', () => {
    const r = podNodes([CP, W1, node('w-2', { cordon: true }), node('w-3', { notReady: 'NodeStatusUnknown' }), node('w-4', { taints: [{ key: 'gpu', effect: 'NoExecute' }] })]);
    expect(r.nodes.map((n) => n.name)).toEqual(['cp-1', 'w-1']);
    expect(r.tolerations).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(r.excluded).toEqual(['w-2 (cordoned)', 'w-3 (NotReady (False: NodeStatusUnknown))', 'w-4 (tainted gpu:NoExecute)']);
  });
  it('no tolerations when no control plane needs them', () => {
    expect(podNodes([W1, W2]).tolerations).toEqual([]);
  });
});

describe('nodes the node lifecycle controller is still settling', () => {
  const taint = (key: string, effect = 'NoSchedule') => ({ key, effect });
  it.each([
    ['Ready, not-ready:NoSchedule (just joined)', node('w-1', { taints: [taint('node.kubernetes.io/not-ready')] }), true],
    ['Ready, unreachable:NoExecute (the kubelet is back)', node('w-1', { taints: [taint('node.kubernetes.io/unreachable', 'NoExecute')] }), true],
    ['NotReady with the taint: it belongs there', node('w-1', { notReady: 'KubeletNotReady', taints: [taint('node.kubernetes.io/not-ready')] }), false],
    ['Ready, cordoned (unschedulable taint): the operator\'s, lasting', node('w-1', { cordon: true, taints: [taint('node.kubernetes.io/unschedulable')] }), false],
    ['Ready, an operator\'s taint', node('w-1', { taints: [taint('dedicated')] }), false],
    ['a control plane\'s own taint', CP, false],
    ['untainted', W1, false],
  ])('%s: settling %s', (_name, n, want) => {
    expect(settlingNodes([n]).length === 1).toBe(want);
  });

  it('says which nodes and which taints, ten names at most', () => {
    const many = Array.from({ length: 12 }, (_, i) => node(`w-${i + 1}`, { taints: [taint('node.kubernetes.io/not-ready')] }));
    expect(describeSettling(many.slice(0, 1))).toBe('1 Ready node (w-1) still tainted node.kubernetes.io/not-ready:NoSchedule');
    expect(describeSettling(many)).toBe('12 Ready nodes (w-1, w-2, w-3, w-4, w-5, w-6, w-7, w-8, w-9, w-10, +2 more) still tainted node.kubernetes.io/not-ready:NoSchedule');
  });
});
