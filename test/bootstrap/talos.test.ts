import { readFileSync } from 'node:fs';
import { parseTaintText, type Taint } from '../../src/spec/fields.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import Ajv2020 from 'ajv/dist/2020.js';
import {
  buildConfigEndpointsArgv,
  buildConfigNodesArgv,
  buildConfiguredProbeArgv,
  buildInsecureVersionArgv,
  buildTalosBaseConfig,
  buildTalosNodeConfig,
  buildTalosPatches,
  mergeTalosDocs,
  parseServerTalosVersion,
  sameTalosMinor,
  selectTalosConfigFormat,
  type TalosDoc,
  type TalosPaths,
} from '../../src/bootstrap/talos.js';
import { buildFixtureSpec } from './spec-fixtures.js';

// Talos v1.14.1's own schema (pkg/machinery/config/schemas/config.schema.json): the v1.14.0 one in
// /work/shared/schemas names the install document "UnattendedInstall", which the real talosctl does not register.
const schema = JSON.parse(readFileSync(new URL('../fixtures/talos/config-v1.14.1.schema.json', import.meta.url), 'utf8'));
// The Talos schema carries editor keywords (markdownDescription, x-intellij-...) that strict mode rejects.
const ajv = new Ajv2020.default({ strict: false, allErrors: true });
const validateDoc = ajv.compile(schema);

function schemaErrors(docs: TalosDoc[]): string[] {
  return docs.flatMap((d: TalosDoc) => (validateDoc(d) ? [] : [`${String((d as TalosDoc).kind ?? "v1alpha1")}: ${ajv.errorsText(validateDoc.errors?.slice(0, 3))}`]));
}

function find(docs: TalosDoc[], kind: string): TalosDoc | undefined {
  return docs.find((d) => d.kind === kind);
}

const paths: TalosPaths = { talosconfig: '/s/talos/talosconfig' };

describe('selectTalosConfigFormat', () => {
  it.each([
    ['v1.10.5', 'v1alpha1'],
    ['v1.13.2', 'v1alpha1'],
    ['v1.14.0', 'multidoc'],
    ['v1.15.1', 'multidoc'],
    ['v2.0.0', 'multidoc'],
  ])('%s -> %s', (v, f) => expect(selectTalosConfigFormat(v)).toBe(f));
});

