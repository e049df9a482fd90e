/**
 * Issue 14, through the lab: validate names the right suite and the real cause, and does not fail or leave
 * test namespaces behind because the API server is busy. The lab's store is read directly afterwards (not through
 * the API, which the api-errors fault would also hit).
 */
import { captureIo } from '../helpers/io.js';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { createFaultRegistry } from '../../src/lab/faults.js';
import { runValidate, type SuiteName } from '../../src/validate/index.js';
import type { LabOptions } from '../../src/lab/types.js';
import { HEALTHY } from '../helpers/fault-diagnoses.js';
import { waitLabSettled } from '../helpers/lab.js';

const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.stop()));
});

interface Report {
  status: string;
  results: { id: string; status: string; summary: string; detail?: string; why?: string; fix?: string; evidence?: Record<string, unknown> }[];
  cleanup?: { leftovers: string[]; commands?: string[] };
}

/** A repeatable "random" for api-errors: the same requests fail on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}


async function validateLab(o: { faults?: string[]; seed?: number; lab?: Partial<LabOptions>; only?: SuiteName[]; timeoutS?: number; specNodes?: string[]; before?: (lab: Lab) => Promise<void> }): Promise<{ report: Report; code: number; lab: Lab; stderr: string }> {
  const faults = createFaultRegistry([], { random: seeded(o.seed ?? 14) });
  const lab = await startLab({ nodes: 3, cni: 'cilium', ...o.lab, controllers: createControllers({ timeScale: 0.1, faults }) });
  labs.push(lab);
  await waitLabSettled(lab, { timeoutMs: 20_000 });
  await o.before?.(lab);
  for (const f of o.faults ?? []) faults.add(f);
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-truthful-'));
  const io = captureIo(dir);
  const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS: o.timeoutS ?? 30, only: o.only, specNodes: o.specNodes });
  return { report: JSON.parse(io.out()) as Report, code, lab, stderr: io.err() };
}

function statuses(r: Report): Record<string, string> {
  return Object.fromEntries(r.results.map((x) => [x.id, x.status]));
}

function leftNamespaces(lab: Lab): string[] {
  return lab.store.list('namespaces').items.map((n) => n.metadata.name!).filter((n) => n.startsWith('groundwork-validate'));
}

describe.concurrent('a busy API server does not change the verdict', () => {
  it.each([5, 20])('api-errors:%i — every suite passes as on a quiet lab, and cleanup leaves nothing', async (percent) => {
    const { report, code, lab } = await validateLab({ faults: [`api-errors:${percent}`] });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual(HEALTHY);
    expect(code).toBe(0);
    expect(report.cleanup?.leftovers).toEqual([]);
    expect(leftNamespaces(lab)).toEqual([]);
  }, 300_000);
});

const cordon = (names: string[]) => async (lab: Lab) => {
  for (const n of names) await lab.store.patch('nodes', undefined, n, 'merge', { spec: { unschedulable: true } });
};

function result(r: Report, id: string) {
  return r.results.find((x) => x.id === id)!;
}

describe.concurrent('a test pod that does not schedule is a scheduling finding, found from events', () => {
  // The suites wait up to 120 s; the test's own limit is below that, so a diagnosis that waited for the timeout fails it.
  it('workers cordoned, control plane tainted: storage names each node and its cause, not the provisioner', async () => {
    const { report } = await validateLab({ before: cordon(['w-1', 'w-2']), timeoutS: 120, only: ['control-plane', 'scheduling', 'storage'] });
    const cause = 'no node takes the test pod: w-1, w-2 cordoned; cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule';
    // scheduling owns the finding; storage could test nothing and says so, with the same cause (not the provisioner).
    const storage = result(report, 'storage');
    expect(storage.status).toBe('skip');
    expect(storage.summary).toBe(`not tested: ${cause}`);
    expect(storage.why).toBe('no test pod can run, so storage cannot be tested; the scheduling result is the finding');
    expect(storage.fix).toMatch(/^kubectl uncordon w-1 w-2/);
    expect(result(report, 'scheduling')).toMatchObject({ status: 'fail', summary: cause });
    const cp = result(report, 'control-plane');
    expect(cp.status).toBe('warn');
    expect(cp.summary).toBe('2 Ready nodes take no pods: w-1, w-2 cordoned; no node takes pods at all');
  }, 100_000);

  it('storage on its own (--only storage) fails with the scheduling cause, not the provisioner', async () => {
    const { report } = await validateLab({ before: cordon(['w-1', 'w-2']), timeoutS: 120, only: ['storage'] });
    const storage = result(report, 'storage');
    expect(storage.status).toBe('fail');
    expect(storage.summary).toBe('the storage test pod writer was not scheduled: no node takes the test pod: w-1, w-2 cordoned; cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule (FailedScheduling: 0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.)');
    expect(storage.why).toMatch(/a scheduling problem, not the volume provisioner/);
  }, 100_000);

  it('a single tainted node: storage names the taint', async () => {
    const { report } = await validateLab({ lab: { nodes: 1 }, timeoutS: 120, only: ['storage'] });
    expect(result(report, 'storage')).toMatchObject({ status: 'fail', summary: expect.stringContaining('not scheduled: no node takes the test pod: cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule') });
  }, 100_000);

  it('cni-not-ready: storage says the nodes are NotReady', async () => {
    const { report } = await validateLab({ faults: ['cni-not-ready'], timeoutS: 120, only: ['storage'] });
    // With control-plane in the run it owns the finding (nodes NotReady); on its own storage fails with it.
    const s = result(report, 'storage');
    expect(s.status).toBe('fail');
    expect(s.summary).toMatch(/not scheduled: no node takes the test pod: cp-1, w-1, w-2 NotReady/);
    expect(s.summary).not.toMatch(/provision/);
  }, 100_000);

  it('a node the spec lists but the cluster lacks fails control-plane, naming it', async () => {
    const { report } = await validateLab({ only: ['control-plane'], specNodes: ['cp-1', 'w-1', 'w-2', 'w-3'] });
    expect(result(report, 'control-plane')).toMatchObject({ status: 'fail', summary: '1 of 4 nodes in the spec are missing from the cluster: w-3' });
  }, 100_000);
});

describe.concurrent('netpol proves each direction on its own', () => {
  it.each([
    ['netpol-ingress-not-enforced', 'Ingress rules are not enforced: traffic only an Ingress rule denies got through (memcached:11211); Egress rules are (postgres:3306, redis:6379 blocked)'],
    ['netpol-egress-not-enforced', 'Egress rules are not enforced: traffic only an Egress rule denies got through (postgres:3306, redis:6379); Ingress rules are (memcached:11211 blocked)'],
    ['netpol-not-enforced', 'NetworkPolicies are not enforced: traffic they deny got through (postgres:3306, redis:6379, memcached:11211)'],
  ])('%s fails netpol, and only netpol, naming the direction', async (fault, summary) => {
    const { report, code } = await validateLab({ faults: [fault] });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual({ ...HEALTHY, netpol: 'fail' });
    expect(result(report, 'netpol').summary).toBe(summary);
    expect(code).toBe(1);
  }, 180_000);
});

describe.concurrent('new checks, broken as an operator would break them', () => {
  it('the kubernetes Service without endpoints fails connectivity, and only connectivity, naming it', async () => {
    const { report } = await validateLab({
      before: async (lab) => {
        await lab.store.patch('endpoints', 'default', 'kubernetes', 'merge', { subsets: [] });
        await lab.store.patch('endpointslices.discovery.k8s.io', 'default', 'kubernetes', 'merge', { endpoints: [] });
      },
    });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual({ ...HEALTHY, connectivity: 'fail' });
    expect(result(report, 'connectivity').summary).toMatch(/^pods cannot reach the API: the kubernetes Service \(10\.96\.0\.1:443\) has no endpoints/);
  }, 180_000);

  it('CoreDNS scaled to zero is named as such', async () => {
    const { report } = await validateLab({
      before: async (lab) => {
        await lab.store.patch('deployments.apps', 'kube-system', 'coredns', 'merge', { spec: { replicas: 0 } });
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && lab.store.list('pods', 'kube-system').items.some((p) => p.metadata.labels?.['k8s-app'] === 'kube-dns')) await new Promise((r) => setTimeout(r, 100));
      },
    });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual({ ...HEALTHY, dns: 'fail', connectivity: 'warn' });
    expect(result(report, 'dns').summary).toMatch(/^CoreDNS is scaled to zero: deployment kube-system\/coredns has replicas: 0/);
  }, 180_000);

  it('two default StorageClasses are a storage warning naming both', async () => {
    const { report } = await validateLab({
      only: ['storage'],
      before: async (lab) => {
        const key = 'storageclass.kubernetes.io/is-default-class';
        for (const c of lab.store.list('storageclasses.storage.k8s.io').items) await lab.store.patch('storageclasses.storage.k8s.io', undefined, c.metadata.name!, 'merge', { metadata: { annotations: { [key]: 'true' } } });
      },
    });
    const s = result(report, 'storage');
    const names = (s.evidence!.notes as string[])[0];
    expect(s.status).toBe('warn');
    expect(s.summary).toMatch(/^2 StorageClasses are marked default \([\w-]+, [\w-]+\): claims without storageClassName get the newest/);
    expect(names).toMatch(/marked default/);
  }, 180_000);
});

describe.concurrent('a fault that stops every pod: only the suite that owns the cause fails', () => {
  it.each([
    ['cni-not-ready', 'control-plane', /^3 of 3 nodes not Ready/],
  ])('%s: %s fails, every other suite fails nothing', async (fault, owner, cause) => {
    const { report, code } = await validateLab({ faults: [fault], timeoutS: 60 });
    const st = statuses(report);
    expect(st[owner], JSON.stringify(report.results.map((x) => [x.id, x.status, x.summary]))).toBe('fail');
    expect(result(report, owner).summary).toMatch(cause);
    expect(Object.entries(st).filter(([id, s]) => id !== owner && s === 'fail'), JSON.stringify(report.results.map((x) => [x.id, x.status, x.summary]))).toEqual([]);
    expect(result(report, 'storage').summary).toMatch(/^not tested: no node takes the test pod: cp-1, w-1, w-2 NotReady/);
    expect(code).toBe(1);
  }, 200_000);

  it('every worker cordoned: scheduling fails, control-plane warns, nothing else fails', async () => {
    const { report } = await validateLab({ before: cordon(['w-1', 'w-2']), timeoutS: 60 });
    const st = statuses(report);
    expect(st, JSON.stringify(report.results.map((x) => [x.id, x.status, x.summary]))).toMatchObject({ scheduling: 'fail', 'control-plane': 'warn' });
    expect(Object.entries(st).filter(([id, s]) => id !== 'scheduling' && s === 'fail')).toEqual([]);
  }, 200_000);
});

describe.concurrent('healthy labs: zero warnings or failures', () => {
  it.each([
    [3, 'cilium'],
    [5, 'calico'],
    [20, 'cilium'],
  ] as const)('%i nodes with %s', async (nodes, cni) => {
    const { report, code } = await validateLab({ lab: { nodes, cni } });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual(HEALTHY);
    expect(code).toBe(0);
    const m = result(report, 'connectivity').evidence!.matrix as { nodes: string[]; sampled: boolean; sampling?: string };
    expect(m.nodes).toContain('cp-1');
    expect(m.nodes).toHaveLength(nodes);
    if (nodes === 20) expect(m.sampling).toMatch(/^each node probes its own node and 8 of its 19 peers/);
    else expect(m.sampled).toBe(false);
  }, 300_000);
});
