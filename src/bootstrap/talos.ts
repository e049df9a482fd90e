/**
 * Talos machine config builders (pure, STYLE 2): patches from the spec, the talosctl argv that use them,
 * and a merge that shows the full config a node ends up with (tests validate it against the Talos schema).
 *
 * Two config formats exist. Talos before v1.14 takes the classic `v1alpha1` document (machine.install.disk,
 * cluster.network.cni, cluster.proxy.disabled) beside a few typed ones (HostnameConfig from v1.12 on); Talos v1.14
 * moved those settings into separate typed documents (KubeClusterConfig, KubeNetworkConfig, KubeProxyConfig,
 * UnattendedInstallConfig, ...) and the v1alpha1 document keeps only secrets-like fields. We pick by the spec's
 * Talos version. Both are checked against the real talosctl (test/real/talosctl.test.ts).
 */
import type { Taint } from '../spec/fields.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { buildTalosSecurityPatch } from './security.js';

export type TalosDoc = Record<string, unknown>;
export type TalosConfigFormat = 'v1alpha1' | 'multidoc';
export type TalosRole = 'controlplane' | 'worker';

/** Patches for `gen config` (cluster-wide) and per node for `apply-config` (role-specific ones live there too). */
export interface TalosPatches {
  format: TalosConfigFormat;
  cluster: TalosDoc[];
  /** Keyed by node name. */
  nodes: Record<string, TalosDoc[]>;
}

export interface TalosBuildOptions {
  /** Link that carries the VIP on Talos >= v1.14 (the classic format selects the physical NIC instead). */
  vipLink?: string;
}

