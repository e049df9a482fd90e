/**
 * The nodes themselves, before bootstrap, with no agent:
 * - Talos nodes in maintenance mode: `talosctl --insecure -n IP get cpus|memorymodules|disks|addresses -o json`
 *   (talosctl prints one JSON object per resource, {node, metadata, spec}, indented, back to back).
 * - kubeadm nodes: one `ssh ... sh -s` per node running a read-only fact script; the same judgements as for
 *   this machine are applied to what it prints.
 * Facts are gathered once per node, on the first of its checks, and only if the node answered the reachability
 * probe (otherwise its checks are skipped, pointing at the reach check).
 */
import { dialRefusal } from '../net/loopback-guard.js';
import { buildSshArgv, endpointForNode, expandHome } from '../net/ssh-argv.js';
import os from 'node:os';
import type { Step, StepContext, StepOutcome } from '../run/types.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import type { Cni } from '../net/ports.js';
import { parseCidrList } from '../net/cidr.js';
import type { World } from './world.js';
import { DISK, FSYNC, NODE_BINARIES, SIZING, compareVersions, formatBytes } from './thresholds.js';
import { judgeBinary, judgeCgroup, kubeletAllowsCgroupV1, judgeCpu, judgeCriSocket, judgeDiskFree, judgeIpForward, judgeKernel, judgeMemory, judgeSwap } from './judge.js';

export interface RemoteOptions {
  /** Per-command timeout. */
  timeoutMs?: number;
  /** Says whether a node answered its pre-bootstrap port; remote checks of a silent node are skipped. */
  reachable?: (node: NodeSpec, ctx: StepContext) => Promise<{ ok: boolean; check: string }>;
}

const STAGE = 'preflight';

function step(id: string, title: string, run: (ctx: StepContext) => Promise<StepOutcome>): Step {
  return { id, title, stage: STAGE, continueOnFail: true, timeoutMs: 60_000, run };
}

// ------------------------------------------------------------------------------------------------------------
// talosctl

