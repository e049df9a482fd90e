import { afterEach, describe, expect, it } from 'vitest';
import { buildProbe, checksumContent } from '../../src/probe/index.js';
import { conditionOf, labNodes, phaseOf, podObj, startHarness, type Harness } from './controllers-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const probePod = (name: string, probe: Parameters<typeof buildProbe>[0], extra: Record<string, unknown> = {}, labels: Record<string, string> = {}, ns = 'default') =>
  podObj(name, { restartPolicy: 'Never', containers: [{ name: 'probe', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', command: buildProbe(probe) }], ...extra }, labels, ns);

describe('nodes and system add-ons', () => {
  it('nodes are Ready with podCIDR slices, loopback InternalIPs and heartbeat leases', async () => {
    h = await startHarness();
    const nodes = await h.waitFor('node podCIDRs', () => {
      const items = h!.store.list('nodes').items;
      return items.length === 3 && items.every((n) => (n.spec as { podCIDR?: string }).podCIDR) ? items : undefined;
    });
    expect(nodes.map((n) => [n.metadata.name, (n.spec as { podCIDR: string }).podCIDR])).toEqual([
      ['cp-1', '10.244.0.0/24'],
      ['w-1', '10.244.1.0/24'],
      ['w-2', '10.244.2.0/24'],
    ]);
    for (const n of nodes) {
      expect(conditionOf(n, 'Ready')?.status).toBe('True');
      const addrs = (n.status as { addresses: { type: string; address: string }[] }).addresses;
      expect(addrs.find((a) => a.type === 'InternalIP')?.address).toMatch(/^127\.0\.100\.\d+$/);
    }
    const lease = h.store.get('leases.coordination.k8s.io', 'kube-node-lease', 'w-1');
    const first = (lease?.spec as { renewTime: string }).renewTime;
    expect((lease?.spec as { holderIdentity: string }).holderIdentity).toBe('w-1');
    await h.waitFor('lease renewal', () => (h!.store.get('leases.coordination.k8s.io', 'kube-node-lease', 'w-1')?.spec as { renewTime: string }).renewTime !== first);
  });

  it('runs CoreDNS behind kube-dns 10.96.0.10 and the CNI DaemonSet on every node', async () => {
    h = await startHarness({ cni: 'calico' });
    expect((h.store.get('services', 'kube-system', 'kube-dns')?.spec as { clusterIP: string }).clusterIP).toBe('10.96.0.10');
    expect((h.store.get('services', 'default', 'kubernetes')?.spec as { clusterIP: string }).clusterIP).toBe('10.96.0.1');
    await h.waitFor('calico-node ready on 3 nodes', () => {
      const ds = h!.store.get('daemonsets.apps', 'kube-system', 'calico-node');
      return (ds?.status as { numberReady?: number })?.numberReady === 3;
    });
    const dnsPods = await h.waitFor('coredns ready', () => {
      const pods = h!.store.list('pods', 'kube-system', { labelSelector: 'k8s-app=kube-dns' }).items;
      return pods.length === 2 && pods.every((p) => conditionOf(p, 'Ready')?.status === 'True') ? pods : undefined;
    });
    // CoreDNS tolerates the control-plane taint; the CNI pods use the node address (hostNetwork).
    const cni = h.store.list('pods', 'kube-system', { labelSelector: 'k8s-app=calico-node' }).items;
    expect(new Set(cni.map((p) => (p.spec as { nodeName: string }).nodeName))).toEqual(new Set(['cp-1', 'w-1', 'w-2']));
    for (const p of cni) expect((p.status as { podIP: string }).podIP).toMatch(/^127\.0\.100\./);
    for (const p of dnsPods) expect((p.status as { podIP: string }).podIP).toMatch(/^10\.244\.\d+\.\d+$/);
    const ep = await h.waitFor('kube-dns endpoints', () => {
      const e = h!.store.get('endpoints', 'kube-system', 'kube-dns') as { subsets?: { addresses?: unknown[] }[] } | undefined;
      return e?.subsets?.[0]?.addresses?.length === 2 ? e : undefined;
    });
    expect(ep.subsets![0]!.addresses).toHaveLength(2);
  });
});

describe('scheduler', () => {
  it('reports FailedScheduling like kube-scheduler', async () => {
    h = await startHarness();
    await h.apply(podObj('big', { containers: [{ name: 'c', image: 'nginx:1.27', resources: { requests: { cpu: '16' } } }] }));
    const msg = '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. ' +
      'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.';
    const cond = await h.waitFor('PodScheduled=False', () => {
      const c = conditionOf(h!.pod('default', 'big'), 'PodScheduled');
      return c?.status === 'False' ? c : undefined;
    });
    expect(cond).toMatchObject({ reason: 'Unschedulable', message: msg });
    const ev = await h.waitFor('event', () => h!.store.list('events', 'default').items.find((e) => e.reason === 'FailedScheduling'));
    expect(ev).toMatchObject({ type: 'Warning', message: msg, involvedObject: { kind: 'Pod', name: 'big' } });
    expect(phaseOf(h.pod('default', 'big'))).toBe('Pending');
  });

  it.each([
    ['nodeSelector', { nodeSelector: { disk: 'ssd' } }, ['w-2'], undefined],
    [
      'required node affinity',
      { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }] }] } } } },
      ['w-1'],
      undefined,
    ],
    ['toleration for the control plane + nodeSelector', { nodeSelector: { 'node-role.kubernetes.io/control-plane': '' }, tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] }, ['cp-1'], undefined],
    ['no toleration for the control plane', { nodeSelector: { 'node-role.kubernetes.io/control-plane': '' } }, [], "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."],
  ])('%s', async (_n, extra, want, message) => {
    h = await startHarness();
    await h.store.mutate('nodes', undefined, 'w-2', (n) => {
      n.metadata.labels = { ...n.metadata.labels, disk: 'ssd' };
    });
    await h.apply(podObj('p', { containers: [{ name: 'c', image: 'nginx:1.27' }], ...extra }));
    if (want.length > 0) {
      const node = await h.waitFor('bound', () => (h!.pod('default', 'p')?.spec as { nodeName?: string }).nodeName);
      expect(want).toContain(node);
    } else {
      const c = await h.waitFor('unschedulable', () => {
        const x = conditionOf(h!.pod('default', 'p'), 'PodScheduled');
        return x?.status === 'False' ? x : undefined;
      });
      expect(c.message).toBe(message);
    }
  });

  it('honours cordon, anti-affinity and topology spread', async () => {
    h = await startHarness({ nodes: labNodes(3) });
    await h.store.mutate('nodes', undefined, 'w-3', (n) => {
      (n.spec as { unschedulable?: boolean }).unschedulable = true;
    });
    const anti = {
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' }] },
    };
    for (const n of ['db-0', 'db-1', 'db-2']) await h.apply(podObj(n, { affinity: anti, containers: [{ name: 'c', image: 'postgres:17' }] }, { app: 'db' }));
    await h.waitFor('two bound', () => ['db-0', 'db-1'].every((n) => (h!.pod('default', n)?.spec as { nodeName?: string }).nodeName));
    const c = await h.waitFor('third refused', () => {
      const x = conditionOf(h!.pod('default', 'db-2'), 'PodScheduled');
      return x?.status === 'False' ? x : undefined;
    });
    expect(c.message).toBe(
      "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) were unschedulable, 2 node(s) didn't match pod anti-affinity rules. " +
        'preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.',
    );
    expect(new Set(['db-0', 'db-1'].map((n) => (h!.pod('default', n)?.spec as { nodeName: string }).nodeName))).toEqual(new Set(['w-1', 'w-2']));
    // Uncordon: the third one lands on w-3.
    await h.store.mutate('nodes', undefined, 'w-3', (n) => {
      (n.spec as { unschedulable?: boolean }).unschedulable = false;
    });
    expect(await h.waitFor('db-2 bound', () => (h!.pod('default', 'db-2')?.spec as { nodeName?: string }).nodeName)).toBe('w-3');

    // Topology spread maxSkew 1 over hostnames. With the default nodeTaintsPolicy (Ignore) the tainted control
    // plane is a domain with 0 pods, so only one web pod fits per worker, as on a real cluster.
    const tight = { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'api' } } }] };
    for (let i = 0; i < 4; i++) await h.apply(podObj(`api-${i}`, { ...tight, containers: [{ name: 'c', image: 'nginx:1.27' }] }, { app: 'api' }));
    const last = await h.waitFor('api-3 refused', () => {
      const x = conditionOf(h!.pod('default', 'api-3'), 'PodScheduled');
      return x?.status === 'False' ? x : undefined;
    });
    expect(last.message).toContain("3 node(s) didn't match pod topology spread constraints");
    const spread = { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: { app: 'web' } } }] };
    for (let i = 0; i < 6; i++) await h.apply(podObj(`web-${i}`, { ...spread, containers: [{ name: 'c', image: 'nginx:1.27' }] }, { app: 'web' }));
    const placed = await h.waitFor('web bound', () => {
      const ns = [0, 1, 2, 3, 4, 5].map((i) => (h!.pod('default', `web-${i}`)?.spec as { nodeName?: string }).nodeName);
      return ns.every(Boolean) ? (ns as string[]) : undefined;
    });
    const counts = new Map<string, number>();
    for (const n of placed) counts.set(n, (counts.get(n) ?? 0) + 1);
    expect([...counts.values()]).toEqual([2, 2, 2]);
  });
});

