import { describe, expect, it } from 'vitest';
import type { DrillReport } from '../../src/drill/drill.js';
import { formatDrillReport } from '../../src/drill/index.js';
import type { RunSummary } from '../../src/run/types.js';

const summary = (results: RunSummary['results'] = []): RunSummary => ({ runId: 'r1', runDir: '/state/runs/r1', status: 'fail', results, startedAt: '2026-11-25T09:00:00.000Z', durationMs: 1000 });

const failed: DrillReport = {
  id: 'd1',
  target: 'snapshot file cut.db',
  status: 'fail',
  reasons: ['integrity: the size (5000 bytes) is not whole database pages: the file is truncated'],
  startedAt: '2026-11-25T09:00:00.000Z',
  totalMs: 30,
  phases: {
    inventory: { ms: 0, status: 'skip', summary: 'no live source' },
    snapshot: { ms: 1, status: 'pass', summary: 'using cut.db' },
    integrity: { ms: 9, status: 'fail', summary: 'integrity: the size (5000 bytes) is not whole database pages: the file is truncated' },
    restore: { ms: 0, status: 'skip', summary: 'no snapshot that passed the integrity check' },
    teardown: { ms: 2, status: 'pass', summary: 'nothing to remove' },
  },
  snapshot: { bytes: 5000, sha256: 'ab'.repeat(32), verdict: 'truncated' },
};

describe('formatDrillReport', () => {
  it('a failure: verdict, a timeline with marks, no RTO, the reason with its fix', () => {
    const text = formatDrillReport(failed, summary([{ id: 'drill-integrity', title: 'Check', stage: 'drill', status: 'fail', summary: failed.phases.integrity!.summary, fix: 'take a new backup', durationMs: 9 }]), { stateDir: '/state' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('restore drill of snapshot file cut.db: FAILED');
    expect(lines[1]).toMatch(/^  - inventory +0ms  \|\s+\|  no live source$/);
    expect(lines[3]).toMatch(/^  x integrity +9ms  \|#+\s*\|  integrity: the size/);
    expect(text).toContain('RTO (restore + boot + verify):           -');
    expect(text).toContain('  - integrity: the size (5000 bytes) is not whole database pages: the file is truncated\n    fix: take a new backup');
    expect(text).toContain('history: /state/drills.jsonl (groundwork drill history)');
  });

  it('a pass: RPO and RTO, restored figures; long lines are cut to the terminal width', () => {
    const pass: DrillReport = {
      ...failed,
      status: 'pass',
      reasons: [],
      rpoMs: 1500,
      rtoMs: 2500,
      phases: { restore: { ms: 1000, status: 'pass', summary: 'restored with etcdctl' }, boot: { ms: 1000, status: 'pass', summary: 'x'.repeat(200) }, verify: { ms: 500, status: 'pass', summary: 'ok' } },
      restored: { revision: 52, counts: {}, total: 5001, hash: 123, bumped: false, tool: 'etcdctl' },
    };
    const text = formatDrillReport(pass, summary(), { width: 80 });
    expect(text.split('\n')[0]).toBe('restore drill of snapshot file cut.db: PASSED');
    expect(text).toContain('RPO (age of the snapshot when restored): 1.5s');
    expect(text).toContain('RTO (restore + boot + verify):           2.5s');
    expect(text).toContain('restored: revision 52, 5,001 keys, hashkv 123 (etcdctl)');
    // Timeline lines are cut to the width; the sha256 line stays whole (operators compare it with sha256sum).
    const timeline = text.split('\n').filter((l) => l.includes('|'));
    expect(timeline).toHaveLength(3);
    expect(Math.max(...timeline.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(text).toContain(`sha256 ${'ab'.repeat(32)}`);
  });
});
