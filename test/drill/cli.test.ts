/** `groundwork drill` and `groundwork drill history` through the CLI entry (in-process): flags, exit codes, outputs. */
import { captureIo } from '../helpers/io.js';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { ETCDCTL_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let work: string;
let good: string;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(work);
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

beforeAll(async () => {
  etcd = await startEtcd();
  await putMany(etcd.url, kubernetesKeys(300));
  work = mkdtempSync(path.join(tmpdir(), 'gw-drill-cli-'));
  good = path.join(work, 'good.db');
  execFileSync(ETCDCTL_BIN, [`--endpoints=${etcd.url}`, 'snapshot', 'save', good], { stdio: 'ignore' });
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('groundwork drill: usage errors exit 2 and name the flag', () => {
  it.each([
    [[], /what should the drill restore\?[\s\S]*fix: pass exactly one of --endpoints, --kubeadm, --talos, --snapshot or --lab/],
    [['--snapshot', 'a.db', '--talos', '127.0.0.6'], /give one drill target, not several/],
    [['--snapshot', 'missing.db'], /snapshot file not found: .*missing\.db/],
    [['--talos', '127.0.0.6', '--key', 'k.pem'], /--cacert, --cert and --key go with --endpoints/],
    [['--lab'], /--lab needs the etcd[\s\S]*fix: .*--lab-etcd/],
  ])('drill %j', async (args, message) => {
    const r = await run(['drill', ...args, '--state-dir', path.join(work, 'state-usage')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('a non-empty --scratch is refused before anything runs', async () => {
    const scratch = path.join(work, 'full');
    mkdirSync(scratch);
    writeFileSync(path.join(scratch, 'x'), 'x');
    const r = await run(['drill', '--snapshot', good, '--scratch', scratch, '--state-dir', path.join(work, 'state-usage')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error: --scratch .*full is not empty/);
    expect(readdirSync(scratch)).toEqual(['x']);
  });
});

describe('groundwork drill --endpoints URL that nothing answers', () => {
  // A bound, not a timing assertion: on the old code the snapshot phase started anyway and hung for minutes.
  it('ends with exit 1 naming the endpoint; the snapshot phase is not started', { timeout: 30_000 }, async () => {
    const stateDir = path.join(work, 'state-unreachable');
    const r = await run(['drill', '--endpoints', 'http://127.0.0.1:1', '--json', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out);
    const byId = Object.fromEntries((doc.results as { id: string; status: string; summary: string }[]).map((x) => [x.id, x]));
    expect(byId['drill-inventory']).toMatchObject({ status: 'fail', summary: expect.stringContaining('etcd http://127.0.0.1:1 did not answer') });
    expect(byId['drill-snapshot']).toMatchObject({ status: 'skip', summary: 'not taken: the inventory of etcd http://127.0.0.1:1 failed' });
    expect(doc.drill.status).toBe('fail');
  });
});

describe('groundwork drill --snapshot FILE --json --junit F', () => {
  it('prints only the JSON report on stdout, progress on stderr, writes JUnit, and drill history shows it', async () => {
    const stateDir = path.join(work, 'state-j');
    const r = await run(['drill', '--snapshot', good, '--json', '--junit', 'drill.xml', '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.drill).toMatchObject({ status: 'pass', target: 'snapshot file good.db' });
    expect(doc.drill.restored.total).toBe(300);
    expect(r.err).toContain('Restore into a scratch directory');
    const junit = readFileSync(path.join(work, 'drill.xml'), 'utf8');
    expect(junit).toMatch(/<testsuite name="drill" tests="7" failures="0"/);

    const h = await run(['drill', 'history', '--state-dir', stateDir]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/snapshot file good\.db\s+pass/);
    expect(h.out).toContain('1 drills, 1 passed');
  });

  it('a truncated file: exit 1, a clean integrity failure in the text report, JUnit failure', async () => {
    const bad = path.join(work, 'cut.db');
    writeFileSync(bad, readFileSync(good).subarray(0, 5000));
    const r = await run(['drill', '--snapshot', bad, '--junit', 'cut.xml', '--state-dir', path.join(work, 'state-cut')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/restore drill of snapshot file cut\.db: FAILED/);
    expect(r.out).toMatch(/- integrity: .*truncated/);
    expect(`${r.out}${r.err}`).not.toMatch(/goroutine|panic/);
    expect(readFileSync(path.join(work, 'cut.xml'), 'utf8')).toMatch(/<failure message="integrity: /);
  });
});

describe('client keys are never printed', () => {
  it('neither the key file contents nor anything of them reaches stdout, stderr or the run records', async () => {
    const keyText = '-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL0123456789\n-----END PRIVATE KEY-----\n';
    const key = path.join(work, 'client.key');
    writeFileSync(key, keyText, { mode: 0o600 });
    const stateDir = path.join(work, 'state-key');
    const r = await run(['drill', '--endpoints', etcd.url, '--cacert', key, '--cert', key, '--key', key, '--state-dir', stateDir]);
    expect(r.code).toBe(1); // the "certificate" is not one: the inventory fails, cleanly
    const everything = [r.out, r.err];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = path.join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else everything.push(readFileSync(p, 'utf8'));
      }
    };
    walk(stateDir);
    expect(everything.join('\n')).not.toContain('TOPSECRETKEYMATERIAL');
    expect(everything.join('\n')).toContain('client.key'); // the path is fine to show
  });
});

describe('Ctrl-C through the real binary (node bin/groundwork, built by tsc)', () => {
  it('SIGINT mid-drill: exit 130, the member stopped, the scratch removed', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const scratch = path.join(work, 'sigint-scratch');
    const child = spawn(process.execPath, [path.join(root, 'bin/groundwork'), 'drill', '--snapshot', good, '--scratch', scratch, '--state-dir', path.join(work, 'state-sig')], {
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('[STARTED] Restore into a scratch directory') && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(out).toMatch(/INTERRUPTED/);
    expect(existsSync(scratch)).toBe(false);
  });
});