/** talosctl -o json: indented objects back to back; each top-level object starts with "{" at column 0. */
export function parseTalosctlJson(text: string): { node?: string; metadata?: { id?: string }; spec?: Record<string, unknown> }[] {
  return text
    .split(/\n(?=\{)/)
    .map((chunk) => chunk.trim())
    .filter((chunk) => chunk.startsWith('{'))
    .map((chunk) => JSON.parse(chunk) as { node?: string; metadata?: { id?: string }; spec?: Record<string, unknown> });
}

interface TalosFacts {
  cpus: number;
  memoryBytes: number;
  disks: { devPath: string; sizeBytes: number; readonly: boolean; cdrom: boolean; symlinks: string[] }[];
  addresses: { address: string; link: string }[];
}

export function talosFactsFrom(out: { cpus: string; memorymodules: string; disks: string; addresses: string }): TalosFacts {
  const num = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
  // Logical CPUs, as the kubelet and kubeadm count them (threads); coreCount when threads are not reported.
  const cpus = parseTalosctlJson(out.cpus).reduce((sum, r) => sum + (num(r.spec?.threadCount) || num(r.spec?.coreCount)), 0);
  const memoryBytes = parseTalosctlJson(out.memorymodules).reduce((sum, r) => sum + num(r.spec?.sizeMiB) * 1024 * 1024, 0);
  const disks = parseTalosctlJson(out.disks).map((r) => ({
    devPath: String(r.spec?.dev_path ?? `/dev/${r.metadata?.id ?? ''}`),
    sizeBytes: num(r.spec?.size),
    readonly: r.spec?.readonly === true,
    cdrom: r.spec?.cdrom === true,
    symlinks: Array.isArray(r.spec?.symlinks) ? (r.spec!.symlinks as string[]) : [],
  }));
  const addresses = parseTalosctlJson(out.addresses).map((r) => ({ address: String(r.spec?.address ?? '').split('/')[0]!, link: String(r.spec?.linkName ?? '') }));
  return { cpus, memoryBytes, disks, addresses };
}

/**
 * A node's facts, asked once for all of its checks: not at all when the dial guard refuses the address, the node
 * did not answer its reachability check, or the tool is not on PATH (each a skip saying why), else by `query`.
 * Returns how a check is judged from them: the node's first check (cpu-<node>) reports a failed query, the
 * others skip pointing to it.
 */
function factsOnce<F extends object>(node: NodeSpec, world: World, opts: RemoteOptions, tool: string, query: (bin: string, ctx: StepContext) => Promise<F | StepOutcome>) {
  let facts: Promise<F | StepOutcome> | undefined;
  const gather = (ctx: StepContext) =>
    (facts ??= (async (): Promise<F | StepOutcome> => {
      const refusal = dialRefusal(node.address, world.env);
      if (refusal) return { status: 'skip', summary: refusal };
      const gate = await opts.reachable?.(node, ctx);
      if (gate && !gate.ok) return { status: 'skip', summary: `not queried: ${node.address} did not answer (see ${gate.check})` };
      const bin = await world.which(tool);
      if (!bin) return { status: 'skip', summary: `not queried: ${tool} is not on PATH (see tool-${tool})` };
      return query(bin, ctx);
    })());
  return (fn: (f: F) => StepOutcome, isFirst = false) => async (ctx: StepContext): Promise<StepOutcome> => {
    const f = await gather(ctx);
    if ('status' in f) return isFirst || f.status === 'skip' ? (f as StepOutcome) : { status: 'skip', summary: `not judged: see cpu-${node.name}` };
    return fn(f);
  };
}

function talosSteps(spec: Spec, world: World, opts: RemoteOptions): Step[] {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const steps: Step[] = [];
  for (const node of spec.spec.nodes) {
    const withFacts = factsOnce<TalosFacts>(node, world, opts, 'talosctl', async (talosctl, ctx) => {
      const get = async (resource: string) => {
        const r = await ctx.exec([talosctl, '--insecure', '-n', node.address, 'get', resource, '-o', 'json'], { timeoutMs, allowFailure: true });
        if (r.exitCode !== 0) throw new Error(`talosctl --insecure -n ${node.address} get ${resource} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
        return r.stdout;
      };
      try {
        const [cpus, memorymodules, disks, addresses] = await Promise.all(['cpus', 'memorymodules', 'disks', 'addresses'].map(get));
        return talosFactsFrom({ cpus: cpus!, memorymodules: memorymodules!, disks: disks!, addresses: addresses! });
      } catch (e) {
        return {
          status: 'fail',
          summary: `could not read ${node.name} through the Talos maintenance API: ${(e as Error).message}`,
          why: 'groundwork applies the machine config through this API; if it does not answer, bootstrap cannot start',
          fix: `check that ${node.name} runs Talos in maintenance mode (not yet configured) and that talosctl matches its version; a configured node needs a talosconfig instead of --insecure`,
        };
      }
    });
    const sizing = SIZING.talos[node.role];
    const where = `${node.name} (${node.address})`;
    steps.push(
      step(`cpu-${node.name}`, `${node.name}: CPU cores (talosctl)`, withFacts((f) => judgeCpu(f.cpus, sizing, where), true)),
      step(
        `memory-${node.name}`,
        `${node.name}: memory (talosctl)`,
        withFacts((f) => {
          if (f.memoryBytes === 0)
            return { status: 'warn', summary: `${where} reports no memory modules (common on VMs without SMBIOS memory tables)`, why: 'memory cannot be judged from here', fix: `check the VM/host settings: ${node.role} needs ${formatBytes(sizing.minMemoryBytes)}, ${formatBytes(sizing.recMemoryBytes)} recommended` };
          return judgeMemory(f.memoryBytes, sizing, where);
        }, false),
      ),
      step(
        `install-disk-${node.name}`,
        `${node.name}: install disk`,
        withFacts((f) => judgeInstallDisk(f, node.installDisk ?? spec.spec.bootstrap.talos.installDisk, where), false),
      ),
      step(
        `address-${node.name}`,
        `${node.name}: has address ${node.address}`,
        withFacts((f) => {
          const has = f.addresses.some((a) => a.address === node.address);
          const evidence = { addresses: f.addresses };
          const why = 'the spec address becomes the node IP in certificates and etcd peer URLs; an address the node does not hold breaks both';
          if (has) return { status: 'pass', summary: `${where} holds ${node.address}`, why, evidence };
          return {
            status: 'warn',
            summary: `${node.name} answered on ${node.address} but does not list it among its addresses (${f.addresses.map((a) => a.address).join(', ') || 'none'}): NAT or a forwarded port?`,
            why,
            fix: `use the node's own address in spec.nodes (${f.addresses.find((a) => a.link !== 'lo')?.address ?? 'see talosctl get addresses'}) or add it to certSANs`,
            evidence,
          };
        }, false),
      ),
    );
  }
  return steps;
}

