/**
 * The wizard's rehearsal (issue 13, Deliver 3) on the lab API of this pass (test/helpers/lab-api.ts: embedded in
 * `npx vitest run`, the real control plane in .ci/run's second pass): the services the wizard's Run screen calls,
 * with the spec it saved. A healthy lab passes every stage, the drill included; a fault is flagged by the suite
 * that owns it, with the same diagnosis rehearse and validate give.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createWizardServices } from '../../src/wizard.js';
import { loadSpec } from '../../src/spec/load.js';
import { EMBEDDED_SPEC } from '../../src/rehearse.js';
import { captureIo } from '../helpers/io.js';
import { ON_REAL_API, TEST_LAB_API } from '../helpers/lab-api.js';
import { FAULT_DIAGNOSES, HEALTHY } from '../helpers/fault-diagnoses.js';
import { realToolsPath } from '../helpers/real-tools.js';

/** What the wizard's Run screen calls after saving the spec, on this pass's API. */
async function rehearseFromWizard(rehearsal: Parameters<typeof createWizardServices>[0]['rehearsal']) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-wizard-rehearsal-'));
  const file = path.join(dir, 'cluster.yaml');
  copyFileSync(EMBEDDED_SPEC, file);
  // The drill's programs (etcd, etcdctl, etcdutl, kubectl) and, on the real pass, the control plane's.
  const bin = realToolsPath(['kubectl', 'etcd-3.6/etcd', 'etcd-3.6/etcdctl', 'etcd-3.6/etcdutl', ...(ON_REAL_API ? (['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const) : [])]);
  const io = captureIo(dir, { NO_COLOR: '1', CI: 'true', HOME: dir, PATH: `${bin}:/usr/bin:/bin` });
  const services = createWizardServices({ file, color: false, io, rehearsal: { api: TEST_LAB_API, ...rehearsal } });
  const stored: string[] = [];
  const summary = await services.run(await loadSpec(file), { mode: 'rehearse', ignore: [], resume: false, onStore: () => void stored.push('update') });
  return { summary, stored, io };
}

const byId = (s: { results: { id: string; status: string; summary: string; why?: string }[] }) => Object.fromEntries(s.results.map((r) => [r.id, r]));

describe(`the wizard's rehearsal (${TEST_LAB_API} API)`, () => {
  it('passes a healthy lab: every validate suite and the drill, saying which API it ran on', async () => {
    const { summary, stored, io } = await rehearseFromWizard({});
    expect(summary.status, JSON.stringify(summary.results.map((r) => [r.id, r.status, r.summary]))).toBe('pass');
    expect(Object.fromEntries(Object.keys(HEALTHY).map((id) => [id, byId(summary)[id]?.status]))).toEqual(HEALTHY);
    expect(summary.results.some((r) => r.stage === 'drill' && r.status === 'pass')).toBe(true);
    expect(summary.ranOn?.['lab api']).toMatch(ON_REAL_API ? /^real/ : /^embedded/);
    // The wizard draws progress itself: the rehearsal printed nothing and fed the Run screen's store.
    expect(io.out()).toBe('');
    expect(stored.length).toBeGreaterThan(0);
  }, 600_000);

  const [fault, failing, suite, summaryRe, why] = FAULT_DIAGNOSES[0];
  it(`flags the fault ${fault}: ${suite} fails naming the cause, the other suites pass`, async () => {
    const { summary } = await rehearseFromWizard({ faults: [fault], stages: ['validate'], timeoutS: 20 });
    expect(summary.status).toBe('fail');
    const got = byId(summary);
    expect(Object.fromEntries(Object.keys(HEALTHY).map((id) => [id, got[id]?.status]))).toEqual({ ...HEALTHY, ...failing });
    expect(got[suite]!.summary).toMatch(summaryRe);
    expect(got[suite]!.why).toMatch(why);
  }, 300_000);
});
