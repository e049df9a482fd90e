/**
 * Real talosctl (v1.14.1, built by `npm run real-tools`): groundwork's exact `gen secrets` and `gen config` argv
 * and patches, for every example spec, the rehearse default and a wizard-saved spec, in both config formats
 * (Talos v1.14's typed documents and the classic v1alpha1 of v1.12/v1.13). Every machine config a node ends up
 * with (the generated role config plus the node's patch, as `apply-config --config-patch` merges them) must pass
 * `talosctl validate --mode metal`. HOME and TALOSCONFIG point at temp dirs: nothing lands in ~/.talos.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBootstrapStage } from '../../src/bootstrap/stage.js';
import { bootstrapLayout } from '../../src/bootstrap/files.js';
import { talosRole } from '../../src/bootstrap/talos.js';
import { parseSpec, type LoadedSpec } from '../../src/spec/load.js';
import { defaultDraft, toYaml } from '../../src/ui/wizard/model.js';
import { realTool } from '../helpers/real-tools.js';

const REPO = path.resolve(import.meta.dirname, '../..');

let home: string;
beforeAll(() => {
  home = mkdtempSync(path.join(tmpdir(), 'gw-real-talos-home-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function talosctl(args: string[], cwd?: string): { code: number; out: string } {
  const r = spawnSync(realTool('talosctl'), args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: home, TALOSCONFIG: path.join(home, 'talosconfig') },
    timeout: 120_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function example(name: string, edit: (t: string) => string = (t) => t): LoadedSpec {
  // The example addresses stand for real machines: only their shape matters here, nothing is dialled.
  return parseSpec(edit(readFileSync(path.join(REPO, 'examples', `${name}.yaml`), 'utf8')), `examples/${name}.yaml`);
}

/** A spec variant: the lab example with some lines replaced (each must be there, so the table can't rot). */
function labWith(...pairs: [string, string][]): LoadedSpec {
  return example('lab', (t) => {
    for (const [from, to] of pairs) {
      if (!t.includes(from)) throw new Error(`not in examples/lab.yaml: ${from}`);
      t = t.replace(from, to);
    }
    return t;
  });
}

const SPECS: Array<[string, () => LoadedSpec]> = [
  ['examples/talos-ha.yaml (VIP, Cilium)', () => example('talos-ha')],
  ['examples/lab.yaml (the rehearse default)', () => example('lab')],
  ['a wizard-saved spec', () => parseSpec(toYaml(defaultDraft()), 'cluster.yaml')],
  ['Talos v1.14 with flannel, labels, taints, a node install disk and a mirror', () =>
    labWith(
      ['cni: cilium', 'cni: flannel'],
      ['- { name: w-1, address: 127.0.100.21, role: worker }', '- { name: w-1, address: 127.0.100.21, role: worker, installDisk: /dev/nvme0n1, labels: { tier: db }, taints: ["dedicated=db:NoSchedule"] }'],
      ['    cni: flannel', '    cni: flannel\n  images:\n    registry: mirror.local:5000'],
    )],
  ['Talos v1.14 with Calico, dual-stack and a VIP', () =>
    labWith(['cni: cilium', 'cni: calico'], ['podCIDR: 10.244.0.0/16', 'podCIDR: "10.244.0.0/16,fd00:10:244::/56"'], ['serviceCIDR: 10.96.0.0/12', 'serviceCIDR: "10.96.0.0/12,fd00:10:96::/112"'], ['version: v1.14.1', 'version: v1.14.1\n      vip: 127.0.100.10'])],
  ['Talos v1.13 (classic format) with Cilium and a VIP', () => labWith(['version: v1.14.1', 'version: v1.13.6\n      vip: 127.0.100.10'], ['kubernetesVersion: "1.37.2"', 'kubernetesVersion: "1.36.4"'])],
  ['Talos v1.12 (classic format) with flannel, labels and taints', () =>
    labWith(
      ['version: v1.14.1', 'version: v1.12.7'],
      ['kubernetesVersion: "1.37.2"', 'kubernetesVersion: "1.35.3"'],
      ['cni: cilium', 'cni: flannel'],
      ['- { name: w-2, address: 127.0.100.22, role: worker }', '- { name: w-2, address: 127.0.100.22, role: worker, labels: { tier: web }, taints: ["gpu:NoExecute"] }'],
    )],
  ['Talos v1.12 (classic format) with Calico and no backups', () =>
    labWith(['version: v1.14.1', 'version: v1.12.7'], ['kubernetesVersion: "1.37.2"', 'kubernetesVersion: "1.35.3"'], ['cni: cilium', 'cni: calico\n  addons:\n    backup: false'])],
];

