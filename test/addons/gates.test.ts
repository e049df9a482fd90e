/**
 * Stage gates: pure assessments on tables of real-looking objects, then the gate steps against the lab
 * (healthy, and with the `cni-not-ready` fault), talking to it only through src/kube.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assessDaemonSetRollout, assessWorkloads, buildCniGateStep, buildWorkloadsGateStep, explainNotReady } from '../../src/addons/gates.js';
import { pollUntil } from '../../src/run/sleep.js';
import { startControllers } from '../../src/lab/controllers/index.js';
import { startLab, type Lab, type LabOptions } from '../../src/lab/index.js';
import { loadKubeConfig } from '../../src/kube/index.js';
import { executeStep } from '../../src/run/engine.js';
import type { KubeObject } from '../../src/kube/index.js';
import { createTestContext } from '../helpers/context.js';

const node = (name: string, ready = true): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
const ds = (status: Record<string, unknown> = {}, generation = 1): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'cilium', namespace: 'kube-system', uid: 'ds-uid', generation },
  spec: { selector: { matchLabels: { 'k8s-app': 'cilium' } } },
  status,
});
const pod = (nodeName: string, ready: boolean, owner = 'ds-uid'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `cilium-${nodeName}`, namespace: 'kube-system', labels: { 'k8s-app': 'cilium' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'cilium', uid: owner }] },
  spec: { nodeName },
  status: { phase: ready ? 'Running' : 'Pending', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const ref = { namespace: 'kube-system', name: 'cilium' };

describe('assessDaemonSetRollout', () => {
  it.each([
    { name: 'all nodes have a ready pod', d: ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, observedGeneration: 1 }), pods: [pod('a', true), pod('b', true), pod('c', true)], nodes: [node('a'), node('b'), node('c')], ready: true, missing: [] as string[], notReady: [] as string[] },
    { name: 'one pod not ready and its node NotReady', d: ds(), pods: [pod('a', true), pod('b', false), pod('c', true)], nodes: [node('a'), node('b', false), node('c')], ready: false, missing: ['b'], notReady: ['b'] },
    { name: 'a node without any pod', d: ds(), pods: [pod('a', true)], nodes: [node('a'), node('w-2')], ready: false, missing: ['w-2'], notReady: [] },
    { name: 'a pod of another DaemonSet does not count', d: ds(), pods: [pod('a', true, 'other-uid')], nodes: [node('a')], ready: false, missing: ['a'], notReady: [] },
    { name: 'rollout of a new generation still in progress', d: ds({ desiredNumberScheduled: 1, updatedNumberScheduled: 0, observedGeneration: 1 }, 2), pods: [pod('a', true)], nodes: [node('a')], ready: false, missing: [], notReady: [] },
    { name: 'no DaemonSet at all', d: undefined, pods: [], nodes: [node('a'), node('b')], ready: false, missing: ['a', 'b'], notReady: [] },
  ])('$name', ({ d, pods, nodes, ready, missing, notReady }) => {
    const r = assessDaemonSetRollout(ref, d, pods, nodes);
    expect(r.ready).toBe(ready);
    expect(r.nodesWithoutReadyPod).toEqual(missing);
    expect(r.notReadyNodes).toEqual(notReady);
    if (!ready) expect(r.summary).toContain('kube-system/cilium');
    for (const n of missing) expect(r.summary).toContain(n);
  });

  it('pods matched by labels when they carry no owner reference', () => {
    const p = pod('a', true);
    delete (p.metadata as Record<string, unknown>).ownerReferences;
    expect(assessDaemonSetRollout(ref, ds(), [p], [node('a')]).ready).toBe(true);
  });
});

describe('explainNotReady', () => {
  const meta = (kind: string, name: string, uid: string, owner?: string) => ({ apiVersion: 'v1', kind, metadata: { name, namespace: 'm', uid, ownerReferences: owner ? [{ apiVersion: 'apps/v1', kind: kind === 'Pod' ? 'ReplicaSet' : 'Deployment', name: owner, uid: owner }] : undefined } });
  const event = (reason: string, message: string, io: { kind: string; name: string; uid?: string }, at: string, type = 'Warning'): KubeObject =>
    ({ apiVersion: 'v1', kind: 'Event', metadata: { name: `e-${at}`, namespace: 'm' }, type, reason, message, involvedObject: io, lastTimestamp: at });

  it("finds a Deployment's events on its ReplicaSet and pods, telling reasons first, one per message up to pod names", () => {
    const events = [
      event('BackOff', 'Back-off pulling image', { kind: 'Pod', name: 'web-1-a', uid: 'pod-a' }, '2026-01-01T00:00:05Z'),
      event('FailedCreate', 'Error creating: pods "web-1-b" is forbidden: violates PodSecurity', { kind: 'ReplicaSet', name: 'web-1', uid: 'rs' }, '2026-01-01T00:00:03Z'),
      event('FailedCreate', '(combined from similar events): Error creating: pods "web-1-c" is forbidden: violates PodSecurity', { kind: 'ReplicaSet', name: 'web-1', uid: 'rs' }, '2026-01-01T00:00:04Z'),
      event('ScalingReplicaSet', 'Scaled up', { kind: 'Deployment', name: 'web', uid: 'dep' }, '2026-01-01T00:00:01Z', 'Normal'),
      event('FailedCreate', 'someone else', { kind: 'ReplicaSet', name: 'other-1', uid: 'rs-other' }, '2026-01-01T00:00:06Z'),
    ];
    const r = explainNotReady([{ kind: 'Deployment', namespace: 'm', name: 'web', uid: 'dep' }], [meta('ReplicaSet', 'web-1', 'rs', 'dep')], [meta('Pod', 'web-1-a', 'pod-a', 'rs')], events);
    expect(r.get('dep')).toEqual(['FailedCreate: Error creating: pods "web-1-c" is forbidden: violates PodSecurity', 'BackOff: Back-off pulling image']);
  });

  it('matches events without object uids by kind and name (older servers, the lab)', () => {
    const r = explainNotReady([{ kind: 'DaemonSet', namespace: 'm', name: 'agent' }], [], [], [event('FailedCreate', 'quota', { kind: 'DaemonSet', name: 'agent' }, '2026-01-01T00:00:00Z')]);
    expect(r.get('DaemonSet/m/agent')).toEqual(['FailedCreate: quota']);
  });
});

describe('assessWorkloads', () => {
  it('names the workloads that are not Ready', () => {
    const r = assessWorkloads([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'grafana', namespace: 'monitoring' }, spec: { replicas: 1 }, status: { readyReplicas: 1 } },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'prometheus', namespace: 'monitoring' }, spec: { replicas: 1 }, status: {} },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'fluent-bit', namespace: 'logging' }, status: { desiredNumberScheduled: 3, numberReady: 2 } },
    ] as KubeObject[]);
    expect(r.ready).toBe(false);
    expect(r.summary).toBe('2 of 3 workloads not Ready: DaemonSet logging/fluent-bit (2/3 pods ready), StatefulSet monitoring/prometheus (0/1 replicas ready)');
  });

  it('nothing installed is not ready', () => {
    expect(assessWorkloads([]).ready).toBe(false);
  });
});

describe('pollUntil', () => {
  it('returns the last view when the deadline passes, on an injected clock', async () => {
    let t = 0;
    const r = await pollUntil(async () => ++t, () => false, { timeoutMs: 5, intervalMs: 0, signal: new AbortController().signal, now: () => t });
    expect(r).toEqual({ view: 5, done: false });
  });
});

describe('gates against the lab', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  async function start(o: Partial<LabOptions>): Promise<Lab> {
    lab = await startLab({ nodes: 3, controlPlanes: 1, cni: 'cilium', controllers: startControllers, ...o });
    return lab;
  }

  function ctxFor(l: Lab) {
    return { ...createTestContext(), values: { kubeconfig: l.kubeconfigPath } };
  }

  it('a healthy cilium DaemonSet passes: ready on every node, all nodes Ready', async () => {
    const l = await start({});
    const step = buildCniGateStep(ref, { stage: 'cni', timeoutMs: 20_000, intervalMs: 200 });
    const r = await executeStep(step, ctxFor(l));
    expect(r.status, r.summary).toBe('pass');
    expect(r.summary).toBe('DaemonSet kube-system/cilium ready on all 3 nodes; all nodes Ready');
  });

  it('cni-not-ready: the stage fails at its own timeout naming the DaemonSet and every node without it', async () => {
    const l = await start({ faults: ['cni-not-ready'] });
    const step = buildCniGateStep(ref, { stage: 'cni', timeoutMs: 3000, intervalMs: 200 });
    const r = await executeStep(step, ctxFor(l));
    expect(r.status).toBe('fail');
    // The gate's own verdict, not the engine's backstop ("did not finish within").
    expect(r.summary).toMatch(/^not ready after 3s: DaemonSet kube-system\/cilium: no ready cilium pod on 3 of 3 nodes: cp-1, w-1, w-2/);
    expect(r.summary).toContain('nodes not Ready: cp-1, w-1, w-2');
    expect(r.evidence).toMatchObject({ daemonSet: 'kube-system/cilium', nodesWithoutReadyPod: ['cp-1', 'w-1', 'w-2'] });
    expect(r.fix).toContain('kubectl -n kube-system describe daemonset cilium');
  });

  it('a DaemonSet that was never created fails naming it', async () => {
    const l = await start({ cni: 'none' });
    const r = await executeStep(buildCniGateStep(ref, { stage: 'cni', timeoutMs: 1000, intervalMs: 200 }), ctxFor(l));
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('DaemonSet kube-system/cilium does not exist');
    expect(r.fix).toContain('helm -n kube-system status');
  });

  it('monitoring gate: Ready workloads pass; one that cannot schedule fails by name', async () => {
    const l = await start({});
    const kube = await loadKubeConfig(l.kubeconfigPath);
    try {
      await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring' } });
      const deploy = (name: string, nodeSelector?: Record<string, string>): KubeObject => ({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: 'monitoring' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { ...(nodeSelector ? { nodeSelector } : {}), containers: [{ name, image: 'grafana/grafana:12.1.0' }] } },
        },
      });
      await kube.create(deploy('grafana'));
      const ok = await executeStep(buildWorkloadsGateStep(['monitoring'], { stage: 'monitoring', timeoutMs: 20_000, intervalMs: 200 }), ctxFor(l));
      expect(ok.status, ok.summary).toBe('pass');
      expect(ok.summary).toBe('1 workloads Ready');

      await kube.create(deploy('prometheus', { disk: 'nvme-that-no-node-has' }));
      const bad = await executeStep(buildWorkloadsGateStep(['monitoring'], { stage: 'monitoring', timeoutMs: 2000, intervalMs: 200 }), ctxFor(l));
      expect(bad.status).toBe('fail');
      // The scheduler's event says why, not only the count.
      expect(bad.summary).toMatch(/^not ready after 2s: 1 of 2 workloads not Ready: Deployment monitoring\/prometheus \(0\/1 replicas ready; FailedScheduling: 0\/3 nodes are available: /);
    } finally {
      kube.close();
    }
  });
});
