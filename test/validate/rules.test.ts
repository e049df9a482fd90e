/** The pure rules of validation: object builders, diagnoses, checks. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { KubeObject } from '../../src/kube/paths.js';
import { buildNetpolObjects, buildProbePod, buildClusterRole, buildNamespace, RUN_LABEL } from '../../src/validate/objects.js';
import { diagnosePod, containerResults, isRunning } from '../../src/validate/pod-state.js';
import { backupFreshness, checkWorkloads, summarizeChecks } from '../../src/validate/checks.js';
import { detectCni, diagnoseNetpol, expectVerdicts, NETPOL_TARGETS, type NetpolRow } from '../../src/validate/suites/netpol.js';
import { checkSpread } from '../../src/validate/suites/scheduling.js';
import { defaultClasses, diagnosePendingClaim, scaledDownProvisioners } from '../../src/validate/suites/storage.js';
import { readNode } from '../../src/validate/nodes.js';
import { parseSuites, junitWithMatrix } from '../../src/validate/index.js';
import { buildMatrix, serverContainer } from '../../src/validate/matrix.js';
import { parseProbe } from '../../src/probe/index.js';
import type { NetworkPolicy } from '../../src/net/netpol.js';

const B = { namespace: 'gv-1', runId: 'r1', registry: '' };

function pod(status: Record<string, unknown>, spec: Record<string, unknown> = { containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53' }] }, name = 'p'): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'gv-1' }, spec, status };
}

describe('object builders', () => {
  it('every pod meets the restricted Pod Security Standard, whatever the probes', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('connect', 'serve', 'sleep', 'write-file', 'resolve'), { minLength: 1, maxLength: 6 }), fc.string(), (kinds, registry) => {
        const probes = kinds.map((k, i) => ({
          name: `c${i}`,
          probe:
            k === 'connect' ? { kind: 'connect' as const, host: '10.0.0.1', port: 80, timeoutS: 2 }
            : k === 'serve' ? { kind: 'serve' as const, port: 8080 }
            : k === 'write-file' ? { kind: 'write-file' as const, path: '/data/x', content: 'y' }
            : k === 'resolve' ? { kind: 'resolve' as const, name: 'svc', timeoutS: 2 }
            : { kind: 'sleep' as const },
        }));
        const p = buildProbePod({ ...B, registry }, 'p', 'suite', probes);
        const spec = p.spec as { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown>; command: string[] }[]; automountServiceAccountToken: boolean };
        expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        expect(spec.automountServiceAccountToken).toBe(false);
        for (const c of spec.containers) {
          expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
          // The lab (and a real cluster) read the same probe back from the command.
          expect(parseProbe(c.command)).toBeDefined();
        }
        expect(p.metadata.labels).toMatchObject({ [RUN_LABEL]: 'r1', 'app.kubernetes.io/managed-by': 'groundwork' });
      }),
    );
  });

  it('uses the image registry mirror', () => {
    const p = buildProbePod({ ...B, registry: 'mirror.local:5000/' }, 'p', 's', [{ name: 'c', probe: { kind: 'sleep' } }]);
    expect((p.spec as { containers: { image: string }[] }).containers[0]!.image).toBe('mirror.local:5000/e2e-test-images/agnhost:2.53');
  });

  it('runs init probes first, as init containers built like the others (the netpol client\'s gate)', () => {
    const p = buildProbePod({ ...B, registry: 'mirror.local:5000/' }, 'p', 's', [{ name: 'c', probe: { kind: 'sleep' } }], {
      init: [{ name: 'gate', probe: { kind: 'connect', host: '10.244.1.5', port: 5432, timeoutS: 2, attempts: 20 } }],
    });
    const spec = p.spec as { initContainers: { name: string; image: string; command: string[]; securityContext: unknown }[]; containers: { securityContext: unknown }[] };
    expect(spec.initContainers.map((c) => c.name)).toEqual(['gate']);
    expect(spec.initContainers[0]!.image).toBe('mirror.local:5000/e2e-test-images/agnhost:2.53');
    expect(parseProbe(spec.initContainers[0]!.command)).toEqual({ kind: 'connect', host: '10.244.1.5', port: 5432, timeoutS: 2, attempts: 20 });
    expect(spec.initContainers[0]!.securityContext).toEqual(spec.containers[0]!.securityContext);
    expect((buildProbePod(B, 'q', 's', [{ name: 'c', probe: { kind: 'sleep' } }]).spec as Record<string, unknown>).initContainers).toBeUndefined();
  });

  it('labels the namespace for cleanup and enforces the restricted standard', () => {
    expect(buildNamespace('groundwork-validate-x', 'x').metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'groundwork', [RUN_LABEL]: 'x',
      'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest',
      'pod-security.kubernetes.io/audit': 'restricted', 'pod-security.kubernetes.io/audit-version': 'latest',
      'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/warn-version': 'latest',
    });
  });

  it('the ClusterRole never grants secrets or node writes', () => {
    const rules = buildClusterRole().rules as { resources?: string[]; verbs: string[] }[];
    expect(rules.some((r) => r.resources?.includes('secrets'))).toBe(false);
    expect(rules.some((r) => r.resources?.includes('nodes') && r.verbs.some((v) => v !== 'get' && v !== 'list' && v !== 'watch'))).toBe(false);
  });
});

describe('NetworkPolicy test: expectations come from the evaluator', () => {
  const policies = buildNetpolObjects('gv-1-netpol', 'r1') as unknown as NetworkPolicy[];
  const server = { postgres: { app: 'postgres' }, mysql: { app: 'mysql' }, redis: { app: 'redis' }, memcached: { app: 'memcached' } };

  it('the two-rule policy allows postgres:5432 and mysql:3306 only', () => {
    const v = expectVerdicts('gv-1-netpol', policies, { 'groundwork.dev/role': 'client' }, server);
    expect(Object.fromEntries([...v].map(([k, x]) => [k, x.allowed]))).toEqual({ 'postgres-5432': true, 'mysql-3306': true, 'postgres-3306': false, 'redis-6379': false, 'memcached-11211': false });
  });

  it('each denied probe is denied by one direction only: egress for postgres:3306 and redis, ingress (default-deny) for memcached', () => {
    const v = expectVerdicts('gv-1-netpol', policies, { 'groundwork.dev/role': 'client' }, server);
    expect(Object.fromEntries([...v].filter(([, x]) => !x.allowed).map(([k, x]) => [k, x.deniedBy]))).toEqual({ 'postgres-3306': ['egress'], 'redis-6379': ['egress'], 'memcached-11211': ['ingress'] });
  });

  it('a pod that is not the client is denied everything (default-deny)', () => {
    const v = expectVerdicts('gv-1-netpol', policies, { app: 'other' }, server);
    expect([...v.values()].every((x) => !x.allowed)).toBe(true);
  });

  const row = (target: string, expected: 'allowed' | 'denied', observed: NetpolRow['observed']): NetpolRow => ({ target, expected, observed, reason: '' });
  it.each([
    [[row('pg:5432', 'allowed', 'connected'), row('redis:6379', 'denied', 'blocked')], 'pass', /NetworkPolicy enforced/],
    [[row('pg:5432', 'allowed', 'connected'), row('redis:6379', 'denied', 'connected')], 'fail', /NetworkPolicies are not enforced/],
    [[row('pg:5432', 'allowed', 'connected'), row('pg:3306', 'denied', 'connected'), row('redis:6379', 'denied', 'blocked')], 'fail', /some denied traffic got through: pg:3306/],
    [[row('pg:5432', 'allowed', 'blocked'), row('redis:6379', 'denied', 'blocked')], 'fail', /traffic the policies allow was blocked: pg:5432/],
  ] as const)('diagnoseNetpol %#', (rows, status, summary) => {
    const d = diagnoseNetpol([...rows]);
    expect(d.status).toBe(status);
    expect(d.summary).toMatch(summary);
  });

  it.each([
    [['kube-flannel-ds', 'kube-proxy'], ['flannel']],
    [['cilium', 'cilium-envoy'], ['cilium']],
    [['calico-node'], ['calico']],
    [['canal'], ['canal']],
    [['kube-proxy', 'node-exporter'], []],
  ])('detectCni(%j) = %j', (names, cni) => {
    expect(detectCni(names)).toEqual(cni);
  });

  it('names flannel as the cause when it is the CNI', () => {
    const rows = [row('pg:5432', 'allowed', 'connected'), row('redis:6379', 'denied', 'connected')];
    expect(diagnoseNetpol(rows, ['flannel']).why).toBe('the CNI (flannel) ignores NetworkPolicy objects: every policy in this cluster is decoration');
    expect(diagnoseNetpol(rows, ['cilium']).why).toMatch(/^the CNI \(cilium\) ignores NetworkPolicy objects \(Flannel does; Cilium or Calico with policy enforcement disabled/);
  });

  const drow = (target: string, observed: NetpolRow['observed'], deniedBy: ('ingress' | 'egress')[]): NetpolRow => ({ target, expected: deniedBy.length ? 'denied' : 'allowed', observed, reason: '', deniedBy });
  it.each([
    ['ingress ignored', [drow('postgres:5432', 'connected', []), drow('postgres:3306', 'blocked', ['egress']), drow('redis:6379', 'blocked', ['egress']), drow('memcached:11211', 'connected', ['ingress'])], 'Ingress rules are not enforced: traffic only an Ingress rule denies got through (memcached:11211); Egress rules are (postgres:3306, redis:6379 blocked)', /applies egress policy but not ingress/],
    ['egress ignored', [drow('postgres:5432', 'connected', []), drow('postgres:3306', 'connected', ['egress']), drow('redis:6379', 'connected', ['egress']), drow('memcached:11211', 'blocked', ['ingress'])], 'Egress rules are not enforced: traffic only an Egress rule denies got through (postgres:3306, redis:6379); Ingress rules are (memcached:11211 blocked)', /applies ingress policy but not egress/],
    ['both ignored', [drow('postgres:5432', 'connected', []), drow('redis:6379', 'connected', ['egress']), drow('memcached:11211', 'connected', ['ingress'])], 'NetworkPolicies are not enforced: traffic they deny got through (redis:6379, memcached:11211)', /ignores NetworkPolicy objects/],
    ['both enforced', [drow('postgres:5432', 'connected', []), drow('redis:6379', 'blocked', ['egress']), drow('memcached:11211', 'blocked', ['ingress'])], 'NetworkPolicy enforced: 1 allowed connections passed, 2 denied ones were blocked (ingress and egress each proven, default-deny in force)', undefined],
  ] as const)('diagnoseNetpol says which direction: %s', (_n, rows, summary, why) => {
    const d = diagnoseNetpol([...rows], ['cilium']);
    expect(d.summary).toBe(summary);
    if (why) expect(d.why).toMatch(why);
  });

  it('probes exactly the five targets', () => {
    expect(NETPOL_TARGETS.map((t) => `${t.app}:${t.port}`)).toEqual(['postgres:5432', 'mysql:3306', 'postgres:3306', 'redis:6379', 'memcached:11211']);
  });
});

describe('pod diagnosis', () => {
  it.each([
    ['image pull', pod({ phase: 'Pending', containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ImagePullBackOff' } } }] }, { nodeName: 'w-1', containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53' }] }), [], /cannot be pulled \(ImagePullBackOff\)/, /--image-registry/],
    ['unschedulable', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' }] }), [], /scheduler cannot place the pod: 0\/3 nodes are available: 3 Insufficient cpu/, /capacity/],
    ['unbound claim', pod({ phase: 'Pending' }), [{ type: 'Warning', reason: 'FailedScheduling', message: 'pod has unbound immediate PersistentVolumeClaims', object: 'Pod/p', count: 1 }], /waits for its PersistentVolumeClaim/, /pvc/],
    ['CNI sandbox', pod({ phase: 'Pending' }, { nodeName: 'w-2', containers: [] }), [{ type: 'Warning', reason: 'FailedCreatePodSandBox', message: 'plugin type="cilium-cni" failed', object: 'Pod/p', count: 3 }], /cannot set up the pod's network/, /CNI pods/],
    ['mount', pod({ phase: 'Pending' }, { nodeName: 'w-2', containers: [] }), [{ type: 'Warning', reason: 'FailedMount', message: 'timed out waiting for the condition', object: 'Pod/p', count: 1 }], /cannot be attached\/mounted/, /CSI/],
    ['never scheduled', pod({ phase: 'Pending' }, { containers: [] }), [], /never scheduled/, /kube-scheduler/],
    ['silent kubelet', pod({ phase: 'Pending' }, { nodeName: 'w-1', containers: [] }), [], /stayed Pending on w-1/, /kubelet on w-1/],
  ] as const)('%s', (_n, p, events, cause, fix) => {
    const d = diagnosePod(p, [...events]);
    expect(d.cause).toMatch(cause);
    expect(d.fix).toMatch(fix);
  });

  it('reads container exit codes and running state', () => {
    const p = pod({ phase: 'Failed', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0 } } }, { name: 'b', state: { terminated: { exitCode: 1 } } }, { name: 'c', state: { running: {} } }] });
    expect([...containerResults(p)]).toEqual([['a', true], ['b', false]]);
    expect(isRunning(pod({ phase: 'Running', podIP: '10.0.0.1', containerStatuses: [{ name: 'c', state: { running: {} } }] }))).toBe(true);
    expect(isRunning(pod({ phase: 'Running', containerStatuses: [{ name: 'c', state: { running: {} } }] }))).toBe(false);
  });
});

describe('control-plane checks', () => {
  const w = (kind: string, name: string, status: Record<string, number>, replicas?: number, labels?: Record<string, string>): KubeObject => ({ apiVersion: 'apps/v1', kind, metadata: { name, namespace: 'kube-system', labels }, spec: replicas === undefined ? {} : { replicas }, status });
  it('flags unavailable workloads but leaves CoreDNS to the DNS suite', () => {
    const ok = checkWorkloads([w('DaemonSet', 'cilium', { desiredNumberScheduled: 3, numberAvailable: 3 }), w('Deployment', 'coredns', { availableReplicas: 0 }, 2, { 'k8s-app': 'kube-dns' })]);
    expect(ok.status).toBe('pass');
    const bad = checkWorkloads([w('DaemonSet', 'cilium', { desiredNumberScheduled: 3, numberAvailable: 2 }), w('Deployment', 'metrics-server', { availableReplicas: 1 }, 1)]);
    expect(bad).toMatchObject({ status: 'fail', summary: 'kube-system workloads not available: daemonset/cilium 2/3' });
    // A real-nodes lab (bridge CNI and kube-proxy on the hosts) and Calico's operator layout: only DNS there.
    expect(checkWorkloads([w('Deployment', 'coredns', { availableReplicas: 2 }, 2, { 'k8s-app': 'kube-dns' })])).toMatchObject({ status: 'skip' });
    expect(summarizeChecks('control plane', [{ name: 'api', status: 'pass', summary: 'API answers' }, checkWorkloads([])]).status).toBe('pass');
  });

  it('backup freshness: fresh, stale, never, young, or not installed (the add-on\'s rule)', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    const cj = (last: string | undefined, created = '2026-11-01T00:00:00Z'): KubeObject => ({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'etcd-backup', namespace: 'kube-system', creationTimestamp: created }, spec: { schedule: '0 */6 * * *' }, status: last ? { lastSuccessfulTime: last } : {} });
    expect(backupFreshness([], now).status).toBe('skip');
    expect(backupFreshness([cj('2026-11-25T06:00:00Z')], now)).toMatchObject({ status: 'pass', summary: expect.stringContaining('kube-system/etcd-backup: newest etcd snapshot is 6h old') });
    expect(backupFreshness([cj('2026-11-24T12:00:00Z')], now)).toMatchObject({ status: 'fail', summary: expect.stringContaining('24h old, older than 12h'), why: expect.stringContaining('restored') });
    expect(backupFreshness([cj(undefined)], now)).toMatchObject({ status: 'fail', summary: expect.stringContaining('no etcd snapshot was ever taken') });
    expect(backupFreshness([cj(undefined, '2026-11-25T11:00:00Z')], now).status).toBe('warn');
  });

  it('summarizeChecks: the first failure leads, every check is in the detail', () => {
    const o = summarizeChecks('x', [
      { name: 'a', status: 'pass', summary: 'A fine' },
      { name: 'b', status: 'warn', summary: 'B slow' },
      { name: 'c', status: 'fail', summary: 'C broken', why: 'because', fix: 'do it' },
    ]);
    expect(o).toMatchObject({ status: 'fail', summary: 'C broken (+1 more)', why: 'because', fix: 'do it' });
    expect(o.detail).toBe('ok   a: A fine\nwarn b: B slow\nFAIL c: C broken');
  });

  it('readNode: schedulable means Ready, not cordoned, no NoSchedule/NoExecute taint', () => {
    const node = (ready: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec, status: { conditions: [{ type: 'Ready', status: ready, reason: 'R' }] } });
    expect(readNode(node('True')).schedulable).toBe(true);
    expect(readNode(node('Unknown'))).toMatchObject({ schedulable: false, ready: false, readyReason: 'Unknown: R' });
    expect(readNode(node('True', { unschedulable: true })).schedulable).toBe(false);
    expect(readNode(node('True', { taints: [{ key: 'k', effect: 'NoSchedule' }] })).schedulable).toBe(false);
    expect(readNode(node('True', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] })).schedulable).toBe(true);
  });
});