/** The argv of a bootstrap step as the plan shows it, with talosctl resolved to the real one. */
function stepArgv(stage: Awaited<ReturnType<typeof buildBootstrapStage>>, id: string): string[] {
  const step = stage.steps.find((s) => s.id === id);
  const argv = step?.preview?.argv?.[0];
  if (!argv) throw new Error(`no ${id} step in the bootstrap stage`);
  expect(argv[0]).toBe('talosctl');
  return argv.slice(1);
}

type Doc = Record<string, any>;

/** The settings groundwork is responsible for, from a final machine config of either format. */
function nodeFacts(text: string) {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Doc);
  const v1 = docs.find((d) => d.version === 'v1alpha1') ?? {};
  const kind = (k: string) => docs.find((d) => d.kind === k);
  const install = kind('UnattendedInstallConfig');
  const proxy = kind('KubeProxyConfig');
  return {
    hostname: kind('HostnameConfig')?.hostname ?? v1.machine?.network?.hostname,
    installImage: install?.installer?.image ?? v1.machine?.install?.image,
    installDisk: install ? /disk\.dev_path == "(.*)"/.exec(install.provisioning?.diskSelector?.match ?? '')?.[1] : v1.machine?.install?.disk,
    flannel: kind('KubeFlannelCNIConfig') !== undefined || (v1.cluster?.network !== undefined && v1.cluster.network.cni?.name !== 'none'),
    kubeProxy: proxy ? proxy.enabled !== false : kind('KubeClusterConfig') ? undefined : v1.cluster?.proxy?.disabled !== true,
    nodeIP: kind('KubeNodeConfig')?.nodeIP?.validSubnets ?? v1.machine?.kubelet?.nodeIP?.validSubnets,
    podSubnets: kind('KubeNetworkConfig')?.podSubnets ?? v1.cluster?.network?.podSubnets,
  };
}

/** Pod Security and the audit policy of a control plane's final config (issue 19), from either format. */
function securityFacts(text: string) {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Doc);
  const v1 = docs.find((d) => d.version === 'v1alpha1') ?? {};
  const kind = (k: string) => docs.find((d) => d.kind === k);
  const psa = kind('KubeAdmissionControlConfig')?.configuration ?? v1.cluster?.apiServer?.admissionControl?.find((a: Doc) => a.name === 'PodSecurity')?.configuration;
  const audit = kind('KubeAuditPolicyConfig')?.configuration ?? v1.cluster?.apiServer?.auditPolicy;
  const args = kind('KubeAPIServerConfig')?.extraArgs ?? v1.cluster?.apiServer?.extraArgs ?? {};
  return {
    enforce: psa?.defaults?.enforce,
    exempt: psa?.exemptions?.namespaces,
    omitStages: audit?.omitStages,
    secretsAt: audit?.rules?.find((r: Doc) => r.resources?.some((x: Doc) => x.resources?.includes('secrets')))?.level,
    maxAge: args['audit-log-maxage'],
  };
}

function expectedFacts(loaded: LoadedSpec, node: LoadedSpec['spec']['spec']['nodes'][number]) {
  const s = loaded.spec.spec;
  const cp = node.role === 'control-plane';
  const multidoc = s.bootstrap.talos.version.startsWith('v1.14');
  return {
    hostname: node.name,
    // The installer of the spec's Talos release, not of the talosctl that wrote the config.
    installImage: expect.stringMatching(new RegExp(`/metal-installer/[0-9a-f]{64}:${s.bootstrap.talos.version.replaceAll('.', '\\.')}$`)),
    installDisk: node.installDisk ?? s.bootstrap.talos.installDisk,
    // flannel and kube-proxy are control-plane documents in v1.14; classic configs carry both on every node.
    flannel: multidoc && !cp ? false : s.network.cni === 'flannel',
    kubeProxy: multidoc && !cp ? undefined : !(s.network.cni === 'cilium' && s.network.kubeProxyReplacement),
    nodeIP: [`${node.address}/32`],
    podSubnets: s.network.podCIDR.split(',').map((c) => c.trim()),
  };
}

