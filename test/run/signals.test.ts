/**
 * Signals at bad moments, through the real binary (node bin/groundwork, after `npm run build`) and real signals:
 * a FIFO as the spec, SIGTERM during a CPU-bound dry run, a second Ctrl-C during cleanup (what is left is
 * recorded and swept by the next run), SIGKILL during a drill (its etcd member is stopped by the next run),
 * and the order of cleanup on Ctrl-C during rehearse (namespaces, then the lab, then its etcd).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bigSpecYaml } from '../helpers/big-spec.js';
import { ETCD_BIN, ETCDCTL_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(root, 'bin/groundwork');

/** A PATH of exactly what these runs need: etcd and etcdctl (node is started by its absolute path). */
function toolPath(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-sig-bin-'));
  symlinkSync(ETCD_BIN, path.join(dir, 'etcd'));
  symlinkSync(ETCDCTL_BIN, path.join(dir, 'etcdctl'));
  return dir;
}
const ENV = { PATH: toolPath(), NO_COLOR: '1', CI: 'true', HOME: mkdtempSync(path.join(tmpdir(), 'gw-sig-home-')), GROUNDWORK_LOOPBACK_ONLY: '1' };

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Exit code, or null when killed by a signal. A run that never ends is killed after `limitMs` (then: 'hung'). */
  exited: Promise<number | null | 'hung'>;
  /** Resolves when stderr matches. */
  waitFor: (re: RegExp, ms?: number) => Promise<void>;
}

function start(args: string[], opts: { cwd?: string; limitMs?: number } = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env: ENV, cwd: opts.cwd ?? mkdtempSync(path.join(tmpdir(), 'gw-sig-cwd-')), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of [...waiters]) if (w.re.test(err)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  let hung = false;
  const limit = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, opts.limitMs ?? 60_000);
  const exited = new Promise<number | null | 'hung'>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve(hung ? 'hung' : code);
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (re, ms = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(err)) return resolve();
        const t = setTimeout(() => reject(new Error(`stderr never matched ${re}:\n${err.slice(-2000)}`)), ms);
        waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
      }),
  };
}

/** Alive and not a zombie (a reparented child may linger as one until reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

type Entry = { id: string; what: string; process?: { pid: number }; dirs?: string[]; namespace?: { name: string } };
function pending(stateDir: string): Entry[] {
  const f = path.join(stateDir, 'leftovers.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Entry[]) : [];
}

describe('the spec edge never blocks a signal', { timeout: 180_000 }, () => {
  it('a FIFO as -f is refused at once as a usage error (never a read that blocks SIGTERM)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-fifo-'));
    execFileSync('mkfifo', [path.join(dir, 'cluster.yaml')]);
    const r = start(['plan', '-f', path.join(dir, 'cluster.yaml')], { limitMs: 20_000 });
    const code = await r.exited;
    expect(code).toBe(2);
    expect(r.stderr()).toMatch(/named pipe \(FIFO\), not a file/);
  });
});

describe('SIGTERM during a CPU-bound dry run', { timeout: 180_000 }, () => {
  it('stops it with exit 130 and an interrupted report (not "passed")', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-sig-dry-'));
    writeFileSync(path.join(dir, 'cluster.yaml'), bigSpecYaml(3000));
    const r = start(['setup', '--yes', '--dry-run', '--json'], { cwd: dir, limitMs: 120_000 });
    // Well inside the per-node steps of the bootstrap stage.
    await r.waitFor(/w-10: CPU cores/, 100_000);
    r.child.kill('SIGTERM');
    const code = await r.exited;
    expect(code).toBe(130);
    const report = JSON.parse(r.stdout()) as { status: string; results: { status: string; summary: string }[] };
    expect(report.status).toBe('interrupted');
    expect(report.results.some((x) => x.summary === 'not run: interrupted')).toBe(true);
  });
});

describe('drills: a second Ctrl-C and SIGKILL leave nothing behind for long', { timeout: 180_000 }, () => {
  let etcd: TestEtcd;
  let snapshot: string;
  beforeAll(async () => {
    etcd = await startEtcd();
    await putMany(etcd.url, kubernetesKeys(200));
    snapshot = path.join(mkdtempSync(path.join(tmpdir(), 'gw-sig-snap-')), 'good.db');
    execFileSync(ETCDCTL_BIN, [`--endpoints=${etcd.url}`, 'snapshot', 'save', snapshot], { stdio: 'ignore' });
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  /** A drill run up to its verify phase, its throw-away member running (and recorded as a leftover). */
  async function drillUntilVerify(prefix: string) {
    const work = mkdtempSync(path.join(tmpdir(), prefix));
    const state = path.join(work, 'state');
    const scratch = path.join(work, 'scratch');
    const r = start(['drill', '--snapshot', snapshot, '--scratch', scratch, '--state-dir', state]);
    await r.waitFor(/\[STARTED\] Verify the restored data/);
    const member = pending(state).find((e) => e.process)?.process;
    expect(member?.pid).toBeGreaterThan(0);
    return { state, scratch, r, member };
  }

  it('SIGKILL of groundwork while the member runs: the next start stops the member and removes the restored data', async () => {
    const { state, scratch, r, member } = await drillUntilVerify('gw-sig-kill-');
    r.child.kill('SIGKILL');
    await r.exited;
    // Nothing could stop it: groundwork is gone, the member is not.
    expect(alive(member!.pid!)).toBe(true);
    expect(existsSync(path.join(scratch, 'restored.etcd'))).toBe(true);

    const next = start(['drill', '--snapshot', snapshot, '--scratch', mkdtempSync(path.join(tmpdir(), 'gw-sig-scratch2-')), '--state-dir', state]);
    expect(await next.exited).toBe(0);
    expect(next.stderr()).toMatch(/swept what run \S+ left behind: the drill's throw-away etcd member \(pid \d+\)/);
    expect(next.stderr()).toMatch(/swept what run \S+ left behind: the drill's scratch data \(a snapshot and the restored keyspace\)/);
    expect(await until(() => !alive(member!.pid!))).toBe(true);
    expect(existsSync(path.join(scratch, 'restored.etcd'))).toBe(false);
    expect(pending(state)).toEqual([]);
  });

  it('a second SIGINT during cleanup: exit 130, and the member and the restored keyspace are gone all the same', async () => {
    const { state, scratch, r, member } = await drillUntilVerify('gw-sig-twice-');
    r.child.kill('SIGINT');
    await r.waitFor(/interrupted: stopping/);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(130);
    expect(await until(() => !alive(member!.pid!))).toBe(true);
    expect(existsSync(path.join(scratch, 'restored.etcd'))).toBe(false);
    expect(existsSync(path.join(scratch, 'snapshot.db'))).toBe(false);
  });
});

