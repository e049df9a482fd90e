import { describe, expect, it } from 'vitest';
import { buildSetupPlan } from '../../src/setup.js';
import { UserError } from '../../src/errors.js';
import { loopbackSpec } from './helpers.js';

describe('setup integration', () => {
  it("setup's stage list puts the preflight checks first, with --ignore passed through", async () => {
    const plan = await buildSetupPlan(loopbackSpec(), { runDir: '/tmp/x', stateDir: '/tmp', stages: ['preflight'], ignore: ['classic-collisions'] });
    const stage = plan.stages[0]!;
    expect(stage.name).toBe('preflight');
    expect(stage.steps.map((s) => s.id)).toContain('pod-service-overlap');
    expect(stage.steps.find((s) => s.id === 'classic-collisions')!.title).toMatch(/ignored by --ignore classic-collisions/);
    await expect(buildSetupPlan(loopbackSpec(), { runDir: '/tmp/x', stateDir: '/tmp', stages: ['preflight'], ignore: ['nope'] })).rejects.toBeInstanceOf(UserError);
  });
});
