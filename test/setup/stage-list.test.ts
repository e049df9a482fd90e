/** Issue 18: setup's stages are one ordered list; rehearse and the wizard override stages by name. */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { SETUP_STAGES, buildSetupPlan, type StageOverride } from '../../src/setup.js';
import { STAGES, type Stage, type StageName } from '../../src/run/types.js';
import { loadSpec } from '../../src/spec/load.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const opts = { runDir: '/c/.groundwork/runs/<run-id>', stateDir: '/c/.groundwork', writeFiles: false };
const stub = (name: string, title = 'a builder title'): Stage => ({ name, title, steps: [] });
const labStage: Stage = { name: 'lab', title: 'Wait for the lab', steps: [], needs: [] };

describe('SETUP_STAGES', () => {
  it('names the stages of run/types.ts STAGES, in order, each with one title', () => {
    expect(SETUP_STAGES.map((s) => s.name)).toEqual([...STAGES]);
    expect(new Set(SETUP_STAGES.map((s) => s.title)).size).toBe(STAGES.length);
  });

  it('each stage needs only stages before it', () => {
    for (const [i, s] of SETUP_STAGES.entries()) expect(s.needs.every((n) => STAGES.indexOf(n) < i)).toBe(true);
  });
});

describe('buildSetupPlan overrides and extra stages', () => {
  const everyStage = Object.fromEntries(STAGES.map((n) => [n, (async () => stub(n)) as StageOverride])) as Record<StageName, StageOverride>;

  it.each<[string, StageName[] | undefined, StageName | undefined, string[]]>([
    ['all stages, lab before validate', undefined, 'validate', ['preflight', 'bootstrap', 'cni', 'monitoring', 'backup', 'lab', 'validate', 'drill']],
    ['drill only: the lab still comes first', ['drill'], 'validate', ['lab', 'drill']],
    ['before a stage not planned: at the end', ['preflight', 'bootstrap'], 'validate', ['preflight', 'bootstrap', 'lab']],
    ['no extra stage', ['cni', 'preflight'], undefined, ['preflight', 'cni']],
  ])('%s', async (_, stages, before, names) => {
    const loaded = await loadSpec(path.join(ROOT, 'examples/kubeadm-small.yaml'));
    const plan = await buildSetupPlan(loaded, { ...opts, stages, overrides: everyStage, extra: before ? [{ before, stage: labStage }] : [] });
    expect(plan.stages.map((s) => s.name)).toEqual(names);
  });

  it("an override gets the stage's own builder; the title and needs come from the list unless it sets needs", async () => {
    const loaded = await loadSpec(path.join(ROOT, 'examples/kubeadm-small.yaml'));
    const seen: string[] = [];
    const plan = await buildSetupPlan(loaded, {
      ...opts,
      stages: ['backup', 'drill'],
      overrides: {
        backup: async (_l, _o, base) => {
          const own = await base();
          seen.push(own.name);
          return { ...own, steps: [] };
        },
        drill: async () => ({ ...stub('drill', 'Restore drill'), needs: ['lab'] }),
      },
    });
    expect(seen).toEqual(['backup']);
    expect(plan.stages.map((s) => [s.name, s.title, s.needs])).toEqual([
      ['backup', 'Schedule etcd backups', ['preflight', 'bootstrap']],
      ['drill', 'Rehearse an etcd restore', ['lab']],
    ]);
  });

  it('a builder may add a detail to the title after a colon', async () => {
    const loaded = await loadSpec(path.join(ROOT, 'examples/kubeadm-small.yaml'));
    const plan = await buildSetupPlan(loaded, { ...opts, stages: ['cni'] });
    expect(plan.stages[0]!.title).toBe(`Install the CNI: ${loaded.spec.spec.network.cni}`);
  });
});
