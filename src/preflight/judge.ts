/**
 * Facts in, verdicts out: the same judgement for this machine, a node over SSH, or a Talos node in maintenance
 * mode. Pure. Every verdict says what was measured, why it matters and how to fix it.
 */
import type { StepOutcome } from '../run/types.js';
import type { Spec } from '../spec/schema.js';
import type { Cni } from '../net/ports.js';
import { DISK, FSYNC, KERNEL, compareVersions, formatBytes, type Sizing } from './thresholds.js';
import type { FsyncMeasurement } from './fsync.js';

export function judgeCpu(cpus: number, s: Sizing, where: string): StepOutcome {
  const evidence = { cpus, min: s.minCpus, recommended: s.recCpus, source: s.source };
  const why = 'the API server, etcd, the scheduler and the CNI agent compete for CPU; starved, etcd misses heartbeats and leaders flap';
  if (cpus < s.minCpus)
    return { status: 'fail', summary: `${where} has ${cpus} CPU(s); at least ${s.minCpus} are required`, why, fix: `give ${where} ${s.minCpus}+ vCPUs (${s.recCpus} recommended)`, evidence };
  if (cpus < s.recCpus)
    return { status: 'warn', summary: `${where} has ${cpus} CPUs; ${s.recCpus} are recommended`, why, fix: `give ${where} ${s.recCpus} vCPUs before production load`, evidence };
  return { status: 'pass', summary: `${where} has ${cpus} CPUs (recommended ${s.recCpus})`, why, evidence };
}

export function judgeMemory(bytes: number, s: Sizing, where: string): StepOutcome {
  const evidence = { memoryBytes: bytes, memoryMiB: Math.round(bytes / 1048576), minBytes: s.minMemoryBytes, recommendedBytes: s.recMemoryBytes, source: s.source };
  const why = 'below this the kubelet evicts system pods and etcd or the API server get OOM-killed under load';
  if (bytes < s.minMemoryBytes)
    return { status: 'fail', summary: `${where} has ${formatBytes(bytes)} of memory; at least ${formatBytes(s.minMemoryBytes)} is required`, why, fix: `give ${where} ${formatBytes(s.recMemoryBytes)} of RAM`, evidence };
  if (bytes < s.recMemoryBytes)
    return { status: 'warn', summary: `${where} has ${formatBytes(bytes)} of memory; ${formatBytes(s.recMemoryBytes)} is recommended`, why, fix: `give ${where} ${formatBytes(s.recMemoryBytes)} of RAM before adding monitoring`, evidence };
  return { status: 'pass', summary: `${where} has ${formatBytes(bytes)} of memory (recommended ${formatBytes(s.recMemoryBytes)})`, why, evidence };
}

export function judgeFsync(m: FsyncMeasurement, fullBytes: number): StepOutcome {
  const evidence = { ...m, thresholdP99Ms: FSYNC.failP99Ms, warnP99Ms: FSYNC.warnP99Ms, fullSize: m.totalBytes >= fullBytes };
  const what = `${m.writes} writes of ${m.blockBytes} bytes + fdatasync in ${m.dir}: p99 ${m.p99Ms} ms, p50 ${m.p50Ms} ms, max ${m.maxMs} ms`;
  const why = 'etcd fdatasyncs its WAL on every write; a p99 over 10 ms delays heartbeats, causing leader elections and API timeouts';
  const fix = 'put /var/lib/etcd on a local SSD/NVMe (not network storage, not a shared HDD); on VMs use a disk with guaranteed IOPS';
  if (m.p99Ms >= FSYNC.failP99Ms) return { status: 'fail', summary: `${what} (must be < ${FSYNC.failP99Ms} ms)`, why, fix, evidence };
  if (m.p99Ms >= FSYNC.warnP99Ms) return { status: 'warn', summary: `${what} (< ${FSYNC.failP99Ms} ms passes; little headroom)`, why, fix, evidence };
  return { status: 'pass', summary: `${what} (< ${FSYNC.failP99Ms} ms)`, why, evidence };
}

