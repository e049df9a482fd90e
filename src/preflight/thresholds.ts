/**
 * Every number preflight judges by, with where it comes from. `groundwork preflight --list` prints this table.
 */
import { formatTable } from '../net/ports.js';
import type { Method, Role } from '../net/ports.js';
import { DEFAULT_MAX_PODS, MAX_NODE_MASK_DIFF, MAX_SERVICE_HOST_BITS, MIN_SERVICE_ADDRESSES, WARN_SERVICE_ADDRESSES } from '../net/subnets.js';
import { DEFAULT_REACH_CONCURRENCY, DEFAULT_REACH_TIMEOUT_MS } from './reach.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export interface Sizing {
  /** Below: fail. */
  minCpus: number;
  minMemoryBytes: number;
  /** Below: warn. */
  recCpus: number;
  recMemoryBytes: number;
  source: string;
}

/**
 * CPU and memory by method and role.
 * - kubeadm control plane: hard minimum 2 CPUs and 1700 MB (kubeadm preflight NumCPU / Mem checks,
 *   cmd/kubeadm/app/constants: ControlPlaneNumCPU = 2, ControlPlaneMem = 1700 MB, compared in MiB of MemTotal).
 * - Talos control plane: minimum 2 cores / 2 GiB (talos.dev "System Requirements").
 * - Recommended for any control plane: 4 cores / 8 GiB (issue 4; Talos recommends 4 cores / 4 GiB, etcd's
 *   hardware guide 2-4 cores and 8 GB for small clusters: etcd.io/docs/v3.5/op-guide/hardware/).
 * - kubeadm worker: kubeadm checks none; kubespray asserts 1024 MB per node (roles/kubernetes/preinstall,
 *   minimal_node_memory_mb). Talos worker: minimum 1 core / 1 GiB, recommended 2 cores / 2 GiB (talos.dev).
 */
export const SIZING: Record<Method, Record<Role, Sizing>> = {
  kubeadm: {
    'control-plane': { minCpus: 2, minMemoryBytes: 1700 * MIB, recCpus: 4, recMemoryBytes: 8 * GIB, source: 'kubeadm preflight (2 CPU, 1700 MB); etcd hardware guide (4 cores, 8 GB)' },
    worker: { minCpus: 1, minMemoryBytes: 1024 * MIB, recCpus: 2, recMemoryBytes: 2 * GIB, source: 'kubespray minimal_node_memory_mb (1024); Talos worker recommendation (2 cores, 2 GiB)' },
  },
  talos: {
    'control-plane': { minCpus: 2, minMemoryBytes: 2 * GIB, recCpus: 4, recMemoryBytes: 8 * GIB, source: 'talos.dev System Requirements (min 2 cores, 2 GiB); etcd hardware guide (4 cores, 8 GB)' },
    worker: { minCpus: 1, minMemoryBytes: 1 * GIB, recCpus: 2, recMemoryBytes: 2 * GIB, source: 'talos.dev System Requirements (min 1 core, 1 GiB; recommended 2 cores, 2 GiB)' },
  },
};

/** Disk checks. */
export const DISK = {
  /** talos.dev System Requirements: 10 GiB minimum, 100 GiB recommended for the install disk. */
  installMinBytes: 10 * GIB,
  installRecBytes: 100 * GIB,
  /**
   * etcd's default backend quota is 2 GiB (--quota-backend-bytes); a defrag or restore needs a second copy, so
   * under 2x the quota free the member can wedge at NOSPACE. Warn under 8 GiB, etcd's suggested maximum quota.
   */
  etcdMinFreeBytes: 4 * GIB,
  etcdRecFreeBytes: 8 * GIB,
  /**
   * Images: kubelet starts evicting at imagefs.available < 15% (kubelet default evictionHard); below 10 GiB free
   * (Talos's minimum disk) the first kube-prometheus-stack pull alone can fill it.
   */
  imagesMinFreeBytes: 10 * GIB,
  imagesMinFreeRatio: 0.15,
};

