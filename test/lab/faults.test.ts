import { afterEach, describe, expect, it } from 'vitest';
import https from 'node:https';
import { buildProbe } from '../../src/probe/index.js';
import { createFaultAdminHandler, createFaultInterceptor, createFaultRegistry, parseFault } from '../../src/lab/faults.js';
import { ApiError } from '../../src/lab/store/types.js';
import { UserError } from '../../src/errors.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { conditionOf, labNodes, phaseOf, podObj, startHarness, type Harness } from './controllers-harness.js';

let h: Harness | undefined;
let lab: Lab | undefined;
afterEach(async () => {
  await h?.stop();
  await lab?.stop();
  h = undefined;
  lab = undefined;
});

const probePod = (name: string, probe: Parameters<typeof buildProbe>[0], extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) =>
  podObj(name, { restartPolicy: 'Never', containers: [{ name: 'probe', image: 'agnhost', command: buildProbe(probe) }], ...extra }, labels);

async function finished(hh: Harness, name: string): Promise<{ phase?: string; log: string }> {
  await hh.waitFor(`${name} finished`, () => ['Succeeded', 'Failed'].includes(phaseOf(hh.pod('default', name)) ?? ''));
  return { phase: phaseOf(hh.pod('default', name)), log: hh.logText('default', name) };
}

async function server(hh: Harness, node?: string): Promise<string> {
  await hh.apply(probePod('server', { kind: 'serve', port: 8080 }, { restartPolicy: 'Always', ...(node ? { nodeSelector: { 'kubernetes.io/hostname': node } } : {}) }, { app: 'web' }));
  await hh.waitFor('server ready', () => conditionOf(hh.pod('default', 'server'), 'Ready')?.status === 'True');
  return (hh.pod('default', 'server')?.status as { podIP: string }).podIP;
}

describe('parseFault and the registry', () => {
  it.each([
    ['dns-down', { name: 'dns-down', raw: 'dns-down' }],
    ['node-not-ready:w-1', { name: 'node-not-ready', arg: 'w-1', raw: 'node-not-ready:w-1' }],
    ['api-latency:250', { name: 'api-latency', arg: '250', raw: 'api-latency:250' }],
    ['api-errors:30', { name: 'api-errors', arg: '30', raw: 'api-errors:30' }],
  ])('%s', (raw, want) => {
    expect(parseFault(raw)).toEqual(want);
  });

  it.each(['dns-up', 'dns-down:x', 'node-not-ready', 'api-latency:fast', 'api-errors:101', 'api-errors:'])('rejects %s', (raw) => {
    expect(() => parseFault(raw)).toThrow(UserError);
  });

  it('adds, replaces, lists and clears', () => {
    const f = createFaultRegistry(['api-latency:10', 'node-not-ready:w-1']);
    f.add('api-latency:20');
    f.add('node-not-ready:w-2');
    expect(f.list()).toEqual(['api-latency:20', 'node-not-ready:w-1', 'node-not-ready:w-2']);
    expect(f.apiDelayMs()).toBe(20);
    expect(f.isNodeNotReady('w-2')).toBe(true);
    expect(f.clear('node-not-ready:w-1')).toEqual(['node-not-ready:w-1']);
    expect(f.clear('node-not-ready')).toEqual(['node-not-ready:w-2']);
    expect(f.clear()).toEqual(['api-latency:20']);
    expect(f.list()).toEqual([]);
  });

  it('api-errors fails that share of requests with 503, never the admin route', async () => {
    let i = 0;
    const seq = [0.1, 0.5, 0.29, 0.3, 0.99];
    const f = createFaultRegistry(['api-errors:30'], { random: () => seq[i++ % seq.length]! });
    const intercept = createFaultInterceptor(f);
    const results: string[] = [];
    for (let k = 0; k < 5; k++) {
      try {
        await intercept({ verb: 'list', method: 'GET', path: '/api/v1/pods' });
        results.push('ok');
      } catch (e) {
        results.push(e instanceof ApiError ? `${e.code} ${e.reason}` : 'other');
      }
    }
    expect(results).toEqual(['503 ServiceUnavailable', 'ok', '503 ServiceUnavailable', 'ok', 'ok']);
    await expect(intercept({ verb: 'discovery', method: 'DELETE', path: '/lab/faults/api-errors' })).resolves.toBeUndefined();
  });

  it('api-latency delays requests by its milliseconds', async () => {
    const slept: number[] = [];
    const intercept = createFaultInterceptor(createFaultRegistry(['api-latency:150']), async (ms) => void slept.push(ms));
    await intercept({ verb: 'get', method: 'GET', path: '/api/v1/nodes' });
    expect(slept).toEqual([150]);
  });

  it('the admin route adds, lists and clears; bad names are 400', async () => {
    const f = createFaultRegistry();
    const admin = createFaultAdminHandler(f);
    await admin('POST', '/', { name: 'dns-down' });
    await admin('POST', '/node-not-ready:w-1', undefined);
    expect(await admin('GET', '/', undefined)).toMatchObject({ faults: ['dns-down', 'node-not-ready:w-1'] });
    expect(await admin('DELETE', '/dns-down', undefined)).toEqual({ cleared: ['dns-down'], faults: ['node-not-ready:w-1'] });
    await expect(Promise.resolve().then(() => admin('POST', '/', { name: 'bogus' }))).rejects.toMatchObject({ code: 400 });
    await expect(Promise.resolve().then(() => admin('DELETE', '/dns-down', undefined))).rejects.toMatchObject({ code: 404 });
  });
});

