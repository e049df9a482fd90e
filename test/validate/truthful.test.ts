/**
 * Issue 14, through the lab, on both lab APIs (issue 13): validate names the right suite and the real cause. The
 * cases that need the embedded API server itself (its api-errors fault, its endpoints, its scheduler's exact words)
 * are in truthful-embedded.test.ts.
 */
import { expect, it } from 'vitest';
import { describeLabs, useTestLabs } from '../helpers/lab-api.js';
import { HEALTHY } from '../helpers/fault-diagnoses.js';
import { allNotReadyTainted, cordon, result, statuses, validateLab as validate, type ValidateLabOptions } from '../helpers/validate-lab.js';

const labs = useTestLabs();
const validateLab = (o: ValidateLabOptions) => validate((opts) => labs.start(opts), o);

describeLabs('a test pod that does not schedule is a scheduling finding, found from events', () => {
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

  it('a single tainted node: storage names the taint', async () => {
    const { report } = await validateLab({ lab: { nodes: 1 }, timeoutS: 120, only: ['storage'] });
    expect(result(report, 'storage')).toMatchObject({ status: 'fail', summary: expect.stringContaining('not scheduled: no node takes the test pod: cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule') });
  }, 100_000);

  it('cni-not-ready: storage says the nodes are NotReady', async () => {
    const { report } = await validateLab({ faults: ['cni-not-ready'], until: allNotReadyTainted, timeoutS: 120, only: ['storage'] });
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

describeLabs('netpol proves each direction on its own', () => {
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

describeLabs('new checks, broken as an operator would break them', () => {
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

describeLabs('a fault that stops every pod: only the suite that owns the cause fails', () => {
  it.each([
    ['cni-not-ready', 'control-plane', /^3 of 3 nodes not Ready/],
  ])('%s: %s fails, every other suite fails nothing', async (fault, owner, cause) => {
    const { report, code } = await validateLab({ faults: [fault], until: allNotReadyTainted, timeoutS: 60 });
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

describeLabs('healthy labs: zero warnings or failures', () => {
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
