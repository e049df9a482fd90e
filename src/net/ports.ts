/**
 * The port catalog: which ports each node listens on, per role x bootstrap method x CNI, each with its source.
 * Pure data plus selectors; preflight checks them locally (free?) and between machines (reachable?).
 */

export type Role = 'control-plane' | 'worker';
export type Method = 'talos' | 'kubeadm';
export type Cni = 'cilium' | 'calico' | 'flannel' | 'none';
type Protocol = 'tcp' | 'udp';

export interface PortEntry {
  /** First port; `to` for a range (30000-32767). */
  port: number;
  to?: number;
  protocol: Protocol;
  component: string;
  /** Who must reach it, in the operator's words. */
  from: string;
  roles: Role[];
  /** Undefined: every method. */
  methods?: Method[];
  /** Undefined: every CNI. */
  cnis?: Cni[];
  /** Must answer a TCP connect from the operator's machine BEFORE bootstrap (maintenance API, SSH). */
  preBootstrap?: boolean;
  /** Only when kube-proxy runs (not with Cilium's kube-proxy replacement). */
  kubeProxy?: boolean;
  source: string;
}

const K8S_PORTS = 'kubernetes.io/docs/reference/networking/ports-and-protocols/';
const TALOS_PORTS = 'talos.dev/latest/learn-more/talos-network-connectivity/';
const CILIUM_PORTS = 'docs.cilium.io/en/stable/operations/system_requirements/#firewall-rules';
const CALICO_PORTS = 'docs.tigera.io/calico/latest/getting-started/kubernetes/requirements#network-requirements';
const FLANNEL_PORTS = 'github.com/flannel-io/flannel/blob/master/Documentation/backends.md (vxlan: 8472/udp on Linux)';

const BOTH: Role[] = ['control-plane', 'worker'];

export const PORT_CATALOG: PortEntry[] = [
  { port: 6443, protocol: 'tcp', component: 'kube-apiserver', from: 'everyone (kubectl, nodes, pods)', roles: ['control-plane'], source: K8S_PORTS },
  { port: 2379, to: 2380, protocol: 'tcp', component: 'etcd client and peer API', from: 'kube-apiserver, other etcd members', roles: ['control-plane'], source: K8S_PORTS },
  { port: 10250, protocol: 'tcp', component: 'kubelet API', from: 'control plane (logs, exec, metrics)', roles: BOTH, source: K8S_PORTS },
  // Talos binds kube-scheduler and kube-controller-manager to 127.0.0.1; kubeadm to the node.
  { port: 10259, protocol: 'tcp', component: 'kube-scheduler', from: 'self (health, metrics)', roles: ['control-plane'], methods: ['kubeadm'], source: K8S_PORTS },
  { port: 10257, protocol: 'tcp', component: 'kube-controller-manager', from: 'self (health, metrics)', roles: ['control-plane'], methods: ['kubeadm'], source: K8S_PORTS },
  { port: 10256, protocol: 'tcp', component: 'kube-proxy health', from: 'load balancers', roles: BOTH, kubeProxy: true, source: K8S_PORTS },
  { port: 30000, to: 32767, protocol: 'tcp', component: 'NodePort Services', from: 'clients of NodePort Services', roles: BOTH, source: K8S_PORTS },
  { port: 22, protocol: 'tcp', component: 'SSH', from: 'the operator machine (groundwork runs kubeadm over SSH)', roles: BOTH, methods: ['kubeadm'], preBootstrap: true, source: 'groundwork: kubeadm nodes are driven over SSH (spec.bootstrap.kubeadm.ssh.port)' },
  { port: 50000, protocol: 'tcp', component: 'Talos apid (maintenance API before bootstrap)', from: 'talosctl on the operator machine, control planes', roles: BOTH, methods: ['talos'], preBootstrap: true, source: TALOS_PORTS },
  { port: 50001, protocol: 'tcp', component: 'Talos trustd', from: 'worker nodes', roles: ['control-plane'], methods: ['talos'], source: TALOS_PORTS },
  { port: 4240, protocol: 'tcp', component: 'Cilium health checks', from: 'all nodes', roles: BOTH, cnis: ['cilium'], source: CILIUM_PORTS },
  { port: 4244, protocol: 'tcp', component: 'Hubble server', from: 'Hubble Relay', roles: BOTH, cnis: ['cilium'], source: CILIUM_PORTS },
  { port: 8472, protocol: 'udp', component: 'Cilium VXLAN overlay', from: 'all nodes', roles: BOTH, cnis: ['cilium'], source: CILIUM_PORTS },
  { port: 179, protocol: 'tcp', component: 'Calico BGP', from: 'all nodes', roles: BOTH, cnis: ['calico'], source: CALICO_PORTS },
  { port: 4789, protocol: 'udp', component: 'Calico VXLAN overlay', from: 'all nodes', roles: BOTH, cnis: ['calico'], source: CALICO_PORTS },
  { port: 5473, protocol: 'tcp', component: 'Calico Typha', from: 'all nodes (calico-node)', roles: BOTH, cnis: ['calico'], source: CALICO_PORTS },
  { port: 8472, protocol: 'udp', component: 'Flannel VXLAN overlay', from: 'all nodes', roles: BOTH, cnis: ['flannel'], source: FLANNEL_PORTS },
];

interface PortSelection {
  role: Role;
  method: Method;
  cni: Cni;
  /** Cilium's kube-proxy replacement removes kube-proxy (spec.network.kubeProxyReplacement). */
  kubeProxy: boolean;
}

/** The ports a node of this role listens on once the cluster runs. */
export function selectPorts(sel: PortSelection): PortEntry[] {
  return PORT_CATALOG.filter(
    (p) =>
      p.roles.includes(sel.role) &&
      (!p.methods || p.methods.includes(sel.method)) &&
      (!p.cnis || p.cnis.includes(sel.cni)) &&
      (!p.kubeProxy || sel.kubeProxy),
  );
}

/** Ports the operator's machine must reach on each node before bootstrap: they are what groundwork talks to. */
export function selectPreBootstrapPorts(method: Method): PortEntry[] {
  return PORT_CATALOG.filter((p) => p.preBootstrap && (!p.methods || p.methods.includes(method)));
}

export function formatPort(p: Pick<PortEntry, 'port' | 'to' | 'protocol'>): string {
  return `${p.port}${p.to ? `-${p.to}` : ''}/${p.protocol}`;
}

/** The catalog as a fixed-width table (for `preflight --list` and help). */
export function formatPortCatalog(): string {
  const rows = PORT_CATALOG.map((p) => [
    formatPort(p),
    p.component,
    p.roles.map((r) => (r === 'control-plane' ? 'cp' : 'worker')).join('+'),
    p.methods?.join('+') ?? 'any',
    p.cnis?.join('+') ?? (p.kubeProxy ? 'kube-proxy' : 'any'),
    p.source,
  ]);
  return formatTable(['PORT', 'COMPONENT', 'ROLES', 'METHOD', 'CNI', 'SOURCE'], rows);
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}
