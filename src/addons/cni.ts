/**
 * CNI values builders (pure, STYLE 2): from the spec to the Helm values of the chosen CNI, per bootstrap method.
 * Each builder returns plain data; helm.ts writes it as YAML and runs helm, gates.ts waits for the DaemonSet.
 */
import type { Spec } from '../spec/schema.js';
import { CALICO_CHART, CILIUM_CHART, FLANNEL_CHART, type ChartRef } from './charts.js';
import { mirrorImage, normalizeMirror } from './images.js';

export type Values = Record<string, unknown>;

/** One helm release groundwork installs. */
export interface HelmRelease {
  chart: ChartRef;
  values: Values;
}

export interface DaemonSetRef {
  namespace: string;
  name: string;
}

/** What the cni stage does: maybe a helm release, always a DaemonSet to wait for. */
interface CniPlan {
  cni: 'cilium' | 'calico' | 'flannel';
  /** Absent when the bootstrap method installs the CNI itself (Talos deploys flannel). */
  release?: HelmRelease;
  daemonSet: DaemonSetRef;
  /** Said by `plan`: warnings about the choice. */
  notes: string[];
}

/** Talos API server access through KubePrism, the node-local load balancer Talos enables by default (>= v1.6). */
const KUBEPRISM = { host: 'localhost', port: 7445 } as const;

/**
 * The capability lists the Talos guide "Deploying Cilium CNI" sets: Cilium's defaults without SYS_MODULE,
 * because Talos does not let workloads load kernel modules.
 */
export const TALOS_CILIUM_AGENT_CAPABILITIES = ['CHOWN', 'KILL', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'SYS_ADMIN', 'SYS_RESOURCE', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'] as const;
const TALOS_CILIUM_CLEAN_STATE_CAPABILITIES = ['NET_ADMIN', 'SYS_ADMIN', 'SYS_RESOURCE'] as const;

/** Every image in the Cilium chart, by values path, with the upstream repository of a release. */
const CILIUM_IMAGES: ReadonlyArray<[path: string[], repository: string]> = [
  [['image'], 'quay.io/cilium/cilium'],
  // The chart appends "-generic" (or the cloud) to the operator repository itself.
  [['operator', 'image'], 'quay.io/cilium/operator'],
  [['envoy', 'image'], 'quay.io/cilium/cilium-envoy'],
  [['certgen', 'image'], 'quay.io/cilium/certgen'],
  [['hubble', 'relay', 'image'], 'quay.io/cilium/hubble-relay'],
  [['hubble', 'ui', 'backend', 'image'], 'quay.io/cilium/hubble-ui-backend'],
  [['hubble', 'ui', 'frontend', 'image'], 'quay.io/cilium/hubble-ui'],
  [['nodeinit', 'image'], 'quay.io/cilium/startup-script'],
  [['preflight', 'image'], 'quay.io/cilium/cilium'],
  [['preflight', 'envoy', 'image'], 'quay.io/cilium/cilium-envoy'],
  [['clustermesh', 'apiserver', 'image'], 'quay.io/cilium/clustermesh-apiserver'],
  [['authentication', 'mutual', 'spire', 'install', 'initImage'], 'docker.io/library/busybox'],
  [['authentication', 'mutual', 'spire', 'install', 'agent', 'image'], 'ghcr.io/spiffe/spire-agent'],
  [['authentication', 'mutual', 'spire', 'install', 'server', 'image'], 'ghcr.io/spiffe/spire-server'],
];

function splitCidrs(list: string): { v4: string[]; v6: string[] } {
  const all = list.split(',').map((c) => c.trim()).filter((c) => c !== '');
  return { v4: all.filter((c) => !c.includes(':')), v6: all.filter((c) => c.includes(':')) };
}

/** The API server as pods must reach it before any Service works (kube-proxy replacement has no ClusterIP yet). */
function apiServerHostPort(spec: Spec): { host: string; port: number } {
  const url = new URL(spec.spec.endpoint);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 443 : Number(url.port) };
}

/** Sets a nested value, creating the objects on the way (values are plain data we own). */
function setPath(target: Values, path: readonly string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Values;
  }
  o[path[path.length - 1]!] = value;
}

/** Per-node pod range sizes: the spec's nodeMaskSize for the family it fits, Cilium's default otherwise. */
function maskSizes(spec: Spec): { v4: number; v6: number } {
  const n = spec.spec.network.nodeMaskSize;
  return { v4: n <= 32 ? n : 24, v6: n > 32 ? n : 120 };
}

export function buildCiliumValues(spec: Spec): Values {
  const net = spec.spec.network;
  const talos = spec.spec.bootstrap.method === 'talos';
  const { v4, v6 } = splitCidrs(net.podCIDR);
  const mask = maskSizes(spec);
  const operator: Values = {};
  if (v4.length > 0) Object.assign(operator, { clusterPoolIPv4PodCIDRList: v4, clusterPoolIPv4MaskSize: mask.v4 });
  if (v6.length > 0) Object.assign(operator, { clusterPoolIPv6PodCIDRList: v6, clusterPoolIPv6MaskSize: mask.v6 });
  const values: Values = {
    // cluster-pool: Cilium's operator hands each node a slice of the spec's podCIDR, on kubeadm and Talos alike.
    ipam: { mode: 'cluster-pool', operator },
    ipv4: { enabled: v4.length > 0 },
    ipv6: { enabled: v6.length > 0 },
    kubeProxyReplacement: net.kubeProxyReplacement,
  };
  if (net.kubeProxyReplacement) {
    // Without kube-proxy nothing routes the kubernetes Service until Cilium runs: point it at the API server.
    const api = talos ? KUBEPRISM : apiServerHostPort(spec);
    values.k8sServiceHost = api.host;
    values.k8sServicePort = api.port;
  }
  if (talos) {
    values.securityContext = { capabilities: { ciliumAgent: [...TALOS_CILIUM_AGENT_CAPABILITIES], cleanCiliumState: [...TALOS_CILIUM_CLEAN_STATE_CAPABILITIES] } };
    // Talos already mounts cgroup v2 at /sys/fs/cgroup; Cilium must not mount its own.
    values.cgroup = { autoMount: { enabled: false }, hostRoot: '/sys/fs/cgroup' };
  }
  const mirror = normalizeMirror(spec.spec.images.registry);
  if (mirror !== '') {
    for (const [path, repository] of CILIUM_IMAGES) {
      // Digests are of upstream manifest lists; a mirror copied per platform has other digests, so pull by tag.
      setPath(values, [...path, 'repository'], mirrorImage(mirror, repository));
      setPath(values, [...path, 'useDigest'], false);
    }
  }
  return values;
}

