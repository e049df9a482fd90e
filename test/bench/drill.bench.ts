/**
 * Restore drill against the real etcd 3.6 (or GW_BENCH_DRILL_ETCD=3.5) on loopback, at about 20, 200 and 600 MB:
 * groundwork's wall time against the steps an operator types by hand, measured in the same run, pair by pair
 * (A B A B ..., so that machine drift and page-cache warmth favour neither side), and groundwork's own peak RSS
 * at each size (it must stay flat: snapshots are streamed, keys counted from a stream, never held whole).
 *
 * By hand means exactly: etcdctl snapshot save, etcdutl snapshot status, etcdutl snapshot restore (with the
 * revision bump a Kubernetes restore uses, as the drill does), boot a member until /health answers, and
 * `etcdctl get "" --prefix --keys-only` (with a command timeout past etcdctl's 5 s, which a large listing outlasts);
 * then the member is stopped. Nothing else: the drill's extra checks
 * (source inventory, hashkv, sha256, per-prefix comparison) must fit inside that time.
 *
 * Env: GW_BENCH_DRILL_SIZES (MB, default 20,200,600), GW_BENCH_DRILL_RUNS (pairs per size, default 3),
 * GW_BENCH_DRILL_ETCD (3.5 or 3.6, default 3.6).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { putMany, startEtcd } from '../helpers/etcd.js';
import { findFreePorts } from '../../src/exec/free-port.js';
import { realTool, realToolsPath } from '../helpers/real-tools.js';
import type { BenchLine } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SIZES = (process.env.GW_BENCH_DRILL_SIZES ?? '20,200,600').split(',').map(Number);
const RUNS = Number(process.env.GW_BENCH_DRILL_RUNS ?? 3);
const RELEASE = (process.env.GW_BENCH_DRILL_ETCD ?? '3.6') as '3.5' | '3.6';
/** Kubernetes objects are a few KiB each; with etcd's own overhead a key takes about 6 KiB of snapshot. */
const VALUE_BYTES = 4 * 1024;
const SNAPSHOT_BYTES_PER_KEY = 6 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Kubernetes-like keys with values of VALUE_BYTES, numbered from `from` to `to`. */
function* bulk(from: number, to: number): Generator<[string, Buffer]> {
  const resources = ['pods', 'configmaps', 'secrets', 'events', 'leases', 'apiextensions.k8s.io/customresourcedefinitions'];
  for (let i = from; i < to; i++) {
    const v = Buffer.alloc(VALUE_BYTES, i % 251);
    v.write(`{"i":${i}}`);
    yield [`/registry/${resources[i % resources.length]}/ns-${i % 17}/obj-${i}`, v];
  }
}

/** Runs a command, returning its wall time and (when asked) the peak RSS of that process alone, from /proc. */
function timed(argv: string[], opts: { rss?: boolean; env: NodeJS.ProcessEnv }): Promise<{ ms: number; code: number; rssMb?: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
    let hwmKb = 0;
    // VmHWM is the process's own high-water mark (not its children's, unlike wait4's maxrss).
    const poll = opts.rss
      ? setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
          } catch {
            /* exited */
          }
        }, 10)
      : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      resolve({ ms: performance.now() - t0, code: code ?? -1, ...(opts.rss ? { rssMb: hwmKb / 1024 } : {}), stdout, stderr });
    });
  });
}

/** The steps an operator types, in one bash script; the member is stopped at the end. */
function byHandScript(url: string, scratch: string, client: number, peer: number): string {
  const m = `--name=m --initial-cluster=m=http://127.0.0.1:${peer} --initial-cluster-token=hand-$$ --initial-advertise-peer-urls=http://127.0.0.1:${peer}`;
  return `set -euo pipefail
cd ${scratch}
etcdctl --endpoints=${url} snapshot save snap.db > /dev/null
etcdutl snapshot status snap.db -w json > status.json
etcdutl snapshot restore snap.db --data-dir=restored ${m} --bump-revision=1000000000 --mark-compacted > /dev/null 2>&1
etcd ${m} --data-dir=restored --listen-client-urls=http://127.0.0.1:${client} --advertise-client-urls=http://127.0.0.1:${client} --listen-peer-urls=http://127.0.0.1:${peer} --log-level=warn > member.log 2>&1 &
pid=$!
until /usr/bin/curl -sf http://127.0.0.1:${client}/health > /dev/null; do sleep 0.025; done
etcdctl --endpoints=http://127.0.0.1:${client} --command-timeout=600s get "" --prefix --keys-only > keys.txt
kill $pid; wait $pid || true
`;
}

interface DrillDoc {
  status: string;
  reasons: string[];
  phases: Record<string, { ms: number }>;
  snapshot?: { bytes: number };
  restored?: { total: number };
}