// Talos v1.14: every merged document of every node validates against the v1.14 schema.
describe.each(['cilium', 'calico', 'flannel', 'none'] as const)('Talos v1.14 config with CNI %s', (cni) => {
  it.each([
    ['no VIP', undefined],
    ['a VIP', '127.0.10.10'],
  ])('with %s validates against the v1.14 schema for every node', (_l, vip) => {
    const spec = buildFixtureSpec({ cni, talosVersion: 'v1.14.1', vip });
    for (const node of spec.spec.nodes) {
      const docs = buildTalosNodeConfig(spec, node);
      expect(schemaErrors(docs), node.name).toEqual([]);
      expect(find(docs, 'HostnameConfig')?.hostname).toBe(node.name);
      expect(find(docs, 'KubeClusterConfig')).toMatchObject({ clusterName: 'fixture', endpoint: spec.spec.endpoint });
      expect(find(docs, 'KubeNetworkConfig')).toMatchObject({ podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'], nodeCIDRMaskSizeIPv4: 24 });
      expect(find(docs, 'KubeNodeConfig')).toMatchObject({ nodeIP: { validSubnets: [`${node.address}/32`] } });
      expect(find(docs, 'UnattendedInstallConfig')).toMatchObject({ provisioning: { diskSelector: { match: 'disk.dev_path == "/dev/sda"' } } });
      // Flannel stays only when the spec asks for it; groundwork's CNI stage installs the others. Both flannel
      // and kube-proxy are control-plane documents (a worker config holding one is invalid).
      const cp = node.role === 'control-plane';
      expect(find(docs, 'KubeFlannelCNIConfig') !== undefined).toBe(cp && cni === 'flannel');
      expect(find(docs, 'KubeProxyConfig') !== undefined).toBe(cp);
      expect(find(docs, 'KubeProxyConfig')?.enabled).toBe(cp && cni === 'cilium' ? false : undefined);
      const vipDoc = find(docs, 'Layer2VIPConfig');
      if (vip && node.role === 'control-plane') expect(vipDoc).toMatchObject({ name: vip });
      else expect(vipDoc).toBeUndefined();
    }
  });
});

describe('the v1.14 schema catches a broken config (the validation is not vacuous)', () => {
  it.each([
    ['a classic machine.install field', { version: 'v1alpha1', machine: { type: 'worker', install: { disk: '/dev/sda' } } }],
    ['a pod subnet that is not a CIDR', { apiVersion: 'v1alpha1', kind: 'KubeNetworkConfig', podSubnets: ['10.244.0.0'], serviceSubnets: ['10.96.0.0/12'] }],
    ['kube-proxy without an image', { apiVersion: 'v1alpha1', kind: 'KubeProxyConfig', enabled: false }],
    ['an endpoint without https', { apiVersion: 'v1alpha1', kind: 'KubeClusterConfig', clusterName: 'x', endpoint: 'http://x:6443' }],
  ])('%s', (_l, d) => expect(schemaErrors([d as TalosDoc]).length).toBe(1));
});

describe.each(['cilium', 'calico', 'flannel', 'none'] as const)('classic (v1alpha1) patches with CNI %s', (cni) => {
  it('set cluster name, endpoint, subnets, CNI, kube-proxy and install disk', () => {
    const spec = buildFixtureSpec({ cni, talosVersion: 'v1.13.5' });
    const p = buildTalosPatches(spec);
    expect(p.format).toBe('v1alpha1');
    const c = p.cluster[0] as { cluster: Record<string, any>; machine: Record<string, any> };
    expect(c.cluster.clusterName).toBe('fixture');
    expect(c.cluster.controlPlane).toEqual({ endpoint: 'https://127.0.10.11:6443' });
    expect(c.cluster.network.podSubnets).toEqual(['10.244.0.0/16']);
    expect(c.cluster.network.serviceSubnets).toEqual(['10.96.0.0/12']);
    expect(c.cluster.network.cni).toEqual(cni === 'flannel' ? undefined : { name: 'none' });
    expect(c.cluster.proxy).toEqual(cni === 'cilium' ? { disabled: true } : undefined);
    expect(c.machine.install).toEqual({ disk: '/dev/sda' });
  });
});

describe('classic per-node patches', () => {
  it('give each node its hostname and node IP, and the VIP only to control planes', () => {
    const spec = buildFixtureSpec({ talosVersion: 'v1.13.5', vip: '127.0.10.10' });
    const p = buildTalosPatches(spec);
    for (const n of spec.spec.nodes) {
      const m = (p.nodes[n.name]![0] as { machine: Record<string, any> }).machine;
      // The hostname is a HostnameConfig beside the v1alpha1 document: gen config writes one (auto: stable) from v1.12 on.
      expect(p.nodes[n.name]![1]).toEqual({ apiVersion: 'v1alpha1', kind: 'HostnameConfig', auto: 'off', hostname: n.name });
      expect(m.network?.hostname).toBeUndefined();
      expect(m.kubelet.nodeIP.validSubnets).toEqual([`${n.address}/32`]);
      const vip = m.network?.interfaces?.[0]?.vip?.ip;
      expect(vip).toBe(n.role === 'control-plane' ? '127.0.10.10' : undefined);
    }
  });
  it('keeps kube-proxy when Cilium runs without kube-proxy replacement', () => {
    const p = buildTalosPatches(buildFixtureSpec({ cni: 'cilium', kubeProxyReplacement: false, talosVersion: 'v1.13.5' }));
    expect((p.cluster[0] as any).cluster.proxy).toBeUndefined();
  });
});

describe('mergeTalosDocs', () => {
  it('merges by kind, replaces lists, deletes with $patch and appends new kinds', () => {
    const base: TalosDoc[] = [
      { apiVersion: 'v1alpha1', kind: 'KubeNetworkConfig', podSubnets: ['a'], dnsDomain: 'cluster.local' },
      { apiVersion: 'v1alpha1', kind: 'KubeFlannelCNIConfig' },
    ];
    const out = mergeTalosDocs(base, [
      { apiVersion: 'v1alpha1', kind: 'KubeNetworkConfig', podSubnets: ['b'] },
      { apiVersion: 'v1alpha1', kind: 'KubeFlannelCNIConfig', $patch: 'delete' },
      { apiVersion: 'v1alpha1', kind: 'HostnameConfig', hostname: 'n' },
    ]);
    expect(out).toEqual([
      { apiVersion: 'v1alpha1', kind: 'KubeNetworkConfig', podSubnets: ['b'], dnsDomain: 'cluster.local' },
      { apiVersion: 'v1alpha1', kind: 'HostnameConfig', hostname: 'n' },
    ]);
    expect(base[0]!.podSubnets).toEqual(['a']);
  });
  it('the base alone validates for both roles (so failures point at our patches)', () => {
    const spec = buildFixtureSpec({ talosVersion: 'v1.14.0' });
    expect(schemaErrors(buildTalosBaseConfig(spec, 'controlplane'))).toEqual([]);
    expect(schemaErrors(buildTalosBaseConfig(spec, 'worker'))).toEqual([]);
  });
});

describe('talosctl argv', () => {
  it('talosconfig endpoints list every control plane; nodes the first', () => {
    const spec = buildFixtureSpec({});
    expect(buildConfigEndpointsArgv(spec, paths)).toEqual(['talosctl', '--talosconfig', '/s/talos/talosconfig', 'config', 'endpoints', '127.0.10.11', '127.0.10.12', '127.0.10.13']);
    expect(buildConfigNodesArgv(spec, paths)).toEqual(['talosctl', '--talosconfig', '/s/talos/talosconfig', 'config', 'nodes', '127.0.10.11']);
  });
  it('probes: maintenance mode is --insecure; configured uses the talosconfig', () => {
    const w = buildFixtureSpec({}).spec.nodes[3]!;
    expect(buildInsecureVersionArgv(w)).toEqual(['talosctl', 'version', '--insecure', '--nodes', '127.0.10.21']);
    expect(buildConfiguredProbeArgv(paths, w)).toEqual(['talosctl', '--talosconfig', '/s/talos/talosconfig', '--nodes', '127.0.10.21', '--endpoints', '127.0.10.21', 'version']);
  });
  it('any talosconfig path stays one argv element (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (p) => {
        const argv = buildConfigEndpointsArgv(buildFixtureSpec({}), { talosconfig: p });
        expect(argv[2]).toBe(p);
        expect(argv).toHaveLength(8);
      }),
    );
  });
});

