/**
 * The etcd disk benchmark, in Node: what etcd's docs ask of fio (`--rw=write --ioengine=sync --fdatasync=1
 * --size=22m --bs=2300`): sequential 2300-byte writes, each followed by fdatasync, on the disk etcd will use.
 * etcd's WAL does exactly this on every commit; its p99 must stay under 10 ms or leaders flap.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** etcd docs (op-guide/hardware, "Disks") and the fio recipe: 2300-byte blocks, 22 MiB in total. */
export const FSYNC_BLOCK_BYTES = 2300;
export const FSYNC_FULL_BYTES = 22 * 1024 * 1024;

export interface FsyncMeasurement {
  dir: string;
  writes: number;
  blockBytes: number;
  totalBytes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  wallMs: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

interface FsyncOptions {
  totalBytes?: number;
  blockBytes?: number;
  /** Stop early (between writes) when aborted. */
  signal?: AbortSignal;
}

/**
 * Write `totalBytes` in `blockBytes` chunks to a temp file in `dir`, fdatasync after each, time each write+sync.
 * Each write+sync pair is a synchronous call on purpose: an async queue would add scheduling noise to sub-millisecond
 * figures; between batches it yields to the event loop. The file is removed afterwards, even on failure.
 */
export async function measureFsync(dir: string, opts: FsyncOptions = {}): Promise<FsyncMeasurement> {
  const blockBytes = opts.blockBytes ?? FSYNC_BLOCK_BYTES;
  const totalBytes = opts.totalBytes ?? FSYNC_FULL_BYTES;
  const writes = Math.max(1, Math.ceil(totalBytes / blockBytes));
  const work = mkdtempSync(path.join(dir, '.groundwork-fsync-'));
  const block = Buffer.alloc(blockBytes, 0x61);
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  const fd = openSync(path.join(work, 'wal-test'), 'w');
  try {
    let lastYield = Date.now();
    for (let i = 0; i < writes; i++) {
      if (opts.signal?.aborted) break;
      // Let progress rendering and timers run every ~50 ms; the yield is outside the timed section.
      if (Date.now() - lastYield > 50) {
        await new Promise((r) => setImmediate(r));
        lastYield = Date.now();
      }
      const t = process.hrtime.bigint();
      writeSync(fd, block, 0, blockBytes);
      fdatasyncSync(fd);
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(work, { recursive: true, force: true });
  }
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    dir,
    writes: samples.length,
    blockBytes,
    totalBytes: samples.length * blockBytes,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1] ?? 0),
    meanMs: round(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)),
    wallMs: round(wallMs),
  };
}
