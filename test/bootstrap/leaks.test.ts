/**
 * Secrets a failing tool prints, before anything could parse them, never reach the terminal (either renderer)
 * or a run record; run records are 0600 in a 0700 run dir; secret files are born 0600.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadedSpec } from '../../src/spec/load.js';
import { createFakeTools } from '../helpers/fake-tools.js';
import { SECRETS, kubeadmWorld, loadExampleOnLoopback, prepareRun, runBootstrap, talosWorld, tempDir } from './worlds.js';

const RECORDS = ['audit.jsonl', 'report.json', 'junit.xml', 'state.json'];

function world(loaded: LoadedSpec, opts: Parameters<typeof kubeadmWorld>[2] = {}) {
  const stateDir = tempDir('gw-leak-');
  const { run, layout } = prepareRun(stateDir);
  const rules = loaded.spec.spec.bootstrap.method === 'talos' ? talosWorld(loaded.spec, layout) : kubeadmWorld(loaded.spec, layout, opts);
  return { stateDir, run, layout, fakes: createFakeTools(tempDir('gw-leak-fakes-'), rules) };
}

function records(stateDir: string): string[] {
  const texts: string[] = [];
  for (const id of readdirSync(path.join(stateDir, 'runs'))) {
    for (const f of RECORDS) {
      const p = path.join(stateDir, 'runs', id, f);
      if (existsSync(p)) texts.push(readFileSync(p, 'utf8'));
    }
  }
  return texts;
}

function expectAbsent(texts: string[], values: string[]): void {
  const all = texts.join('\n');
  for (const v of values) expect(all.includes(v), `${v} leaked`).toBe(false);
}

function expectPrivateRecords(runDir: string): void {
  expect(statSync(runDir).mode & 0o777).toBe(0o700);
  expect(statSync(path.dirname(runDir)).mode & 0o777).toBe(0o700);
  for (const f of RECORDS) expect(statSync(path.join(runDir, f)).mode & 0o777, f).toBe(0o600);
}

describe('a failing tool that prints secrets', () => {
  it.for(['simple', 'ink'] as const)('kubeadm init prints its token and certificate key, then fails (%s renderer)', async (renderer) => {
    const loaded = loadExampleOnLoopback('kubeadm-small');
    const w = world(loaded, { initFailsPrintingSecrets: true });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run, renderer });
    expect(r.summary.status).toBe('fail');
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.id).toBe('init');
    // The failure still says what happened, with the secrets cut out.
    expect(f.why).toContain('error execution phase bootstrap-token: kubeadm join 127.0.20.11:6443 --token [redacted]');
    expect(r.output).toContain('kubeadm init on cp-1 (127.0.20.11) failed');
    expectAbsent([r.output, ...records(w.stateDir)], [SECRETS.initToken, SECRETS.initCertKey]);
    expectPrivateRecords(w.run.runDir);
  });

  it('kubeadm token create fails, printing the join command and the token on stderr', async () => {
    const loaded = loadExampleOnLoopback('kubeadm-small');
    const w = world(loaded, { tokenCreateFailsPrintingToken: true });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status).toBe('fail');
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.id).toBe('join-workers');
    expect(f.summary).toContain('could not create a join token on cp-1');
    expect(f.why).toContain('[redacted]');
    expectAbsent([r.output, ...records(w.stateDir)], [SECRETS.joinToken]);
    expectPrivateRecords(w.run.runDir);
  });
});

describe('secret files are born 0600', () => {
  it('talosctl writes secrets.yaml, the machine configs, talosconfig and kubeconfig with a 077 mask', async () => {
    const loaded = loadExampleOnLoopback('talos-ha');
    const w = world(loaded);
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status, r.output).toBe('pass');
    const written = w.fakes.written();
    const t = w.layout.talos;
    for (const f of [t.secrets, t.controlPlaneConfig, t.workerConfig, t.talosconfig, w.layout.kubeconfig]) {
      const born = written.filter((x) => x.file === f);
      expect(born.length, f).toBeGreaterThan(0);
      for (const b of born) expect(b.bornMode, f).toBe(0o600);
    }
    expectPrivateRecords(w.run.runDir);
  });
});