describe('scheduling and storage rules', () => {
  const nodes = [
    { name: 'cp-1', ready: true, unschedulable: false, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }], schedulable: false, labels: {} },
    { name: 'w-1', ready: true, unschedulable: false, taints: [], schedulable: true, labels: {} },
    { name: 'w-2', ready: true, unschedulable: false, taints: [], schedulable: true, labels: {} },
  ];
  it.each([
    [{ a: 'w-1', b: 'w-2' }, 'pass', /2 pods spread one per schedulable node/],
    [{ a: 'w-1', b: 'w-1' }, 'fail', /no pod on w-2; stacked on w-1 x2/],
    [{ a: 'w-1', b: 'cp-1' }, 'fail', /placed on tainted\/cordoned cp-1/],
    [{ a: 'w-1', b: undefined }, 'fail', /1 pods not scheduled/],
  ] as const)('checkSpread %j', (placed, status, summary) => {
    const c = checkSpread(nodes, new Map(Object.entries(placed)));
    expect(c.status).toBe(status);
    expect(c.summary).toMatch(summary);
  });

  // Planned on a view the node lifecycle controller was still rewriting (w-3, w-4 Ready but not-ready:NoSchedule),
  // judged against the nodes re-read after the pods ran.
  const w = (name: string, schedulable: boolean, extra: Partial<(typeof nodes)[number]> = {}) => ({
    name, ready: true, unschedulable: false, labels: {}, schedulable,
    taints: schedulable ? [] : [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }], ...extra,
  });
  const settling = [nodes[0]!, w('w-1', true), w('w-2', true), w('w-3', false), w('w-4', false)];
  const settled = [nodes[0]!, w('w-1', true), w('w-2', true), w('w-3', true), w('w-4', true)];
  const cordonedLater = [nodes[0]!, w('w-1', true), w('w-2', false, { unschedulable: true, taints: [] }), w('w-3', false), w('w-4', false)];
  it.each([
    ['a pod on a node untainted meanwhile is placed right, and an early node without one is not missing', settling, settled, { a: 'w-3', b: 'w-4' }, 'pass', '2 pods spread one per node (the schedulable nodes changed meanwhile: 2 began taking pods (w-3, w-4))'],
    ['the same pods on the planned nodes pass too', settling, settled, { a: 'w-1', b: 'w-2' }, 'pass', '2 pods spread one per node (the schedulable nodes changed meanwhile: 2 began taking pods (w-3, w-4))'],
    ['a pod on the control plane (tainted in both views) is still the scheduler ignoring taints', settling, settled, { a: 'w-3', b: 'cp-1' }, 'fail', 'topologySpread not honoured: placed on tainted/cordoned cp-1 (the schedulable nodes changed meanwhile: 2 began taking pods (w-3, w-4))'],
    ['stacking while more nodes came is still stacking', settling, settled, { a: 'w-3', b: 'w-3' }, 'fail', 'topologySpread not honoured: stacked on w-3 x2 (the schedulable nodes changed meanwhile: 2 began taking pods (w-3, w-4))'],
    ['an unscheduled pod is still one', settling, settled, { a: 'w-3', b: undefined }, 'fail', 'topologySpread not honoured: 1 pods not scheduled (the schedulable nodes changed meanwhile: 2 began taking pods (w-3, w-4))'],
    ['a node that stays tainted is no excuse: a pod there is wrong', settling, settling, { a: 'w-1', b: 'w-3' }, 'fail', 'topologySpread not honoured: no pod on w-2; placed on tainted/cordoned w-3'],
    ['a node cordoned meanwhile: two pods on the one left is the spread\'s share', settling, cordonedLater, { a: 'w-1', b: 'w-1' }, 'pass', '2 pods spread one per node (the schedulable nodes changed meanwhile: 1 stopped (w-2))'],
  ] as const)('checkSpread, nodes settling: %s', (_name, before, after, placed, status, summary) => {
    const c = checkSpread([...before], new Map(Object.entries(placed)), [...after]);
    expect([c.status, c.summary]).toEqual([status, summary]);
  });

  it('finds default StorageClasses by either annotation', () => {
    const sc = (name: string, ann?: string): KubeObject => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name, annotations: ann ? { [ann]: 'true' } : {} } });
    expect(defaultClasses([sc('a'), sc('b', 'storageclass.kubernetes.io/is-default-class'), sc('c', 'storageclass.beta.kubernetes.io/is-default-class')]).map((c) => c.metadata.name)).toEqual(['b', 'c']);
  });

  it('a Pending claim names the provisioner and its failure', () => {
    const sc = { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'ebs' }, provisioner: 'ebs.csi.aws.com' } as KubeObject;
    expect(diagnosePendingClaim(sc, [{ type: 'Warning', reason: 'ProvisioningFailed', message: 'quota exceeded', object: 'PersistentVolumeClaim/data', count: 1 }], 5000).cause).toBe('ebs.csi.aws.com failed to provision the volume: quota exceeded');
    expect(diagnosePendingClaim(sc, [], 30_000).cause).toBe('the claim stayed Pending for 30.0s: ebs.csi.aws.com never provisioned a volume');
  });

  it('a Pending claim names a provisioner scaled to zero, and how to scale it back', () => {
    const w = (kind: string, namespace: string, name: string, replicas: number): KubeObject => ({ apiVersion: 'apps/v1', kind, metadata: { name, namespace }, spec: { replicas } });
    const workloads = [
      w('Deployment', 'kube-system', 'local-path-provisioner', 0),
      w('Deployment', 'kube-system', 'coredns', 0),
      w('StatefulSet', 'kube-system', 'ebs-csi-controller', 0),
      w('Deployment', 'storage', 'nfs-provisioner', 1),
      w('Deployment', 'apps', 'csi-sidecar-demo', 0),
    ];
    expect(scaledDownProvisioners(workloads)).toEqual(['deployment kube-system/local-path-provisioner', 'statefulset kube-system/ebs-csi-controller']);
    const sc = { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-path' }, provisioner: 'rancher.io/local-path' } as KubeObject;
    const d = diagnosePendingClaim(sc, [], 90_000, ['deployment kube-system/local-path-provisioner']);
    expect(d.cause).toBe('the claim stayed Pending for 90.0s: rancher.io/local-path never provisioned a volume, and its provisioner is scaled to zero: deployment kube-system/local-path-provisioner has replicas: 0');
    expect(d.fix).toBe('kubectl -n kube-system scale deployment local-path-provisioner --replicas=1');
    // A failure the provisioner reported outranks a guess from the workloads.
    expect(diagnosePendingClaim(sc, [{ type: 'Warning', reason: 'ProvisioningFailed', message: 'no space', object: 'PersistentVolumeClaim/data', count: 1 }], 5000, ['deployment kube-system/local-path-provisioner']).cause).toBe('rancher.io/local-path failed to provision the volume: no space');
  });
});

describe('command helpers', () => {
  it('parseSuites accepts known suites, dedupes, and rejects others with exit code 2', () => {
    expect(parseSuites(undefined)).toBeUndefined();
    expect(parseSuites('dns, netpol,dns')).toEqual(['dns', 'netpol']);
    expect(() => parseSuites('dns,nope')).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it('puts the matrix into the connectivity test case of the JUnit file', () => {
    const m = buildMatrix(['a', 'b'], new Map([[0, new Map([[serverContainer(0), true], [serverContainer(1), false]])]]), false);
    const junit = '<testsuites>\n  <testsuite name="validate">\n    <testcase name="connectivity" classname="groundwork.validate" time="1.000"/>\n  </testsuite>\n</testsuites>\n';
    const out = junitWithMatrix(junit, m);
    expect(out).toContain('<testcase name="connectivity" classname="groundwork.validate" time="1.000">\n      <system-out>');
    expect(out).toContain('✗');
    expect(out).toContain('</system-out>\n    </testcase>');
    expect(junitWithMatrix(junit, undefined)).toBe(junit);
  });
});