function buildCalicoValues(spec: Spec): Values {
  const { v4, v6 } = splitCidrs(spec.spec.network.podCIDR);
  const mask = spec.spec.network.nodeMaskSize;
  // Calico hands out blocks, not one range per node; the spec's mask becomes the block size where Calico allows it.
  const v4Block = mask >= 20 && mask <= 32 ? mask : 26;
  const v6Block = mask >= 116 && mask <= 128 ? mask : 122;
  const ipPools = [
    ...v4.map((cidr, i) => ({ name: `default-ipv4-ippool${i ? `-${i}` : ''}`, cidr, blockSize: v4Block, encapsulation: 'VXLAN', natOutgoing: 'Enabled', nodeSelector: 'all()' })),
    ...v6.map((cidr, i) => ({ name: `default-ipv6-ippool${i ? `-${i}` : ''}`, cidr, blockSize: v6Block, encapsulation: 'VXLAN', natOutgoing: 'Enabled', nodeSelector: 'all()' })),
  ];
  const installation: Values = {
    enabled: true,
    kubernetesProvider: '',
    // VXLAN without BGP: works on any L2/L3 underlay without peering configuration.
    calicoNetwork: { bgp: 'Disabled', ipPools },
  };
  if (spec.spec.bootstrap.method === 'talos') {
    // Talos' /usr/libexec is read-only: the FlexVolume driver Calico would install there cannot be written.
    installation.flexVolumePath = 'None';
  }
  const values: Values = { installation };
  const mirror = normalizeMirror(spec.spec.images.registry);
  if (mirror !== '') {
    // The Installation's registry must end with "/"; images keep their calico/<name> path below it.
    installation.registry = `${mirror}/`;
    values.tigeraOperator = { registry: mirror };
    values.calicoctl = { image: mirrorImage(mirror, 'quay.io/calico/ctl') };
  }
  return values;
}

function buildFlannelValues(spec: Spec): Values {
  const { v4, v6 } = splitCidrs(spec.spec.network.podCIDR);
  const flannel: Values = { backend: 'vxlan' };
  const mirror = normalizeMirror(spec.spec.images.registry);
  if (mirror !== '') {
    flannel.image = { repository: mirrorImage(mirror, 'docker.io/flannel/flannel') };
    flannel.image_cni = { repository: mirrorImage(mirror, 'docker.io/flannel/flannel-cni-plugin') };
  }
  return { podCidr: v4[0] ?? '', podCidrv6: v6[0] ?? '', flannel };
}

export const FLANNEL_NETPOL_WARNING =
  'Flannel does not enforce NetworkPolicy: policies are accepted by the API server and silently ignored, so nothing isolates workloads; choose cilium or calico if you rely on them';

/** The cni stage's plan; undefined when the spec says `cni: none` (the operator brings one). */
export function buildCniPlan(spec: Spec): CniPlan | undefined {
  const method = spec.spec.bootstrap.method;
  switch (spec.spec.network.cni) {
    case 'none':
      return undefined;
    case 'cilium':
      return {
        cni: 'cilium',
        release: { chart: CILIUM_CHART, values: buildCiliumValues(spec) },
        daemonSet: { namespace: CILIUM_CHART.namespace, name: 'cilium' },
        notes: [
          spec.spec.network.kubeProxyReplacement
            ? `Cilium replaces kube-proxy (eBPF); it reaches the API server at ${method === 'talos' ? `KubePrism ${KUBEPRISM.host}:${KUBEPRISM.port}` : spec.spec.endpoint}`
            : 'Cilium runs beside kube-proxy (spec.network.kubeProxyReplacement: false)',
          ...(method === 'talos' ? ['Talos settings from the Talos Cilium guide: no SYS_MODULE capability, cgroup v2 from the host (/sys/fs/cgroup)'] : []),
        ],
      };
    case 'calico':
      return {
        cni: 'calico',
        release: { chart: CALICO_CHART, values: buildCalicoValues(spec) },
        daemonSet: { namespace: 'calico-system', name: 'calico-node' },
        notes: ['Calico through the Tigera operator: calico-node appears in calico-system once the operator has reconciled the Installation'],
      };
    case 'flannel':
      if (method === 'talos') {
        // Talos deploys flannel itself when the machine config keeps the default CNI; installing a second copy would fight it.
        return { cni: 'flannel', daemonSet: { namespace: 'kube-system', name: 'kube-flannel' }, notes: ['Talos deploys flannel itself; groundwork only waits for it', FLANNEL_NETPOL_WARNING] };
      }
      return {
        cni: 'flannel',
        release: { chart: FLANNEL_CHART, values: buildFlannelValues(spec) },
        daemonSet: { namespace: FLANNEL_CHART.namespace, name: 'kube-flannel-ds' },
        notes: [FLANNEL_NETPOL_WARNING],
      };
  }
}
