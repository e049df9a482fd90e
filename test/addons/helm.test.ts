import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { CILIUM_CHART, FLUENT_BIT_CHART } from '../../src/addons/charts.js';
import { buildCniPlan } from '../../src/addons/cni.js';
import { buildHelmStep, buildHelmUpgradeArgv, renderValuesYaml, valuesFilePath } from '../../src/addons/helm.js';
import { buildCniStage, buildMonitoringStage } from '../../src/addons/stages.js';
import { executeStep } from '../../src/run/engine.js';
import { createTestContext } from '../helpers/context.js';
import { createFakeTools } from '../helpers/fake-tools.js';
import { buildAddonSpec } from './spec.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'gw-addons-'));

describe('helm argv (golden)', () => {
  it('upgrade --install from the chart repository, no --wait', () => {
    expect(buildHelmUpgradeArgv(CILIUM_CHART, '/run/addons/cilium-values.yaml', '/state/secrets/kubeconfig')).toEqual([
      'helm', 'upgrade', '--install', 'cilium', 'cilium', '--repo', 'https://helm.cilium.io/',
      '--version', '1.19.0', '--namespace', 'kube-system',
      '--values', '/run/addons/cilium-values.yaml', '--kubeconfig', '/state/secrets/kubeconfig',
    ]);
  });

  it('a local archive replaces the repository (air gap) and keeps the pinned version visible', () => {
    expect(buildHelmUpgradeArgv(FLUENT_BIT_CHART, '/v.yaml', '/k', { archives: { 'fluent-bit': '/charts/fluent-bit-0.50.0.tgz' } })).toEqual([
      'helm', 'upgrade', '--install', 'fluent-bit', '/charts/fluent-bit-0.50.0.tgz',
      '--version', '0.50.0', '--namespace', 'logging', '--values', '/v.yaml', '--kubeconfig', '/k',
    ]);
  });

  it('plan previews show each helm call with chart, version and values file', () => {
    const spec = buildAddonSpec({ cni: 'calico', addons: { monitoring: 'victoria-metrics', logging: 'fluent-bit' } });
    const o = { runDir: '/s/.groundwork/runs/<run-id>', stateDir: '/s/.groundwork' };
    const steps = [...buildCniStage(spec, o).steps, ...buildMonitoringStage(spec, o).steps].filter((s) => s.id.includes('-helm-'));
    expect(steps.map((s) => s.preview!.argv![0]!.join(' '))).toEqual([
      'helm upgrade --install calico tigera-operator --repo https://docs.tigera.io/calico/charts --version v3.30.3 --namespace tigera-operator --values /s/.groundwork/runs/<run-id>/addons/calico-values.yaml --kubeconfig /s/.groundwork/secrets/kubeconfig',
      'helm upgrade --install monitoring victoria-metrics-k8s-stack --repo https://victoriametrics.github.io/helm-charts/ --version 0.58.3 --namespace monitoring --values /s/.groundwork/runs/<run-id>/addons/monitoring-values.yaml --kubeconfig /s/.groundwork/secrets/kubeconfig',
      'helm upgrade --install fluent-bit fluent-bit --repo https://fluent.github.io/helm-charts --version 0.50.0 --namespace logging --values /s/.groundwork/runs/<run-id>/addons/fluent-bit-values.yaml --kubeconfig /s/.groundwork/secrets/kubeconfig',
    ]);
    expect(steps.map((s) => s.preview!.files)).toEqual([
      ['/s/.groundwork/runs/<run-id>/addons/calico-values.yaml'],
      ['/s/.groundwork/runs/<run-id>/addons/monitoring-values.yaml'],
      ['/s/.groundwork/runs/<run-id>/addons/fluent-bit-values.yaml'],
    ]);
    for (const a of steps.flatMap((s) => s.preview!.argv!)) expect(a).not.toContain('--wait');
  });

  it('values YAML starts with where it came from and parses back to the values', () => {
    const values = buildCniPlan(buildAddonSpec({ method: 'talos' }))!.release!.values;
    const text = renderValuesYaml(CILIUM_CHART, values);
    expect(text.split('\n')[0]).toBe('# Helm values for cilium 1.19.0 (https://helm.cilium.io/), release cilium in namespace kube-system.');
    expect(YAML.parse(text)).toEqual(values);
    expect(text).toContain('k8sServicePort: 7445\n');
  });
});

