/**
 * groundwork's exact helm steps (namespaces first, then `helm upgrade --install` with the values it writes) run
 * with the real helm against a real control plane (Pod Security as Talos configures it). The chart repository is
 * spec.images.chartRepository pointed at a loopback HTTP repository the test serves: stand-in charts with the
 * names and versions groundwork pins (`helm package` + `helm repo index`), each rendering its values into a
 * ConfigMap and, like the real ones, a node agent DaemonSet with hostNetwork and hostPath volumes.
 * Checked: install, a re-run that changes nothing, an upgrade with new values, the namespaces' Pod Security labels,
 * no Pod Security warning from the API server, and that Fluent Bit's outputs replace the chart's defaults.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHARTS, FLUENT_BIT_CHART, type ChartRef } from '../../src/addons/charts.js';
import { buildCniStage, buildMonitoringStage } from '../../src/addons/stages.js';
import { executeStep } from '../../src/run/engine.js';
import type { Step } from '../../src/run/types.js';
import type { Spec } from '../../src/spec/schema.js';
import { buildAddonSpec, type AddonFixture } from '../addons/spec.js';
import { createTestContext } from '../helpers/context.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { realToolsPath } from '../helpers/real-tools.js';

/** The fluent-bit chart's default outputs (0.50.0 values.yaml): what groundwork's values must replace. */
const FLUENT_BIT_DEFAULT_OUTPUTS = `[OUTPUT]
    Name es
    Match kube.*
    Host elasticsearch-master
    Logstash_Format On
    Retry_Limit False

[OUTPUT]
    Name es
    Match host.*
    Host elasticsearch-master
    Logstash_Format On
    Logstash_Prefix node
    Retry_Limit False
`;

/** A stand-in chart: same name and version; its values as a ConfigMap; a node agent like the real chart's. */
function writeStandInChart(root: string, chart: ChartRef): string {
  const dir = path.join(root, chart.chart);
  mkdirSync(path.join(dir, 'templates'), { recursive: true });
  writeFileSync(path.join(dir, 'Chart.yaml'), YAML.stringify({ apiVersion: 'v2', name: chart.chart, version: chart.version, appVersion: '1.0.0', description: `stand-in for ${chart.chart}` }));
  const values: Record<string, unknown> = chart.chart === 'fluent-bit' ? { config: { inputs: '[INPUT]\n    Name tail\n', outputs: FLUENT_BIT_DEFAULT_OUTPUTS } } : {};
  writeFileSync(path.join(dir, 'values.yaml'), YAML.stringify(values));
  writeFileSync(path.join(dir, 'templates', 'values.yaml'), [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ .Release.Name }}-values',
    'data:',
    '  values.json: {{ toJson .Values | quote }}',
    ...(chart.chart === 'fluent-bit' ? ['  fluent-bit.conf: {{ printf "%s\\n%s" .Values.config.inputs .Values.config.outputs | quote }}'] : []),
    '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'templates', 'agent.yaml'), [
    'apiVersion: apps/v1',
    'kind: DaemonSet',
    'metadata:',
    '  name: {{ .Release.Name }}-agent',
    'spec:',
    '  selector: { matchLabels: { app: {{ .Release.Name }}-agent } }',
    '  template:',
    '    metadata: { labels: { app: {{ .Release.Name }}-agent } }',
    '    spec:',
    '      hostNetwork: true',
    '      hostPID: true',
    '      containers:',
    '        - name: agent',
    '          image: registry.k8s.io/pause:3.10',
    '          volumeMounts: [{ name: host, mountPath: /host, readOnly: true }]',
    '      volumes: [{ name: host, hostPath: { path: / } }]',
    '',
  ].join('\n'));
  return dir;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

function serveDirectory(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const file = path.join(dir, path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, ''));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.yaml') ? 'text/yaml' : 'application/gzip' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/charts/` });
  }));
}

