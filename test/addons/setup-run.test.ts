/**
 * The add-on stages run by the real engine: a strict fake helm on a PATH built from scratch, the lab as the
 * cluster (its kubeconfig where bootstrap leaves one: <stateDir>/secrets/kubeconfig), run records checked.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildBackupStage, buildCniStage } from '../../src/addons/stages.js';
import { startControllers } from '../../src/lab/controllers/index.js';
import { labForTests } from '../helpers/lab.js';
import { runPlan } from '../../src/run/engine.js';
import { createFakeTools } from '../helpers/fake-tools.js';
import { buildAddonSpec } from './spec.js';

function captureIo() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  stdout.on('data', (c) => (o += c));
  stderr.resume();
  return { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1' }, cwd: process.cwd(), out: () => o };
}

const lab = labForTests({ nodes: 3, controlPlanes: 1, cni: 'cilium', controllers: startControllers });

describe('setup: cni and backup stages against the lab', () => {
  it('helm installs cilium with the written values, the gate sees the DaemonSet ready, the backup CronJob is applied', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'gw-addons-run-'));
    mkdirSync(path.join(stateDir, 'secrets'), { recursive: true, mode: 0o700 });
    const kubeconfig = path.join(stateDir, 'secrets', 'kubeconfig');
    copyFileSync(lab().kubeconfigPath, kubeconfig);
    const fakes = createFakeTools(mkdtempSync(path.join(tmpdir(), 'gw-addons-fakes-')), {
      helm: [{
        match: ['upgrade', '--install', 'cilium', 'cilium', '--repo', 'https://helm.cilium.io/', '--version', '1.19.0', '--namespace', 'kube-system', '--values', /.*\/addons\/cilium-values\.yaml/, '--kubeconfig', kubeconfig],
        stdout: 'Release "cilium" does not exist. Installing it now.\n',
        times: 1,
      }],
    });
    const spec = buildAddonSpec({ method: 'kubeadm', cni: 'cilium' });
    const o = { runDir: path.join(stateDir, 'runs', 'x'), stateDir, gate: { intervalMs: 200, timeoutMs: 30_000 } };
    const plan = { title: 'add-ons', stages: [buildCniStage(spec, o), buildBackupStage(spec, o)] };
    const io = captureIo();
    const s = await runPlan(plan, { command: 'setup', stateDir, io, env: fakes.env, renderer: 'silent' });
    expect(s.results.map((r) => `${r.id} ${r.status}`), JSON.stringify(s.results, null, 1)).toEqual(['cni-helm-cilium pass', 'cni-rollout pass', 'backup-apply pass']);
    fakes.verify();

    const values = YAML.parse(readFileSync(path.join(s.runDir, 'addons', 'cilium-values.yaml'), 'utf8'));
    expect(values).toMatchObject({ kubeProxyReplacement: true, k8sServiceHost: '127.0.10.11', k8sServicePort: 6443 });
    const audit = readFileSync(path.join(s.runDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.map((a) => a.argv.slice(0, 4).join(' '))).toEqual(['helm upgrade --install cilium']);
    expect(audit[0].step).toBe('cni-helm-cilium');
    // The lab token in the kubeconfig never reaches the records.
    expect(readFileSync(path.join(s.runDir, 'report.json'), 'utf8')).not.toContain(lab().token);
  });
});