/**
 * etcd: wal_fsync_duration_seconds p99 under 10 ms (etcd.io/docs/v3.5/op-guide/hardware and the fio guidance,
 * "the 99th percentile of fdatasync is below 10ms"). We warn from 5 ms: no headroom once the cluster is busy.
 */
export const FSYNC = { failP99Ms: 10, warnP99Ms: 5 };

/**
 * Kernel (kubeadm nodes; Talos ships its own): kubeadm's system validator requires 3.10+
 * (k8s.io/system-validators KernelSpec); Kubernetes docs (kernel-version-requirements) recommend 4.19+ and cgroup
 * v2 needs 5.8+; Cilium needs 5.4+ (docs.cilium.io system requirements, Cilium 1.16), 5.10+ from 1.18.
 */
export const KERNEL = { min: '3.10', rec: '4.19', ciliumMin: '5.4', ciliumRec: '5.10', cgroupV2Rec: '5.8' };

/**
 * Binaries on kubeadm nodes, as kubeadm's preflight InPathCheck lists them (cmd/kubeadm/app/preflight/checks.go):
 * mandatory ones are errors, the others warnings. conntrack was mandatory before Kubernetes 1.32.
 */
export const NODE_BINARIES = {
  required: ['ip', 'iptables', 'mount', 'nsenter'],
  recommended: ['ebtables', 'ethtool', 'socat', 'tc', 'touch'],
  requiredBefore132: ['conntrack'],
};

export interface ToolRequirement {
  name: string;
  /** The minimum version, as text, and why. */
  min?: string;
  why: string;
  versionArgv: string[];
}

/**
 * Tools on the operator's machine.
 * - kubectl: within one minor version of the cluster (kubernetes.io version-skew-policy: kubectl +-1 minor).
 * - talosctl: the same minor as the Talos version in the spec or newer (talos.dev: talosctl should match Talos).
 * - helm: 3.8+ (OCI registries are GA from 3.8: helm.sh/docs/topics/registries/).
 * - etcdctl 3.4+ (the snapshot API we drive); etcdutl (3.5+) is preferred for restores and optional.
 */
