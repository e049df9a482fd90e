/**
 * `setup --resume` continues exactly the interrupted run: the stages (and ignored checks) it was started with,
 * recorded in its state; a different value given on resume is a usage error naming both.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { runSetup, type SetupOptions } from '../../src/setup.js';
import { createFakeTools } from '../helpers/fake-tools.js';

function io() {
  const s = () => {
    const p = new PassThrough();
    p.resume();
    return p;
  };
  return { stdout: s(), stderr: s(), stdin: new PassThrough(), env: { NO_COLOR: '1', CI: 'true' }, cwd: process.cwd() };
}

describe('setup --resume keeps the interrupted run\'s flags', () => {
  it('--stages preflight, then --resume alone: only preflight again; --resume --stages bootstrap is refused naming both', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-resume-'));
    const file = path.join(dir, 'cluster.yaml');
    // The example on loopback: nodes nobody answers on, so preflight fails fast and the run is resumable.
    writeFileSync(file, readFileSync('examples/kubeadm-small.yaml', 'utf8').replace(/\b10\.0\.(\d+)\.(\d+)\b/g, '127.0.$1.$2'));
    const fakes = createFakeTools(mkdtempSync(path.join(tmpdir(), 'gw-resume-fakes-')), {});
    const base: SetupOptions = { file, json: false, color: false, dryRun: false, resume: false, io: io(), env: fakes.env };

    const first = await runSetup({ ...base, stages: ['preflight'], ignore: ['tool-helm'] });
    expect(first.status).toBe('fail');
    expect(new Set(first.results.map((r) => r.stage))).toEqual(new Set(['preflight']));
    const state = JSON.parse(readFileSync(path.join(first.runDir, 'state.json'), 'utf8'));
    expect(state.flags).toEqual({ stages: ['preflight'], ignore: ['tool-helm'] });

    const resumed = await runSetup({ ...base, io: io(), resume: true });
    expect(resumed.runId).toBe(first.runId);
    expect(new Set(resumed.results.map((r) => r.stage))).toEqual(new Set(['preflight']));
    // The same flags again are fine.
    expect((await runSetup({ ...base, io: io(), resume: true, stages: ['preflight'] })).runId).toBe(first.runId);

    let err: unknown;
    try {
      await runSetup({ ...base, io: io(), resume: true, stages: ['bootstrap'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(2);
    expect((err as UserError).message).toBe(`--stages bootstrap conflicts with the run being resumed (${first.runId}), which ran with --stages preflight`);
    expect((err as UserError).fix).toMatch(/leave --stages out/);
  });
});
