import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildPreflightStage } from '../../src/preflight/stage.js';
import { buildFactScript, parseFactOutput, parseTalosctlJson, talosFactsFrom } from '../../src/preflight/remote.js';
import type { Stage, StepOutcome } from '../../src/run/types.js';
import { createTestContext } from '../helpers/context.js';
import { createFakeTools, type FakeRule } from '../helpers/fake-tools.js';
import { fakeWorld, loopbackSpec } from './helpers.js';
import { whichOnPath } from '../../src/preflight/world.js';
import { systemPathWithout } from '../helpers/path.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'gw-remote-'));
  dirs.push(d);
  return d;
}

// The shape talosctl prints for `get ... -o json` (cmd/talosctl/cmd/talos/output/json.go): one object per
// resource with node, metadata and spec, indented by four spaces, back to back.
function talosJson(node: string, type: string, items: { id: string; spec: Record<string, unknown> }[]): string {
  return items
    .map((it) => `${JSON.stringify({ node, metadata: { namespace: type.startsWith('Disks') ? 'runtime' : 'hardware', type, id: it.id, version: 1, owner: 'x', phase: 'running' }, spec: it.spec }, null, 4)}\n`)
    .join('');
}

function talosRules(node: string, o: { threads: number; memMiB: number[]; diskBytes: number; address: string }): FakeRule[] {
  const get = (res: string, stdout: string): FakeRule => ({ match: ['--insecure', '-n', node, 'get', res, '-o', 'json'], stdout });
  return [
    get('cpus', talosJson(node, 'Processors.hardware.talos.dev', [{ id: 'CPU-0', spec: { socket: 'CPU 0', manufacturer: 'QEMU', productName: 'pc-q35-8.2', coreCount: o.threads, coreEnabled: o.threads, threadCount: o.threads } }])),
    get('memorymodules', talosJson(node, 'MemoryModules.hardware.talos.dev', o.memMiB.map((m, i) => ({ id: `DIMM ${i}`, spec: { sizeMiB: m, deviceLocator: `DIMM ${i}`, manufacturer: 'QEMU' } })))),
    get(
      'disks',
      talosJson(node, 'Disks.block.talos.dev', [
        { id: 'loop0', spec: { dev_path: '/dev/loop0', size: 73_728_000, pretty_size: '74 MB', readonly: true, cdrom: false } },
        { id: 'sda', spec: { dev_path: '/dev/sda', size: o.diskBytes, pretty_size: '', io_size: 512, sector_size: 512, readonly: false, cdrom: false, model: 'QEMU HARDDISK', transport: 'virtio', symlinks: ['/dev/disk/by-id/scsi-0QEMU_HARDDISK'] } },
        { id: 'sr0', spec: { dev_path: '/dev/sr0', size: 104_857_600, readonly: false, cdrom: true } },
      ]),
    ),
    get(
      'addresses',
      talosJson(node, 'AddressStatuses.net.talos.dev', [
        { id: 'lo/127.0.0.1/8', spec: { address: '127.0.0.1/8', linkName: 'lo', family: 'inet4', scope: 'host' } },
        { id: `eth0/${o.address}/24`, spec: { address: `${o.address}/24`, linkName: 'eth0', family: 'inet4', scope: 'global' } },
      ]),
    ),
  ];
}

async function runAll(stage: Stage, prefixless: string[], env: Record<string, string>): Promise<Record<string, StepOutcome>> {
  const ctx = createTestContext({ env });
  const out: Record<string, StepOutcome> = {};
  for (const s of stage.steps) if (prefixless.some((p) => s.id.startsWith(p))) out[s.id] = await s.run(ctx);
  return out;
}

const open = async () => ({ ok: true, check: '' });

