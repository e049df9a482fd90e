import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addSecretFileValues } from '../../src/bootstrap/steps.js';
import { mapLimit } from '../../src/run/map-limit.js';
import { Redactor } from '../../src/run/secret.js';
import type { StepContext } from '../../src/run/types.js';
import { tempDir } from './worlds.js';

function ctxWith(redactor: Redactor): StepContext {
  return { redactor } as StepContext;
}

describe('addSecretFileValues', () => {
  const dir = tempDir('gw-secretvals-');
  it.each([
    ['a Talos machine config', 'version: v1alpha1\nmachine:\n    type: controlplane\n    token: abcdef.0123456789abcdef\n    ca:\n        crt: LS0tLS1CRUdJTiBDRVJU\n        key: LS0tLS1CRUdJTiBFQyBQUklW\n', ['abcdef.0123456789abcdef', 'LS0tLS1CRUdJTiBFQyBQUklW'], ['controlplane', 'v1alpha1']],
    ['a kubeconfig', 'apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.10.10:6443\n  name: talos-ha\nusers:\n- name: admin@talos-ha\n  user:\n    client-key-data: S0VZLURBVEEtU0VDUkVU\n', ['S0VZLURBVEEtU0VDUkVU'], ['https://127.0.10.10:6443', 'talos-ha']],
    ['talosctl gen secrets', 'cluster:\n    id: aWQtaWQtaWQ=\n    secret: c2VjcmV0LXNlY3JldA==\nsecrets:\n    bootstraptoken: q1w2e3.r4t5y6u7i8o9p0a1\n    secretboxencryptionsecret: Ym94LWJveC1ib3g=\n', ['c2VjcmV0LXNlY3JldA==', 'q1w2e3.r4t5y6u7i8o9p0a1', 'Ym94LWJveC1ib3g='], []],
    ['a plain file of lines', 'gwjoin.fedcba9876543210\nsha256:abab\n', ['gwjoin.fedcba9876543210'], []],
  ])('%s: secret values are redacted alone, harmless words stay', (_l, text, secret, harmless) => {
    const file = path.join(dir, `${_l.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, text);
    const r = new Redactor();
    addSecretFileValues(ctxWith(r), file);
    for (const s of secret) expect(r.redact(`value ${s} here`)).toBe('value [redacted] here');
    for (const h of harmless) expect(r.redact(`value ${h} here`)).toBe(`value ${h} here`);
  });
});

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(5), { maxLength: 20 }), fc.integer({ min: 1, max: 6 }), async (delays, limit) => {
        let running = 0;
        let peak = 0;
        const out = await mapLimit(delays, limit, async (d) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, d));
          running--;
          return d * 2;
        });
        expect(out).toEqual(delays.map((d) => d * 2));
        expect(peak).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 30 },
    );
  });
});

describe('buildNodesReadyStep (for the cni stage)', () => {
  it('passes when kubectl wait succeeds and fails with advice when it times out', async () => {
    const { createFakeTools } = await import('../helpers/fake-tools.js');
    const { createTestContext } = await import('../helpers/context.js');
    const { buildNodesReadyStep } = await import('../../src/bootstrap/steps.js');
    const { buildFixtureSpec } = await import('./spec-fixtures.js');
    const argv = ['--kubeconfig', '/k', 'wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s'];
    const fakes = createFakeTools(tempDir('gw-fakes-'), { kubectl: [{ match: argv, times: 1, stdout: 'node/cp-1 condition met\n' }, { match: argv, exitCode: 1, stderr: 'error: timed out waiting for the condition on nodes/w-1\n' }] });
    const step = buildNodesReadyStep(buildFixtureSpec({}), '/k', 'cni', 60);
    const ctx = createTestContext({ env: fakes.env });
    expect(await step.run(ctx)).toMatchObject({ status: 'pass', summary: '5 nodes Ready' });
    expect(await step.run(ctx)).toMatchObject({ status: 'fail', detail: 'error: timed out waiting for the condition on nodes/w-1' });
    fakes.verify();
  });
});
