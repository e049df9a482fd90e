/**
 * Restore drills against real etcd 3.5 and 3.6 (built by `npm run real-tools`), every target that runs on this
 * machine: --endpoints, --snapshot and --lab. The drill finds etcd, etcdctl and etcdutl of that release on a PATH
 * built from scratch, so the restore goes through etcdutl (with the revision bumped and marked compacted, as a
 * Kubernetes restore does) and every figure comes from that release's output. Debian's etcd 3.4 keeps its
 * recorded-output and real tests in test/drill/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill, type RunDrillOptions } from '../../src/drill/index.js';
import { BUMP_REVISION } from '../../src/drill/member.js';
import { resolveLabTarget } from '../../src/drill/lab.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { captureIo } from '../helpers/io.js';
import { ETCDCTL_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { realTool, realToolsPath, realToolVersions } from '../helpers/real-tools.js';

function countLines(text: string): number {
  return text.split('\n').filter((l) => l.trim() !== '').length;
}

describe.each(['3.5', '3.6'] as const)('real etcd %s', (release) => {
  const program = (p: 'etcd' | 'etcdctl' | 'etcdutl') => `etcd-${release}/${p}` as const;
  let etcd: TestEtcd;
  let work: string;
  let env: Record<string, string>;
  let version: string;
  const etcdctl = (...args: string[]) =>
    execFileSync(realTool(program('etcdctl')), [`--endpoints=${etcd.url}`, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  const opts = (drill: RunDrillOptions['drill'], stateDir: string): RunDrillOptions => ({ drill, stateDir, io: captureIo(work, { NO_COLOR: '1' }), env, json: true, renderer: 'silent' });

  beforeAll(async () => {
    version = realToolVersions()[`etcd-${release}`]!.replace(/^v/, '');
    work = mkdtempSync(path.join(tmpdir(), `gw-real-drill-${release}-`));
    // etcd, etcdctl and etcdutl of this release, and the real kubectl for the --lab check; nothing else. HOME is
    // ours too: kubectl keeps a discovery cache under it.
    env = { PATH: realToolsPath([program('etcd'), program('etcdctl'), program('etcdutl'), 'kubectl']), HOME: work };
    etcd = await startEtcd({ bin: realTool(program('etcd')) });
    await putMany(etcd.url, kubernetesKeys(3000, (i) => `{"kind":"Thing","i":${i},"pad":"${'x'.repeat(100)}"}`));
  }, 60_000);

  afterAll(async () => {
    await etcd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('--endpoints: restores through etcdutl with the revision bumped and marked compacted; counts match etcdctl', async () => {
    const { exitCode, report } = await runDrill(opts({ target: { kind: 'endpoints', endpoints: [etcd.url] } }, path.join(work, 'state-a')));
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    const status = JSON.parse(etcdctl('endpoint', 'status', '-w', 'json'))[0].Status;
    const allKeys = countLines(etcdctl('get', '', '--from-key', '--keys-only'));
    expect(report.source).toMatchObject({ revision: status.header.revision, version, total: allKeys });
    // Bumped: the source's hashkv cannot be compared, so it is not read (one whole-database read fewer).
    expect(report.source?.hash).toBeUndefined();
    expect(report.restored).toMatchObject({ tool: 'etcdutl', bumped: true, total: allKeys, revision: status.header.revision + BUMP_REVISION, etcdVersion: version });
    expect(report.restored?.counts).toEqual(report.source?.counts);
    expect(report.snapshot?.verdict).toBe('ok');
  });

  it('--endpoints --no-bump-revision: the restored member hashes like the source at the snapshot revision', async () => {
    const { exitCode, report } = await runDrill(opts({ target: { kind: 'endpoints', endpoints: [etcd.url] }, bumpRevision: false, sentinel: true }, path.join(work, 'state-b')));
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.sentinel).toEqual({ key: '/groundwork/drill-sentinel', found: true });
    expect(report.restored).toMatchObject({ tool: 'etcdutl', bumped: false });
    expect(report.restored?.hash).toBeDefined();
    expect(report.restored?.hash).toBe(report.source?.hash?.hash);
    // At the source's pinned revision: the drill deletes its sentinel afterwards, which moves the source on.
    expect(report.source?.hash?.hash).toBe(JSON.parse(etcdctl('endpoint', 'hashkv', '-w', 'json', `--rev=${report.source?.revision}`))[0].HashKV.hash);
  });

  it('--snapshot: a backup saved by this release restores; its own `etcdutl snapshot status` agrees', async () => {
    const file = path.join(work, 'backup.db');
    etcdctl('snapshot', 'save', file);
    const own = JSON.parse(execFileSync(realTool(program('etcdutl')), ['snapshot', 'status', file, '-w', 'json'], { encoding: 'utf8' }));
    const { exitCode, report } = await runDrill(opts({ target: { kind: 'snapshot', file } }, path.join(work, 'state-c')));
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.snapshot?.status).toMatchObject({ hash: own.hash, revision: own.revision, totalKey: own.totalKey });
    expect(report.restored).toMatchObject({ tool: 'etcdutl', bumped: true, revision: own.revision + BUMP_REVISION });
    expect(readFileSync(file).length).toBeGreaterThan(0);
  });

  it('--snapshot: a corrupted backup fails at integrity, never a crash', async () => {
    const good = path.join(work, 'backup-2.db');
    etcdctl('snapshot', 'save', good);
    const c = Buffer.from(readFileSync(good));
    for (let i = 0; i < 64; i++) c[20_000 + i] = c[20_000 + i]! ^ 0xff;
    const bad = path.join(work, 'broken.db');
    writeFileSync(bad, c);
    const { exitCode, report } = await runDrill(opts({ target: { kind: 'snapshot', file: bad } }, path.join(work, 'state-d')));
    expect(exitCode).toBe(1);
    expect(report.reasons[0]).toMatch(/^integrity: .*corrupted/);
    expect(report.phases.restore?.status).toBe('skip');
  });

  it('--snapshot without etcdutl on the PATH: passes with 3.5 (etcdctl restores), names etcdutl with 3.6 (etcdctl cannot)', async () => {
    const file = path.join(work, 'backup-3.db');
    etcdctl('snapshot', 'save', file);
    const noUtl = { PATH: realToolsPath([program('etcd'), program('etcdctl')]), HOME: work };
    const { exitCode, report } = await runDrill({ ...opts({ target: { kind: 'snapshot', file } }, path.join(work, 'state-f')), env: noUtl });
    if (release === '3.5') {
      expect(report.reasons).toEqual([]);
      expect(exitCode).toBe(0);
      expect(report.restored).toMatchObject({ tool: 'etcdctl', bumped: false });
    } else {
      expect(exitCode).toBe(1);
      expect(report.reasons[0]).toMatch(/^integrity: etcdctl 3\.6\.\d+ has no snapshot status or restore .*etcdutl/);
      expect(report.phases.restore?.status).toBe('skip');
    }
  });

  describe('--lab', () => {
    let labEtcd: TestEtcd;
    let lab: Lab;
    beforeAll(async () => {
      labEtcd = await startEtcd({ bin: realTool(program('etcd')) });
      lab = await startLab({ etcd: labEtcd.url, nodes: 2 });
      await lab.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
      for (const name of ['web-1', 'web-2', 'db-0']) {
        await lab.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop' }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10.2' }] } });
      }
    }, 60_000);
    afterAll(async () => {
      await lab?.stop();
      await labEtcd?.stop();
    });

    it('restores the lab, boots a lab API on the copy and lists the same pods through the real kubectl', async () => {
      const { target, check } = resolveLabTarget({ etcd: labEtcd.url });
      const { exitCode, report, summary } = await runDrill(opts({ target, labCheck: check }, path.join(work, 'state-e')));
      expect(report.reasons).toEqual([]);
      expect(exitCode).toBe(0);
      expect(report.sentinel).toEqual({ key: '/groundwork/drill-sentinel', found: true });
      expect(report.restored).toMatchObject({ tool: 'etcdutl', bumped: true, etcdVersion: version });
      expect(report.restored?.counts['/registry/pods']).toBe(3);
      expect(summary.results.find((r) => r.id === 'drill-lab-api')).toMatchObject({ status: 'pass', evidence: { pods: 3 } });
    });
  });
});

describe('real etcd 3.6 with an older etcdctl first on the PATH', () => {
  it('the restore passes, the member does not start, and the drill says the mixed releases are why', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'gw-real-drill-skew-'));
    const etcd = await startEtcd({ bin: realTool('etcd-3.6/etcd') });
    try {
      await putMany(etcd.url, kubernetesKeys(50, (i) => `{"i":${i}}`));
      // etcd 3.6 as the member, Debian's etcdctl 3.4 to snapshot and restore (no etcdutl).
      const env = { PATH: realToolsPath(['etcd-3.6/etcd'], { etcdctl: ETCDCTL_BIN }), HOME: work };
      const { exitCode, report } = await runDrill({ drill: { target: { kind: 'endpoints', endpoints: [etcd.url] } }, stateDir: path.join(work, 'state'), io: captureIo(work, { NO_COLOR: '1' }), env, json: true, renderer: 'silent' });
      expect(exitCode).toBe(1);
      expect(report.phases.restore?.status).toBe('pass');
      expect(report.reasons[0]).toMatch(/^boot: the restored member did not start: .*; restored by etcdctl 3\.4\.\d+, booted by etcd 3\.6\.\d+$/);
    } finally {
      await etcd.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