export function judgeDiskFree(kind: 'etcd' | 'images', measured: string, freeBytes: number, totalBytes: number, asked: string): StepOutcome {
  const evidence = { dir: asked, measured, freeBytes, totalBytes };
  const at = measured === asked ? measured : `${measured} (holding ${asked})`;
  if (kind === 'etcd') {
    const why = 'etcd needs room for its database (2 GiB quota by default) plus a copy during defrag, snapshot and restore; a full disk stops every write (NOSPACE alarm)';
    const fix = `free space on ${measured} or mount a dedicated disk at ${asked}`;
    if (freeBytes < DISK.etcdMinFreeBytes) return { status: 'fail', summary: `${formatBytes(freeBytes)} free at ${at}; etcd needs ${formatBytes(DISK.etcdMinFreeBytes)}`, why, fix, evidence };
    if (freeBytes < DISK.etcdRecFreeBytes) return { status: 'warn', summary: `${formatBytes(freeBytes)} free at ${at}; ${formatBytes(DISK.etcdRecFreeBytes)} recommended`, why, fix, evidence };
    return { status: 'pass', summary: `${formatBytes(freeBytes)} free at ${at}`, why, evidence };
  }
  const why = 'images and container layers live here; the kubelet starts evicting pods when less than 15% is free';
  const fix = `free space on ${measured} (crictl rmi --prune) or grow the filesystem`;
  if (freeBytes < DISK.imagesMinFreeBytes) return { status: 'fail', summary: `${formatBytes(freeBytes)} free at ${at}; at least ${formatBytes(DISK.imagesMinFreeBytes)} needed for images`, why, fix, evidence };
  if (totalBytes > 0 && freeBytes / totalBytes < DISK.imagesMinFreeRatio)
    return { status: 'warn', summary: `${Math.round((100 * freeBytes) / totalBytes)}% free at ${at}; the kubelet evicts below 15%`, why, fix, evidence };
  return { status: 'pass', summary: `${formatBytes(freeBytes)} free at ${at} (${Math.round((100 * freeBytes) / Math.max(1, totalBytes))}%)`, why, evidence };
}

/** "6.1.0-18-amd64" -> "6.1.0" */
export function kernelVersion(release: string): string {
  return (/^(\d+\.\d+(?:\.\d+)?)/.exec(release)?.[1] ?? '0.0');
}

export function judgeKernel(release: string, cni: Cni, where: string): StepOutcome {
  const v = kernelVersion(release);
  const cilium = cni === 'cilium';
  const min = cilium ? KERNEL.ciliumMin : KERNEL.min;
  const rec = cilium ? KERNEL.ciliumRec : KERNEL.rec;
  const evidence = { release, version: v, min, recommended: rec, cni };
  const why = cilium ? "Cilium's eBPF datapath needs kernel features that older kernels lack" : 'container isolation, cgroup v2 and iptables/nftables modes depend on the kernel';
  const fix = `upgrade the kernel on ${where} to ${rec}+ (e.g. the distribution's HWE/backports kernel)`;
  if (compareVersions(v, min) < 0) return { status: 'fail', summary: `${where} runs kernel ${release}; ${min}+ is required${cilium ? ' by Cilium' : ''}`, why, fix, evidence };
  if (compareVersions(v, rec) < 0) return { status: 'warn', summary: `${where} runs kernel ${release}; ${rec}+ is recommended`, why, fix, evidence };
  return { status: 'pass', summary: `${where} runs kernel ${release} (>= ${rec})`, why, evidence };
}

/** /proc/swaps: a header line, then one line per active swap device. */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((d) => d !== '');
}

export function judgeSwap(devices: string[], where: string): StepOutcome {
  const why = 'the kubelet refuses to start with swap on unless configured for it (failSwapOn), and swapping makes memory limits and eviction unreliable';
  if (devices.length > 0)
    return {
      status: 'warn',
      summary: `swap is on at ${where}: ${devices.join(', ')}`,
      why,
      fix: 'swapoff -a and remove swap lines from /etc/fstab (or set kubelet failSwapOn: false with memorySwap.swapBehavior: LimitedSwap)',
      evidence: { devices },
    };
  return { status: 'pass', summary: `no active swap at ${where}`, why, evidence: { devices } };
}

/** The spec sets bootstrap.kubeadm.kubelet.failCgroupV1: false: kubelet 1.35+ runs on cgroup v1 (judgeCgroup's `kubeletAllowsV1`). */
export function kubeletAllowsCgroupV1(spec: Spec): boolean {
  return spec.spec.bootstrap.kubeadm.kubelet.failCgroupV1 === false;
}

