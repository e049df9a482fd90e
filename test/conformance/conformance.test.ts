/**
 * The differential conformance suite (issue 13, item 4): the script of test/conformance/script.ts run against
 * the lab's embedded API and against the real kube-apiserver (test/helpers/control-plane.ts), comparing what
 * clients read (status codes, Status reasons and causes, the fields named per interaction, normalised).
 *
 * Every divergence is either fixed in the embedded API or listed in allowlist.json with its reason and the
 * effect a client sees. The test fails on a divergence not listed, and on a listed one that no longer diverges
 * (so that the list only shrinks). It prints, and writes to .conformance-summary.txt for .ci/run, one line:
 * `conformance: N interactions compared, M divergences allowed`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { startLab, type Lab } from '../../src/lab/index.js';
import { startControllers } from '../../src/lab/controllers/index.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { SCRIPT, normalise } from './script.js';
import { createTarget, type Target } from './targets.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const ALLOWLIST = JSON.parse(readFileSync(path.join(import.meta.dirname, 'allowlist.json'), 'utf8')) as Record<string, { reason: string; effect: string }>;

interface Observed {
  id: string;
  value: unknown;
}

async function runScript(t: Target): Promise<Observed[]> {
  const out: Observed[] = [];
  for (const step of SCRIPT) {
    let value: unknown;
    try {
      value = normalise(await step.run(t));
    } catch (e) {
      value = { threw: (e as Error).message };
    }
    out.push({ id: step.id, value });
  }
  return out;
}

describe('conformance: the embedded API against the real kube-apiserver', () => {
  let cp: ControlPlane;
  let lab: Lab;

  beforeAll(async () => {
    [cp, lab] = await Promise.all([startControlPlane({ podSecurity: 'talos' }), startLab({ nodes: 2, controllers: startControllers })]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([cp?.stop(), lab?.stop()]);
  });

  it('diverges only where the allowlist says, with a reason and the client-visible effect', async () => {
    const [embedded, real] = await Promise.all([runScript(createTarget('embedded', lab.kubeconfigPath)), runScript(createTarget('real', cp.kubeconfig))]);
    const diverging: { id: string; embedded: unknown; real: unknown }[] = [];
    for (const [i, step] of SCRIPT.entries()) {
      if (!isDeepStrictEqual(embedded[i]!.value, real[i]!.value)) diverging.push({ id: step.id, embedded: embedded[i]!.value, real: real[i]!.value });
    }
    const ids = new Set(SCRIPT.map((s) => s.id));
    expect(ids.size, 'interaction ids are unique').toBe(SCRIPT.length);
    // Every observation, for whoever fixes the next divergence.
    writeFileSync(path.join(REPO, '.conformance-divergences.json'), `${JSON.stringify(diverging, null, 2)}\n`);
    const unlisted = diverging.filter((d) => !ALLOWLIST[d.id]);
    const stale = Object.keys(ALLOWLIST).filter((id) => !diverging.some((d) => d.id === id));
    const allowed = diverging.length - unlisted.length;
    const line = `conformance: ${SCRIPT.length} interactions compared, ${allowed} divergences allowed`;
    writeFileSync(path.join(REPO, '.conformance-summary.txt'), `${line}\n`);
    console.log(line);
    for (const [id, a] of Object.entries(ALLOWLIST)) {
      expect(a.reason?.length ?? 0, `allowlist ${id}: a reason`).toBeGreaterThan(0);
      expect(a.effect?.length ?? 0, `allowlist ${id}: the client-visible effect`).toBeGreaterThan(0);
    }
    expect(unlisted.map((d) => `${d.id}\n  embedded: ${JSON.stringify(d.embedded)}\n  real:     ${JSON.stringify(d.real)}`), 'divergences not in test/conformance/allowlist.json').toEqual([]);
    expect(stale, 'allowlisted interactions that no longer diverge (remove them from allowlist.json)').toEqual([]);
  }, 600_000);
});
