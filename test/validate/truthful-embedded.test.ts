/**
 * Issue 14, through the embedded lab only: these cases need the embedded API server itself, so they are not in
 * vitest.lab-real.config.ts's list. The api-errors fault fails the embedded server's own requests (the real API has
 * no such hook); the kubernetes Service's endpoints are kept by the real kube-apiserver's endpoint reconciler,
 * which puts back what a patch empties; and the exact FailedScheduling words asserted are the embedded scheduler's.
 */
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../src/lab/index.js';
import { useTestLabs } from '../helpers/lab-api.js';
import { HEALTHY } from '../helpers/fault-diagnoses.js';
import { cordon, result, statuses, validateLab as validate, type ValidateLabOptions } from '../helpers/validate-lab.js';

const labs = useTestLabs();
const validateLab = (o: ValidateLabOptions) => validate((opts) => labs.start({ ...opts, api: 'embedded' }), o);

function leftNamespaces(lab: Lab): string[] {
  return lab.store.list('namespaces').items.map((n) => n.metadata.name!).filter((n) => n.startsWith('groundwork-validate'));
}

describe.concurrent('a busy API server (embedded api-errors fault) does not change the verdict', () => {
  it.each([5, 20])('api-errors:%i — every suite passes as on a quiet lab, and cleanup leaves nothing', async (percent) => {
    const { report, code, lab } = await validateLab({ faults: [`api-errors:${percent}`] });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual(HEALTHY);
    expect(code).toBe(0);
    expect(report.cleanup?.leftovers).toEqual([]);
    expect(leftNamespaces(lab)).toEqual([]);
  }, 300_000);
});

describe.concurrent('embedded API only: its scheduler\'s words, its endpoints', () => {
  it('storage on its own (--only storage) fails with the scheduling cause, not the provisioner', async () => {
    const { report } = await validateLab({ before: cordon(['w-1', 'w-2']), timeoutS: 120, only: ['storage'] });
    const storage = result(report, 'storage');
    expect(storage.status).toBe('fail');
    expect(storage.summary).toBe('the storage test pod writer was not scheduled: no node takes the test pod: w-1, w-2 cordoned; cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule (FailedScheduling: 0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.)');
    expect(storage.why).toMatch(/a scheduling problem, not the volume provisioner/);
  }, 100_000);

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

});
