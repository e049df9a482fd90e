/**
 * The watch history ring: the same resume/410 answers as a plain "keep the last N" list, without copying the
 * history on writes once it is full.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { WatchHistory } from '../../src/lab/store/history.js';
import { createMemoryStore } from '../../src/lab/store/store.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** The reference: an array trimmed to the last `cap` entries, the start moving to the last dropped rv. */
function model(cap: number, start: number, rvs: number[]) {
  let kept: number[] = [];
  let first = start;
  for (const rv of rvs) {
    kept.push(rv);
    if (kept.length > cap) {
      first = kept[kept.length - cap - 1]!;
      kept = kept.slice(kept.length - cap);
    }
  }
  return { kept, first };
}

describe('WatchHistory', () => {
  it.each([
    ['not yet full', 3, [1, 2], 0, [1, 2]],
    ['exactly full', 3, [1, 2, 3], 0, [1, 2, 3]],
    ['one evicted', 3, [1, 2, 3, 4], 1, [2, 3, 4]],
    ['wrapped twice', 2, [5, 6, 7, 8, 9], 7, [8, 9]],
  ])('%s', (_what, cap, rvs, start, kept) => {
    const h = new WatchHistory<{ rv: number }>(cap);
    for (const rv of rvs) h.push({ rv });
    expect(h.start).toBe(start);
    expect([...h.since(start)].map((e) => e.rv)).toEqual(kept);
    expect(h.size).toBe(kept.length);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new WatchHistory(0)).toThrow(RangeError);
  });

  it('property: start and since(from) match the trimmed-array model for any capacity and write count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 50 }), (cap, start, writes, from) => {
        const rvs = Array.from({ length: writes }, (_, i) => start + i + 1);
        const h = new WatchHistory<{ rv: number }>(cap, start);
        for (const rv of rvs) h.push({ rv });
        const m = model(cap, start, rvs);
        expect(h.start).toBe(m.first);
        expect([...h.since(from)].map((e) => e.rv)).toEqual(m.kept.filter((rv) => rv > from));
      }),
    );
  });

  it('a write into a full history reuses the same storage (no copy of the history per write)', () => {
    const h = new WatchHistory<{ rv: number }>(100);
    for (let i = 1; i <= 100; i++) h.push({ rv: i });
    const storage = h.storageForTest;
    for (let i = 101; i <= 1000; i++) h.push({ rv: i });
    expect(h.storageForTest).toBe(storage);
    expect(storage.length).toBe(100);
    expect(h.start).toBe(900);
  });

  it('reset forgets entries and moves the resume point (a store loaded at a revision)', () => {
    const h = new WatchHistory<{ rv: number }>(4);
    for (let i = 1; i <= 6; i++) h.push({ rv: i });
    h.reset(42);
    expect(h.start).toBe(42);
    expect([...h.since(0)]).toEqual([]);
  });
});

describe('the store with a full watch history', () => {
  it('does not copy the history array on each write, and still resumes or answers 410 Expired', async () => {
    const s = await createMemoryStore({ historySize: 500 });
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data: { n: '0' } });
    const write = (i: number) => s.mutate('configmaps', 'default', 'c', (o) => {
      o.data = { n: String(i) };
    });
    for (let i = 1; i <= 600; i++) await write(i);
    // The old trimming did `history = history.slice(drop)` on every write once full: count big-array copies.
    const slice = vi.spyOn(Array.prototype, 'slice');
    for (let i = 601; i <= 800; i++) await write(i);
    const bigCopies = slice.mock.contexts.filter((ctx) => Array.isArray(ctx) && (ctx as unknown[]).length >= 500).length;
    slice.mockRestore();
    expect(bigCopies).toBe(0);

    const rv = Number(s.currentResourceVersion());
    const seen: string[] = [];
    s.watch('configmaps', 'default', { resourceVersion: String(rv - 3) }, (e) => seen.push(`${e.type} ${e.object.metadata.resourceVersion}`))();
    expect(seen).toEqual([`MODIFIED ${rv - 2}`, `MODIFIED ${rv - 1}`, `MODIFIED ${rv}`]);
    // 500 events kept: resuming from rv-500 still works (the oldest kept event is rv-499), rv-501 is gone.
    expect(() => s.watch('configmaps', 'default', { resourceVersion: String(rv - 500) }, () => undefined)()).not.toThrow();
    expect(() => s.watch('configmaps', 'default', { resourceVersion: String(rv - 501) }, () => undefined)).toThrow(
      expect.objectContaining({ code: 410, reason: 'Expired' }),
    );
    await s.close();
  });
});