describe('helm step against a strict fake helm', () => {
  it('writes the values file into the run directory and runs exactly the planned helm call', async () => {
    const ctxProbe = createTestContext();
    const valuesFile = valuesFilePath(ctxProbe.runDir, CILIUM_CHART);
    const kubeconfig = path.join(ctxProbe.stateDir, 'lab-kubeconfig');
    const fakes = createFakeTools(tmp(), {
      helm: [{
        match: ['upgrade', '--install', 'cilium', 'cilium', '--repo', 'https://helm.cilium.io/', '--version', '1.19.0', '--namespace', 'kube-system', '--values', valuesFile, '--kubeconfig', kubeconfig],
        stdout: 'Release "cilium" has been upgraded. Happy Helming!\n',
        times: 1,
      }],
    });
    const ctx = { ...createTestContext({ env: fakes.env }), runDir: ctxProbe.runDir, stateDir: ctxProbe.stateDir, values: { kubeconfig } };
    const release = buildCniPlan(buildAddonSpec({ registry: 'mirror.local:5000' }))!.release!;
    const step = buildHelmStep({ stage: 'cni', release, runDir: '/planned', stateDir: ctxProbe.stateDir });
    const r = await executeStep(step, ctx);
    expect(r).toMatchObject({ status: 'pass', summary: 'cilium 1.19.0 applied as release cilium in kube-system' });
    fakes.verify();
    expect(YAML.parse(readFileSync(valuesFile, 'utf8'))).toEqual(release.values);
    expect(readFileSync(valuesFile, 'utf8')).toContain('repository: mirror.local:5000/cilium/cilium');
    expect(statSync(valuesFile).mode & 0o777).toBe(0o644);
  });

  it('without a kubeconfig from bootstrap it uses <stateDir>/secrets/kubeconfig', async () => {
    const base = createTestContext();
    const fakes = createFakeTools(tmp(), {
      helm: [{ match: ['upgrade', '--install', 'fluent-bit', /.*/, '--version', '0.50.0', '--namespace', 'logging', '--values', /.*fluent-bit-values\.yaml/, '--kubeconfig', path.join(base.stateDir, 'secrets', 'kubeconfig')] }],
    });
    const ctx = { ...createTestContext({ env: fakes.env }), runDir: base.runDir, stateDir: base.stateDir };
    const release = { chart: FLUENT_BIT_CHART, values: {} };
    const r = await executeStep(buildHelmStep({ stage: 'monitoring', release, runDir: base.runDir, stateDir: base.stateDir, sources: { archives: { 'fluent-bit': '/charts/fb.tgz' } } }), ctx);
    expect(r.status).toBe('pass');
    fakes.verify();
    expect(fakes.calls()[0]!.argv[3]).toBe('/charts/fb.tgz');
  });

  it('a failing helm fails the step with its command and stderr', async () => {
    const base = createTestContext();
    const fakes = createFakeTools(tmp(), {
      helm: [{ match: ['upgrade'], prefix: true, exitCode: 1, stderr: 'Error: INSTALLATION FAILED: Kubernetes cluster unreachable\n' }],
    });
    const ctx = { ...createTestContext({ env: fakes.env }), runDir: base.runDir, stateDir: base.stateDir };
    const step = buildHelmStep({ stage: 'cni', release: buildCniPlan(buildAddonSpec())!.release!, runDir: base.runDir, stateDir: base.stateDir });
    const r = await executeStep({ ...step, retries: 0 }, ctx);
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/^helm exited with code 1: helm upgrade --install cilium/);
    expect(r.detail).toContain('Kubernetes cluster unreachable');
    expect(fakes.calls()).toHaveLength(1);
  });
});

describe('chart sources: archives, a repository mirror (spec.images.chartRepository), upstream', () => {
  it.each([
    [{}, ['fluent-bit', '--repo', 'https://fluent.github.io/helm-charts']],
    [{ repository: 'https://charts.internal.test/all/' }, ['fluent-bit', '--repo', 'https://charts.internal.test/all/']],
    [{ repository: 'oci://registry.internal.test/charts/' }, ['oci://registry.internal.test/charts/fluent-bit']],
    [{ repository: 'oci://registry.internal.test/charts', archives: { 'fluent-bit': '/a/fb.tgz' } }, ['/a/fb.tgz']],
  ])('%j', (sources, operand) => {
    expect(buildHelmUpgradeArgv(FLUENT_BIT_CHART, '/v.yaml', '/k', sources)).toEqual(['helm', 'upgrade', '--install', 'fluent-bit', ...operand, '--version', '0.50.0', '--namespace', 'logging', '--values', '/v.yaml', '--kubeconfig', '/k']);
  });
});
