/**
 * `groundwork validate` against the lab: healthy, then each fault; exactly the suites that should fail do, with a
 * diagnosis naming the cause; afterwards the real kubectl finds no test namespace and no volume.
 */
import { expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Lab } from '../../src/lab/index.js';
import { describeLabs, TEST_LAB_API, useTestLabs } from '../helpers/lab-api.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { buildValidateStage, runValidate } from '../../src/validate/index.js';
import { runPlan } from '../../src/run/engine.js';
import { captureIo } from '../helpers/io.js';
import { FAULT_DIAGNOSES, HEALTHY } from '../helpers/fault-diagnoses.js';
import { waitLabSettled } from '../helpers/lab.js';

const labs = useTestLabs();

/** The real kubectl, with a HOME of its own so nothing of the machine's leaks in. Async: the lab serves from this process. */
async function kubectl(kubeconfig: string, ...args: string[]): Promise<string> {
  const home = mkdtempSync(path.join(tmpdir(), 'gw-kubectl-home-'));
  const r = await promisify(execFile)('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args], { env: { HOME: home, PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
  return r.stdout;
}

interface Report {
  status: string;
  results: { id: string; status: string; summary: string; why?: string; fix?: string; evidence?: Record<string, unknown> }[];
}

async function validateLab(faults: string[], timeoutS = 30): Promise<{ report: Report; code: number; lab: Lab }> {
  const lab = await labs.start({ nodes: 3, cni: 'cilium', faults, controllers: createControllers({ timeScale: 0.1 }) });
  // A fault from the start (node-not-ready keeps its node's CNI pod Pending) may keep the lab from settling.
  await waitLabSettled(lab, { timeoutMs: 20_000, allowUnsettled: faults.length > 0 });
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-validate-'));
  const io = captureIo(dir);
  const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS });
  return { report: JSON.parse(io.out()) as Report, code, lab };
}

function statuses(r: Report): Record<string, string> {
  return Object.fromEntries(r.results.map((x) => [x.id, x.status]));
}

async function expectClean(lab: Lab): Promise<void> {
  const ns = await kubectl(lab.kubeconfigPath, 'get', 'namespaces', '-o', 'name');
  expect(ns).toContain('namespace/kube-system');
  expect(ns).not.toContain('groundwork-validate');
  expect((await kubectl(lab.kubeconfigPath, 'get', 'persistentvolumes', '-o', 'name')).trim()).toBe('');
}


describeLabs(`validate against the lab (${TEST_LAB_API} API)`, () => {
  it('a healthy 3-node Cilium lab passes every suite, with a matrix, and leaves nothing behind', async () => {
    const { report, code, lab } = await validateLab([]);
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual(HEALTHY);
    expect(code).toBe(0);
    const conn = report.results.find((r) => r.id === 'connectivity')!;
    const m = conn.evidence!.matrix as { nodes: string[]; cells: string[][] };
    // The control plane is in the matrix: its own NoSchedule taint is tolerated, as CNI agents do.
    expect(m.nodes).toEqual(['cp-1', 'w-1', 'w-2']);
    expect(m.cells).toEqual([['ok', 'ok', 'ok'], ['ok', 'ok', 'ok'], ['ok', 'ok', 'ok']]);
    expect(conn.evidence!.podsCreated).toBe(6);
    await expectClean(lab);
  }, 180_000);

  it('storage handles an Immediate default class too (binds before any pod, volume released after)', async () => {
    const lab = await labs.start({ nodes: 3, controllers: createControllers({ timeScale: 0.1 }) });
    await waitLabSettled(lab, { timeoutMs: 20_000 });
    const key = 'storageclass.kubernetes.io/is-default-class';
    const classes = lab.store.list('storageclasses.storage.k8s.io').items;
    const immediate = classes.find((c) => (c as { volumeBindingMode?: string }).volumeBindingMode !== 'WaitForFirstConsumer')!;
    expect(immediate).toBeDefined();
    for (const c of classes) await lab.store.patch('storageclasses.storage.k8s.io', undefined, c.metadata.name!, 'merge', { metadata: { annotations: { [key]: c === immediate ? 'true' : 'false' } } });
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-validate-'));
    const io = captureIo(dir);
    const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS: 15, only: ['storage'] });
    const report = JSON.parse(io.out()) as Report;
    expect(report.results.map((r) => [r.id, r.status])).toEqual([['storage', 'pass']]);
    expect(report.results[0]!.evidence).toMatchObject({ storageClass: immediate.metadata.name, bindingMode: 'Immediate', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(report.results[0]!.summary).toMatch(/bound in [\d.]+s, attached in [\d.]+s, data read back .*volume released/);
    expect(code).toBe(0);
    await expectClean(lab);
  }, 180_000);

  it('a Flannel lab fails the NetworkPolicy suite naming flannel, and only that suite', async () => {
    const lab = await labs.start({ nodes: 3, cni: 'flannel', controllers: createControllers({ timeScale: 0.1 }) });
    await waitLabSettled(lab, { timeoutMs: 20_000 });
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-validate-'));
    const io = captureIo(dir);
    const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS: 15 });
    const report = JSON.parse(io.out()) as Report;
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual({ ...HEALTHY, netpol: 'fail' });
    expect(report.results.find((r) => r.id === 'netpol')!.why).toBe('the CNI (flannel) ignores NetworkPolicy objects: every policy in this cluster is decoration');
    expect(code).toBe(1);
    await expectClean(lab);
  }, 180_000);

  it('buildValidateStage runs inside another plan (as setup does), finding the kubeconfig bootstrap stored', async () => {
    const lab = await labs.start({ nodes: 3, controllers: createControllers({ timeScale: 0.1 }) });
    await waitLabSettled(lab, { timeoutMs: 20_000 });
    const state = mkdtempSync(path.join(tmpdir(), 'gw-setup-'));
    mkdirSync(path.join(state, 'secrets'), { recursive: true });
    copyFileSync(lab.kubeconfigPath, path.join(state, 'secrets', 'kubeconfig'));
    const stage = buildValidateStage({ only: ['control-plane', 'dns'], timeoutS: 15, env: {} });
    expect(stage.steps.map((st) => [st.id, st.stage, st.continueOnFail])).toEqual([['control-plane', 'validate', true], ['dns', 'validate', true]]);
    const io = captureIo(state);
    const summary = await runPlan({ title: 'setup', stages: [stage] }, { command: 'setup', stateDir: state, io, json: true, renderer: 'silent', printResults: false, cleanup: [(ctx) => stage.cleanup(ctx)] });
    expect(summary.results.map((r) => [r.id, r.status])).toEqual([['control-plane', 'pass'], ['dns', 'pass']]);
    await expectClean(lab);
  }, 180_000);

  it.each(FAULT_DIAGNOSES)('fault %s fails exactly %j with the cause', async (fault, failing, suite, summary, why) => {
    // The fault cannot heal: the failing suite waits out its whole timeout, so keep it short.
    const { report, code, lab } = await validateLab([fault], 12);
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual({ ...HEALTHY, ...failing });
    expect(code).toBe(1);
    const r = report.results.find((x) => x.id === suite)!;
    expect(r.summary).toMatch(summary);
    expect(r.why).toMatch(why);
    expect(r.fix).toBeTruthy();
    await expectClean(lab);
  }, 180_000);
});