describe('kubelet', () => {
  it('takes a pod through Pending -> Running -> Succeeded with conditions and a probe log', async () => {
    h = await startHarness();
    await h.apply(probePod('ok', { kind: 'exit', code: 0 }));
    const p = await h.waitFor('Succeeded', () => (phaseOf(h!.pod('default', 'ok')) === 'Succeeded' ? h!.pod('default', 'ok') : undefined));
    const st = p.status as { podIP: string; hostIP: string; containerStatuses: { state: { terminated?: { exitCode: number; reason: string } } }[] };
    expect(st.podIP).toMatch(/^10\.244\.[12]\.\d+$/);
    expect(st.hostIP).toMatch(/^127\.0\.100\./);
    expect(st.containerStatuses[0]!.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(conditionOf(p, 'PodScheduled')?.status).toBe('True');
    expect(conditionOf(p, 'Initialized')?.status).toBe('True');
    expect(conditionOf(p, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    expect(h.logText('default', 'ok')).toBe('GW-PROBE exit 0');
    const reasons = h.store.list('events', 'default').items.filter((e) => (e.involvedObject as { name: string }).name === 'ok').map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Scheduled', 'Pulled', 'Created', 'Started']));
  });

  it('fails with restartPolicy Never and crash-loops with Always', async () => {
    h = await startHarness();
    await h.apply(probePod('bad', { kind: 'exit', code: 3 }));
    await h.apply(podObj('loop', { restartPolicy: 'Always', containers: [{ name: 'c', image: 'busybox:1.36', command: ['false'] }] }));
    await h.waitFor('Failed', () => phaseOf(h!.pod('default', 'bad')) === 'Failed');
    const cs = (h.pod('default', 'bad')?.status as { containerStatuses: { state: { terminated: { exitCode: number; reason: string } } }[] }).containerStatuses[0]!;
    expect(cs.state.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    const loop = await h.waitFor('restarts', () => {
      const s = (h!.pod('default', 'loop')?.status as { containerStatuses?: { restartCount: number }[] })?.containerStatuses?.[0];
      return s && s.restartCount >= 2 ? h!.pod('default', 'loop') : undefined;
    });
    expect(phaseOf(loop)).toBe('Running');
    const last = (loop.status as { containerStatuses: { lastState: { terminated?: { exitCode: number; reason: string } } }[] }).containerStatuses[0]!.lastState;
    expect(last.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    const backoff = await h.waitFor('BackOff event', () => h!.store.list('events', 'default').items.find((e) => e.reason === 'BackOff'));
    expect(backoff.message).toMatch(/^Back-off restarting failed container c in pod loop_default\(/);
  });

  it('runs init containers first, in order; a failing one fails a Never pod', async () => {
    h = await startHarness();
    const sum = checksumContent('seed');
    const mount = [{ name: 'work', mountPath: '/work' }];
    await h.apply(podObj('init-ok', {
      restartPolicy: 'Never',
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [{ name: 'seed', image: 'agnhost', command: buildProbe({ kind: 'write-file', path: '/work/seed', content: 'seed' }), volumeMounts: mount }],
      containers: [{ name: 'main', image: 'agnhost', command: buildProbe({ kind: 'read-file', path: '/work/seed', sha256: sum }), volumeMounts: mount }],
    }));
    await h.apply(podObj('init-bad', {
      restartPolicy: 'Never',
      initContainers: [{ name: 'check', image: 'agnhost', command: buildProbe({ kind: 'exit', code: 2 }) }],
      containers: [{ name: 'main', image: 'agnhost', command: buildProbe({ kind: 'exit', code: 0 }) }],
    }));
    await h.waitFor('init-ok done', () => phaseOf(h!.pod('default', 'init-ok')) === 'Succeeded');
    expect(h.logText('default', 'init-ok', 'seed')).toBe(`GW-PROBE write-file /work/seed ok sha256=${sum}`);
    expect(h.logText('default', 'init-ok', 'main')).toBe(`GW-PROBE read-file /work/seed ok sha256=${sum}`);
    await h.waitFor('init-bad failed', () => phaseOf(h!.pod('default', 'init-bad')) === 'Failed');
    const bad = h.pod('default', 'init-bad');
    expect(conditionOf(bad, 'Initialized')).toMatchObject({ status: 'False', reason: 'ContainersNotInitialized' });
    expect((bad?.status as { initContainerStatuses: { state: { terminated: { exitCode: number } } }[] }).initContainerStatuses[0]!.state.terminated.exitCode).toBe(2);
    expect(h.logText('default', 'init-bad', 'main')).toBe('');
  });

  it('runs any other command like a server until deleted, then frees its IP', async () => {
    h = await startHarness({ nodes: labNodes(1, 0) });
    await h.apply(podObj('web', { containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] }));
    const p = await h.waitFor('Ready', () => (conditionOf(h!.pod('default', 'web'), 'Ready')?.status === 'True' ? h!.pod('default', 'web') : undefined));
    expect(phaseOf(p)).toBe('Running');
    const ip = (p.status as { podIP: string }).podIP;
    await h.store.delete('pods', 'default', 'web');
    await h.handle.settle();
    await h.apply(podObj('web2', { containers: [{ name: 'nginx', image: 'nginx:1.27' }] }));
    const p2 = await h.waitFor('web2 ip', () => (h!.pod('default', 'web2')?.status as { podIP?: string })?.podIP);
    expect(p2).not.toBe(ip); // round-robin: a fresh address, the old one is free again later
  });
});

describe('network model', () => {
  async function serverAndService(hh: Harness, ns = 'default') {
    await hh.apply(probePod('server', { kind: 'serve', port: 8080 }, { restartPolicy: 'Always' }, { app: 'web' }, ns));
    await hh.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
    await hh.waitFor('server ready', () => conditionOf(hh.pod(ns, 'server'), 'Ready')?.status === 'True');
    await hh.waitFor('endpoints', () => (hh.store.get('endpoints', ns, 'web') as { subsets?: { addresses?: unknown[] }[] })?.subsets?.[0]?.addresses?.length === 1);
  }
  const outcome = async (hh: Harness, name: string) => {
    await hh.waitFor(`${name} done`, () => ['Succeeded', 'Failed'].includes(phaseOf(hh.pod('default', name)) ?? ''));
    return { phase: phaseOf(hh.pod('default', name)), log: hh.logText('default', name) };
  };

  it('connects by DNS name, ClusterIP and pod IP; resolves names', async () => {
    h = await startHarness();
    await serverAndService(h);
    const svcIp = (h.store.get('services', 'default', 'web')?.spec as { clusterIP: string }).clusterIP;
    expect(svcIp).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    const podIp = (h.pod('default', 'server')?.status as { podIP: string }).podIP;
    await h.apply(probePod('c1', { kind: 'connect', host: 'web.default.svc.cluster.local', port: 80, timeoutS: 2 }));
    await h.apply(probePod('c2', { kind: 'connect', host: podIp, port: 8080, timeoutS: 2 }));
    await h.apply(probePod('c3', { kind: 'connect', host: podIp, port: 9999, timeoutS: 2 }));
    await h.apply(probePod('r1', { kind: 'resolve', name: 'web', timeoutS: 2 }));
    await h.apply(probePod('r2', { kind: 'resolve', name: 'nope.default', timeoutS: 2 }));
    await h.apply(probePod('g1', { kind: 'http-get', url: `http://${svcIp}/`, timeoutS: 2 }));
    await h.apply(probePod('api', { kind: 'connect', host: 'kubernetes.default', port: 443, timeoutS: 2 }));
    expect(await outcome(h, 'c1')).toEqual({ phase: 'Succeeded', log: 'GW-PROBE connect web.default.svc.cluster.local:80 ok' });
    expect(await outcome(h, 'c2')).toEqual({ phase: 'Succeeded', log: `GW-PROBE connect ${podIp}:8080 ok` });
    expect(await outcome(h, 'c3')).toEqual({ phase: 'Failed', log: `GW-PROBE connect ${podIp}:9999 fail refused` });
    expect(await outcome(h, 'r1')).toEqual({ phase: 'Succeeded', log: `GW-PROBE resolve web ok ${svcIp}` });
    expect(await outcome(h, 'r2')).toEqual({ phase: 'Failed', log: 'GW-PROBE resolve nope.default fail bad-address' });
    expect(await outcome(h, 'g1')).toEqual({ phase: 'Succeeded', log: `GW-PROBE http-get http://${svcIp}/ ok 200` });
    expect(await outcome(h, 'api')).toEqual({ phase: 'Succeeded', log: 'GW-PROBE connect kubernetes.default:443 ok' });
  });

  it.each([
    ['cilium', 'Failed', 'fail timeout'],
    ['calico', 'Failed', 'fail timeout'],
    ['flannel', 'Succeeded', 'ok'],
  ] as const)('a default-deny policy under %s', async (cni, phase, result) => {
    h = await startHarness({ cni });
    await serverAndService(h);
    await h.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] } });
    await h.apply(probePod('c', { kind: 'connect', host: 'web', port: 80, timeoutS: 1 }));
    expect(await outcome(h, 'c')).toEqual({ phase, log: `GW-PROBE connect web:80 ${result}` });
  });

  it('allows what a policy admits and blocks DNS under an egress policy without port 53', async () => {
    h = await startHarness();
    await serverAndService(h);
    await h.apply({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'web-from-client', namespace: 'default' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8080 }] }] },
    });
    await h.apply({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'client-egress', namespace: 'default' },
      spec: { podSelector: { matchLabels: { role: 'client' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'web' } } }] }] },
    });
    const podIp = (h.pod('default', 'server')?.status as { podIP: string }).podIP;
    await h.apply(probePod('allowed', { kind: 'connect', host: podIp, port: 8080, timeoutS: 1 }, {}, { role: 'client' }));
    await h.apply(probePod('stranger', { kind: 'connect', host: podIp, port: 8080, timeoutS: 1 }, {}, { role: 'other' }));
    await h.apply(probePod('dns', { kind: 'resolve', name: 'web', timeoutS: 1 }, {}, { role: 'client' }));
    expect((await outcome(h, 'allowed')).phase).toBe('Succeeded');
    expect((await outcome(h, 'stranger')).log).toBe(`GW-PROBE connect ${podIp}:8080 fail timeout`);
    expect(await outcome(h, 'dns')).toEqual({ phase: 'Failed', log: 'GW-PROBE resolve web fail timeout' });
  });

  it('a policy with `egress: []` and no policyTypes isolates ingress only, so its pods can still dial out', async () => {
    h = await startHarness();
    await serverAndService(h);
    await h.apply({
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'client-empty-egress', namespace: 'default' },
      spec: { podSelector: { matchLabels: { role: 'client' } }, egress: [] },
    });
    expect((h.store.get('networkpolicies.networking.k8s.io', 'default', 'client-empty-egress')?.spec as { policyTypes: string[] }).policyTypes).toEqual(['Ingress']);
    await h.apply(probePod('out', { kind: 'connect', host: 'web', port: 80, timeoutS: 1 }, {}, { role: 'client' }));
    expect(await outcome(h, 'out')).toEqual({ phase: 'Succeeded', log: 'GW-PROBE connect web:80 ok' });
  });
});