function judgeInstallDisk(f: TalosFacts, disk: string, where: string): StepOutcome {
  const d = f.disks.find((x) => x.devPath === disk || x.symlinks.includes(disk));
  const evidence = { installDisk: disk, disks: f.disks.map((x) => ({ devPath: x.devPath, sizeBytes: x.sizeBytes })) };
  const why = 'Talos installs itself and keeps etcd and images on this disk';
  if (!d)
    return { status: 'fail', summary: `${where} has no disk ${disk} (found: ${f.disks.map((x) => `${x.devPath} ${formatBytes(x.sizeBytes)}`).join(', ') || 'none'})`, why, fix: `set spec.bootstrap.talos.installDisk (or the node's installDisk) to one of the disks listed`, evidence };
  if (d.readonly || d.cdrom) return { status: 'fail', summary: `${disk} on ${where} is ${d.cdrom ? 'a CD-ROM' : 'read-only'}`, why, fix: 'pick a writable disk for installDisk', evidence };
  if (d.sizeBytes < DISK.installMinBytes) return { status: 'fail', summary: `${disk} on ${where} is ${formatBytes(d.sizeBytes)}; Talos needs ${formatBytes(DISK.installMinBytes)}`, why, fix: 'attach a larger disk', evidence };
  if (d.sizeBytes < DISK.installRecBytes) return { status: 'warn', summary: `${disk} on ${where} is ${formatBytes(d.sizeBytes)}; ${formatBytes(DISK.installRecBytes)} recommended`, why, fix: 'a larger disk leaves room for images and etcd growth', evidence };
  return { status: 'pass', summary: `${disk} on ${where} is ${formatBytes(d.sizeBytes)}`, why, evidence };
}

// ------------------------------------------------------------------------------------------------------------
// ssh (kubeadm)

const DD_BLOCK = 2300;
/** 1000 synced writes (2.3 MB): enough for a mean, short enough for a preflight over SSH. */
const DD_COUNT = 1000;

const BINARIES = [...NODE_BINARIES.required, ...NODE_BINARIES.recommended, ...NODE_BINARIES.requiredBefore132];

/**
 * A POSIX sh script printing key=value facts. Run by `ssh host sh -s` with the script on stdin. It only reads,
 * except with `fsync`: then it writes a temp file beside the etcd data dir (removed at once) to time
 * fdatasync: with fio when the node has it (etcd's own recipe, p99 exact), else dd oflag=dsync (mean only).
 */