async function drillOnce(url: string, stateDir: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; rssMb: number; report: DrillDoc }> {
  const r = await timed([process.execPath, path.join(root, 'bin/groundwork'), 'drill', '--endpoints', url, '--state-dir', stateDir, '--json'], { rss: true, env });
  let doc: { drill?: unknown };
  try {
    doc = JSON.parse(r.stdout) as { drill?: unknown };
  } catch {
    throw new Error(`groundwork drill printed no JSON (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  }
  const report = doc.drill as DrillDoc;
  if (report.status !== 'pass') throw new Error(`drill failed: ${report.reasons.join('; ')}`);
  return { ms: r.ms, rssMb: r.rssMb ?? 0, report };
}

async function byHandOnce(url: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; bytes: number }> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'gw-hand-'));
  try {
    const [client, peer] = (await findFreePorts(2)) as [number, number];
    const r = await timed(['bash', '-c', byHandScript(url, scratch, client, peer)], { env });
    if (r.code !== 0) throw new Error(`by-hand drill failed (${r.code}): ${r.stderr}`);
    return { ms: r.ms, bytes: statSync(path.join(scratch, 'snap.db')).size };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<BenchLine[]> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'gw-bench-drill-'));
  const bin = realToolsPath([`etcd-${RELEASE}/etcd`, `etcd-${RELEASE}/etcdctl`, `etcd-${RELEASE}/etcdutl`]);
  // Both sides see the same PATH built from scratch: that release's etcd, etcdctl and etcdutl, nothing else.
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:/usr/bin:/bin`, HOME: stateDir, NO_COLOR: '1', CI: 'true' };
  const drillEnv: NodeJS.ProcessEnv = { ...env, PATH: bin };
  const lines: BenchLine[] = [];
  const etcd = await startEtcd({ bin: realTool(`etcd-${RELEASE}/etcd`), quotaBytes: 8 * 1024 ** 3 });
  const rssBySize: Array<[number, number]> = [];
  let written = 0;
  try {
    for (const mb of [...SIZES].sort((a, b) => a - b)) {
      // One source that grows: seed only what this size adds.
      const want = Math.ceil((mb * 1024 * 1024) / SNAPSHOT_BYTES_PER_KEY);
      const t0 = performance.now();
      await putMany(etcd.url, bulk(written, want), { perTxn: 128, concurrency: 4 });
      const seedS = (performance.now() - t0) / 1000;
      written = Math.max(written, want);
      const hand: number[] = [];
      const ours: number[] = [];
      const ratios: number[] = [];
      const rss: number[] = [];
      let last: Awaited<ReturnType<typeof drillOnce>> | undefined;
      let bytes = 0;
      // One warm-up pair, not counted: the first run after seeding pays for a cold page cache.
      await byHandOnce(etcd.url, env);
      await drillOnce(etcd.url, stateDir, drillEnv);
      for (let i = 0; i < RUNS; i++) {
        const h = await byHandOnce(etcd.url, env);
        bytes = h.bytes;
        last = await drillOnce(etcd.url, stateDir, drillEnv);
        hand.push(h.ms);
        ours.push(last.ms);
        ratios.push(last.ms / h.ms);
        rss.push(last.rssMb);
      }
      const sizeMb = Math.round(bytes / 1024 / 1024);
      const phases = Object.entries(last!.report.phases)
        .map(([k, v]) => `${k} ${Math.round(v.ms)}`)
        .join(', ');
      const ratio = median(ratios);
      lines.push({
        name: `drill of a ${sizeMb} MB snapshot (etcd ${RELEASE}, ${last!.report.restored?.total ?? '?'} keys): wall time (median of ${RUNS} pairs)`,
        value: median(ours),
        unit: 'ms',
        baseline: { name: 'the same restore by hand (save, status, restore, boot, get --prefix --keys-only)', value: median(hand) },
        goal: '<= 1.0x (median of the pairwise ratios)',
        met: ratio <= 1.0,
        note: `pairwise ratios ${ratios.map((x) => x.toFixed(2)).join(' ')} (median ${ratio.toFixed(2)}); phases ms: ${phases}; seeding took ${seedS.toFixed(0)} s`,
      });
      const peak = Math.max(...rss);
      rssBySize.push([sizeMb, peak]);
      lines.push({ name: `groundwork peak RSS, ${sizeMb} MB snapshot`, value: Math.round(peak * 10) / 10, unit: 'MB', note: `VmHWM of the groundwork process alone (etcd tools excluded), runs: ${rss.map((x) => x.toFixed(1)).join(' ')}` });
    }
    const peaks = rssBySize.map(([, p]) => p);
    const spread = Math.max(...peaks) - Math.min(...peaks);
    lines.push({
      name: `groundwork peak RSS spread across ${rssBySize.map(([s]) => `${s}`).join(', ')} MB`,
      value: Math.round(spread * 10) / 10,
      unit: 'MB',
      goal: '<= 10 MB',
      met: spread <= 10,
      note: rssBySize.map(([s, p]) => `${s} MB: ${p.toFixed(1)} MB`).join(', '),
    });
  } finally {
    await etcd.stop();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  }
  return lines;
}