describe('volumes', () => {
  it('provisions on first consumer and the data follows the volume to the next pod on the same node', async () => {
    h = await startHarness();
    await h.apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    await h.handle.settle();
    const pvc = h.store.get('persistentvolumeclaims', 'default', 'data');
    expect((pvc?.spec as { storageClassName: string }).storageClassName).toBe('standard');
    expect(phaseOf(pvc)).toBe('Pending');
    await h.waitFor('WaitForFirstConsumer event', () => h!.store.list('events', 'default').items.some((e) => e.reason === 'WaitForFirstConsumer'));
    const vol = { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] };
    const mount = (p: ReturnType<typeof probePod>) => {
      (p.spec as { containers: Record<string, unknown>[] }).containers[0]!.volumeMounts = [{ name: 'd', mountPath: '/data' }];
      return p;
    };
    await h.apply(mount(probePod('writer', { kind: 'write-file', path: '/data/f.txt', content: 'hello' }, vol)));
    await h.waitFor('writer done', () => phaseOf(h!.pod('default', 'writer')) === 'Succeeded');
    const sum = checksumContent('hello');
    expect(h.logText('default', 'writer')).toBe(`GW-PROBE write-file /data/f.txt ok sha256=${sum}`);
    const bound = h.store.get('persistentvolumeclaims', 'default', 'data');
    expect(phaseOf(bound)).toBe('Bound');
    const pv = h.store.get('persistentvolumes', undefined, (bound?.spec as { volumeName: string }).volumeName);
    expect(phaseOf(pv)).toBe('Bound');
    await h.apply(mount(probePod('reader', { kind: 'read-file', path: '/data/f.txt', sha256: sum }, vol)));
    await h.apply(mount(probePod('other', { kind: 'read-file', path: '/data/f.txt', sha256: sum }, { volumes: [{ name: 'd', emptyDir: {} }] })));
    await h.waitFor('reader done', () => phaseOf(h!.pod('default', 'reader')) === 'Succeeded');
    expect((h.pod('default', 'reader')?.spec as { nodeName: string }).nodeName).toBe((h.pod('default', 'writer')?.spec as { nodeName: string }).nodeName);
    await h.waitFor('other done', () => phaseOf(h!.pod('default', 'other')) === 'Failed');
    expect(h.logText('default', 'other')).toBe('GW-PROBE read-file /data/f.txt fail sha256=missing');
  });

  it('binds an Immediate claim at once', async () => {
    h = await startHarness();
    await h.apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'now', namespace: 'default' }, spec: { storageClassName: 'standard-immediate', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } } });
    const pvc = await h.waitFor('Bound', () => (phaseOf(h!.store.get('persistentvolumeclaims', 'default', 'now')) === 'Bound' ? h!.store.get('persistentvolumeclaims', 'default', 'now') : undefined));
    expect((pvc.status as { capacity: { storage: string } }).capacity.storage).toBe('2Gi');
  });
});

