/**
 * What a fresh lab holds before any controller runs: the `kubernetes` Service already has the first address of
 * the service range, as kube-apiserver creates it (it was once seeded bare and patched later).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import type { LabOptions } from '../../src/lab/types.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe('seeded objects', () => {
  it.each([
    ['the default 10.96.0.0/12', undefined, '10.96.0.1'],
    ['a spec serviceCIDR 10.100.0.0/16', '10.100.0.0/16', '10.100.0.1'],
  ])('the kubernetes Service is created with the first address of %s', async (_what, serviceCIDR, want) => {
    const spec = serviceCIDR ? ({ spec: { network: { serviceCIDR } } } as unknown as LabOptions['spec']) : undefined;
    lab = await startLab({ nodes: 1, spec });
    const svc = lab.store.get('services', 'default', 'kubernetes');
    expect(svc?.spec).toMatchObject({ type: 'ClusterIP', clusterIP: want, clusterIPs: [want], ports: [{ name: 'https', port: 443, targetPort: 6443 }] });
    // Created that way, not patched: its only event is the ADDED one.
    const events: string[] = [];
    lab.store.watch('services', 'default', { resourceVersion: '1' }, (e) => events.push(`${e.type} ${e.object.metadata.name}`))();
    expect(events).toEqual(['ADDED kubernetes']);
  });
});