export function buildFactScript(opts: { etcdDataDir: string; imagesDir: string; criSocket: string; fsync?: boolean }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"',
    'echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"',
    "echo \"memkb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)\"",
    'echo "kernel=$(uname -r)"',
    "echo \"swaps=$(awk 'NR>1{printf \"%s \", $1}' /proc/swaps 2>/dev/null)\"",
    'if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo cgroupv2=1; else echo cgroupv2=0; fi',
    'echo "ipfwd=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)"',
    'echo "ip6fwd=$(cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null)"',
    `for b in ${BINARIES.join(' ')}; do echo "bin.$b=$(command -v "$b" 2>/dev/null)"; done`,
    `s=${q(opts.criSocket.replace(/^unix:\/\//, ''))}; if [ -S "$s" ]; then echo cri=socket; elif [ -e "$s" ]; then echo cri=other; else echo cri=missing; fi`,
    // df of the nearest existing ancestor: the data dirs do not exist before install.
    ...(
      [
        ['etcd', opts.etcdDataDir],
        ['images', opts.imagesDir],
      ] as const
    ).map(([k, d]) => `d=${q(d)}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" | awk -v k=${k} 'NR==2{print "df." k "=" $2 " " $4 " " $6}'`),
    'echo "ntp=$(timedatectl show -p NTPSynchronized --value 2>/dev/null)"',
    'echo "kubeadm=$(kubeadm version -o short 2>/dev/null)"',
    ...(opts.fsync
      ? [
          `d=${q(opts.etcdDataDir)}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; f="$d/.groundwork-fsync-$$"`,
          'if command -v fio >/dev/null 2>&1; then',
          '  echo "fsync.fio=$(fio --name=gw-etcd --filename="$f" --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300 --output-format=json 2>/dev/null | tr -d \'\\n\')"',
          'else',
          `  s=$(date +%s%N); dd if=/dev/zero of="$f" bs=${DD_BLOCK} count=${DD_COUNT} oflag=dsync 2>/dev/null; e=$(date +%s%N); echo "fsync.dd=$((e - s)) ${DD_COUNT} $d"`,
          'fi',
          'rm -f "$f"',
        ]
      : []),
  ].join('\n') + '\n';
}

interface SshFacts {
  cpus: number;
  memoryBytes: number;
  kernel: string;
  swaps: string[];
  cgroupV2: boolean;
  ipForward?: string;
  ip6Forward?: string;
  binaries: Record<string, string | undefined>;
  cri: string;
  df: Record<string, { totalBytes: number; freeBytes: number; mount: string } | undefined>;
  /** NTPSynchronized from timedatectl: 'yes' | 'no' | '' (unknown). */
  ntp: string;
  /** `kubeadm version -o short` ("v1.32.4"), '' when missing. */
  kubeadm: string;
  fsync?: { tool: 'fio'; p99Ms: number; p50Ms?: number; writes?: number } | { tool: 'dd'; meanMs: number; writes: number; dir: string } | { tool: 'none' };
}

/** fio --output-format=json: fdatasync latencies are under jobs[0].sync.lat_ns.percentile. */
function parseFioSyncP99(json: string): { p99Ms: number; p50Ms?: number; writes?: number } | undefined {
  try {
    const j = JSON.parse(json) as { jobs?: { sync?: { total_ios?: number; lat_ns?: { N?: number; percentile?: Record<string, number> } } }[] };
    const lat = j.jobs?.[0]?.sync?.lat_ns;
    const p99 = lat?.percentile?.['99.000000'];
    if (typeof p99 !== 'number') return undefined;
    const p50 = lat?.percentile?.['50.000000'];
    return { p99Ms: p99 / 1e6, ...(typeof p50 === 'number' ? { p50Ms: p50 / 1e6 } : {}), ...(lat?.N ? { writes: lat.N } : {}) };
  } catch {
    return undefined;
  }
}

export function parseFactOutput(text: string): SshFacts {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const df = (k: string) => {
    const v = kv.get(`df.${k}`);
    if (!v) return undefined;
    const [total, free, ...mount] = v.split(' ');
    return { totalBytes: Number(total) * 1024, freeBytes: Number(free) * 1024, mount: mount.join(' ') };
  };
  return {
    cpus: Number(kv.get('cpus') ?? 0),
    memoryBytes: Number(kv.get('memkb') ?? 0) * 1024,
    kernel: kv.get('kernel') ?? '',
    swaps: (kv.get('swaps') ?? '').split(/\s+/).filter(Boolean),
    cgroupV2: kv.get('cgroupv2') === '1',
    ipForward: kv.get('ipfwd') || undefined,
    ip6Forward: kv.get('ip6fwd') || undefined,
    binaries: Object.fromEntries(BINARIES.map((b) => [b, kv.get(`bin.${b}`) || undefined])),
    cri: kv.get('cri') ?? 'missing',
    df: { etcd: df('etcd'), images: df('images') },
    ntp: kv.get('ntp') ?? '',
    kubeadm: kv.get('kubeadm') ?? '',
    fsync: parseFsyncFacts(kv),
  };
}