describe('workloads', () => {
  it('Deployment -> ReplicaSet -> Pods, scales, and reports availability', async () => {
    h = await startHarness();
    await h.apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
    });
    const d = await h.waitFor('available', () => {
      const x = h!.store.get('deployments.apps', 'default', 'web');
      return (x?.status as { availableReplicas?: number })?.availableReplicas === 3 ? x : undefined;
    });
    expect(d.status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, observedGeneration: 1 });
    expect(conditionOf(d, 'Available')?.status).toBe('True');
    const rs = h.store.list('replicasets.apps', 'default').items;
    expect(rs).toHaveLength(1);
    const pods = h.store.list('pods', 'default', { labelSelector: 'app=web' }).items;
    expect(new Set(pods.map((p) => (p.spec as { nodeName: string }).nodeName)).size).toBe(2); // spread over both workers
    await h.store.mutate('deployments.apps', 'default', 'web', (x) => {
      (x.spec as { replicas: number }).replicas = 1;
    });
    await h.waitFor('scaled down', () => h!.store.list('pods', 'default', { labelSelector: 'app=web' }).items.length === 1);
  });

  it('rolls a Deployment to a new template: a new ReplicaSet, the old one scaled to zero', async () => {
    h = await startHarness();
    const deploy = (image: string) => ({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'default' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image }] } } },
    });
    await h.apply(deploy('api:1'));
    await h.waitFor('v1 available', () => (h!.store.get('deployments.apps', 'default', 'api')?.status as { availableReplicas?: number })?.availableReplicas === 2);
    await h.store.mutate('deployments.apps', 'default', 'api', (d) => {
      ((d.spec as any).template.spec.containers[0]).image = 'api:2';
    });
    const d = await h.waitFor('v2 rolled out', () => {
      const x = h!.store.get('deployments.apps', 'default', 'api');
      const st = x?.status as { observedGeneration?: number; updatedReplicas?: number; replicas?: number; availableReplicas?: number } | undefined;
      return st?.observedGeneration === 2 && st.updatedReplicas === 2 && st.replicas === 2 && st.availableReplicas === 2 ? x : undefined;
    });
    expect(conditionOf(d, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
    const rss = h.store.list('replicasets.apps', 'default').items;
    expect(rss.map((r) => [(r.spec as { replicas: number }).replicas, r.metadata.annotations?.['deployment.kubernetes.io/revision']]).sort()).toEqual([[0, '1'], [2, '2']]);
    await h.waitFor('only v2 pods', () => {
      const pods = h!.store.list('pods', 'default', { labelSelector: 'app=api' }).items;
      return pods.length === 2 && pods.every((p) => (p.spec as { containers: { image: string }[] }).containers[0]!.image === 'api:2');
    });
  });

  it('a DaemonSet without tolerations runs on the workers only', async () => {
    h = await startHarness();
    await h.apply({
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default' },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'fluent-bit:3' }] } } },
    });
    const ds = await h.waitFor('ready', () => {
      const x = h!.store.get('daemonsets.apps', 'default', 'agent');
      return (x?.status as { numberReady?: number })?.numberReady === 2 ? x : undefined;
    });
    expect(ds.status).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0 });
    const nodes = h.store.list('pods', 'default', { labelSelector: 'app=agent' }).items.map((p) => (p.spec as { nodeName: string }).nodeName).sort();
    expect(nodes).toEqual(['w-1', 'w-2']);
  });

  it('Job completes; a failing Job hits its backoff limit', async () => {
    h = await startHarness();
    const job = (name: string, code: number) => ({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'default' },
      spec: { backoffLimit: 1, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'agnhost', command: buildProbe({ kind: 'exit', code }) }] } } },
    });
    await h.apply(job('good', 0));
    await h.apply(job('bad', 1));
    const good = await h.waitFor('complete', () => {
      const j = h!.store.get('jobs.batch', 'default', 'good');
      return conditionOf(j, 'Complete')?.status === 'True' ? j : undefined;
    });
    expect(good.status).toMatchObject({ succeeded: 1 });
    const bad = await h.waitFor('failed', () => {
      const j = h!.store.get('jobs.batch', 'default', 'bad');
      return conditionOf(j, 'Failed')?.status === 'True' ? j : undefined;
    });
    expect(conditionOf(bad, 'Failed')?.reason).toBe('BackoffLimitExceeded');
    expect((bad.status as { failed: number }).failed).toBe(2);
  });
});

