import { mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendDrillRecord, formatCount, formatHistory, formatMs, historyFile, readDrillHistory, summarizeHistory, type DrillRecord } from '../../src/drill/history.js';

const rec = (day: number, status: DrillRecord['status'], rtoMs?: number): DrillRecord => ({
  version: 1,
  id: `d${day}`,
  at: `2026-11-${String(day).padStart(2, '0')}T03:00:00.000Z`,
  target: 'etcd https://127.0.0.1:2379',
  status,
  reasons: status === 'pass' ? [] : ['integrity: the file is truncated'],
  ...(rtoMs !== undefined ? { rtoMs } : {}),
  phases: {},
  keys: 5001,
  snapshotBytes: 557088,
});

describe('drill history', () => {
  it('appends and reads back, ignoring torn lines', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-hist-'));
    await appendDrillRecord(dir, rec(1, 'pass', 1200));
    appendFileSync(historyFile(dir), '{"torn":\n');
    await appendDrillRecord(dir, rec(2, 'fail'));
    const { records, unreadable } = await readDrillHistory(dir);
    expect(records.map((r) => r.id)).toEqual(['d1', 'd2']);
    expect(unreadable).toBe(1);
  });

  it('no file: no drills', async () => {
    expect(await readDrillHistory(mkdtempSync(path.join(tmpdir(), 'gw-hist-')))).toEqual({ records: [], unreadable: 0 });
  });

  it('trend: last success, days since, median RTO of the last 5 passes against the 5 before', () => {
    const records = [
      ...[1, 2, 3, 4, 5].map((d) => rec(d, 'pass', 1000)),
      ...[6, 7, 8, 9, 10].map((d) => rec(d, 'pass', 2000)),
      rec(11, 'fail'),
    ];
    const t = summarizeHistory(records, new Date('2026-11-20T03:00:00Z'));
    expect(t).toMatchObject({ drills: 11, passed: 10, recentRtoMs: 2000, earlierRtoMs: 1000, daysSinceSuccess: 10 });
    expect(t.lastSuccess?.id).toBe('d10');
    expect(t.last?.id).toBe('d11');
  });

  it('formats a table with the drift', () => {
    const records = [...[1, 2, 3, 4, 5].map((d) => rec(d, 'pass', 1000)), ...[6, 7, 8, 9, 10].map((d) => rec(d, 'pass', 1500)), rec(11, 'fail')];
    const text = formatHistory(records, new Date('2026-11-12T03:00:00Z'));
    expect(text).toContain('WHEN');
    expect(text).toContain('fail: integrity: the file is truncated');
    expect(text).toContain('11 drills, 10 passed');
    expect(text).toContain('last success: 2026-11-10T03:00:00.000Z (2 days ago)');
    expect(text).toContain('RTO, median of the last 5 passing drills: 1.5s (5 before: 1s, 50% change)');
  });

  it('says when there is nothing yet and when nothing ever passed', () => {
    expect(formatHistory([])).toMatch(/no drills yet/);
    expect(formatHistory([rec(1, 'fail')], new Date('2026-11-02T00:00:00Z'))).toContain('last success: never');
  });

  it.each([
    [undefined, '-'],
    [340, '340ms'],
    [1530, '1.5s'],
    [600_000, '10m'],
    [3 * 3_600_000, '3h'],
    [3 * 86_400_000, '3d'],
  ])('formatMs(%s) = %s', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });
});

describe('formatCount', () => {
  it("writes what toLocaleString('en-US') writes for whole numbers", () => {
    for (const n of [0, 1, 12, 999, 1000, 1001, 12_345, 999_999, 1_000_000, 1_000_000_000, 3_414, 102_400, -1, -1234, 2 ** 53 - 1]) {
      expect(formatCount(n)).toBe(n.toLocaleString('en-US'));
    }
  });
});
