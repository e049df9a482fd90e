/**
 * Real kubeadm (v1.37.2, built by `npm run real-tools`): every init and join configuration groundwork writes
 * passes `kubeadm config validate`, and `kubeadm config images list` names exactly the images the plan tells the
 * operator to put in the air-gap mirror. kubeadm only reads the files here: nothing is dialled (the versions are
 * explicit, so it never asks dl.k8s.io for "stable").
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapLayout, buildBootstrapFiles, renderYamlDocs } from '../../src/bootstrap/files.js';
import { buildKubeadmImageList, buildKubeadmJoinConfig } from '../../src/bootstrap/kubeadm.js';
import { buildBootstrapStage } from '../../src/bootstrap/stage.js';
import { parseSpec, type LoadedSpec } from '../../src/spec/load.js';
import { defaultDraft, setPath, toYaml } from '../../src/ui/wizard/model.js';
import { realTool } from '../helpers/real-tools.js';

const REPO = path.resolve(import.meta.dirname, '../..');
// Join credentials in the shapes kubeadm checks (token [a-z0-9]{6}.[a-z0-9]{16}, sha256 pin, 32-byte hex key).
const CREDS = { token: 'abcdef.0123456789abcdef', caCertHash: `sha256:${'a1'.repeat(32)}`, certificateKey: 'f0'.repeat(32) };

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'gw-real-kubeadm-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function kubeadm(args: string[]): { code: number; out: string; stdout: string } {
  const r = spawnSync(realTool('kubeadm'), args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: work }, timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

function kubeadmSmall(...pairs: [string, string][]): LoadedSpec {
  let t = readFileSync(path.join(REPO, 'examples', 'kubeadm-small.yaml'), 'utf8');
  for (const [from, to] of pairs) {
    if (!t.includes(from)) throw new Error(`not in examples/kubeadm-small.yaml: ${from}`);
    t = t.replace(from, to);
  }
  return parseSpec(t, 'examples/kubeadm-small.yaml');
}

const HA_NODES = `  nodes:
    - { name: cp-1, address: 10.0.20.11, role: control-plane }
    - { name: cp-2, address: 10.0.20.12, role: control-plane }
    - { name: cp-3, address: 10.0.20.13, role: control-plane }
    - { name: w-1, address: 10.0.20.21, role: worker, labels: { tier: db }, taints: ["dedicated=db:NoSchedule"] }
`;

const SPECS: Array<[string, () => LoadedSpec]> = [
  ['examples/kubeadm-small.yaml (Calico)', () => kubeadmSmall()],
  ['three control planes, Cilium without kube-proxy, labels and taints', () =>
    kubeadmSmall(['cni: calico', 'cni: cilium'], [readFileSync(path.join(REPO, 'examples', 'kubeadm-small.yaml'), 'utf8').match(/ {2}nodes:\n(?: {4}- .*\n)+/)![0], HA_NODES])],
  ['flannel, an air-gap mirror and extra SANs', () =>
    kubeadmSmall(['cni: calico', 'cni: flannel'], ['  network:', '  images:\n    registry: mirror.local:5000/\n  network:'], ['        identityFile: ~/.ssh/id_ed25519', '        identityFile: ~/.ssh/id_ed25519\n      certSANs: [api.example.test]'])],
  ['Cilium keeping kube-proxy, a mirror, dual-stack', () =>
    kubeadmSmall(
      ['cni: calico', 'cni: cilium\n    kubeProxyReplacement: false'],
      ['podCIDR: 192.168.0.0/16', 'podCIDR: "192.168.0.0/16,fd00:10:244::/56"'],
      ['serviceCIDR: 10.96.0.0/12', 'serviceCIDR: "10.96.0.0/12,fd00:10:96::/112"'],
      ['  network:', '  images:\n    registry: registry.internal\n  network:'],
    )],
  // The wizard's own defaults sit on loopback for the lab, and kubeadm refuses to advertise a loopback address:
  // the operator types the machines' addresses, as here.
  ['a wizard-saved spec with kubeadm chosen and real-looking addresses', () =>
    parseSpec(toYaml(setPath(defaultDraft(), ['spec', 'bootstrap', 'method'], 'kubeadm')).replace(/127\.0\.100\./g, '10.0.30.'), 'cluster.yaml')],
  ['Kubernetes 1.36 (kubeadm 1.37 deploys one minor back)', () => kubeadmSmall(['kubernetesVersion: "1.37.2"', 'kubernetesVersion: "1.36.4"'])],
  ['security: restricted enforce, its own exemptions and audit retention', () =>
    kubeadmSmall(['  network:', '  security:\n    podSecurity: { enforce: restricted, exemptNamespaces: [kube-system, ingress] }\n    audit: { maxAge: 90, maxBackups: 20, maxSize: 200 }\n  network:'])],
  ['security: no audit log (spec.security.audit false)', () => kubeadmSmall(['  network:', '  security:\n    audit: false\n  network:'])],
];

describe('real kubeadm config validate: every init and join configuration', () => {
  it.each(SPECS)('%s', (_name, load) => {
    const { spec } = load();
    const dir = mkdtempSync(path.join(work, 'spec-'));
    const layout = bootstrapLayout(path.join(dir, 'run'), path.join(dir, 'state'));
    const [init] = buildBootstrapFiles(spec, layout);
    const initFile = path.join(dir, 'kubeadm.yaml');
    writeFileSync(initFile, init!.content);
    const v = kubeadm(['config', 'validate', '--config', initFile]);
    expect(v.code, v.out).toBe(0);
    expect(v.out).not.toMatch(/deprecated|unknown field/i);

    for (const node of spec.spec.nodes.slice(1)) {
      const file = path.join(dir, `join-${node.name}.yaml`);
      writeFileSync(file, renderYamlDocs([buildKubeadmJoinConfig(spec, node, CREDS)]));
      const j = kubeadm(['config', 'validate', '--config', file]);
      expect(j.code, `${node.name}: ${j.out}`).toBe(0);
      expect(j.out, node.name).not.toMatch(/deprecated|unknown field/i);
    }
  });

  it('the validated ClusterConfiguration wires Pod Security, the audit log and Secret encryption into kube-apiserver', () => {
    const { spec } = kubeadmSmall();
    const dir = mkdtempSync(path.join(work, 'spec-'));
    const layout = bootstrapLayout(path.join(dir, 'run'), path.join(dir, 'state'));
    const files = buildBootstrapFiles(spec, layout);
    const docs = parseAllDocuments(files[0]!.content).map((d) => d.toJS() as Record<string, any>);
    const apiServer = docs.find((d) => d.kind === 'ClusterConfiguration')!.apiServer;
    const args = Object.fromEntries((apiServer.extraArgs as { name: string; value: string }[]).map((a) => [a.name, a.value]));
    expect(args).toMatchObject({
      'admission-control-config-file': '/etc/kubernetes/groundwork/admission.yaml',
      'encryption-provider-config': '/etc/kubernetes/groundwork/encryption.yaml',
      'audit-policy-file': '/etc/kubernetes/groundwork/audit-policy.yaml',
      'audit-log-path': '/var/log/kubernetes/audit/audit.log',
      'audit-log-maxage': '30', 'audit-log-maxbackup': '10', 'audit-log-maxsize': '100',
    });
    expect(apiServer.extraVolumes).toEqual([
      { name: 'groundwork-security', hostPath: '/etc/kubernetes/groundwork', mountPath: '/etc/kubernetes/groundwork', readOnly: true, pathType: 'DirectoryOrCreate' },
      { name: 'audit-log', hostPath: '/var/log/kubernetes/audit', mountPath: '/var/log/kubernetes/audit', readOnly: false, pathType: 'DirectoryOrCreate' },
    ]);
    // The two files the flags name are generated beside the config (the encryption key is made at run time, secret).
    expect(files.map((f) => path.basename(f.path))).toEqual(['kubeadm.yaml', 'admission.yaml', 'audit-policy.yaml']);
    const admission = parseAllDocuments(files[1]!.content)[0]!.toJS() as Record<string, any>;
    expect(admission.plugins[0].configuration.defaults).toMatchObject({ enforce: 'baseline', audit: 'restricted', warn: 'restricted' });
    expect(admission.plugins[0].configuration.exemptions.namespaces).toEqual(['kube-system']);
  });

  it('deploys its own minor and one back, not two: the nodes run the kubeadm of spec.kubernetesVersion (preflight checks it)', () => {
    const { spec } = kubeadmSmall(['kubernetesVersion: "1.37.2"', 'kubernetesVersion: "1.35.3"'], ['cni: calico', 'cni: flannel']);
    const [init] = buildBootstrapFiles(spec, bootstrapLayout(path.join(work, 'r'), path.join(work, 's')));
    const file = path.join(work, 'k135.yaml');
    writeFileSync(file, init!.content);
    const v = kubeadm(['config', 'validate', '--config', file]);
    expect(v.code).not.toBe(0);
    expect(v.out).toMatch(/control plane version >= 1\.36\.0/);
  });

  it('refuses the retired kubeadm.k8s.io/v1beta3 (which is why groundwork writes v1beta4 only)', () => {
    const { spec } = kubeadmSmall();
    const [init] = buildBootstrapFiles(spec, bootstrapLayout(path.join(work, 'r'), path.join(work, 's')));
    const file = path.join(work, 'v1beta3.yaml');
    writeFileSync(file, init!.content.replaceAll('kubeadm.k8s.io/v1beta4', 'kubeadm.k8s.io/v1beta3'));
    const v = kubeadm(['config', 'validate', '--config', file]);
    expect(v.code).not.toBe(0);
    expect(v.out).toMatch(/old API spec: "kubeadm.k8s.io\/v1beta3"/);
  });
});

describe('real kubeadm config images list: the air-gap mirror list', () => {
  it.each(SPECS)('%s: the plan lists exactly what kubeadm pulls', async (_name, load) => {
    const loaded = load();
    const dir = mkdtempSync(path.join(work, 'images-'));
    const layout = bootstrapLayout(path.join(dir, 'run'), path.join(dir, 'state'));
    const [init] = buildBootstrapFiles(loaded.spec, layout);
    const file = path.join(dir, 'kubeadm.yaml');
    writeFileSync(file, init!.content);
    const r = kubeadm(['config', 'images', 'list', '--config', file]);
    expect(r.code, r.out).toBe(0);
    const fromKubeadm = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    expect(buildKubeadmImageList(loaded.spec).map((i) => i.image)).toEqual(fromKubeadm);
    // The plan shows that list (with the upstream source of each mirrored image).
    const stage = await buildBootstrapStage(loaded, { runDir: path.join(dir, 'plan', 'runs', '<run-id>'), stateDir: path.join(dir, 'plan') });
    const note = stage.notes?.find((n) => n.startsWith('kubeadm pulls')) ?? '';
    for (const image of fromKubeadm) expect(note).toContain(image);
  });
});