function parseVersion(v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

export function selectTalosConfigFormat(talosVersion: string): TalosConfigFormat {
  const [major, minor] = parseVersion(talosVersion);
  return major > 1 || (major === 1 && minor >= 14) ? 'multidoc' : 'v1alpha1';
}

/** Cilium and Calico are installed by groundwork's CNI stage, and `none` means the operator brings one: Talos must not deploy flannel then. */
export function usesTalosFlannel(spec: Spec): boolean {
  return spec.spec.network.cni === 'flannel';
}

/** Cilium's eBPF kube-proxy replacement needs kube-proxy absent from the start. */
export function disablesKubeProxy(spec: Spec): boolean {
  return spec.spec.network.cni === 'cilium' && spec.spec.network.kubeProxyReplacement;
}

function splitCidrs(v: string): string[] {
  return v.split(',').map((c) => c.trim()).filter((c) => c !== '');
}

function hostPrefix(address: string): string {
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}

function image(spec: Spec, repo: string, tag: string): string {
  const registry = spec.spec.images.registry.replace(/\/+$/, '');
  return `${registry === '' ? 'registry.k8s.io' : registry}/${repo}:${tag}`;
}

/** Spec taints (parsed at the spec edge) as Talos writes them: key -> "value:Effect" (or "Effect"). */
export function talosTaints(taints: readonly Taint[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of taints) out[t.key] = t.value === '' ? t.effect : `${t.value}:${t.effect}`;
  return out;
}

export function controlPlanes(spec: Spec): NodeSpec[] {
  return spec.spec.nodes.filter((n) => n.role === 'control-plane');
}

export function talosRole(node: NodeSpec): TalosRole {
  return node.role === 'control-plane' ? 'controlplane' : 'worker';
}

function ipv4MaskSize(spec: Spec): number | undefined {
  const hasV4 = splitCidrs(spec.spec.network.podCIDR).some((c) => !c.includes(':'));
  const size = spec.spec.network.nodeMaskSize;
  return hasV4 && size <= 32 ? size : undefined;
}

function buildClassicPatches(spec: Spec): TalosPatches {
  const net = spec.spec.network;
  const cluster: TalosDoc = {
    clusterName: spec.metadata.name,
    controlPlane: { endpoint: spec.spec.endpoint },
    network: {
      podSubnets: splitCidrs(net.podCIDR),
      serviceSubnets: splitCidrs(net.serviceCIDR),
      ...(usesTalosFlannel(spec) ? {} : { cni: { name: 'none' } }),
    },
    ...(disablesKubeProxy(spec) ? { proxy: { disabled: true } } : {}),
  };
  const mask = ipv4MaskSize(spec);
  if (mask !== undefined) cluster.controllerManager = { extraArgs: { 'node-cidr-mask-size': String(mask) } };
  const common: TalosDoc = { machine: { install: { disk: spec.spec.bootstrap.talos.installDisk } }, cluster };

  const nodes: Record<string, TalosDoc[]> = {};
  const vip = spec.spec.bootstrap.talos.vip;
  const security = buildTalosSecurityPatch(spec, 'v1alpha1');
  for (const n of spec.spec.nodes) {
    const machine: TalosDoc = {
      // The VIP lives on the control planes' NIC; Talos elects one holder through etcd.
      ...(vip && n.role === 'control-plane' ? { network: { interfaces: [{ deviceSelector: { physical: true }, dhcp: true, vip: { ip: vip } }] } } : {}),
      kubelet: { nodeIP: { validSubnets: [hostPrefix(n.address)] } },
      ...(n.installDisk ? { install: { disk: n.installDisk } } : {}),
      ...(n.labels && Object.keys(n.labels).length ? { nodeLabels: { ...n.labels } } : {}),
      ...(n.taints?.length ? { nodeTaints: talosTaints(n.taints) } : {}),
    };
    const doc: TalosDoc = { machine };
    // Pod Security and the audit policy are the API server's: control planes only (src/bootstrap/security.ts).
    if (n.role === 'control-plane') doc.cluster = { etcd: { advertisedSubnets: [hostPrefix(n.address)] }, apiServer: security.classicApiServer };
    // gen config emits a HostnameConfig (auto: stable) from v1.12 on, and Talos refuses machine.network.hostname beside it.
    nodes[n.name] = [doc, hostnameDoc(n.name)];
  }
  return { format: 'v1alpha1', cluster: [common], nodes };
}

function doc(kind: string, fields: TalosDoc): TalosDoc {
  return { apiVersion: 'v1alpha1', kind, ...fields };
}

/** The node's own name instead of the stable generated one gen config asks for (`auto` and `hostname` exclude each other). */
function hostnameDoc(name: string): TalosDoc {
  return doc('HostnameConfig', { auto: 'off', hostname: name });
}

function installDoc(disk: string): TalosDoc {
  return doc('UnattendedInstallConfig', { provisioning: { diskSelector: { match: `disk.dev_path == ${JSON.stringify(disk)}` } } });
}

function buildMultidocPatches(spec: Spec, opts: TalosBuildOptions): TalosPatches {
  const net = spec.spec.network;
  const mask = ipv4MaskSize(spec);
  const cluster: TalosDoc[] = [
    doc('KubeClusterConfig', { clusterName: spec.metadata.name, endpoint: spec.spec.endpoint }),
    doc('KubeNetworkConfig', {
      podSubnets: splitCidrs(net.podCIDR),
      serviceSubnets: splitCidrs(net.serviceCIDR),
      ...(mask !== undefined ? { nodeCIDRMaskSizeIPv4: mask } : {}),
    }),
    installDoc(spec.spec.bootstrap.talos.installDisk),
  ];
  // `$patch: delete` removes the document gen config would otherwise emit.
  if (!usesTalosFlannel(spec)) cluster.push(doc('KubeFlannelCNIConfig', { $patch: 'delete' }));
  // KubeProxyConfig is a control-plane document (a worker config holding one is invalid): it goes in their node patches.
  const kubeProxyOff = disablesKubeProxy(spec) ? doc('KubeProxyConfig', { enabled: false, image: image(spec, 'kube-proxy', `v${spec.spec.kubernetesVersion}`) }) : undefined;

  const vip = spec.spec.bootstrap.talos.vip;
  const security = buildTalosSecurityPatch(spec, 'multidoc');
  const nodes: Record<string, TalosDoc[]> = {};
  for (const n of spec.spec.nodes) {
    const docs: TalosDoc[] = [
      hostnameDoc(n.name),
      doc('KubeNodeConfig', {
        nodeIP: { validSubnets: [hostPrefix(n.address)] },
        ...(n.labels && Object.keys(n.labels).length ? { labels: { ...n.labels } } : {}),
        ...(n.taints?.length ? { taints: talosTaints(n.taints) } : {}),
      }),
    ];
    if (n.installDisk) docs.push(installDoc(n.installDisk));
    if (n.role === 'control-plane') {
      docs.push({ version: 'v1alpha1', cluster: { etcd: { advertisedSubnets: [hostPrefix(n.address)] } } });
      if (kubeProxyOff) docs.push(structuredClone(kubeProxyOff));
      docs.push(...structuredClone(security.docs));
      if (vip) docs.push(doc('Layer2VIPConfig', { name: vip, link: opts.vipLink ?? 'eth0' }));
    }
    nodes[n.name] = docs;
  }
  return { format: 'multidoc', cluster, nodes };
}

/** Where the scheduled etcd backup CronJob runs (src/addons/backup.ts); its pods get Talos API access there. */
export const ETCD_BACKUP_NAMESPACE = 'kube-system';

/**
 * Lets pods in the backup namespace take etcd snapshots through the Talos API (role os:etcd:backup): the
 * classic machine.features.kubernetesTalosAPIAccess before Talos 1.14, a KubeTalosAPIAccessConfig document after.
 */
export function buildTalosBackupAccessPatch(talosVersion: string): TalosDoc[] {
  const access = { allowedRoles: ['os:etcd:backup'], allowedKubernetesNamespaces: [ETCD_BACKUP_NAMESPACE] };
  if (selectTalosConfigFormat(talosVersion) === 'multidoc') return [{ apiVersion: 'v1alpha1', kind: 'KubeTalosAPIAccessConfig', ...access }];
  return [{ machine: { features: { kubernetesTalosAPIAccess: { enabled: true, ...access } } } }];
}

export function buildTalosPatches(spec: Spec, opts: TalosBuildOptions = {}): TalosPatches {
  const patches = selectTalosConfigFormat(spec.spec.bootstrap.talos.version) === 'multidoc' ? buildMultidocPatches(spec, opts) : buildClassicPatches(spec);
  // The backup stage's CronJob snapshots etcd through the Talos API: the control planes must allow it.
  if (spec.spec.addons.backup !== false) {
    const [access] = buildTalosBackupAccessPatch(spec.spec.bootstrap.talos.version);
    for (const n of spec.spec.nodes) {
      if (n.role !== 'control-plane') continue;
      const docs = patches.nodes[n.name]!;
      // Classic: one v1alpha1 document per node, so the feature merges into it; multidoc: a document of its own.
      if (patches.format === 'v1alpha1') {
        const machine = (docs[0]!.machine ??= {}) as TalosDoc;
        machine.features = { ...((machine.features as TalosDoc | undefined) ?? {}), ...((access!.machine as TalosDoc).features as TalosDoc) };
      } else docs.push(access!);
    }
  }
  return patches;
}

/**
 * A stand-in for what `talosctl gen config` emits before patches, with placeholder secrets: enough for tests
 * to merge patches onto and validate the result. Never written to a node.
 */
export function buildTalosBaseConfig(spec: Spec, role: TalosRole): TalosDoc[] {
  const placeholder = 'UExBQ0VIT0xERVI=';
  const ca = { crt: placeholder, key: placeholder };
  const k8s = `v${spec.spec.kubernetesVersion}`;
  if (selectTalosConfigFormat(spec.spec.bootstrap.talos.version) === 'v1alpha1') {
    return [
      {
        version: 'v1alpha1',
        machine: { type: role, token: 'placeholder', ca, install: { disk: '/dev/sda', image: 'ghcr.io/siderolabs/installer:latest' }, kubelet: { image: image(spec, 'kubelet', k8s) } },
        cluster: { clusterName: spec.metadata.name, controlPlane: { endpoint: spec.spec.endpoint }, network: { dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] }, token: 'placeholder', ca },
      },
      doc('HostnameConfig', { auto: 'stable' }),
    ];
  }
  const docs: TalosDoc[] = [
    { version: 'v1alpha1', machine: { type: role, token: 'placeholder', ca }, cluster: { token: 'placeholder', ...(role === 'controlplane' ? { etcd: { ca } } : {}) } },
    doc('UnattendedInstallConfig', { installer: { image: 'ghcr.io/siderolabs/installer:latest' }, provisioning: { diskSelector: { match: 'disk.dev_path == "/dev/sda"' } } }),
    doc('HostnameConfig', { auto: 'stable' }),
    doc('KubeClusterConfig', { clusterName: spec.metadata.name, endpoint: spec.spec.endpoint }),
    doc('KubeNetworkConfig', { dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] }),
    doc('KubeletConfig', { image: image(spec, 'kubelet', k8s) }),
  ];
  // As talosctl v1.14.1 writes them: the cluster-wide add-on documents are in the control-plane config only.
  if (role === 'controlplane') {
    docs.push(
      doc('KubeAPIServerConfig', { image: image(spec, 'kube-apiserver', k8s) }),
      doc('KubeProxyConfig', { image: image(spec, 'kube-proxy', k8s) }),
      doc('KubeFlannelCNIConfig', { backendType: 'vxlan' }),
      doc('KubeCoreDNSConfig', {}),
    );
  }
  return docs;
}

