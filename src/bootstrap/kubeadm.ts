/**
 * kubeadm configs and the remote commands of the kubeadm bootstrap (pure, STYLE 2); ssh/scp argv come from
 * src/net/ssh-argv.ts.
 *
 * Every supported Kubernetes release (1.35 to 1.37, src/spec/versions.ts) reads kubeadm.k8s.io/v1beta4: kubeadm
 * 1.37 no longer reads v1beta3 ("uses an old API spec") and takes v1 only behind --allow-experimental-api
 * (cmd/kubeadm/app/util/config/common.go, validateSupportedVersion). v1beta4 writes extra args as a list of
 * {name, value} and switches kube-proxy off with `proxy.disabled`.
 */
import { mirrorImage, normalizeMirror } from '../addons/images.js';
import { toKubeTaint } from '../spec/fields.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { buildKubeadmApiServerSecurity } from './security.js';
import { buildDownloadAsRootArgvs, buildSshArgv, buildUploadAsRootArgvs, endpointForNode } from '../net/ssh-argv.js';

export const KUBEADM_API_VERSION = 'kubeadm.k8s.io/v1beta4';
type KubeadmApiVersion = typeof KUBEADM_API_VERSION;
type KubeadmDoc = Record<string, unknown>;

function extraArgs(args: Record<string, string>): { name: string; value: string }[] {
  return Object.entries(args).map(([name, value]) => ({ name, value }));
}

/** host:port of the API endpoint, as kubeadm wants it (no scheme; IPv6 in brackets). */
export function controlPlaneEndpoint(spec: Spec): string {
  const url = new URL(spec.spec.endpoint);
  return `${url.hostname}:${url.port === '' ? '6443' : url.port}`;
}

function endpointHost(spec: Spec): string {
  return new URL(spec.spec.endpoint).hostname.replace(/^\[|\]$/g, '');
}

export function firstControlPlane(spec: Spec): NodeSpec {
  return spec.spec.nodes.find((n) => n.role === 'control-plane')!;
}

/** The API server certificate must name every way clients reach it: the endpoint and each control plane. */
export function buildCertSANs(spec: Spec): string[] {
  const sans = [endpointHost(spec), ...spec.spec.nodes.filter((n) => n.role === 'control-plane').flatMap((n) => [n.address, n.name]), ...spec.spec.bootstrap.kubeadm.certSANs];
  return [...new Set(sans)];
}

function nodeRegistration(spec: Spec, node: NodeSpec): KubeadmDoc {
  return {
    name: node.name,
    criSocket: spec.spec.bootstrap.kubeadm.criSocket,
    kubeletExtraArgs: extraArgs({
      'node-ip': node.address,
      // kubelet may only set labels outside the kubernetes.io namespaces itself (NodeRestriction).
      ...(node.labels && Object.keys(node.labels).length ? { 'node-labels': Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(',') } : {}),
    }),
    ...(node.taints ? { taints: node.taints.map(toKubeTaint) } : {}),
    // Each by name (the schema refuses "all"): checks this node cannot pass, for reasons the operator knows.
    ...(spec.spec.bootstrap.kubeadm.ignorePreflightErrors.length ? { ignorePreflightErrors: [...spec.spec.bootstrap.kubeadm.ignorePreflightErrors] } : {}),
  };
}

/**
 * The KubeletConfiguration kubeadm writes to every node (kubeadm init uploads it; joins download it), with only
 * the fields the spec sets; undefined when it sets none (kubeadm's defaults stand).
 */