export function operatorTools(method: Method, kubernetesVersion: string, talosVersion: string): ToolRequirement[] {
  const [maj, min] = kubernetesVersion.split('.').map(Number);
  const tools: ToolRequirement[] = [
    { name: 'kubectl', min: `${maj}.${min! - 1}`, why: 'talks to the API server; kubectl supports one minor version of skew either way', versionArgv: ['version', '--client', '-o', 'json'] },
    { name: 'helm', min: '3.8', why: 'installs the CNI, monitoring and backup charts (OCI charts need 3.8+)', versionArgv: ['version', '--short'] },
    { name: 'etcdctl', min: '3.4', why: 'takes and checks etcd snapshots for backups and restore drills', versionArgv: ['version'] },
  ];
  if (method === 'talos') tools.unshift({ name: 'talosctl', min: talosVersion.replace(/^v/, '').split('.').slice(0, 2).join('.'), why: 'configures and bootstraps Talos nodes', versionArgv: ['version', '--client', '--short'] });
  else tools.unshift({ name: 'ssh', why: 'groundwork runs kubeadm and the node checks over SSH', versionArgv: ['-V'] });
  return tools;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.replace(/^v/, '').split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function formatBytes(n: number): string {
  // Whole GiB, or large sizes, in GiB; otherwise MiB, so that kubeadm's "1700 MB" reads as 1700 MiB, not "1.7 GiB".
  if (n >= GIB && (n % GIB === 0 || n >= 10 * GIB)) return `${(n / GIB).toFixed(n % GIB === 0 ? 0 : 1)} GiB`;
  if (n >= MIB) return `${Math.round(n / MIB)} MiB`;
  return `${n} B`;
}

/** The thresholds as a table for `--list`. */
export function formatThresholds(): string {
  const rows: string[][] = [];
  for (const method of ['kubeadm', 'talos'] as const)
    for (const role of ['control-plane', 'worker'] as const) {
      const s = SIZING[method][role];
      const cores = (n: number) => `${n} core${n === 1 ? '' : 's'}`;
      rows.push([`${method} ${role}`, `cpu, memory`, `< ${cores(s.minCpus)} or < ${formatBytes(s.minMemoryBytes)}`, `< ${cores(s.recCpus)} or < ${formatBytes(s.recMemoryBytes)}`, s.source]);
    }
  rows.push(['control-plane', 'etcd-disk-fsync', `p99 >= ${FSYNC.failP99Ms} ms`, `p99 >= ${FSYNC.warnP99Ms} ms`, 'etcd hardware guide / fio: 2300-byte writes + fdatasync, 22 MiB']);
  rows.push(['control-plane', 'disk-free-etcd', `< ${formatBytes(DISK.etcdMinFreeBytes)} free`, `< ${formatBytes(DISK.etcdRecFreeBytes)} free`, 'etcd quota 2 GiB default, 8 GiB suggested max']);
  rows.push(['kubeadm node', 'disk-free-images', `< ${formatBytes(DISK.imagesMinFreeBytes)} free`, `< ${DISK.imagesMinFreeRatio * 100}% free`, 'kubelet evictionHard imagefs.available<15%']);
  rows.push(['talos node', 'install-disk', `< ${formatBytes(DISK.installMinBytes)}`, `< ${formatBytes(DISK.installRecBytes)}`, 'talos.dev System Requirements']);
  rows.push(['kubeadm node', 'kernel', `< ${KERNEL.min} (cilium < ${KERNEL.ciliumMin})`, `< ${KERNEL.rec} (cilium < ${KERNEL.ciliumRec})`, 'kubeadm system validator; docs.cilium.io']);
  rows.push(['kubeadm node', 'swap', '-', 'any active swap', 'kubeadm: swap is a warning since 1.28 (NodeSwap)']);
  rows.push(['kubeadm node', 'cgroup-v2', '-', 'cgroup v1', 'Kubernetes 1.31: cgroup v1 in maintenance mode']);
  rows.push(['kubeadm node', 'ip-forward', 'net.ipv4.ip_forward != 1', '-', 'kubeadm preflight FileContent check']);
  rows.push(['kubeadm node', 'bin-*', NODE_BINARIES.required.join(' '), NODE_BINARIES.recommended.join(' '), 'kubeadm preflight InPathCheck']);
  rows.push(['spec', 'pod-cidr-capacity', `nodes do not fit, or node mask > podCIDR prefix + ${MAX_NODE_MASK_DIFF}`, `< 2x headroom, or < ${DEFAULT_MAX_PODS} pods per node`, 'kube-controller-manager cidrset (max 16-bit diff); kubelet maxPods 110']);
  rows.push(['spec', 'service-cidr-capacity', `> ${MAX_SERVICE_HOST_BITS} host bits (< 1.33), < ${MIN_SERVICE_ADDRESSES} addresses`, `< ${WARN_SERVICE_ADDRESSES} addresses`, 'kube-apiserver --service-cluster-ip-range limit; kubeadm DNS at the 10th address']);
  rows.push(['spec', '*-overlap', 'pod/service/node/route overlap', 'Calico 192.168.0.0/16, Docker 172.17.0.0/16', 'classic collisions (classic-collisions)']);
  rows.push(['operator', 'reach-<node>-<port>', `refused, or no answer in ${DEFAULT_REACH_TIMEOUT_MS} ms`, '-', `TCP connect, ${DEFAULT_REACH_CONCURRENCY} at a time; UDP not verifiable by connect`]);
  rows.push(['operator', 'tool-*', 'missing or too old', '-', 'kubectl +-1 minor; talosctl >= Talos minor; helm >= 3.8; etcdctl >= 3.4']);
  return formatTable(['WHERE', 'CHECK', 'FAIL', 'WARN', 'SOURCE'], rows);
}