describe('parseServerTalosVersion', () => {
  const out = 'Client:\n\tTag:         v1.10.5\nServer:\n\tNODE:        127.0.10.11\n\tTag:         v1.9.2\n\tSHA:         abc\n';
  it('reads the server tag, not the client one', () => expect(parseServerTalosVersion(out)).toBe('v1.9.2'));
  it('is undefined without a server block', () => expect(parseServerTalosVersion('Client:\n\tTag: v1.10.5\n')).toBeUndefined());
  it.each([
    ['v1.10.5', 'v1.10.0', true],
    ['v1.10.5', 'v1.9.2', false],
    ['v1.10.5', 'v2.10.5', false],
  ])('sameTalosMinor(%s, %s) = %s', (a, b, r) => expect(sameTalosMinor(a, b)).toBe(r));
});

describe('rendered patch files', () => {
  it.each(['v1.13.5', 'v1.14.1'])('Talos %s: the YAML written is the patches, document for document', async (version) => {
    const { parseAllDocuments } = await import('yaml');
    const { bootstrapLayout, buildBootstrapFiles } = await import('../../src/bootstrap/files.js');
    const spec = buildFixtureSpec({ talosVersion: version, vip: '127.0.10.10' });
    const files = buildBootstrapFiles(spec, bootstrapLayout('/r', '/s'));
    const p = buildTalosPatches(spec);
    const byPath = Object.fromEntries(files.map((f) => [f.path, parseAllDocuments(f.content).map((d) => d.toJS())]));
    expect(byPath['/r/bootstrap/talos/cluster-patch.yaml']).toEqual(p.cluster);
    for (const n of spec.spec.nodes) expect(byPath[`/r/bootstrap/talos/node-${n.name}.yaml`]).toEqual(p.nodes[n.name]);
    expect(files).toHaveLength(1 + spec.spec.nodes.length);
  });
});

describe('node labels and taints', () => {
  it.each(['v1.13.5', 'v1.14.1'])('Talos %s carries them into the node patch (and v1.14 still validates)', (version) => {
    const spec = buildFixtureSpec({ talosVersion: version });
    const w1 = spec.spec.nodes[3]!;
    w1.labels = { 'topology.kubernetes.io/zone': 'a', tier: 'db' };
    w1.taints = ['dedicated=db:NoSchedule', 'gpu:NoExecute'].map((t) => parseTaintText(t) as Taint);
    const docs = buildTalosNodeConfig(spec, w1);
    if (version === 'v1.14.1') {
      expect(schemaErrors(docs)).toEqual([]);
      expect(find(docs, 'KubeNodeConfig')).toMatchObject({ labels: w1.labels, taints: { dedicated: 'db:NoSchedule', gpu: 'NoExecute' } });
    } else {
      const m = (buildTalosPatches(spec).nodes['w-1']![0] as any).machine;
      expect(m.nodeLabels).toEqual(w1.labels);
      expect(m.nodeTaints).toEqual({ dedicated: 'db:NoSchedule', gpu: 'NoExecute' });
    }
  });
});

describe('Talos API access for the etcd backup CronJob', () => {
  it.each(['v1.13.5', 'v1.14.1'])('control planes allow os:etcd:backup from kube-system when backups are on (%s), workers do not', async (version) => {
    const { buildTalosPatches: build } = await import('../../src/bootstrap/talos.js');
    const spec = buildFixtureSpec({ talosVersion: version });
    const patches = build(spec);
    const text = (name: string) => JSON.stringify(patches.nodes[name]);
    const cp = spec.spec.nodes.find((n) => n.role === 'control-plane')!.name;
    const worker = spec.spec.nodes.find((n) => n.role === 'worker')!.name;
    expect(text(cp)).toContain('os:etcd:backup');
    expect(text(cp)).toContain('kube-system');
    expect(text(worker)).not.toContain('os:etcd:backup');
    const off = build({ ...spec, spec: { ...spec.spec, addons: { ...spec.spec.addons, backup: false } } });
    expect(JSON.stringify(off.nodes[cp])).not.toContain('os:etcd:backup');
  });
});