describe('what a client observes', () => {
  it('netpol-not-enforced: a denied connection flows, and stops flowing when cleared', async () => {
    h = await startHarness({ faults: ['netpol-not-enforced'] });
    const ip = await server(h);
    await h.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    await h.apply(probePod('during', { kind: 'connect', host: ip, port: 8080, timeoutS: 1 }));
    expect(await finished(h, 'during')).toEqual({ phase: 'Succeeded', log: `GW-PROBE connect ${ip}:8080 ok` });
    h.faults.clear('netpol-not-enforced');
    await h.apply(probePod('after', { kind: 'connect', host: ip, port: 8080, timeoutS: 1 }));
    expect(await finished(h, 'after')).toEqual({ phase: 'Failed', log: `GW-PROBE connect ${ip}:8080 fail timeout` });
  });

  it('cross-node-traffic-dropped: same-node traffic works, cross-node times out', async () => {
    h = await startHarness({ faults: ['cross-node-traffic-dropped'] });
    const ip = await server(h, 'w-1');
    await h.apply(probePod('same', { kind: 'connect', host: ip, port: 8080, timeoutS: 1 }, { nodeSelector: { 'kubernetes.io/hostname': 'w-1' } }));
    await h.apply(probePod('cross', { kind: 'connect', host: ip, port: 8080, timeoutS: 1 }, { nodeSelector: { 'kubernetes.io/hostname': 'w-2' } }));
    expect((await finished(h, 'same')).phase).toBe('Succeeded');
    expect(await finished(h, 'cross')).toEqual({ phase: 'Failed', log: `GW-PROBE connect ${ip}:8080 fail timeout` });
  });

  it('dns-down: CoreDNS pods not Ready, kube-dns has no ready endpoints, lookups time out', async () => {
    h = await startHarness({ faults: ['dns-down'] });
    const pods = await h.waitFor('coredns running', () => {
      const ps = h!.store.list('pods', 'kube-system', { labelSelector: 'k8s-app=kube-dns' }).items;
      return ps.length === 2 && ps.every((p) => phaseOf(p) === 'Running') ? ps : undefined;
    });
    await h.handle.settle();
    for (const p of pods) expect(conditionOf(h.pod('kube-system', p.metadata.name!), 'Ready')?.status).toBe('False');
    const ep = h.store.get('endpoints', 'kube-system', 'kube-dns') as { subsets?: { addresses?: unknown[]; notReadyAddresses?: unknown[] }[] };
    expect(ep.subsets?.[0]?.addresses).toBeUndefined();
    expect(ep.subsets?.[0]?.notReadyAddresses).toHaveLength(2);
    await h.apply(probePod('lookup', { kind: 'resolve', name: 'kubernetes.default', timeoutS: 1 }));
    expect(await finished(h, 'lookup')).toEqual({ phase: 'Failed', log: 'GW-PROBE resolve kubernetes.default fail timeout' });
    h.faults.clear('dns-down');
    await h.waitFor('coredns ready again', () => h!.store.list('pods', 'kube-system', { labelSelector: 'k8s-app=kube-dns' }).items.every((p) => conditionOf(p, 'Ready')?.status === 'True'));
    await h.apply(probePod('lookup2', { kind: 'resolve', name: 'kubernetes.default', timeoutS: 1 }));
    expect(await finished(h, 'lookup2')).toEqual({ phase: 'Succeeded', log: 'GW-PROBE resolve kubernetes.default ok 10.96.0.1' });
  });

  it('no-default-storageclass: a claim without a class stays Pending with no class', async () => {
    h = await startHarness({ faults: ['no-default-storageclass'] });
    expect(h.store.get('storageclasses.storage.k8s.io', undefined, 'standard')?.metadata.annotations?.['storageclass.kubernetes.io/is-default-class']).toBe('false');
    await h.apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const ev = await h.waitFor('FailedBinding', () => h!.store.list('events', 'default').items.find((e) => e.reason === 'FailedBinding'));
    expect(ev.message).toBe('no persistent volumes available for this claim and no storage class is set');
    const pvc = h.store.get('persistentvolumeclaims', 'default', 'data');
    expect(phaseOf(pvc)).toBe('Pending');
    expect((pvc?.spec as { storageClassName?: string }).storageClassName).toBeUndefined();
    h.faults.clear();
    await h.waitFor('default again', () => h!.store.get('storageclasses.storage.k8s.io', undefined, 'standard')?.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true');
  });

  it('provisioner-stuck: claims stay Pending waiting for the external provisioner', async () => {
    h = await startHarness({ faults: ['provisioner-stuck'] });
    await h.apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default' }, spec: { storageClassName: 'standard-immediate', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const ev = await h.waitFor('ExternalProvisioning', () => h!.store.list('events', 'default').items.find((e) => e.reason === 'ExternalProvisioning'));
    expect(ev.message).toMatch(/^Waiting for a volume to be created either by the external provisioner 'lab\.groundwork\.dev\/local-path'/);
    expect(phaseOf(h.store.get('persistentvolumeclaims', 'default', 'data'))).toBe('Pending');
    expect(h.store.list('persistentvolumes').items).toHaveLength(0);
    h.faults.clear('provisioner-stuck');
    await h.waitFor('bound after clearing', () => phaseOf(h!.store.get('persistentvolumeclaims', 'default', 'data')) === 'Bound');
  });

  it('node-not-ready:<node>: Ready Unknown, unreachable taints, no lease renewal, its pods not Ready, nothing new lands there', async () => {
    h = await startHarness({ nodes: labNodes(2) });
    await h.apply(podObj('on-w1', { nodeSelector: { 'kubernetes.io/hostname': 'w-1' }, containers: [{ name: 'c', image: 'nginx:1.27' }] }));
    await h.waitFor('on-w1 ready', () => conditionOf(h!.pod('default', 'on-w1'), 'Ready')?.status === 'True');
    h.faults.add('node-not-ready:w-1');
    const node = await h.waitFor('w-1 Unknown', () => {
      const n = h!.store.get('nodes', undefined, 'w-1');
      return conditionOf(n, 'Ready')?.status === 'Unknown' ? n : undefined;
    });
    expect(conditionOf(node, 'Ready')).toMatchObject({ reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect((node.spec as { taints: { key: string; effect: string }[] }).taints.map((t) => `${t.key}:${t.effect}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ]);
    await h.waitFor('pod marked not ready', () => conditionOf(h!.pod('default', 'on-w1'), 'Ready')?.status === 'False');
    const renew = (h.store.get('leases.coordination.k8s.io', 'kube-node-lease', 'w-1')?.spec as { renewTime: string }).renewTime;
    const other = (h.store.get('leases.coordination.k8s.io', 'kube-node-lease', 'w-2')?.spec as { renewTime: string }).renewTime;
    await h.waitFor('w-2 lease renewed', () => (h!.store.get('leases.coordination.k8s.io', 'kube-node-lease', 'w-2')?.spec as { renewTime: string }).renewTime !== other);
    expect((h.store.get('leases.coordination.k8s.io', 'kube-node-lease', 'w-1')?.spec as { renewTime: string }).renewTime).toBe(renew);
    await h.apply(podObj('new', { nodeSelector: { 'kubernetes.io/hostname': 'w-1' }, containers: [{ name: 'c', image: 'nginx:1.27' }] }));
    const c = await h.waitFor('new unschedulable', () => {
      const x = conditionOf(h!.pod('default', 'new'), 'PodScheduled');
      return x?.status === 'False' ? x : undefined;
    });
    expect(c.message).toContain('1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }');
    h.faults.clear();
    await h.waitFor('Ready again', () => conditionOf(h!.store.get('nodes', undefined, 'w-1'), 'Ready')?.status === 'True');
    await h.waitFor('new runs', () => phaseOf(h!.pod('default', 'new')) === 'Running');
  });

  it('cni-not-ready: CNI pods never Ready, nodes NotReady with the network plugin message, workloads Pending', async () => {
    h = await startHarness({ faults: ['cni-not-ready'] });
    await h.waitFor('cilium pods running', () => {
      const ps = h!.store.list('pods', 'kube-system', { labelSelector: 'k8s-app=cilium' }).items;
      return ps.length === 3 && ps.every((p) => phaseOf(p) === 'Running');
    });
    await h.handle.settle();
    const ds = h.store.get('daemonsets.apps', 'kube-system', 'cilium');
    expect(ds?.status).toMatchObject({ desiredNumberScheduled: 3, numberReady: 0 });
    const node = h.store.get('nodes', undefined, 'w-1');
    expect(conditionOf(node, 'Ready')).toMatchObject({ status: 'False', reason: 'KubeletNotReady' });
    expect(conditionOf(node, 'Ready')?.message).toContain('NetworkPluginNotReady');
    await h.apply(podObj('app', { containers: [{ name: 'c', image: 'nginx:1.27' }] }));
    const c = await h.waitFor('app unschedulable', () => {
      const x = conditionOf(h!.pod('default', 'app'), 'PodScheduled');
      return x?.status === 'False' ? x : undefined;
    });
    expect(c.message).toContain('node(s) had untolerated taint {node.kubernetes.io/not-ready: }');
    h.faults.clear('cni-not-ready');
    await h.waitFor('cilium ready', () => (h!.store.get('daemonsets.apps', 'kube-system', 'cilium')?.status as { numberReady?: number })?.numberReady === 3);
    await h.waitFor('app running', () => phaseOf(h!.pod('default', 'app')) === 'Running');
  });
});

function request(l: Lab, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(path, l.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, ca: l.caPem, headers: { authorization: `Bearer ${l.token}`, 'content-type': 'application/json' } },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data ? (JSON.parse(data) as Record<string, unknown>) : {}, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('through the API server', () => {
  it('api-errors:100 answers 503 Status objects; the admin route still clears it', async () => {
    lab = await startLab({ controllers: createControllers({ timeScale: 0.01, startDelayMs: 5 }), faults: ['api-errors:100'] });
    const r = await request(lab, 'GET', '/api/v1/namespaces/default/pods');
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ kind: 'Status', code: 503, reason: 'ServiceUnavailable', details: { retryAfterSeconds: 1 } });
    // Like kube-apiserver, the header carries it too: client-go's retry logic reads Retry-After, not the body.
    expect(r.headers['retry-after']).toBe('1');
    expect((await request(lab, 'GET', '/lab/faults')).json).toMatchObject({ faults: ['api-errors:100'] });
    expect((await request(lab, 'DELETE', '/lab/faults/api-errors')).status).toBe(200);
    expect((await request(lab, 'GET', '/api/v1/namespaces/default/pods')).status).toBe(200);
  });

  it('faults added at run time through /lab/faults change what kubectl-style clients read', async () => {
    lab = await startLab({ controllers: createControllers({ timeScale: 0.01, startDelayMs: 5, resyncMs: 50 }) });
    expect((await request(lab, 'POST', '/lab/faults', { name: 'node-not-ready:w-1' })).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let ready: string | undefined;
    while (Date.now() < deadline) {
      const n = await request(lab, 'GET', '/api/v1/nodes/w-1');
      ready = ((n.json.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).find((c) => c.type === 'Ready')?.status;
      if (ready === 'Unknown') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ready).toBe('Unknown');
    expect((await request(lab, 'POST', '/lab/faults', { name: 'nonsense' })).status).toBe(400);
  });
});

describe('changeLabFaults (the service behind `groundwork lab fault`)', () => {
  it('adds, lists and clears faults of a running lab through its kubeconfig', async () => {
    const { changeLabFaults } = await import('../../src/lab/faults.js');
    lab = await startLab({ controllers: createControllers({ timeScale: 0.01, startDelayMs: 5 }) });
    expect(await changeLabFaults(lab.kubeconfigPath, 'add', 'dns-down')).toEqual({ faults: ['dns-down'] });
    expect(await changeLabFaults(lab.kubeconfigPath, 'add', 'api-latency:5')).toEqual({ faults: ['api-latency:5', 'dns-down'] });
    expect(await changeLabFaults(lab.kubeconfigPath, 'list')).toEqual({ faults: ['api-latency:5', 'dns-down'] });
    expect(await changeLabFaults(lab.kubeconfigPath, 'clear', 'dns-down')).toEqual({ faults: ['api-latency:5'], cleared: ['dns-down'] });
    expect(await changeLabFaults(lab.kubeconfigPath, 'clear')).toEqual({ faults: [], cleared: ['api-latency:5'] });
    await expect(changeLabFaults(lab.kubeconfigPath, 'add', 'bogus')).rejects.toMatchObject({ name: 'UserError', exitCode: 2 });
    await expect(changeLabFaults(lab.kubeconfigPath, 'clear', 'dns-down')).rejects.toThrow(/the lab refused: fault "dns-down" is not active/);
  });

  it('refuses a node fault for a node the lab does not have, naming the nodes it has (usage error)', async () => {
    const { changeLabFaults } = await import('../../src/lab/faults.js');
    lab = await startLab({ nodes: 3, controllers: createControllers({ timeScale: 0.01, startDelayMs: 5 }) });
    await expect(changeLabFaults(lab.kubeconfigPath, 'add', 'node-not-ready:w-9')).rejects.toMatchObject({
      name: 'UserError',
      exitCode: 2,
      message: 'the lab refused: fault "node-not-ready:w-9": this lab has no node "w-9"; name one of its nodes: cp-1, w-1, w-2',
    });
    expect(await changeLabFaults(lab.kubeconfigPath, 'list')).toEqual({ faults: [] });
  });

  it('says so when no lab answers', async () => {
    const { changeLabFaults } = await import('../../src/lab/faults.js');
    lab = await startLab({});
    const path = lab.kubeconfigPath;
    await lab.stop();
    lab = undefined;
    await expect(changeLabFaults(path, 'list')).rejects.toThrow(/^no lab answers at https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('goes where the kubeconfig\'s lab-admin cluster extension says (through the kube door), and only to loopback', async () => {
    const { changeLabFaults, LAB_ADMIN_EXTENSION } = await import('../../src/lab/faults.js');
    const { buildKubeconfig } = await import('../../src/lab/kubeconfig.js');
    const { parse, stringify } = await import('yaml');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/gw-faults-ext-`);
    const withAdmin = (admin: string) => {
      const doc = parse(buildKubeconfig({ server: 'https://127.0.0.1:1', caPem: 'not a CA', user: { token: 'not-a-token' }, cluster: 'lab', userName: 'admin', context: 'lab' })) as { clusters: { cluster: Record<string, unknown> }[] };
      doc.clusters[0]!.cluster.extensions = [{ name: LAB_ADMIN_EXTENSION, extension: { server: admin } }];
      const f = `${dir}/${admin.replace(/\W/g, '_')}.kubeconfig`;
      writeFileSync(f, stringify(doc), { mode: 0o600 });
      return f;
    };
    await expect(changeLabFaults(withAdmin('https://127.0.0.1:2'), 'list')).rejects.toThrow(/^no lab answers at https:\/\/127\.0\.0\.1:2$/);
    // The lab's own refusal, not only the loopback guard's (which vitest turns on): without the guard too.
    const guard = process.env.GROUNDWORK_LOOPBACK_ONLY;
    delete process.env.GROUNDWORK_LOOPBACK_ONLY;
    try {
      await expect(changeLabFaults(withAdmin('https://192.0.2.10:6443'), 'list')).rejects.toThrow(/points at 192\.0\.2\.10:6443, which is not a lab/);
    } finally {
      process.env.GROUNDWORK_LOOPBACK_ONLY = guard;
    }
  });
});