function docKey(d: TalosDoc): string {
  if (typeof d.kind === 'string') return `${d.kind}/${typeof d.name === 'string' ? d.name : ''}`;
  return `v1alpha1`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeValue(base: unknown, patch: unknown): unknown {
  if (!isObject(base) || !isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in base ? mergeValue(base[k], v) : structuredClone(v);
  return out;
}

/**
 * Applies patches the way Talos does for our documents: same kind (and name) merges field by field, lists are
 * replaced, `$patch: delete` drops the document, a new kind is appended.
 */
export function mergeTalosDocs(base: TalosDoc[], ...patchSets: TalosDoc[][]): TalosDoc[] {
  const out = base.map((d) => structuredClone(d));
  for (const patch of patchSets.flat()) {
    const key = docKey(patch);
    const i = out.findIndex((d) => docKey(d) === key);
    if (patch.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) out[i] = mergeValue(out[i], patch) as TalosDoc;
    else out.push(structuredClone(patch));
  }
  return out;
}

/** The full config one node ends up with: base for its role + cluster patches + its own patches. */
export function buildTalosNodeConfig(spec: Spec, node: NodeSpec, opts: TalosBuildOptions = {}): TalosDoc[] {
  const p = buildTalosPatches(spec, opts);
  const role = talosRole(node);
  return mergeTalosDocs(buildTalosBaseConfig(spec, role), p.cluster, p.nodes[node.name] ?? []);
}

/** Files the Talos flow reads and writes. Secret ones go in the 0700 secrets dir. */
export interface TalosPaths {
  talosconfig: string;
}

/**
 * The installer gen config writes into the machine config. talosctl's default is its own release
 * (factory.talos.dev/metal-installer/<schematic>:<talosctl version>), so a newer talosctl would install a newer Talos
 * than the spec names: groundwork pins the spec's release, from the vanilla schematic (no extensions) talosctl uses.
 */
export const TALOS_DEFAULT_SCHEMATIC = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba';

export function talosInstallerImage(talosVersion: string): string {
  return `factory.talos.dev/metal-installer/${TALOS_DEFAULT_SCHEMATIC}:${talosVersion}`;
}

/** Maintenance-mode probe: is the node up, and which Talos does it run? */
export function buildInsecureVersionArgv(node: NodeSpec): string[] {
  return ['talosctl', 'version', '--insecure', '--nodes', node.address];
}

/** Authenticated probe: succeeds only once the node runs our config (the maintenance API is gone then). */
export function buildConfiguredProbeArgv(paths: TalosPaths, node: NodeSpec): string[] {
  return ['talosctl', '--talosconfig', paths.talosconfig, '--nodes', node.address, '--endpoints', node.address, 'version'];
}

/** talosctl's own config: talk to every control plane (any of them can answer), target the first by default. */
export function buildConfigEndpointsArgv(spec: Spec, paths: TalosPaths): string[] {
  return ['talosctl', '--talosconfig', paths.talosconfig, 'config', 'endpoints', ...controlPlanes(spec).map((n) => n.address)];
}

export function buildConfigNodesArgv(spec: Spec, paths: TalosPaths): string[] {
  return ['talosctl', '--talosconfig', paths.talosconfig, 'config', 'nodes', controlPlanes(spec)[0]!.address];
}

/** Reads the server's Talos tag from `talosctl version` output (the Server: block). */
export function parseServerTalosVersion(output: string): string | undefined {
  const server = output.split(/\n(?=Server:)/).find((b) => b.startsWith('Server:')) ?? '';
  return /Tag:\s*(v\d+\.\d+\.\d+\S*)/.exec(server)?.[1];
}

/** Same minor release: patch releases of Talos accept each other's configs. */
export function sameTalosMinor(a: string, b: string): boolean {
  const [am, an] = parseVersion(a);
  const [bm, bn] = parseVersion(b);
  return am === bm && an === bn;
}