describe('helm: groundwork steps with the real helm, a loopback chart repository and a real control plane', () => {
  let cp: ControlPlane;
  let repo: { server: Server; url: string };
  let helmEnv: Record<string, string>;
  let helm: string;

  beforeAll(async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'gw-helm-'));
    const pathDir = realToolsPath(['helm']);
    helm = path.join(pathDir, 'helm');
    // helm's own state in the test's temp dir: no repositories or caches of the machine.
    helmEnv = { PATH: pathDir, HOME: work, HELM_CACHE_HOME: path.join(work, 'cache'), HELM_CONFIG_HOME: path.join(work, 'config'), HELM_DATA_HOME: path.join(work, 'data'), NO_COLOR: '1' };
    const [started] = await Promise.all([
      startControlPlane({ podSecurity: 'talos' }),
      (async () => {
        const served = path.join(work, 'repo');
        mkdirSync(path.join(served, 'charts'), { recursive: true });
        repo = await serveDirectory(served);
        for (const chart of ALL_CHARTS) {
          const r = await run(helm, ['package', writeStandInChart(path.join(work, 'src'), chart), '--destination', path.join(served, 'charts')], helmEnv);
          expect(r.stderr).toBe('');
        }
        const idx = await run(helm, ['repo', 'index', path.join(served, 'charts'), '--url', repo.url], helmEnv);
        expect(idx.code).toBe(0);
      })(),
    ]);
    cp = started;
    // A node (no kubelet behind it) so the DaemonSets want pods and admission is asked about them.
    expect((await cp.applyServerSide([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } }])).code).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await cp?.stop();
    await new Promise((r) => repo?.server.close(r));
  });

  function specFor(o: AddonFixture, extra: (s: Spec) => void = () => {}): Spec {
    const spec = buildAddonSpec(o);
    spec.spec.images.chartRepository = repo.url;
    extra(spec);
    return spec;
  }

  /** The stages' steps without the rollout gates (no kubelet: nothing ever becomes Ready). */
  function steps(spec: Spec, runDir: string, stateDir: string): Step[] {
    return [...buildCniStage(spec, { runDir, stateDir }).steps, ...buildMonitoringStage(spec, { runDir, stateDir }).steps].filter((s) => !s.id.endsWith('-rollout'));
  }

  async function runSteps(spec: Spec) {
    const ctx = { ...createTestContext({ env: helmEnv }), values: { kubeconfig: cp.kubeconfig } };
    const results = [];
    for (const step of steps(spec, ctx.runDir, ctx.stateDir)) results.push(await executeStep(step, ctx));
    return { results, ctx };
  }

  async function release(ns: string, name: string): Promise<{ revision: number; status: string; chart: string }> {
    const r = await run(helm, ['list', '-n', ns, '--kubeconfig', cp.kubeconfig, '-o', 'json'], helmEnv);
    const list = JSON.parse(r.stdout) as Array<{ name: string; revision: string; status: string; chart: string }>;
    const rel = list.find((x) => x.name === name)!;
    return { revision: Number(rel.revision), status: rel.status, chart: rel.chart };
  }

  async function configMap(ns: string, name: string): Promise<{ resourceVersion: string; data: Record<string, string> }> {
    const r = await cp.kubectl(['-n', ns, 'get', 'configmap', name, '-o', 'json']);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as { metadata: { resourceVersion: string }; data: Record<string, string> };
    return { resourceVersion: o.metadata.resourceVersion, data: o.data };
  }

  async function agentPod(ns: string, app: string): Promise<string> {
    for (let i = 0; i < 150; i++) {
      const pods = (await cp.kubectl(['-n', ns, 'get', 'pods', '-l', `app=${app}`, '-o', 'name'])).stdout.trim();
      if (pods !== '') return pods;
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = await cp.kubectl(['-n', ns, 'get', 'events', '-o', 'custom-columns=REASON:.reason,MESSAGE:.message']);
    return `no pod of ${app}: ${events.stdout}`;
  }

  const CASES: Array<[string, AddonFixture, Array<[ChartRef['namespace'], string]>]> = [
    ['talos: cilium, kube-prometheus-stack, fluent-bit', { method: 'talos', cni: 'cilium', addons: { monitoring: 'kube-prometheus-stack', logging: 'fluent-bit' } }, [['kube-system', 'cilium'], ['monitoring', 'monitoring'], ['logging', 'fluent-bit']]],
    ['kubeadm: calico, victoria-metrics', { method: 'kubeadm', cni: 'calico', addons: { monitoring: 'victoria-metrics', logging: 'none' } }, [['tigera-operator', 'calico'], ['monitoring', 'monitoring']]],
    ['kubeadm: flannel', { method: 'kubeadm', cni: 'flannel', addons: { monitoring: 'none', logging: 'none' } }, [['kube-flannel', 'flannel']]],
  ];

  for (const [title, fixture, releases] of CASES) {
    it(`${title}: install, a re-run that changes nothing, an upgrade with new values`, async () => {
      const spec = specFor(fixture);
      const first = await runSteps(spec);
      for (const r of first.results) expect(r.status, `${r.id}: ${r.summary}\n${r.detail ?? ''}`).toBe('pass');
      // Every helm call went to the loopback repository, with the exact argv the plan shows.
      const helmCalls = first.ctx.audit.filter((a) => a.argv[0] === 'helm');
      expect(helmCalls).toHaveLength(releases.length);
      for (const c of helmCalls) expect(c.argv.slice(5, 7)).toEqual(['--repo', repo.url]);
      // The API server warned about nothing: the namespaces carry their level for warn and audit too.
      expect(first.ctx.lines.filter((l) => /PodSecurity|would violate/.test(l))).toEqual([]);

      const before = new Map<string, string>();
      for (const [ns, name] of releases) {
        expect(await release(ns, name)).toMatchObject({ revision: 1, status: 'deployed' });
        before.set(name, (await configMap(ns, `${name}-values`)).resourceVersion);
        if (ns !== 'kube-system') {
          const labels = JSON.parse((await cp.kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels}'])).stdout) as Record<string, string>;
          expect(labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/audit': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged', 'app.kubernetes.io/managed-by': 'groundwork' });
        }
        // Enforcement let the node agent's pod in (Talos' baseline default would refuse hostNetwork and hostPath).
        expect(await agentPod(ns, `${name}-agent`)).toMatch(new RegExp(`^pod/${name}-agent-\\w+$`));
      }

      const again = await runSteps(spec);
      for (const r of again.results) expect(r.status, r.summary).toBe('pass');
      for (const [ns, name] of releases) {
        expect(await release(ns, name)).toMatchObject({ revision: 2, status: 'deployed' });
        // Same values, same manifests: helm patched nothing.
        expect((await configMap(ns, `${name}-values`)).resourceVersion).toBe(before.get(name));
      }

      const changed = specFor(fixture, (s) => {
        s.spec.addons.retention = '30d';
        s.spec.images.registry = 'mirror.local:5000';
        s.spec.addons.logDestination = { type: 'loki', url: 'http://loki.logging:3100' };
      });
      const upgraded = await runSteps(changed);
      for (const r of upgraded.results) expect(r.status, r.summary).toBe('pass');
      for (const [ns, name] of releases) {
        expect(await release(ns, name)).toMatchObject({ revision: 3, status: 'deployed' });
        const cm = await configMap(ns, `${name}-values`);
        expect(cm.resourceVersion).not.toBe(before.get(name));
        expect(cm.data['values.json']).toContain('mirror.local:5000');
      }
      // The next case installs its own releases (the monitoring release changes chart between them).
      for (const [ns, name] of releases) expect((await run(helm, ['uninstall', name, '-n', ns, '--kubeconfig', cp.kubeconfig, '--wait'], helmEnv)).code).toBe(0);
    }, 180_000);
  }

  it("fluent-bit: groundwork's outputs replace the chart's Elasticsearch defaults, stdout by default, the operator's endpoint when set", async () => {
    const ns = FLUENT_BIT_CHART.namespace;
    await runSteps(specFor({ method: 'talos', cni: 'none', addons: { monitoring: 'none', logging: 'fluent-bit' } }));
    const conf = (await configMap(ns, 'fluent-bit-values')).data['fluent-bit.conf']!;
    expect(conf).not.toContain('elasticsearch-master');
    expect(conf).not.toContain('Retry_Limit False');
    expect(conf).toContain('[OUTPUT]\n    Name stdout\n    Match *\n    Format json_lines\n');
    // Its own logs are not read back (a stdout output would print them again, without end).
    expect(conf).toContain('Exclude_Path /var/log/containers/fluent-bit-*_logging_*.log');

    await runSteps(specFor({ method: 'talos', cni: 'none', addons: { monitoring: 'none', logging: 'fluent-bit', logDestination: { type: 'opensearch', url: 'https://logs.example.test:9200/' } } }));
    const conf2 = (await configMap(ns, 'fluent-bit-values')).data['fluent-bit.conf']!;
    expect(conf2).not.toContain('elasticsearch-master');
    expect(conf2).toContain('    Name opensearch\n    Match *\n    Host logs.example.test\n    Port 9200\n    tls On\n');
    expect(conf2.match(/\[OUTPUT\]/g)).toHaveLength(1);
  }, 120_000);
});