function parseFsyncFacts(kv: Map<string, string>): SshFacts['fsync'] {
  const fio = kv.get('fsync.fio');
  if (fio) {
    const r = parseFioSyncP99(fio);
    if (r) return { tool: 'fio', ...r };
  }
  const dd = kv.get('fsync.dd');
  if (dd) {
    const [ns, count, ...dir] = dd.split(' ');
    const writes = Number(count);
    if (Number(ns) > 0 && writes > 0) return { tool: 'dd', meanMs: Number(ns) / 1e6 / writes, writes, dir: dir.join(' ') };
  }
  return kv.has('fsync.fio') || kv.has('fsync.dd') ? { tool: 'none' } : undefined;
}

/**
 * ssh's arguments (after the program) for a node's remote facts: the one builder's options (src/net/ssh-argv.ts),
 * then `sh -s` as root (`sudo -n` for another user: the fsync test writes beside the etcd data dir, and a node
 * whose user lacks passwordless sudo is found here rather than half-way through kubeadm init).
 */
function sshArgv(spec: Spec, node: NodeSpec, home: string, remote: string[] = ['sh', '-s']): string[] {
  const ep = endpointForNode(spec, node);
  return buildSshArgv({ ...ep, ...(ep.identityFile !== undefined ? { identityFile: expandHome(ep.identityFile, home) } : {}) }, remote, { asRoot: true }).slice(1);
}

