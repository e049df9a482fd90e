/** Server-side printing: AGE like kubectl's HumanDuration, and the pod STATUS column's reasons. */
import { describe, expect, it } from 'vitest';
import { humanDuration, toTable, wantsTable } from '../../src/lab/server/table.js';
import type { KubeObject } from '../../src/lab/store/types.js';

describe('humanDuration (k8s.io/apimachinery duration.HumanDuration)', () => {
  it.each([
    [0, '0s'],
    [59_000, '59s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [125_000, '2m5s'],
    [10 * 60_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3600_000, '3h'],
    [3 * 3600_000 + 5 * 60_000, '3h5m'],
    [47 * 3600_000, '47h'],
    [50 * 3600_000, '2d2h'],
    [30 * 86400_000, '30d'],
    [3 * 365 * 86400_000, '3y'],
    [-5000, '<invalid>'],
  ])('%d ms → %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('pod rows', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const pod = (status: Record<string, unknown>, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z', ...extra },
    spec: { containers: [{ name: 'c', image: 'x' }], nodeName: 'w-1' },
    status,
  });
  it.each([
    ['Pending', { phase: 'Pending' }, {}, ['p', '0/1', 'Pending', '0', '10m', '<none>', 'w-1']],
    ['waiting reason', { phase: 'Pending', containerStatuses: [{ name: 'c', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }, {}, ['p', '0/1', 'ContainerCreating', '0']],
    ['running', { phase: 'Running', podIP: '10.244.1.2', containerStatuses: [{ name: 'c', ready: true, restartCount: 2, state: { running: {} } }] }, {}, ['p', '1/1', 'Running', '2', '10m', '10.244.1.2', 'w-1']],
    ['crash loop', { phase: 'Running', containerStatuses: [{ name: 'c', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }] }, {}, ['p', '0/1', 'CrashLoopBackOff', '5']],
    ['completed', { phase: 'Succeeded', containerStatuses: [{ name: 'c', ready: false, restartCount: 0, state: { terminated: { reason: 'Completed', exitCode: 0 } } }] }, {}, ['p', '0/1', 'Completed', '0']],
    ['terminating', { phase: 'Running' }, { deletionTimestamp: '2026-01-01T00:09:00Z' }, ['p', '0/1', 'Terminating']],
  ])('%s', (_what, status, meta, want) => {
    const t = toTable('Pod', [pod(status, meta)], { now }) as { rows: { cells: unknown[] }[] };
    expect(t.rows[0].cells.slice(0, want.length)).toEqual(want);
  });

  it('recognises the Table Accept header kubectl sends', () => {
    expect(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')).toBe(true);
    expect(wantsTable('application/json, */*')).toBe(false);
  });
});