function buildKubeletConfiguration(spec: Spec): KubeadmDoc | undefined {
  const k = spec.spec.bootstrap.kubeadm.kubelet;
  const fields: KubeadmDoc = {
    ...(k.cgroupDriver !== undefined ? { cgroupDriver: k.cgroupDriver } : {}),
    ...(k.failCgroupV1 !== undefined ? { failCgroupV1: k.failCgroupV1 } : {}),
  };
  return Object.keys(fields).length ? { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', ...fields } : undefined;
}

function kubeProxyOff(spec: Spec): boolean {
  return spec.spec.network.cni === 'cilium' && spec.spec.network.kubeProxyReplacement;
}

interface KubeadmConfig {
  apiVersion: KubeadmApiVersion;
  init: KubeadmDoc;
  cluster: KubeadmDoc;
  /** Only when the spec sets a kubelet field. */
  kubelet?: KubeadmDoc;
}

/** InitConfiguration (for the first control plane) and ClusterConfiguration. */
export function buildKubeadmConfig(spec: Spec): KubeadmConfig {
  const api = KUBEADM_API_VERSION;
  const first = firstControlPlane(spec);
  const net = spec.spec.network;
  const init: KubeadmDoc = {
    apiVersion: api,
    kind: 'InitConfiguration',
    // No token value: kubeadm generates one. It expires soon; joins get a fresh one from `kubeadm token create`.
    bootstrapTokens: [{ ttl: '15m0s', usages: ['signing', 'authentication'], groups: ['system:bootstrappers:kubeadm:default-node-token'] }],
    localAPIEndpoint: { advertiseAddress: first.address, bindPort: 6443 },
    nodeRegistration: nodeRegistration(spec, first),
  };
  const registry = normalizeMirror(spec.spec.images.registry);
  const tags = spec.spec.bootstrap.kubeadm.imageTags;
  // Pod Security and the audit log (src/bootstrap/security.ts): files copied to every control plane, mounted read-only.
  const security = buildKubeadmApiServerSecurity(spec);
  const cluster: KubeadmDoc = {
    apiVersion: api,
    kind: 'ClusterConfiguration',
    clusterName: spec.metadata.name,
    kubernetesVersion: `v${spec.spec.kubernetesVersion}`,
    controlPlaneEndpoint: controlPlaneEndpoint(spec),
    networking: { podSubnet: net.podCIDR, serviceSubnet: net.serviceCIDR, dnsDomain: 'cluster.local' },
    apiServer: { certSANs: buildCertSANs(spec), extraArgs: extraArgs(security.args), extraVolumes: security.volumes },
    controllerManager: { extraArgs: extraArgs({ 'node-cidr-mask-size': String(net.nodeMaskSize) }) },
    etcd: { local: { dataDir: spec.spec.bootstrap.kubeadm.etcdDataDir, ...(tags.etcd !== undefined ? { imageTag: tags.etcd } : {}) } },
    // kubeadm puts CoreDNS at <imageRepository>/coredns:TAG with a custom repository, while the mirror keeps
    // upstream paths (registry.k8s.io/coredns/coredns -> <mirror>/coredns/coredns): say where it is.
    ...(registry !== '' ? { imageRepository: registry } : {}),
    ...(registry !== '' || tags.coredns !== undefined
      ? { dns: { ...(registry !== '' ? { imageRepository: mirrorImage(registry, 'registry.k8s.io/coredns') } : {}), ...(tags.coredns !== undefined ? { imageTag: tags.coredns } : {}) } }
      : {}),
    ...(kubeProxyOff(spec) ? { proxy: { disabled: true } } : {}),
  };
  const kubelet = buildKubeletConfiguration(spec);
  return { apiVersion: api, init, cluster, ...(kubelet ? { kubelet } : {}) };
}

/**
 * What kubeadm deploys besides the Kubernetes images, as kubeadm 1.37.2 pins it (cmd/kubeadm/app/constants:
 * CoreDNSVersion, PauseVersion, SupportedEtcdVersion per minor; a test compares with `kubeadm config images
 * list`). kubeadm of an older minor may pin older CoreDNS or pause tags: the plan names the command that says.
 */
const KUBEADM_PINS = { coredns: 'v1.14.6', pause: '3.10.2', etcdByMinor: { 35: '3.7.0-0', 36: '3.7.0-0', 37: '3.7.0-0' } as Record<number, string> } as const;

/** The etcd image tag kubeadm runs for a Kubernetes version (the nearest known minor outside the table, as kubeadm does). */
export function kubeadmEtcdTag(kubernetesVersion: string): string {
  const minor = Number(/^v?\d+\.(\d+)/.exec(kubernetesVersion)?.[1] ?? 0);
  const known = Object.keys(KUBEADM_PINS.etcdByMinor).map(Number).sort((a, b) => a - b);
  const pick = known.includes(minor) ? minor : minor < known[0]! ? known[0]! : known.at(-1)!;
  return KUBEADM_PINS.etcdByMinor[pick]!;
}

interface MirroredImage {
  /** Where kubeadm pulls it from: the upstream reference, or its copy in spec.images.registry. */
  image: string;
  /** The upstream reference to copy into the mirror. */
  upstream: string;
}

/**
 * Every image `kubeadm init` pulls for this spec, in kubeadm's order (GetControlPlaneImages): the three control
 * plane images, kube-proxy unless Cilium replaces it, CoreDNS, pause, etcd. With a mirror each keeps its upstream
 * path on the mirror host (src/addons/images.ts), which is what the ClusterConfiguration tells kubeadm.
 */
export function buildKubeadmImageList(spec: Spec): MirroredImage[] {
  const tag = `v${spec.spec.kubernetesVersion}`;
  const upstream = [
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', ...(kubeProxyOff(spec) ? [] : ['kube-proxy'])].map((n) => `registry.k8s.io/${n}:${tag}`),
    `registry.k8s.io/coredns/coredns:${spec.spec.bootstrap.kubeadm.imageTags.coredns ?? KUBEADM_PINS.coredns}`,
    `registry.k8s.io/pause:${KUBEADM_PINS.pause}`,
    `registry.k8s.io/etcd:${spec.spec.bootstrap.kubeadm.imageTags.etcd ?? kubeadmEtcdTag(spec.spec.kubernetesVersion)}`,
  ];
  const mirror = spec.spec.images.registry;
  return upstream.map((u) => ({ upstream: u, image: mirrorImage(mirror, u) }));
}

/** What a node needs to join; all three are secret or sensitive and live only in 0600 files. */
export interface JoinCredentials {
  token: string;
  caCertHash: string;
  /** Only for control planes. */
  certificateKey?: string;
}

export function buildKubeadmJoinConfig(spec: Spec, node: NodeSpec, creds: JoinCredentials): KubeadmDoc {
  const api = KUBEADM_API_VERSION;
  const cp = node.role === 'control-plane';
  if (cp && !creds.certificateKey) throw new Error(`join of control plane ${node.name} needs a certificate key`);
  return {
    apiVersion: api,
    kind: 'JoinConfiguration',
    discovery: { bootstrapToken: { apiServerEndpoint: controlPlaneEndpoint(spec), token: creds.token, caCertHashes: [creds.caCertHash] } },
    nodeRegistration: nodeRegistration(spec, node),
    ...(cp ? { controlPlane: { localAPIEndpoint: { advertiseAddress: node.address, bindPort: 6443 }, certificateKey: creds.certificateKey } } : {}),
  };
}

/** Remote paths on the nodes. */
export const REMOTE = {
  dir: '/etc/groundwork',
  initConfig: '/etc/groundwork/kubeadm.yaml',
  joinConfig: '/etc/groundwork/join.yaml',
  adminConf: '/etc/kubernetes/admin.conf',
  kubeletConf: '/etc/kubernetes/kubelet.conf',
} as const;


/** A command on the node, as root (`sudo -n` when the ssh user is not root); words are quoted for its shell. */
export function buildNodeSshArgv(spec: Spec, node: NodeSpec, remote: string[]): string[] {
  return buildSshArgv(endpointForNode(spec, node), remote, { asRoot: true });
}

/** The processes that put a local file at a root-owned path on the node (one scp for root; scp + sudo install otherwise). */
export function buildNodeUploadArgvs(spec: Spec, node: NodeSpec, local: string, remote: string): string[][] {
  return buildUploadAsRootArgvs(endpointForNode(spec, node), local, remote);
}

/** The processes that fetch a root-owned file from the node. */
export function buildNodeDownloadArgvs(spec: Spec, node: NodeSpec, remote: string, local: string): string[][] {
  return buildDownloadAsRootArgvs(endpointForNode(spec, node), remote, local);
}

export function buildPrepareNodeRemote(): string[] {
  return ['install', '-d', '-m', '0700', REMOTE.dir];
}

export function buildKubeadmInitRemote(): string[] {
  return ['kubeadm', 'init', '--config', REMOTE.initConfig, '--upload-certs'];
}

export function buildTokenCreateRemote(): string[] {
  return ['kubeadm', 'token', 'create', '--ttl', '15m0s', '--print-join-command'];
}

export function buildUploadCertsRemote(): string[] {
  return ['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs'];
}

export function buildKubeadmJoinRemote(): string[] {
  return ['kubeadm', 'join', '--config', REMOTE.joinConfig];
}

/** `kubeadm token create --print-join-command` prints `kubeadm join HOST:PORT --token T --discovery-token-ca-cert-hash sha256:H`. */
export function parseJoinCommand(out: string): { token: string; caCertHash: string } | undefined {
  const token = /--token\s+([a-z0-9]{6}\.[a-z0-9]{16})/.exec(out)?.[1];
  const caCertHash = /--discovery-token-ca-cert-hash\s+(sha256:[a-f0-9]{64})/.exec(out)?.[1];
  return token && caCertHash ? { token, caCertHash } : undefined;
}

/** `upload-certs --upload-certs` ends with the 64-hex certificate key on its own line. */
export function parseCertificateKey(out: string): string | undefined {
  return out.split('\n').map((l) => l.trim()).reverse().find((l) => /^[a-f0-9]{64}$/.test(l));
}

/** Every secret-looking value kubeadm init prints (token, certificate key), to redact before anything shows it. */
export function findKubeadmSecrets(out: string): string[] {
  const found = new Set<string>();
  for (const m of out.matchAll(/--token\s+([a-z0-9]{6}\.[a-z0-9]{16})/g)) found.add(m[1]!);
  for (const m of out.matchAll(/--certificate-key\s+([a-f0-9]{64})/g)) found.add(m[1]!);
  for (const m of out.matchAll(/\b([a-z0-9]{6}\.[a-z0-9]{16})\b/g)) found.add(m[1]!);
  for (const m of out.matchAll(/\b([a-f0-9]{64})\b/g)) found.add(m[1]!);
  return [...found];
}