describe('validate: a second Ctrl-C during cleanup', { timeout: 180_000 }, () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ nodes: 3, faults: ['provisioner-stuck'], controllers: createControllers({ timeScale: 0.1 }) });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('records the test namespaces in leftovers.json; the next run deletes them and says so', async () => {
    const state = mkdtempSync(path.join(tmpdir(), 'gw-sig-val-'));
    const HOLD = 'groundwork.test/hold';
    const ours = () => lab.store.list('namespaces').items.map((n) => n.metadata.name!).filter((n) => n.startsWith('groundwork-validate-'));
    const r = start(['validate', '--kubeconfig', lab.kubeconfigPath, '--state-dir', state, '--timeout', '60']);
    expect(await until(() => ours().length > 0 && lab.store.list('pods').items.some((p) => p.metadata.namespace?.startsWith('groundwork-validate-')), 60_000)).toBe(true);
    // An object held by a finalizer keeps each namespace Terminating: the cleanup surely still waits when the
    // second Ctrl-C comes.
    const held = ours();
    for (const ns of held) await lab.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hold', namespace: ns, finalizers: [HOLD] } });
    r.child.kill('SIGINT');
    await r.waitFor(/interrupted: stopping/);
    expect(await until(() => held.every((ns) => lab.store.get('namespaces', undefined, ns)?.metadata.deletionTimestamp !== undefined), 30_000)).toBe(true);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(130);
    const left = ours();
    expect(left.length).toBeGreaterThan(0);
    expect(pending(state).flatMap((e) => (e.namespace ? [e.namespace.name] : [])).sort()).toEqual([...left].sort());

    for (const ns of left.filter((n) => held.includes(n))) await lab.store.patch('configmaps', ns, 'hold', 'merge', { metadata: { finalizers: null } });
    const next = start(['validate', '--kubeconfig', lab.kubeconfigPath, '--state-dir', state, '--only', 'control-plane']);
    expect(await next.exited).toBe(0);
    for (const ns of left) expect(next.stderr()).toContain(`left behind: the validate test namespace ${ns}\n`);
    expect(await until(() => left.every((ns) => !ours().includes(ns)), 30_000)).toBe(true);
    expect(pending(state)).toEqual([]);
  });
});

describe('rehearse: Ctrl-C cleans up in order', { timeout: 180_000 }, () => {
  it('test namespaces, then the lab, then its etcd: no "cannot reach etcd", exit 130, nothing recorded as left', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'gw-sig-reh-'));
    mkdirSync(path.join(work, 'state'));
    const r = start(['rehearse', '--stages', 'validate', '--state-dir', path.join(work, 'state')], { cwd: work, limitMs: 120_000 });
    await r.waitFor(/store etcd http/);
    await r.waitFor(/created namespace groundwork-validate-/, 90_000);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(130);
    expect(r.stderr()).not.toMatch(/cannot reach etcd/);
    expect(r.stderr()).not.toMatch(/cleanup failed/);
    expect(pending(path.join(work, 'state'))).toEqual([]);
    expect(readdirSync(path.join(work, 'state', 'runs')).every((id) => !existsSync(path.join(work, 'state', 'runs', id, 'lab-etcd')))).toBe(true);
  });
});

describe('rehearse: what it swept before starting its lab is in its report', { timeout: 180_000 }, () => {
  it('a dead run\'s scratch file: removed once, said on stderr and listed in report.json', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'gw-sig-sweep-'));
    const state = path.join(work, 'state');
    mkdirSync(state);
    const scratch = path.join(work, 'old-scratch.db');
    writeFileSync(scratch, 'x');
    // Its owner is a process that has exited (this node's child, waited for): a sweep may take it.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(path.join(state, 'leftovers.json'), JSON.stringify([{ id: 'old:1', runId: 'old-run', what: 'an old scratch file', files: [scratch], owner: { pid: dead } }]));
    const r = start(['rehearse', '--stages', 'validate', '--state-dir', state, '--json'], { cwd: work, limitMs: 150_000 });
    await r.exited;
    expect(existsSync(scratch)).toBe(false);
    expect(r.stderr().match(/swept what run old-run left behind: an old scratch file/g)).toHaveLength(1);
    const runs = readdirSync(path.join(state, 'runs'));
    const report = JSON.parse(readFileSync(path.join(state, 'runs', runs[0]!, 'report.json'), 'utf8')) as { leftovers?: { swept: { id: string }[] } };
    expect(report.leftovers?.swept.map((x) => x.id)).toEqual(['old:1']);
  });
});
