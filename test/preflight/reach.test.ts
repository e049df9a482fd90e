import { afterAll, describe, expect, it } from 'vitest';
import { probeAll, probeTcp } from '../../src/preflight/reach.js';
import { blackHole, closedPort, listen } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('TCP reachability against real loopback sockets', () => {
  it('open, refused and timeout are told apart', async () => {
    const open = await listen('127.0.78.1');
    cleanups.push(open.close);
    const refused = await closedPort('127.0.78.2');
    const hole = await blackHole('127.0.78.3');
    cleanups.push(hole.close);

    expect((await probeTcp({ host: '127.0.78.1', port: open.port }, 2000)).status).toBe('open');
    const r = await probeTcp({ host: '127.0.78.2', port: refused }, 2000);
    expect([r.status, r.code]).toEqual(['refused', 'ECONNREFUSED']);
    const t = await probeTcp({ host: '127.0.78.3', port: hole.port }, 300);
    expect([t.status, t.code]).toEqual(['timeout', 'ETIMEDOUT']);
  });

  it('a black-holed host does not stall the others: they finish while it waits for its timeout', async () => {
    const hosts = Array.from({ length: 6 }, (_, i) => `127.0.79.${i + 1}`);
    const servers = await Promise.all(hosts.map((h) => listen(h)));
    for (const s of servers) cleanups.push(s.close);
    const hole = await blackHole('127.0.79.100');
    cleanups.push(hole.close);

    // The black hole is first in line, with only 2 workers: a serial prober would be stuck behind it.
    const targets = [{ host: '127.0.79.100', port: hole.port }, ...servers.map((s, i) => ({ host: hosts[i]!, port: s.port }))];
    const order: number[] = [];
    const results = await probeAll(targets, { concurrency: 2, timeoutMs: 1500, onResult: (_r, i) => order.push(i) });

    expect(results.map((r) => r.status)).toEqual(['timeout', 'open', 'open', 'open', 'open', 'open', 'open']);
    // Everything else completed before the timeout did.
    expect(order[order.length - 1]).toBe(0);
    expect(order.slice(0, -1).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps the order of targets with mixed answers', async () => {
    const s = await listen('127.0.80.1');
    cleanups.push(s.close);
    const refused = await closedPort('127.0.80.2');
    const targets = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? { host: '127.0.80.2', port: refused } : { host: '127.0.80.1', port: s.port }));
    const results = await probeAll(targets, { concurrency: 5 });
    expect(results.map((r) => r.status)).toEqual(targets.map((t) => (t.host === '127.0.80.2' ? 'refused' : 'open')));
    expect(results.map((r) => r.port)).toEqual(targets.map((t) => t.port));
  });
});
