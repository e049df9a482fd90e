/**
 * The bootstrap stage through the setup service (runSetup: spec file on disk, run dir chosen, plan built,
 * records written), the way `groundwork setup --yes` runs it, with --json and with the text table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBootstrapStage } from '../../src/bootstrap/stage.js';
import { bootstrapLayout } from '../../src/bootstrap/files.js';
import { runSetup, type StageOverride } from '../../src/setup.js';
import { findResumableRun } from '../../src/run/records.js';
import { createFakeTools } from '../helpers/fake-tools.js';
import { SECRETS, captureIo, kubeadmWorld, loadExampleOnLoopback, tempDir } from './worlds.js';

// setup's own bootstrap stage, with short waits.
const overrides: { bootstrap: StageOverride } = { bootstrap: async (loaded, o) => buildBootstrapStage(loaded, { runDir: o.runDir, stateDir: o.stateDir, backoffMs: 1, pollIntervalMs: 1, waitMs: 2000 }) };

function writeLoopbackSpec(dir: string, example: string): string {
  const file = path.join(dir, 'cluster.yaml');
  const text = readFileSync(path.join(import.meta.dirname, '..', '..', 'examples', `${example}.yaml`), 'utf8').replace(/\b10\.0\.(\d+)\.(\d+)\b/g, '127.0.$1.$2');
  writeFileSync(file, text);
  return file;
}

describe('runSetup --stages bootstrap with a kubeadm spec', () => {
  it.each([false, true])('json=%s: passes, and no secret reaches stdout, stderr or a run record; a failed run resumes after the fix', async (json) => {
    const dir = tempDir('gw-setup-');
    const file = writeLoopbackSpec(dir, 'kubeadm-small');
    const stateDir = path.join(dir, '.groundwork');
    const loaded = loadExampleOnLoopback('kubeadm-small');
    // The run dir is only known inside runSetup; the world's file matchers need the secrets dir only, except
    // for the kubeadm config copy, which lives in the run dir: match it by shape.
    const layout = bootstrapLayout(path.join(stateDir, 'runs', 'RUN'), stateDir);
    const rules = kubeadmWorld(loaded.spec, layout, { joinFailsOnceOn: '127.0.20.22' });
    // (and so do kube-apiserver's admission and audit policy files).
    const runPrefix = path.join(stateDir, 'runs', 'RUN') + '/';
    for (const rule of rules.scp!) {
      const at = rule.match.length - 2;
      const local = rule.match[at];
      if (typeof local === 'string' && local.startsWith(runPrefix)) {
        rule.match[at] = new RegExp(`${stateDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/runs/[0-9a-z-]+/${local.slice(runPrefix.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
      }
    }
    const fakes = createFakeTools(tempDir('gw-fakes-'), rules);

    const first = captureIo();
    const s1 = await runSetup({ file, json, color: false, dryRun: false, resume: false, stages: ['bootstrap'], overrides, io: first.io, env: fakes.env });
    expect(s1.status).toBe('fail');
    // kubeadm echoed the token in its error: the operator sees the error, not the token.
    expect(first.text()).toContain('token [redacted] rejected');
    expect(findResumableRun(stateDir, 'setup')?.runId).toBe(s1.runId);
    const second = captureIo();
    const s2 = await runSetup({ file, json, color: false, dryRun: false, resume: true, stages: ['bootstrap'], overrides, io: second.io, env: fakes.env });
    expect(s2.status, second.text()).toBe('pass');
    expect(s2.runId).toBe(s1.runId);
    if (json) expect(JSON.parse(second.text().slice(second.text().indexOf('{\n')))).toMatchObject({ command: 'setup', status: 'pass' });

    const records = ['audit.jsonl', 'report.json', 'junit.xml', 'state.json'].map((f) => readFileSync(path.join(stateDir, 'runs', s1.runId, f), 'utf8'));
    const everything = [first.text(), second.text(), ...records].join('\n');
    for (const [name, value] of Object.entries(SECRETS)) expect(everything.includes(value), `${name} leaked`).toBe(false);
    expect(fakes.sequence().filter((l) => l.includes('kubeadm join --config'))).toHaveLength(3);
    expect(fakes.unexpected()).toEqual([]);
  });
});