function sshSteps(spec: Spec, world: World, opts: RemoteOptions): Step[] {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const kubeadm = spec.spec.bootstrap.kubeadm;
  const scriptFor = (node: NodeSpec) =>
    buildFactScript({ etcdDataDir: kubeadm.etcdDataDir, imagesDir: '/var/lib/containerd', criSocket: kubeadm.criSocket, fsync: node.role === 'control-plane' });
  const needV6 = parseCidrList(spec.spec.network.podCIDR).some((c) => c.family === 'ipv6');
  const before132 = compareVersions(spec.spec.kubernetesVersion, '1.32') < 0;
  const steps: Step[] = [];
  for (const node of spec.spec.nodes) {
    const withFacts = factsOnce<SshFacts>(node, world, opts, 'ssh', async (ssh, ctx) => {
      const argv = [ssh, ...sshArgv(spec, node, world.env.HOME ?? os.homedir())];
      // Control planes also time fdatasync (fio: 22 MiB); give them longer.
      const r = await ctx.exec(argv, { input: scriptFor(node), timeoutMs: node.role === 'control-plane' ? Math.max(timeoutMs, 180_000) : timeoutMs, allowFailure: true });
      if (r.exitCode !== 0)
        return {
          status: 'fail',
          summary: `ssh to ${node.name} (${node.address}) failed with exit code ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`,
          why: 'groundwork runs kubeadm on the node over SSH; key-based login must work without a prompt',
          fix: `check \`ssh ${sshArgv(spec, node, '~', ['true']).join(' ')}\` works (ssh-copy-id, authorized_keys, known_hosts${endpointForNode(spec, node).user !== 'root' ? ', passwordless sudo' : ''})`,
        };
      return parseFactOutput(r.stdout);
    });
    const sizing = SIZING.kubeadm[node.role];
    const where = `${node.name} (${node.address})`;
    const id = (c: string) => `${c}-${node.name}`;
    steps.push(
      step(id('cpu'), `${node.name}: CPU cores (ssh)`, withFacts((f) => judgeCpu(f.cpus, sizing, where), true)),
      step(id('memory'), `${node.name}: memory (ssh)`, withFacts((f) => judgeMemory(f.memoryBytes, sizing, where))),
      step(id('kernel'), `${node.name}: kernel`, withFacts((f) => judgeKernel(f.kernel, spec.spec.network.cni as Cni, where))),
      step(id('swap'), `${node.name}: swap`, withFacts((f) => judgeSwap(f.swaps, where))),
      step(id('cgroup-v2'), `${node.name}: cgroup v2`, withFacts((f) => judgeCgroup(f.cgroupV2, spec.spec.kubernetesVersion, where, kubeletAllowsCgroupV1(spec)))),
      step(id('ip-forward'), `${node.name}: IP forwarding`, withFacts((f) => judgeIpForward(f.ipForward, f.ip6Forward, needV6, where))),
      step(id('cri-socket'), `${node.name}: container runtime socket`, withFacts((f) => judgeCriSocket(kubeadm.criSocket, f.cri === 'missing' ? undefined : f.cri, where))),
      step(
        id('binaries'),
        `${node.name}: binaries kubeadm needs`,
        withFacts((f) => {
          const required = [...NODE_BINARIES.required, ...(before132 ? NODE_BINARIES.requiredBefore132 : [])];
          const verdicts = [...required.map((b) => ({ b, o: judgeBinary(b, f.binaries[b], true, where) })), ...NODE_BINARIES.recommended.map((b) => ({ b, o: judgeBinary(b, f.binaries[b], false, where) }))];
          const missing = verdicts.filter((v) => v.o.status !== 'pass');
          const evidence = { binaries: f.binaries };
          if (missing.length === 0) return { status: 'pass', summary: `all of ${verdicts.map((v) => v.b).join(', ')} found on ${where}`, evidence };
          const worst = missing.some((v) => v.o.status === 'fail') ? 'fail' : 'warn';
          return {
            status: worst,
            summary: `missing on ${where}: ${missing.map((v) => `${v.b}${v.o.status === 'fail' ? '' : ' (recommended)'}`).join(', ')}`,
            why: 'kubeadm and the kubelet call these; missing required ones make node setup fail part-way',
            fix: `install them: apt-get install ${[...new Set(missing.map((v) => ({ ip: 'iproute2', tc: 'iproute2', nsenter: 'util-linux', touch: 'coreutils' })[v.b as 'ip'] ?? v.b))].join(' ')}`,
            evidence,
          };
        }),
      ),
      step(id('disk-free-images'), `${node.name}: free disk for images`, withFacts((f) => {
        const d = f.df.images;
        if (!d) return { status: 'warn', summary: `df gave no answer on ${where}`, fix: `check df -h /var/lib/containerd on ${node.name}` };
        return judgeDiskFree('images', d.mount, d.freeBytes, d.totalBytes, '/var/lib/containerd');
      })),
    );
    steps.push(step(id('kubeadm'), `${node.name}: kubeadm ${spec.spec.kubernetesVersion}`, withFacts((f) => judgeKubeadmVersion(f.kubeadm, spec.spec.kubernetesVersion, where))));
    steps.push(step(id('time-sync'), `${node.name}: clock synchronized`, withFacts((f) => judgeNtp(f.ntp, where))));
    if (node.role === 'control-plane') {
      steps.push(
        step(id('etcd-disk-fsync'), `${node.name}: etcd disk fdatasync latency`, withFacts((f) => judgeRemoteFsync(f.fsync, where, node.name))),
        step(id('disk-free-etcd'), `${node.name}: free disk for etcd`, withFacts((f) => {
          const d = f.df.etcd;
          if (!d) return { status: 'warn', summary: `df gave no answer on ${where}`, fix: `check df -h ${kubeadm.etcdDataDir} on ${node.name}` };
          return judgeDiskFree('etcd', d.mount, d.freeBytes, d.totalBytes, kubeadm.etcdDataDir);
        })),
      );
    }
  }
  return steps;
}

