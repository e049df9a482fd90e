/**
 * Preflight figures: the full-size etcd fsync benchmark on a temp dir, and TCP reachability of 100 nodes x 12
 * ports against real loopback listeners (127.0.1.1 .. 127.0.1.100), plus the same sweep with two black-holed
 * nodes to show that timeouts run in parallel instead of stalling the rest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FSYNC_FULL_BYTES, measureFsync } from '../../src/preflight/fsync.js';
import { probeAll, DEFAULT_REACH_CONCURRENCY, type ReachTarget } from '../../src/preflight/reach.js';
import type { BenchLine } from './types.js';

/**
 * 1200 listeners in a child process, as remote nodes would be: the prober's event loop does not also serve the
 * accepts. Prints the ports as JSON, then idles until killed.
 */
async function startListeners(hosts: string[], perHost: number): Promise<{ targets: ReachTarget[]; close(): void }> {
  const code = `const net=require('net');const hosts=${JSON.stringify(hosts)};const out=[];let pending=hosts.length*${perHost};
for(const h of hosts)for(let i=0;i<${perHost};i++){const s=net.createServer(c=>c.destroy());s.listen({host:h,port:0,backlog:511},()=>{out.push({host:h,port:s.address().port});if(--pending===0)process.stdout.write(JSON.stringify(out)+'\\n');});}`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  const targets = await new Promise<ReachTarget[]>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      buf += String(d);
      if (buf.endsWith('\n')) resolve(JSON.parse(buf) as ReachTarget[]);
    });
    child.once('exit', (c) => reject(new Error(`listener process exited ${c}`)));
  });
  // Sorted by host then port, like a node-by-node catalog.
  targets.sort((a, b) => (a.host === b.host ? a.port - b.port : Number(a.host.split('.')[3]) - Number(b.host.split('.')[3])));
  return { targets, close: () => child.kill('SIGKILL') };
}

/** A stopped process whose full accept queue drops SYNs: connects to it time out (see test/preflight/helpers.ts). */
async function blackHole(host: string): Promise<{ port: number; close(): void }> {
  const child = spawn(process.execPath, ['-e', `const s=require('net').createServer();s.listen({host:${JSON.stringify(host)},port:0,backlog:1},()=>{process.stdout.write(String(s.address().port)+'\\n');setTimeout(()=>process.kill(process.pid,'SIGSTOP'),50)});`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout.once('data', (d) => r(Number(String(d).trim()))));
  await new Promise((r) => setTimeout(r, 150));
  const fillers = Array.from({ length: 4 }, () => net.connect({ host, port }).on('error', () => {}));
  await new Promise((r) => setTimeout(r, 100));
  return { port, close: () => { for (const f of fillers) f.destroy(); child.kill('SIGKILL'); } };
}

export default async function bench(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];

  // 1. etcd disk: 22 MiB in 2300-byte writes, fdatasync after each.
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-fsync-'));
  try {
    const m = await measureFsync(dir, { totalBytes: FSYNC_FULL_BYTES });
    const note = `${m.writes} writes x ${m.blockBytes} B in ${dir.replace(/gw-bench-fsync-.*/, 'gw-bench-fsync-*')}; p50 ${m.p50Ms} ms, max ${m.maxMs} ms, wall ${(m.wallMs / 1000).toFixed(1)} s`;
    lines.push({ name: 'etcd-disk-fsync p99 (22 MiB, temp dir)', value: m.p99Ms, unit: 'ms', goal: '< 10 ms (etcd guidance)', met: m.p99Ms < 10, note });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // 2. Reachability: 100 nodes x 12 ports, real listeners on 127.0.1.1..127.0.1.100.
  const listeners = await startListeners(Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`), 12);
  const targets = listeners.targets;
  const holes: { port: number; close(): void }[] = [];
  try {
    const t0 = process.hrtime.bigint();
    const results = await probeAll(targets, { timeoutMs: 1500 });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const open = results.filter((r) => r.status === 'open').length;
    lines.push({
      name: 'reachability: 100 nodes x 12 ports (1200 TCP connects, loopback)',
      value: wall,
      unit: 's',
      goal: '< 3 s',
      met: wall < 3 && open === 1200,
      note: `${open}/1200 open, concurrency ${DEFAULT_REACH_CONCURRENCY}`,
    });

    // 3. The same with two nodes black-holed (all 12 ports each): they cost one timeout, in parallel with the rest.
    for (const h of ['127.0.1.201', '127.0.1.202']) holes.push(await blackHole(h));
    const withHoles = targets.map((t, i) => (i < 24 ? { host: i < 12 ? '127.0.1.201' : '127.0.1.202', port: holes[i < 12 ? 0 : 1]!.port } : t));
    const timeoutMs = 1000;
    const t1 = process.hrtime.bigint();
    const r2 = await probeAll(withHoles, { timeoutMs });
    const wall2 = Number(process.hrtime.bigint() - t1) / 1e9;
    const timedOut = r2.filter((r) => r.status === 'timeout').length;
    lines.push({
      name: 'reachability with 2 black-holed nodes (24 of 1200 time out, timeout 1 s)',
      value: wall2,
      unit: 's',
      // Not stalled: at most the all-open sweep plus one timeout (a serial prober would need 24 timeouts).
      goal: `< all-open sweep + timeout (${(wall + timeoutMs / 1000).toFixed(2)} s)`,
      met: wall2 < wall + timeoutMs / 1000 && timedOut === 24,
      note: `${timedOut} timed out, ${r2.filter((r) => r.status === 'open').length} open`,
    });
  } finally {
    for (const h of holes) h.close();
    listeners.close();
  }
  return lines;
}
