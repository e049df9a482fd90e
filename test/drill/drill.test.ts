/**
 * Drills against a real etcd (Debian's 3.4.23) on loopback: figures checked against what etcdctl itself reports,
 * broken snapshots failing cleanly, the source's data directory untouched, cleanup after an interruption.
 */
import { captureIo, type CapturedIo } from '../helpers/io.js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancelled } from '../../src/errors.js';
import { runDrill, showDrillHistory, type RunDrillOptions } from '../../src/drill/index.js';
import { readDrillHistory } from '../../src/drill/history.js';
import type { Io } from '../../src/io.js';
import { ETCDCTL_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';

function testIo(cwd: string): CapturedIo {
  return captureIo(cwd, { NO_COLOR: '1' });
}

function etcdctl(url: string, ...args: string[]): string {
  return execFileSync(ETCDCTL_BIN, [`--endpoints=${url}`, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** sha256 of every file under a directory, by relative path. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** etcd commits its backend every 100 ms: wait until the files stop changing before taking the "before" picture. */
async function settledTree(dir: string): Promise<Record<string, string>> {
  let last = hashTree(dir);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = hashTree(dir);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  throw new Error(`${dir} never settled`);
}

function countLines(text: string): number {
  return text.split('\n').filter((l) => l.trim() !== '').length;
}

let etcd: TestEtcd;
let work: string;

beforeAll(async () => {
  etcd = await startEtcd();
  await putMany(etcd.url, kubernetesKeys(5000, (i) => `{"kind":"Thing","i":${i},"pad":"${'x'.repeat(200)}"}`));
  work = mkdtempSync(path.join(tmpdir(), 'gw-drill-'));
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function drillOpts(io: Io, stateDir: string, drill: RunDrillOptions['drill'], json = true): RunDrillOptions {
  return { drill, stateDir, io, json, renderer: 'silent' };
}

describe('drill of a real 5,000-key etcd', () => {
  it('passes, matches what etcdctl reports, and leaves the source data directory untouched', async () => {
    const before = await settledTree(etcd.dataDir);
    const stateDir = path.join(work, 'state-a');
    const scratch = path.join(work, 'scratch-a');
    const io = testIo(work);
    const { exitCode, report } = await runDrill(drillOpts(io, stateDir, { target: { kind: 'endpoints', endpoints: [etcd.url] }, scratch }));

    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.status).toBe('pass');

    // What etcdctl says about the same etcd.
    const status = JSON.parse(etcdctl(etcd.url, 'endpoint', 'status', '-w', 'json'))[0].Status;
    const allKeys = countLines(etcdctl(etcd.url, 'get', '', '--from-key', '--keys-only'));
    const pods = countLines(etcdctl(etcd.url, 'get', '/registry/pods/', '--prefix', '--keys-only'));
    const crds = countLines(etcdctl(etcd.url, 'get', '/registry/apiextensions.k8s.io/customresourcedefinitions/', '--prefix', '--keys-only'));
    const hashkv = JSON.parse(etcdctl(etcd.url, 'endpoint', 'hashkv', '-w', 'json'))[0].HashKV.hash;
    expect(allKeys).toBe(5000);
    expect(report.source?.revision).toBe(status.header.revision);
    expect(report.source?.total).toBe(allKeys);
    expect(report.source?.counts['/registry/pods']).toBe(pods);
    expect(report.source?.counts['/registry/apiextensions.k8s.io/customresourcedefinitions']).toBe(crds);
    expect(report.source?.hash?.hash).toBe(hashkv);
    expect(report.restored).toMatchObject({ revision: status.header.revision, total: allKeys, hash: hashkv, tool: 'etcdctl', bumped: false });
    expect(report.restored?.counts).toEqual(report.source?.counts);

    // The snapshot's own figures equal etcdctl's status of a snapshot taken at the same revision.
    const own = path.join(work, 'own.db');
    etcdctl(etcd.url, 'snapshot', 'save', own);
    const ownStatus = JSON.parse(execFileSync(ETCDCTL_BIN, ['snapshot', 'status', own, '-w', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(report.snapshot?.status).toEqual(ownStatus);
    expect(report.snapshot?.verdict).toBe('ok');

    // Timed phases, RPO and RTO.
    for (const p of ['inventory', 'snapshot', 'integrity', 'restore', 'boot', 'verify', 'teardown'] as const) {
      expect(report.phases[p]?.status).toMatch(/pass|warn/);
      expect(report.phases[p]?.ms).toBeGreaterThanOrEqual(0);
    }
    expect(report.rtoMs).toBeCloseTo(report.phases.restore!.ms + report.phases.boot!.ms + report.phases.verify!.ms, 5);
    expect(report.rpoMs).toBeGreaterThanOrEqual(0);

    // JSON on stdout is the report (and nothing else); the report file and the history say the same.
    const doc = JSON.parse(io.out());
    expect(doc.command).toBe('drill');
    expect(doc.drill.status).toBe('pass');
    expect(doc.results.map((r: { id: string }) => r.id)).toEqual(['drill-inventory', 'drill-snapshot', 'drill-integrity', 'drill-restore', 'drill-boot', 'drill-verify', 'drill-teardown']);
    const saved = JSON.parse(readFileSync(path.join(doc.runDir, 'report.json'), 'utf8'));
    expect(saved.drill.restored.total).toBe(5000);
    const { records } = await readDrillHistory(stateDir);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'pass', keys: 5000, revision: status.header.revision, target: `etcd ${etcd.url}` });

    // Nothing left behind; the source's files are byte for byte what they were.
    expect(existsSync(scratch)).toBe(false);
    expect(hashTree(etcd.dataDir)).toEqual(before);
    // The throw-away member was audited as a process like every other.
    const audit = readFileSync(path.join(doc.runDir, 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"argv":\["etcd","--name=groundwork-drill"/);
  });

  it('with --sentinel: writes one key to the source, reads it back from the restored member and deletes it from the source at teardown; the history grows', async () => {
    const stateDir = path.join(work, 'state-b');
    const io = testIo(work);
    const { exitCode, report } = await runDrill(drillOpts(io, stateDir, { target: { kind: 'endpoints', endpoints: [etcd.url] }, sentinel: true }, false));
    expect(exitCode).toBe(0);
    expect(report.sentinel).toEqual({ key: '/groundwork/drill-sentinel', found: true });
    // The drill leaves the source as it found it: the sentinel is gone again.
    expect(etcdctl(etcd.url, 'get', '--print-value-only', '/groundwork/drill-sentinel').trim()).toBe('');
    expect(report.phases.teardown).toMatchObject({ status: 'pass', summary: expect.stringContaining('sentinel removed from the source') });
    // The terminal report: verdict, timeline, RPO/RTO.
    expect(io.out()).toMatch(/^restore drill of etcd http:\/\/127\.0\.0\.1:\d+: PASSED/);
    expect(io.out()).toMatch(/RTO \(restore \+ boot \+ verify\): +\d/);
    expect(io.out()).toContain('sentinel read back');

    await runDrill(drillOpts(testIo(work), stateDir, { target: { kind: 'endpoints', endpoints: [etcd.url] } }));
    const hist = testIo(work);
    await showDrillHistory({ stateDir, io: hist, json: true });
    const h = JSON.parse(hist.out());
    expect(h.drills).toHaveLength(2);
    expect(h.trend).toMatchObject({ drills: 2, passed: 2 });
    const text = testIo(work);
    await showDrillHistory({ stateDir, io: text });
    expect(text.out()).toContain('2 drills, 2 passed');
  });
});

describe('drill of a snapshot file', () => {
  let good: string;
  let keysInGood: number;
  beforeAll(() => {
    good = path.join(work, 'good.db');
    etcdctl(etcd.url, 'snapshot', 'save', good);
    keysInGood = countLines(etcdctl(etcd.url, 'get', '', '--from-key', '--keys-only'));
  });

  it('a good backup restores and boots; no source to compare with', async () => {
    const { exitCode, report } = await runDrill(drillOpts(testIo(work), path.join(work, 'state-c'), { target: { kind: 'snapshot', file: good } }));
    expect(exitCode).toBe(0);
    expect(report.restored?.total).toBe(keysInGood);
    expect(readFileSync(good).length).toBe(statSync(good).size); // still there: the operator's file is never removed
  });

  const broken: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
    ['corrupted (bytes flipped)', (b) => {
      const c = Buffer.from(b);
      for (let i = 0; i < 64; i++) c[20_000 + i] = c[20_000 + i]! ^ 0xff;
      return c;
    }, /corrupted/],
    ['truncated mid-page', (b) => b.subarray(0, Math.floor(b.length / 2) + 123), /truncated/],
    ['truncated at a page boundary (etcd 3.4 still reports a status for it)', (b) => b.subarray(0, 16 * 4096), /truncated/],
    ['foreign (a tarball)', () => Buffer.concat([Buffer.from('ustar\0'), Buffer.alloc(10_000, 7)]), /not an etcd snapshot/],
    ['empty', () => Buffer.alloc(0), /empty/],
  ];
  it.each(broken)('%s: fails with an integrity error, never a crash', async (name, mutate, reason) => {
    const file = path.join(work, `${name.replace(/\W+/g, '-')}.db`);
    writeFileSync(file, mutate(readFileSync(good)));
    const io = testIo(work);
    const { exitCode, report } = await runDrill(drillOpts(io, path.join(work, 'state-d'), { target: { kind: 'snapshot', file } }));
    expect(exitCode).toBe(1);
    expect(report.status).toBe('fail');
    expect(report.reasons[0]).toMatch(/^integrity: /);
    expect(report.reasons[0]).toMatch(reason);
    expect(report.phases.restore?.status).toBe('skip');
    const doc = JSON.parse(io.out());
    expect(doc.drill.status).toBe('fail');
    expect(`${io.out()}${io.err()}`).not.toMatch(/goroutine|panic:|at .*\.ts:\d+/);
  });

  it('one byte flipped in the last page (snapshot status still passes on etcd 3.4) is caught by the appended sha256', async () => {
    const c = Buffer.from(readFileSync(good));
    c[c.length - 40] = c[c.length - 40]! ^ 0xff;
    const file = path.join(work, 'late-flip.db');
    writeFileSync(file, c);
    const { exitCode, report } = await runDrill(drillOpts(testIo(work), path.join(work, 'state-e'), { target: { kind: 'snapshot', file } }));
    expect(exitCode).toBe(1);
    expect(report.reasons[0]).toMatch(/^integrity: .*corrupted/);
  });
});

describe('safety', () => {
  it('refuses a non-empty --scratch before doing anything', async () => {
    const scratch = path.join(work, 'busy');
    mkdirSync(scratch, { recursive: true });
    writeFileSync(path.join(scratch, 'keep.txt'), 'mine');
    await expect(runDrill(drillOpts(testIo(work), path.join(work, 'state-f'), { target: { kind: 'endpoints', endpoints: [etcd.url] }, scratch }))).rejects.toThrow(
      /--scratch .* is not empty/,
    );
    expect(readFileSync(path.join(scratch, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a --scratch inside an etcd data directory', async () => {
    await expect(
      runDrill(drillOpts(testIo(work), path.join(work, 'state-g'), { target: { kind: 'endpoints', endpoints: [etcd.url] }, scratch: path.join(etcd.dataDir, 'drill') })),
    ).rejects.toThrow(/inside the etcd data directory/);
    expect(existsSync(path.join(etcd.dataDir, 'drill'))).toBe(false);
  });

  it('an empty --scratch given by the operator stays, emptied again', async () => {
    const scratch = path.join(work, 'mine-empty');
    mkdirSync(scratch);
    const { exitCode } = await runDrill(drillOpts(testIo(work), path.join(work, 'state-h'), { target: { kind: 'endpoints', endpoints: [etcd.url] }, scratch }));
    expect(exitCode).toBe(0);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('Ctrl-C while the member runs: member stopped, scratch removed, exit 130, recorded as interrupted', async () => {
    const scratch = path.join(work, 'scratch-int');
    const stateDir = path.join(work, 'state-i');
    const abort = new AbortController();
    const { exitCode, report } = await runDrill({
      ...drillOpts(testIo(work), stateDir, {
        target: { kind: 'endpoints', endpoints: [etcd.url] },
        scratch,
        // Runs after verify while the restored member serves: the operator presses Ctrl-C here.
        labCheck: async ({ clientUrl: url }) => {
          expect((await fetch(`${url}/health`)).ok).toBe(true);
          abort.abort();
          await new Promise((r) => setTimeout(r, 50));
          throw new Cancelled();
        },
      }),
      signal: abort.signal,
    });
    expect(exitCode).toBe(130);
    expect(report.status).toBe('interrupted');
    expect(existsSync(scratch)).toBe(false);
    // Nothing listens on the member's port any more.
    const url = (report.phases.boot?.summary ?? '').match(/http:\/\/127\.0\.0\.1:\d+/)?.[0];
    expect(url).toBeDefined();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    const { records } = await readDrillHistory(stateDir);
    expect(records.at(-1)?.status).toBe('interrupted');
  });
});