/** kubeadm installs its own minor version (and the one before); we install exactly the spec's version. */
function judgeKubeadmVersion(found: string, want: string, where: string): StepOutcome {
  const why = `kubeadm on the node installs the control plane and joins it; its version decides the Kubernetes version (${want} in the spec)`;
  const fix = `install kubeadm, kubelet and kubectl ${want} from pkgs.k8s.io (apt-get install kubeadm=${want}-* kubelet=${want}-*) and hold them`;
  const v = found.replace(/^v/, '').trim();
  const evidence = { found: found || null, want };
  if (!v) return { status: 'fail', summary: `kubeadm is not installed on ${where}`, why, fix, evidence };
  const minor = (x: string) => x.split('.').slice(0, 2).join('.');
  if (minor(v) !== minor(want)) return { status: 'fail', summary: `${where} has kubeadm ${v}; the spec wants ${want}`, why, fix, evidence };
  if (v !== want) return { status: 'warn', summary: `${where} has kubeadm ${v}; the spec says ${want} (same minor)`, why, fix, evidence };
  return { status: 'pass', summary: `${where} has kubeadm ${v}`, why, evidence };
}

function judgeNtp(ntp: string, where: string): StepOutcome {
  const why = 'certificates and etcd compare clocks between machines; a skewed clock makes TLS fail with "certificate is not yet valid"';
  if (ntp === 'yes') return { status: 'pass', summary: `${where}: NTPSynchronized=yes`, why, evidence: { NTPSynchronized: ntp } };
  return {
    status: 'warn',
    summary: ntp === 'no' ? `${where}: NTPSynchronized=no` : `${where}: could not confirm clock sync (no answer from timedatectl)`,
    why,
    fix: `enable NTP on ${where}: timedatectl set-ntp true, or install chrony`,
    evidence: { NTPSynchronized: ntp || null },
  };
}

function judgeRemoteFsync(f: SshFacts['fsync'], where: string, name: string): StepOutcome {
  const why = 'etcd fdatasyncs its WAL on every write; a p99 over 10 ms causes leader elections and API timeouts';
  const fix = 'put /var/lib/etcd on a local SSD/NVMe (not network storage, not a shared HDD)';
  if (f?.tool === 'fio') {
    const what = `fio on ${where} (2300-byte writes + fdatasync, 22 MiB): p99 ${f.p99Ms.toFixed(3)} ms${f.p50Ms !== undefined ? `, p50 ${f.p50Ms.toFixed(3)} ms` : ''}`;
    if (f.p99Ms >= FSYNC.failP99Ms) return { status: 'fail', summary: `${what} (must be < ${FSYNC.failP99Ms} ms)`, why, fix, evidence: f };
    if (f.p99Ms >= FSYNC.warnP99Ms) return { status: 'warn', summary: `${what} (< ${FSYNC.failP99Ms} ms passes; little headroom)`, why, fix, evidence: f };
    return { status: 'pass', summary: `${what} (< ${FSYNC.failP99Ms} ms)`, why, evidence: f };
  }
  if (f?.tool === 'dd') {
    const what = `dd oflag=dsync on ${where}: mean ${f.meanMs.toFixed(3)} ms per 2300-byte synced write over ${f.writes} writes in ${f.dir}`;
    if (f.meanMs >= FSYNC.failP99Ms) return { status: 'fail', summary: `${what}; the p99 is at least the mean, and must be < ${FSYNC.failP99Ms} ms`, why, fix, evidence: f };
    return {
      status: 'warn',
      summary: `${what}; the p99 was not measured (no fio on ${name})`,
      why,
      fix: `install fio on ${name} for etcd's exact p99 test, or run \`groundwork preflight --role control-plane\` there`,
      evidence: f,
    };
  }
  return { status: 'warn', summary: `could not time fdatasync on ${where}`, why, fix: `run \`groundwork preflight --role control-plane\` on ${name}`, evidence: { fsync: f ?? null } };
}

export function remoteNodeSteps(spec: Spec, world: World, opts: RemoteOptions): Step[] {
  return spec.spec.bootstrap.method === 'talos' ? talosSteps(spec, world, opts) : sshSteps(spec, world, opts);
}
