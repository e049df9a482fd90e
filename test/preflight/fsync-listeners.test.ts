import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import { measureFsync, percentile, FSYNC_BLOCK_BYTES } from '../../src/preflight/fsync.js';
import { judgeFsync } from '../../src/preflight/judge.js';
import { listenersOn, parseProcNetSockets } from '../../src/preflight/listeners.js';
import { listen } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('etcd fsync benchmark (real writes + fdatasync on a temp dir, small size)', () => {
  it('writes 2300-byte blocks, fdatasyncs each, reports percentiles and cleans up', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-fsync-'));
    dirs.push(dir);
    const m = await measureFsync(dir, { totalBytes: 200 * FSYNC_BLOCK_BYTES });
    expect(m.writes).toBe(200);
    expect(m.blockBytes).toBe(2300);
    expect(m.totalBytes).toBe(460_000);
    expect(m.p50Ms).toBeGreaterThan(0);
    expect(m.p50Ms).toBeLessThanOrEqual(m.p99Ms);
    expect(m.p99Ms).toBeLessThanOrEqual(m.maxMs);
    expect(readdirSync(dir)).toEqual([]);
    // The verdict names the measurement; pass/warn/fail depends on this disk, so only its shape is asserted.
    const v = judgeFsync(m, 22 * 1024 * 1024);
    expect(v.summary).toMatch(/^200 writes of 2300 bytes \+ fdatasync in .*: p99 [\d.]+ ms, p50 [\d.]+ ms, max [\d.]+ ms/);
    expect((v.evidence as { fullSize: boolean }).fullSize).toBe(false);
  });

  it('stops between writes when aborted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-fsync-'));
    dirs.push(dir);
    const ac = new AbortController();
    ac.abort();
    const m = await measureFsync(dir, { totalBytes: 1000 * FSYNC_BLOCK_BYTES, signal: ac.signal });
    expect(m.writes).toBe(0);
  });

  it.each([
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99, 10],
    [Array.from({ length: 1000 }, (_, i) => i + 1), 99, 990],
    [[7], 99, 7],
  ])('percentile(%j, %i) = %i (nearest rank)', (xs, p, want) => {
    expect(percentile(xs, p)).toBe(want);
  });

  it.each<[number, 'pass' | 'warn' | 'fail']>([
    [2.1, 'pass'],
    [7.5, 'warn'],
    [10, 'fail'],
    [23.4, 'fail'],
  ])('p99 %f ms -> %s', (p99, status) => {
    const v = judgeFsync({ dir: '/var/lib/etcd', writes: 10029, blockBytes: 2300, totalBytes: 23_066_700, p50Ms: 1, p99Ms: p99, maxMs: 30, meanMs: 1, wallMs: 1 }, 22 * 1024 * 1024);
    expect(v.status).toBe(status);
    if (status !== 'pass') expect(v.fix).toMatch(/SSD/);
  });
});

describe('listeners from /proc/net', () => {
  it('finds a real TCP listener on a loopback address in /proc/net/tcp', async () => {
    const l = await listen('127.0.81.7');
    try {
      const text = await readFile('/proc/net/tcp', 'utf8');
      const found = listenersOn(parseProcNetSockets(text, 'tcp'), 'tcp', l.port);
      expect(found).toContainEqual({ protocol: 'tcp', address: '127.0.81.7', port: l.port });
    } finally {
      await l.close();
    }
  });

  it('finds a real UDP socket in /proc/net/udp', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.81.8', () => r()));
    try {
      const port = sock.address().port;
      const found = listenersOn(parseProcNetSockets(await readFile('/proc/net/udp', 'utf8'), 'udp'), 'udp', port);
      expect(found).toContainEqual({ protocol: 'udp', address: '127.0.81.8', port });
    } finally {
      sock.close();
    }
  });

  it('reads IPv6 listeners and skips established connections', () => {
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000000000000:192B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
      '   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1',
    ].join('\n');
    expect(parseProcNetSockets(tcp6, 'tcp')).toEqual([{ protocol: 'tcp', address: '::', port: 6443 }]);
  });

  it('matches ranges', () => {
    const ls = [{ protocol: 'tcp' as const, address: '0.0.0.0', port: 31000 }];
    expect(listenersOn(ls, 'tcp', 30000, 32767)).toHaveLength(1);
    expect(listenersOn(ls, 'udp', 30000, 32767)).toHaveLength(0);
    expect(listenersOn(ls, 'tcp', 6443)).toHaveLength(0);
  });
});
