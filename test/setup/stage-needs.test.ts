/** Issue 15: in setup, one failing validation suite does not skip the drill; a failed bootstrap skips what needs it. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildSetupPlan } from '../../src/setup.js';
import { loadSpec } from '../../src/spec/load.js';
import { runPlan } from '../../src/run/engine.js';
import type { Plan, Status } from '../../src/run/types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** setup's real stages and their needs, with each stage's steps replaced by one that reports `status`. */
async function setupShaped(outcome: Partial<Record<string, Status>>): Promise<Plan> {
  const loaded = await loadSpec(path.join(ROOT, 'examples/kubeadm-small.yaml'));
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-needs-'));
  const real = await buildSetupPlan(loaded, { runDir: path.join(dir, 'run'), stateDir: dir, writeFiles: false });
  return {
    title: real.title,
    stages: real.stages.map((st) => ({
      name: st.name,
      title: st.title,
      needs: st.needs,
      steps: [{ id: `${st.name}-step`, title: st.title, stage: st.name, continueOnFail: true, run: async () => ({ status: outcome[st.name] ?? 'pass', summary: st.name }) }],
    })),
  };
}

function io() {
  return { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: { NO_COLOR: '1' }, cwd: process.cwd() };
}

describe('setup stages run and report independently', () => {
  it('a failing validation suite does not skip the drill', async () => {
    const s = await runPlan(await setupShaped({ validate: 'fail' }), { command: 'setup', stateDir: mkdtempSync(path.join(tmpdir(), 'gw-needs-')), io: io(), renderer: 'simple' });
    expect(s.results.find((r) => r.id === 'drill-step')).toMatchObject({ status: 'pass' });
    expect(s.status).toBe('fail');
  });

  it('a failed bootstrap skips every stage that needs the cluster, naming it', async () => {
    const s = await runPlan(await setupShaped({ bootstrap: 'fail' }), { command: 'setup', stateDir: mkdtempSync(path.join(tmpdir(), 'gw-needs-')), io: io(), renderer: 'simple' });
    for (const id of ['cni-step', 'monitoring-step', 'backup-step', 'validate-step', 'drill-step']) {
      expect(s.results.find((r) => r.id === id)).toMatchObject({ status: 'skip', summary: expect.stringMatching(/^not run: it needs stage .*bootstrap.*, which failed$/) });
    }
  });
});