// A dozen talosctl runs per spec: generous timeouts for a loaded machine (nothing here is timed).
describe('real talosctl: gen secrets, gen config and validate --mode metal on every node config', () => {
  it.each(SPECS)('%s', async (_name, load) => {
    const loaded = load();
    const spec = loaded.spec;
    const work = mkdtempSync(path.join(tmpdir(), 'gw-real-talos-'));
    try {
      const runDir = path.join(work, 'run');
      const stateDir = path.join(work, 'state');
      const stage = await buildBootstrapStage(loaded, { runDir, stateDir, writeFiles: true });
      const layout = bootstrapLayout(runDir, stateDir);

      const secrets = talosctl(stepArgv(stage, 'gen-secrets'));
      expect(secrets.code, secrets.out).toBe(0);
      const gen = talosctl(stepArgv(stage, 'gen-config'));
      expect(gen.code, gen.out).toBe(0);

      // The generated config is in the format groundwork chose for the spec's Talos version.
      const multidoc = parseAllDocuments(readFileSync(layout.talos.controlPlaneConfig, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
      const typed = multidoc.some((d) => d.kind === 'KubeClusterConfig');
      expect(typed).toBe(spec.spec.bootstrap.talos.version.startsWith('v1.14'));

      for (const node of spec.spec.nodes) {
        const base = talosRole(node) === 'controlplane' ? layout.talos.controlPlaneConfig : layout.talos.workerConfig;
        const out = path.join(work, `${node.name}.yaml`);
        const patched = talosctl(['machineconfig', 'patch', base, '--patch', `@${layout.talos.nodePatch(node.name)}`, '--output', out]);
        expect(patched.code, `${node.name}: ${patched.out}`).toBe(0);
        const v = talosctl(['validate', '--config', out, '--mode', 'metal']);
        expect(v.code, `${node.name}: ${v.out}`).toBe(0);
        expect(v.out, node.name).toMatch(/is valid for metal mode/);
        // What the node ends up with carries the spec, read back from the config talosctl wrote.
        expect(nodeFacts(readFileSync(out, 'utf8')), node.name).toEqual(expectedFacts(loaded, node));
        if (node.role === 'control-plane') expect(securityFacts(readFileSync(out, 'utf8')), node.name).toEqual({ enforce: 'baseline', exempt: ['kube-system'], omitStages: ['RequestReceived'], secretsAt: 'Metadata', maxAge: '30' });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('real talosctl validate is not vacuous', () => {
  it('rejects a machine config with a broken patch (an install disk that is not a path)', async () => {
    const loaded = example('lab');
    const work = mkdtempSync(path.join(tmpdir(), 'gw-real-talos-'));
    try {
      const stage = await buildBootstrapStage(loaded, { runDir: path.join(work, 'run'), stateDir: path.join(work, 'state'), writeFiles: true });
      const layout = bootstrapLayout(path.join(work, 'run'), path.join(work, 'state'));
      expect(talosctl(stepArgv(stage, 'gen-secrets')).code).toBe(0);
      expect(talosctl(stepArgv(stage, 'gen-config')).code).toBe(0);
      const patch = path.join(work, 'bad.yaml');
      writeFileSync(patch, 'apiVersion: v1alpha1\nkind: KubeNetworkConfig\npodSubnets: [not-a-cidr]\nserviceSubnets: [10.96.0.0/12]\n');
      const out = path.join(work, 'bad-node.yaml');
      const patched = talosctl(['machineconfig', 'patch', layout.talos.workerConfig, '--patch', `@${patch}`, '--output', out]);
      const v = patched.code === 0 ? talosctl(['validate', '--config', out, '--mode', 'metal']) : patched;
      expect(v.code).not.toBe(0);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});