describe('Talos nodes in maintenance mode (talosctl --insecure, strict fake)', () => {
  it('reads CPUs, memory, disks and addresses and judges them', async () => {
    const fakes = createFakeTools(tmp(), {
      talosctl: [
        ...talosRules('127.0.77.11', { threads: 4, memMiB: [4096, 4096], diskBytes: 128 * 1024 ** 3, address: '127.0.77.11' }),
        // A worker with too little memory, a small disk, and an address behind NAT.
        ...talosRules('127.0.77.21', { threads: 1, memMiB: [768], diskBytes: 8 * 1024 ** 3, address: '127.0.99.5' }),
      ],
    });
    const world = fakeWorld({ path: { talosctl: path.join(fakes.binDir, 'talosctl') } });
    const stage = buildPreflightStage(loopbackSpec(), { world, remote: { reachable: open } });
    const r = await runAll(stage, ['cpu-', 'memory-', 'install-disk-', 'address-'], fakes.env);
    fakes.verify();

    expect(r['cpu-cp-1']).toMatchObject({ status: 'pass', summary: 'cp-1 (127.0.77.11) has 4 CPUs (recommended 4)' });
    expect(r['memory-cp-1']).toMatchObject({ status: 'pass', summary: 'cp-1 (127.0.77.11) has 8 GiB of memory (recommended 8 GiB)' });
    expect(r['install-disk-cp-1']).toMatchObject({ status: 'pass', summary: '/dev/sda on cp-1 (127.0.77.11) is 128 GiB' });
    expect(r['address-cp-1']!.status).toBe('pass');

    expect(r['cpu-w-1']).toMatchObject({ status: 'warn', summary: 'w-1 (127.0.77.21) has 1 CPUs; 2 are recommended' });
    expect(r['memory-w-1']).toMatchObject({ status: 'fail', summary: 'w-1 (127.0.77.21) has 768 MiB of memory; at least 1 GiB is required' });
    expect(r['install-disk-w-1']).toMatchObject({ status: 'fail', summary: '/dev/sda on w-1 (127.0.77.21) is 8 GiB; Talos needs 10 GiB' });
    expect(r['address-w-1']!.status).toBe('warn');
    expect(r['address-w-1']!.summary).toContain('does not list it among its addresses (127.0.0.1, 127.0.99.5)');
    // Every call was exactly the documented argv.
    expect(fakes.sequence()).toContain('talosctl --insecure -n 127.0.77.11 get memorymodules -o json');
  });

  it('a node that does not answer the maintenance API fails once, and its other checks are skipped', async () => {
    const fakes = createFakeTools(tmp(), {
      talosctl: [{ match: ['--insecure', '-n', /127\.0\.77\.\d+/, 'get', /\w+/, '-o', 'json'], stderr: 'rpc error: code = Unavailable desc = connection refused\n', exitCode: 1 }],
    });
    const world = fakeWorld({ path: { talosctl: path.join(fakes.binDir, 'talosctl') } });
    const stage = buildPreflightStage(loopbackSpec(), { world, remote: { reachable: open } });
    const r = await runAll(stage, ['cpu-cp-1', 'memory-cp-1', 'install-disk-cp-1'], fakes.env);
    expect(r['cpu-cp-1']!.status).toBe('fail');
    expect(r['cpu-cp-1']!.summary).toMatch(/could not read cp-1 through the Talos maintenance API: talosctl --insecure -n 127\.0\.77\.11 get \w+ exited 1: (.* \| )?rpc error/);
    expect(r['memory-cp-1']).toMatchObject({ status: 'skip', summary: 'not judged: see cpu-cp-1' });
    fakes.verify();
  });

  it('parses back-to-back indented objects', () => {
    const text = talosJson('n', 'Processors.hardware.talos.dev', [
      { id: 'CPU-0', spec: { threadCount: 8, coreCount: 4 } },
      { id: 'CPU-1', spec: { coreCount: 4 } },
    ]);
    expect(parseTalosctlJson(text)).toHaveLength(2);
    expect(talosFactsFrom({ cpus: text, memorymodules: '', disks: '', addresses: '' }).cpus).toBe(12);
  });
});