describe('restart', () => {
  it('controllers started again on the same store adopt running pods without walking them back to Pending', async () => {
    const { createMemoryStore } = await import('../../src/lab/store/store.js');
    const { createPodLogs } = await import('../../src/lab/logs.js');
    const { createControllers } = await import('../../src/lab/controllers/index.js');
    const store = await createMemoryStore();
    const ctx = (signal: AbortSignal) => ({
      store, logs: createPodLogs(), nodes: labNodes(), faults: [], signal,
      network: { podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeMaskSize: 24, cni: 'cilium' as const, clusterDomain: 'cluster.local' },
      addInterceptor: () => () => undefined, addAdminRoute: () => undefined,
    });
    const fast = { timeScale: 0.01, startDelayMs: 5, restartBackoffMs: 20 };
    const stop1 = await createControllers(fast)(ctx(new AbortController().signal));
    await store.create(podObj('srv', { containers: [{ name: 'c', image: 'agnhost', command: buildProbe({ kind: 'serve', port: 8080 }) }] }));
    const deadline = Date.now() + 10_000;
    while (conditionOf(store.get('pods', 'default', 'srv'), 'Ready')?.status !== 'True' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const before = store.get('pods', 'default', 'srv')!;
    await stop1();
    const phases: string[] = [];
    const unwatch = store.watch('pods', 'default', {}, (e) => phases.push(String((e.object.status as { phase?: string })?.phase)));
    let handle: { settle(): Promise<void> } | undefined;
    const stop2 = await createControllers(fast, (x) => (handle = x))(ctx(new AbortController().signal));
    // Give the new kubelet well past its start delay to do whatever it would do.
    for (let i = 0; i < 10; i++) {
      await handle!.settle();
      await new Promise((r) => setTimeout(r, 20));
    }
    unwatch();
    await stop2();
    const after = store.get('pods', 'default', 'srv')!;
    expect(phases.filter((p) => p !== 'Running')).toEqual([]);
    expect((after.status as { podIP: string }).podIP).toBe((before.status as { podIP: string }).podIP);
    expect(conditionOf(after, 'Ready')?.status).toBe('True');
    // Same container, not a new one: startedAt kept, no second Started event.
    const startedAt = (o: typeof after) => (o.status as { containerStatuses: { state: { running?: { startedAt: string } } }[] }).containerStatuses[0]!.state.running?.startedAt;
    expect(startedAt(after)).toBe(startedAt(before));
    expect(store.list('events', 'default').items.filter((e) => e.reason === 'Started')).toHaveLength(1);
    await store.close();
  });
});
