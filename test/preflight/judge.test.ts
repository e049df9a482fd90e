import { describe, expect, it } from 'vitest';
import { judgeCgroup, judgeCpu, judgeDiskFree, judgeIpForward, judgeKernel, judgeMemory, judgeSwap, kernelVersion, parseSwaps } from '../../src/preflight/judge.js';
import { SIZING, compareVersions, formatThresholds } from '../../src/preflight/thresholds.js';

const MB = 1024 * 1024;
const GIB = 1024 * MB;

describe('CPU and memory thresholds by method and role', () => {
  it.each<[string, 'kubeadm' | 'talos', 'control-plane' | 'worker', number, 'pass' | 'warn' | 'fail']>([
    ['kubeadm cp, 1 CPU (kubeadm refuses)', 'kubeadm', 'control-plane', 1, 'fail'],
    ['kubeadm cp, 2 CPUs (minimum)', 'kubeadm', 'control-plane', 2, 'warn'],
    ['kubeadm cp, 4 CPUs', 'kubeadm', 'control-plane', 4, 'pass'],
    ['talos cp, 3 CPUs', 'talos', 'control-plane', 3, 'warn'],
    ['talos worker, 1 CPU', 'talos', 'worker', 1, 'warn'],
    ['kubeadm worker, 2 CPUs', 'kubeadm', 'worker', 2, 'pass'],
  ])('%s -> %s', (_n, method, role, cpus, status) => {
    expect(judgeCpu(cpus, SIZING[method][role], 'cp-1').status).toBe(status);
  });

  it.each<[string, 'kubeadm' | 'talos', 'control-plane' | 'worker', number, 'pass' | 'warn' | 'fail']>([
    // kubeadm compares MemTotal in MiB with 1700: a "2 GB" VM with 1.6 GiB usable fails.
    ['kubeadm cp, 1699 MiB', 'kubeadm', 'control-plane', 1699 * MB, 'fail'],
    ['kubeadm cp, 1700 MiB', 'kubeadm', 'control-plane', 1700 * MB, 'warn'],
    ['kubeadm cp, 8 GiB', 'kubeadm', 'control-plane', 8 * GIB, 'pass'],
    ['talos cp, 1.9 GiB (below Talos 2 GiB minimum)', 'talos', 'control-plane', 1.9 * GIB, 'fail'],
    ['talos cp, 4 GiB (Talos recommends 4, we want 8)', 'talos', 'control-plane', 4 * GIB, 'warn'],
    ['kubeadm worker, 1000 MiB (kubespray minimum 1024)', 'kubeadm', 'worker', 1000 * MB, 'fail'],
    ['talos worker, 2 GiB', 'talos', 'worker', 2 * GIB, 'pass'],
  ])('%s -> %s', (_n, method, role, bytes, status) => {
    const v = judgeMemory(bytes, SIZING[method][role], 'cp-1');
    expect(v.status).toBe(status);
    if (status !== 'pass') {
      expect(v.why).toBeTruthy();
      expect(v.fix).toMatch(/RAM/);
    }
  });
});

describe('kernel, swap, cgroup, forwarding, disk', () => {
  it.each([
    ['6.1.0-18-amd64', 'cilium', 'pass'],
    ['5.4.0-150-generic', 'cilium', 'warn'],
    ['4.19.0-26-amd64', 'cilium', 'fail'],
    ['4.19.0-26-amd64', 'calico', 'pass'],
    ['4.15.0-213-generic', 'flannel', 'warn'],
    ['3.10.0-1160.el7.x86_64', 'calico', 'warn'],
    ['2.6.32-754.el6.x86_64', 'calico', 'fail'],
  ] as const)('kernel %s with %s -> %s', (release, cni, status) => {
    expect(judgeKernel(release, cni, 'cp-1').status).toBe(status);
  });

  it('reads kernel versions', () => {
    expect(kernelVersion('6.18.44-fc-v782')).toBe('6.18.44');
    expect(kernelVersion('5.15.0-91-generic')).toBe('5.15.0');
    expect(compareVersions('4.19', '4.19.0')).toBe(0);
    expect(compareVersions('1.32.4', '1.33')).toBeLessThan(0);
  });

  it('swap from /proc/swaps', () => {
    const swaps = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap.img                               file\t\t2097148\t\t0\t\t-2\n';
    expect(parseSwaps(swaps)).toEqual(['/swap.img']);
    expect(judgeSwap(parseSwaps(swaps), 'cp-1')).toMatchObject({ status: 'warn', summary: 'swap is on at cp-1: /swap.img' });
    expect(judgeSwap(parseSwaps('Filename\tType\tSize\tUsed\tPriority\n'), 'cp-1').status).toBe('pass');
  });

  it('cgroup v1 is a warning before 1.35 and a failure from 1.35', () => {
    expect(judgeCgroup(false, '1.32.4', 'cp-1').status).toBe('warn');
    expect(judgeCgroup(false, '1.35.0', 'cp-1').status).toBe('fail');
    expect(judgeCgroup(true, '1.35.0', 'cp-1').status).toBe('pass');
    // The spec says kubelet may run on v1 (failCgroupV1: false): a warning that names the setting.
    expect(judgeCgroup(false, '1.37.2', 'cp-1', true)).toMatchObject({ status: 'warn', summary: expect.stringContaining('failCgroupV1: false') });
  });

  it('ip forwarding (and IPv6 forwarding for dual-stack)', () => {
    expect(judgeIpForward('1\n', undefined, false, 'cp-1').status).toBe('pass');
    const off = judgeIpForward('0\n', '0\n', true, 'cp-1');
    expect(off.status).toBe('fail');
    expect(off.summary).toBe('cp-1: net.ipv4.ip_forward = 0, net.ipv6.conf.all.forwarding = 0 (must be 1)');
    expect(off.fix).toContain('sysctl -w net.ipv4.ip_forward=1; sysctl -w net.ipv6.conf.all.forwarding=1');
  });

  it.each([
    ['etcd', 3 * GIB, 100 * GIB, 'fail'],
    ['etcd', 6 * GIB, 100 * GIB, 'warn'],
    ['etcd', 50 * GIB, 100 * GIB, 'pass'],
    ['images', 8 * GIB, 100 * GIB, 'fail'],
    ['images', 12 * GIB, 100 * GIB, 'warn'],
    ['images', 40 * GIB, 100 * GIB, 'pass'],
  ] as const)('%s with %i bytes free of %i -> %s', (kind, free, total, status) => {
    expect(judgeDiskFree(kind, '/var/lib', free, total, `/var/lib/${kind}`).status).toBe(status);
  });

  it('prints the thresholds table with sources', () => {
    const t = formatThresholds();
    expect(t).toMatch(/^WHERE\s+CHECK\s+FAIL\s+WARN\s+SOURCE/);
    expect(t).toMatch(/kubeadm control-plane\s+cpu, memory\s+< 2 cores or < 1700 MiB\s+< 4 cores or < 8 GiB/);
    expect(t).toMatch(/etcd-disk-fsync\s+p99 >= 10 ms/);
  });
});