describe('kubeadm nodes over ssh (strict fake ssh)', () => {
  const fio = JSON.stringify({ jobs: [{ jobname: 'gw-etcd', sync: { total_ios: 0, lat_ns: { min: 1, max: 40_000_000, mean: 3_000_000, N: 10029, percentile: { '50.000000': 2_899_968, '99.000000': 12_517_376 } } } }] });
  const facts = (o: { cpus: number; memkb: number; swaps?: string; ipfwd?: string; cri?: string; missing?: string[]; extra?: string[] }) =>
    [
      `cpus=${o.cpus}`,
      `memkb=${o.memkb}`,
      'kernel=6.1.0-18-amd64',
      `swaps=${o.swaps ?? ''}`,
      'cgroupv2=1',
      `ipfwd=${o.ipfwd ?? '1'}`,
      'ip6fwd=0',
      ...['ip', 'iptables', 'mount', 'nsenter', 'ebtables', 'ethtool', 'socat', 'tc', 'touch', 'conntrack'].map((b) => `bin.${b}=${o.missing?.includes(b) ? '' : `/usr/sbin/${b}`}`),
      `cri=${o.cri ?? 'socket'}`,
      'df.etcd=102687672 81234567 /',
      'df.images=102687672 81234567 /',
      ...(o.extra ?? []),
    ].join('\n') + '\n';

  it('runs one read-only script per node and applies the same judgements', async () => {
    // The one builder's options (test/net/ssh-argv.test.ts): accept-new and bounded waits, the destination after --.
    const argv = (host: string) => [
      '-i', '/home/op/.ssh/id_ed25519', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10',
      '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '-p', '22', '--', `root@${host}`, 'sh', '-s',
    ];
    const fakes = createFakeTools(tmp(), {
      ssh: [
        { match: argv('127.0.77.11'), stdout: facts({ cpus: 4, memkb: 16_384_000, extra: ['ntp=yes', `fsync.fio=${fio}`, 'kubeadm=v1.37.2'] }), times: 1 },
        { match: argv('127.0.77.21'), stdout: facts({ cpus: 2, memkb: 4_000_000, swaps: '/swap.img ', ipfwd: '0', cri: 'missing', missing: ['iptables', 'socat'], extra: ['kubeadm=v1.36.9'] }), times: 1 },
      ],
    });
    const world = fakeWorld({ path: { ssh: path.join(fakes.binDir, 'ssh') } });
    const stage = buildPreflightStage(loopbackSpec({ method: 'kubeadm', cni: 'calico' }), { world, remote: { reachable: open } });
    const r = await runAll(stage, ['cpu-', 'memory-', 'swap-', 'ip-forward-', 'cri-socket-', 'binaries-', 'disk-free-', 'kernel-', 'cgroup-v2-', 'time-sync-', 'etcd-disk-fsync-', 'kubeadm-'], fakes.env);
    fakes.verify();
    expect(r['cpu-cp-1']!.status).toBe('pass');
    expect(r['memory-cp-1']!.status).toBe('pass');
    expect(r['disk-free-etcd-cp-1']).toMatchObject({ status: 'pass', summary: '77.5 GiB free at / (holding /var/lib/etcd)' });
    expect(r['kernel-cp-1']!.status).toBe('pass');
    expect(r['swap-w-1']).toMatchObject({ status: 'warn', summary: 'swap is on at w-1 (127.0.77.21): /swap.img' });
    expect(r['ip-forward-w-1']!.status).toBe('fail');
    expect(r['cri-socket-w-1']!.status).toBe('fail');
    expect(r['binaries-w-1']).toMatchObject({ status: 'fail', summary: 'missing on w-1 (127.0.77.21): iptables, socat (recommended)' });
    expect(r['binaries-w-1']!.fix).toBe('install them: apt-get install iptables socat');
    expect(r).not.toHaveProperty('disk-free-etcd-w-1');
    expect(r).not.toHaveProperty('etcd-disk-fsync-w-1');
    expect(r['etcd-disk-fsync-cp-1']).toMatchObject({ status: 'fail', summary: 'fio on cp-1 (127.0.77.11) (2300-byte writes + fdatasync, 22 MiB): p99 12.517 ms, p50 2.900 ms (must be < 10 ms)' });
    expect(r['time-sync-cp-1']!.status).toBe('pass');
    expect(r['kubeadm-cp-1']!.status).toBe('pass');
    expect(r['kubeadm-w-1']).toMatchObject({ status: 'fail', summary: 'w-1 (127.0.77.21) has kubeadm 1.36.9; the spec wants 1.37.2' });
    expect(r['time-sync-w-1']).toMatchObject({ status: 'warn', summary: 'w-1 (127.0.77.21): could not confirm clock sync (no answer from timedatectl)' });
  });

  it('the fact script, run for real by sh on this machine, reports what Node sees', async () => {
    const etcdParent = tmp();
    const script = buildFactScript({ etcdDataDir: path.join(etcdParent, 'etcd', 'member'), imagesDir: '/var/lib/containerd', criSocket: 'unix:///run/containerd/containerd.sock', fsync: true });
    // A PATH without fio, whether or not this machine has it: the script must fall back to dd.
    const PATH = systemPathWithout(['fio']);
    const out = execFileSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', env: { PATH } });
    const f = parseFactOutput(out);
    expect(f.cpus).toBe(os.cpus().length);
    expect(f.memoryBytes).toBe(os.totalmem());
    expect(f.kernel).toBe(os.release());
    expect(f.binaries.mount).toBe(await whichOnPath('mount', `${PATH}:/usr/local/sbin:/usr/sbin:/sbin`));
    expect(f.df.etcd!.totalBytes).toBeGreaterThan(0);
    expect(f.df.etcd!.mount.startsWith('/')).toBe(true);
    expect(['socket', 'missing', 'other']).toContain(f.cri);
    // No fio here: dd timed 1000 synced writes beside the (not yet created) etcd dir, and cleaned up.
    expect(f.fsync).toMatchObject({ tool: 'dd', writes: 1000, dir: etcdParent });
    expect((f.fsync as { meanMs: number }).meanMs).toBeGreaterThan(0);
    expect(readdirSync(etcdParent)).toEqual([]);
  });
});