/** `kubeletAllowsV1` (kubeletAllowsCgroupV1): kubelet 1.35+ runs on v1, so cgroup v1 is a warning, not a failure. */
export function judgeCgroup(v2: boolean, kubernetesVersion: string, where: string, kubeletAllowsV1 = false): StepOutcome {
  const why = 'Kubernetes put cgroup v1 in maintenance mode in 1.31 and the kubelet refuses it by default from 1.35; cgroup v2 gives reliable memory accounting';
  const evidence = { cgroupV2: v2, kubernetesVersion, kubeletAllowsV1 };
  if (v2) return { status: 'pass', summary: `${where} uses cgroup v2 (unified hierarchy)`, why, evidence };
  if (kubeletAllowsV1) {
    return {
      status: 'warn',
      summary: `${where} uses cgroup v1; the spec lets kubelet run there (bootstrap.kubeadm.kubelet.failCgroupV1: false)`,
      why,
      fix: 'move the node to cgroup v2 (systemd.unified_cgroup_hierarchy=1) before a Kubernetes release that removes v1; kubeadm also needs SystemVerification in bootstrap.kubeadm.ignorePreflightErrors',
      evidence,
    };
  }
  const fatal = compareVersions(kubernetesVersion, '1.35') >= 0;
  return {
    status: fatal ? 'fail' : 'warn',
    summary: `${where} uses cgroup v1 (no /sys/fs/cgroup/cgroup.controllers)`,
    why,
    fix: 'boot with systemd.unified_cgroup_hierarchy=1 (kernel 5.8+, systemd 244+) or use a distribution that defaults to cgroup v2',
    evidence,
  };
}

export function judgeIpForward(v4: string | undefined, v6: string | undefined, needV6: boolean, where: string): StepOutcome {
  const evidence = { 'net.ipv4.ip_forward': v4 ?? null, 'net.ipv6.conf.all.forwarding': v6 ?? null };
  const why = "pods reach other nodes and Services only if the node forwards packets; kubeadm's preflight refuses to go on without it";
  const bad: string[] = [];
  if (v4?.trim() !== '1') bad.push(`net.ipv4.ip_forward = ${v4?.trim() ?? 'unreadable'}`);
  if (needV6 && v6?.trim() !== '1') bad.push(`net.ipv6.conf.all.forwarding = ${v6?.trim() ?? 'unreadable'}`);
  if (bad.length > 0) {
    const keys = ['net.ipv4.ip_forward', ...(needV6 ? ['net.ipv6.conf.all.forwarding'] : [])];
    return {
      status: 'fail',
      summary: `${where}: ${bad.join(', ')} (must be 1)`,
      why,
      fix: `${keys.map((k) => `sysctl -w ${k}=1`).join('; ')}; persist it: printf '${keys.map((k) => `${k} = 1`).join('\\n')}\\n' > /etc/sysctl.d/99-kubernetes.conf`,
      evidence,
    };
  }
  return { status: 'pass', summary: `${where}: packet forwarding is on`, why, evidence };
}

export function judgeBinary(name: string, foundAt: string | undefined, required: boolean, where: string): StepOutcome {
  const why = required ? `kubeadm and the kubelet call ${name}; without it node setup fails part-way` : `${name} is used by kube-proxy, port-forward or CNI plugins; some features break without it`;
  if (foundAt) return { status: 'pass', summary: `${name} found at ${foundAt} on ${where}`, why, evidence: { name, path: foundAt } };
  const pkg: Record<string, string> = { ip: 'iproute2', tc: 'iproute2', nsenter: 'util-linux', mount: 'mount', touch: 'coreutils' };
  return {
    status: required ? 'fail' : 'warn',
    summary: `${name} is not on PATH on ${where}`,
    why,
    fix: `install it (Debian/Ubuntu: apt-get install ${pkg[name] ?? name})`,
    evidence: { name, path: null, required },
  };
}

export function judgeCriSocket(socket: string, kind: string | undefined, where: string): StepOutcome {
  const file = socket.replace(/^unix:\/\//, '');
  const why = 'kubeadm and the kubelet talk to the container runtime through this socket; without a runtime no pod starts';
  if (kind === 'socket') return { status: 'pass', summary: `container runtime socket ${file} is present on ${where}`, why, evidence: { socket: file } };
  return {
    status: 'fail',
    summary: kind ? `${file} on ${where} is a ${kind}, not a socket` : `no container runtime socket at ${file} on ${where}`,
    why,
    fix: 'install and start containerd (apt-get install containerd; systemctl enable --now containerd) or set spec.bootstrap.kubeadm.criSocket',
    evidence: { socket: file, kind: kind ?? null },
  };
}
