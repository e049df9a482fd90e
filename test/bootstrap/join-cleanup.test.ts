/**
 * Join credentials (the bootstrap token in /etc/groundwork/join.yaml on a node, the local join configs and the
 * join-credentials file) never outlive the run: deleted on success, on failure, and — after a SIGKILL in the
 * middle of `kubeadm join` — by the resumed run, which says what it swept.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/load.js';
import { createFakeTools, hangingPid, waitForHang } from '../helpers/fake-tools.js';
import { kubeadmWorld, prepareRun, runBootstrap, tempDir } from './worlds.js';

const RM = 'rm -f /etc/groundwork/join.yaml';

function kubeadmSmall() {
  const text = readFileSync(path.join(import.meta.dirname, '..', '..', 'examples', 'kubeadm-small.yaml'), 'utf8').replace(/\b10\.0\.(\d+)\.(\d+)\b/g, '127.0.$1.$2');
  return { text, loaded: parseSpec(text, 'cluster.yaml') };
}

function world(opts: Parameters<typeof kubeadmWorld>[2] = {}) {
  const { text, loaded } = kubeadmSmall();
  const stateDir = tempDir('gw-join-');
  const { run, layout } = prepareRun(stateDir);
  const fakes = createFakeTools(tempDir('gw-join-fakes-'), kubeadmWorld(loaded.spec, layout, opts));
  return { text, loaded, stateDir, run, layout, fakes };
}

function expectNothingLeft(stateDir: string): void {
  // Only the Secret encryption key stays: the cluster's Secrets are unreadable without it.
  expect(readdirSync(path.join(stateDir, 'secrets', 'kubeadm'))).toEqual(['encryption.yaml']);
  expect(existsSync(path.join(stateDir, 'leftovers.json'))).toBe(false);
}

describe('join credentials are deleted on the node and here', () => {
  it('after a clean run', async () => {
    const w = world();
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status, r.output).toBe('pass');
    for (const a of ['127.0.20.21', '127.0.20.22']) expect(w.fakes.sequence().filter((l) => l.includes(`root@${a} ${RM}`))).toHaveLength(1);
    expectNothingLeft(w.stateDir);
  });

  it('after a failed join', async () => {
    const w = world({ joinFailsOnceOn: '127.0.20.21' });
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status).toBe('fail');
    expect(r.summary.results.find((x) => x.status === 'fail')?.id).toBe('join-workers');
    expect(w.fakes.sequence().filter((l) => l.includes(`root@127.0.20.21 ${RM}`))).toHaveLength(1);
    expectNothingLeft(w.stateDir);
  });

  it('after a SIGKILL during kubeadm join: the resumed run sweeps the node and the local files, and says so', async () => {
    const w = world({ joinHangsOn: '127.0.20.21' });
    const specFile = path.join(w.stateDir, '..', `${path.basename(w.stateDir)}-cluster.yaml`);
    writeFileSync(specFile, w.text);
    const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'run-bootstrap.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify({ specFile, stateDir: w.stateDir, runId: w.run.runId, path: w.fakes.path })], {
      stdio: 'ignore',
      env: { ...process.env, NO_COLOR: '1' },
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, sig) => resolve(sig)));
    expect(await waitForHang(w.fakes, 60_000)).toContain('kubeadm join');
    // What a kill here leaves: the token on the node (the fake got it by scp) and in two local files.
    const kubeadmDir = path.join(w.stateDir, 'secrets', 'kubeadm');
    expect(readdirSync(kubeadmDir).sort()).toEqual(['encryption.yaml', 'join-credentials', 'join-w-1.yaml']);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // Nothing was left to stop the hung ssh: it outlives the killed run until the next run sweeps it.
    const hung = hangingPid(w.fakes);
    expect(alive(hung)).toBe(true);

    const resumed = await runBootstrap(w.loaded, w.fakes, w.stateDir, { resume: true });
    expect(resumed.summary.status, resumed.output).toBe('pass');
    expect(resumed.output).toContain(`swept what run ${w.run.runId} left behind: the join config (bootstrap token) /etc/groundwork/join.yaml on w-1 (127.0.20.21)`);
    expect(resumed.output).toContain(`swept what run ${w.run.runId} left behind: the join credentials file ${path.join(kubeadmDir, 'join-credentials')}`);
    // The sweep's rm on w-1 comes before the resumed run's first probe, then the join's own.
    const seq = w.fakes.sequence();
    const sweepAt = seq.findIndex((l) => l.includes(`root@127.0.20.21 ${RM}`));
    const hungAt = seq.findIndex((l) => l.includes('root@127.0.20.21 kubeadm join'));
    const resumedFirst = seq.findIndex((l, i) => i > hungAt && l.includes('test -f /etc/kubernetes/kubelet.conf'));
    expect(sweepAt).toBeGreaterThan(hungAt);
    expect(sweepAt).toBeLessThan(resumedFirst);
    expect(seq.filter((l) => l.includes(`root@127.0.20.21 ${RM}`))).toHaveLength(2);
    const report = JSON.parse(readFileSync(path.join(w.run.runDir, 'report.json'), 'utf8'));
    const swept = report.leftovers.swept as Array<{ id: string; what: string }>;
    expect(swept.filter((s) => !s.what.startsWith('ssh (pid')).map((s) => s.id).sort()).toEqual(['join-config:w-1', 'join-credentials']);
    expect(swept.filter((s) => s.what === `ssh (pid ${hung})`)).toHaveLength(1);
    expect(resumed.output).toMatch(new RegExp(`swept what run ${w.run.runId} left behind: ssh \\(pid ${hung}\\)`));
    expect(alive(hung)).toBe(false);
    expectNothingLeft(w.stateDir);
  });
});

/** Running (a killed process nobody reaped yet is a zombie: gone for our purpose). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
