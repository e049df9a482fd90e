/**
 * The preflight stage: named checks as Steps (stage 'preflight', continueOnFail). `groundwork preflight` runs
 * it alone; `setup` puts it first. Building the stage does no I/O; every check reads the world when it runs.
 */
import { EXIT, UserError, Cancelled } from '../errors.js';
import type { Stage, Step, StepContext, StepOutcome } from '../run/types.js';
import type { LoadedSpec } from '../spec/load.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { parseCidrList, parseProcNetIpv6Route, parseProcNetRoute, type Route } from '../net/cidr.js';
import { analyzeSubnets, SUBNET_CHECKS, type SubnetCheckId, type SubnetFinding } from '../net/subnets.js';
import { formatPort, selectPorts, selectPreBootstrapPorts, PORT_CATALOG, type Cni, type Method, type PortEntry, type Role } from '../net/ports.js';
import { realWorld, type World } from './world.js';
import { FSYNC_FULL_BYTES, measureFsync } from './fsync.js';
import { probeAll, DEFAULT_REACH_CONCURRENCY, DEFAULT_REACH_TIMEOUT_MS, type ReachResult } from './reach.js';
import { listenersOn, parseProcNetSockets, type Listener } from './listeners.js';
import { NODE_BINARIES, SIZING, compareVersions, operatorTools, type ToolRequirement } from './thresholds.js';
import {
  judgeBinary,
  judgeCgroup,
  kubeletAllowsCgroupV1,
  judgeCpu,
  judgeCriSocket,
  judgeDiskFree,
  judgeFsync,
  judgeIpForward,
  judgeKernel,
  judgeMemory,
  judgeSwap,
  parseSwaps,
} from './judge.js';
import { remoteNodeSteps, type RemoteOptions } from './remote.js';
import { endpointForNode } from '../net/ssh-argv.js';

export type PreflightRole = Role | 'operator';

export interface PreflightOptions {
  /** Check names to downgrade from fail to warn, each recorded in the result. */
  ignore?: string[];
  /** What this machine is. Default: the node whose address this machine has, else the operator's machine. */
  role?: PreflightRole;
  world?: World;
  /** Bytes written by the fsync benchmark (default: etcd's 22 MiB). Tests pass a small size. */
  fsyncBytes?: number;
  /** Directory for the fsync benchmark (default: spec etcdDataDir's nearest existing ancestor). */
  fsyncDir?: string;
  /** Reachability of the nodes from here; false: not checked (a rehearsal: the lab simulates the nodes). */
  reach?: false | { timeoutMs?: number; concurrency?: number };
  /** Query the nodes themselves (talosctl in maintenance mode, ssh for kubeadm). Default true. */
  remote?: boolean | RemoteOptions;
}

const STAGE = 'preflight';

function step(id: string, title: string, run: (ctx: StepContext) => Promise<StepOutcome>, extra: Partial<Step> = {}): Step {
  return { id, title, stage: STAGE, continueOnFail: true, timeoutMs: 60_000, run, ...extra };
}

/** Which role this machine plays: the spec node whose address it has, else the operator's machine. */
export function detectRole(spec: Spec, world: World): { role: PreflightRole; node?: NodeSpec } {
  const mine = new Set(world.localAddresses());
  const node = spec.spec.nodes.find((n) => mine.has(n.address));
  return node ? { role: node.role, node } : { role: 'operator' };
}

function kubeProxyRuns(spec: Spec): boolean {
  return !(spec.spec.network.cni === 'cilium' && spec.spec.network.kubeProxyReplacement);
}

/** Routes of this machine, both families. */
async function readRoutes(world: World): Promise<Route[]> {
  const v4 = (await world.readText('/proc/net/route')) ?? '';
  const v6 = (await world.readText('/proc/net/ipv6_route')) ?? '';
  return [...parseProcNetRoute(v4), ...parseProcNetIpv6Route(v6)];
}

async function readListeners(world: World): Promise<Listener[]> {
  const out: Listener[] = [];
  for (const [file, proto] of [['/proc/net/tcp', 'tcp'], ['/proc/net/tcp6', 'tcp'], ['/proc/net/udp', 'udp'], ['/proc/net/udp6', 'udp']] as const) {
    const t = await world.readText(file);
    if (t) out.push(...parseProcNetSockets(t, proto));
  }
  return out;
}

/** Runs `fn` once, on first use; later callers share the promise. */
function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

// ------------------------------------------------------------------------------------------------------------
// Subnets

const SUBNET_TITLES: Record<SubnetCheckId, string> = {
  'dual-stack-families': 'IP families of podCIDR and serviceCIDR',
  'pod-service-overlap': 'podCIDR and serviceCIDR do not overlap',
  'node-address-overlap': 'node addresses are outside podCIDR and serviceCIDR',
  'route-overlap': "podCIDR and serviceCIDR are free of this machine's routes",
  'pod-cidr-capacity': 'podCIDR fits the nodes with headroom',
  'service-cidr-capacity': 'serviceCIDR is large enough',
  'classic-collisions': 'no classic collisions (Calico 192.168.0.0/16, Docker 172.17.0.0/16)',
};

function subnetSteps(spec: Spec, world: World): Step[] {
  const findings = memo(async (): Promise<SubnetFinding[]> =>
    analyzeSubnets({
      podCIDR: spec.spec.network.podCIDR,
      serviceCIDR: spec.spec.network.serviceCIDR,
      nodeMaskSize: spec.spec.network.nodeMaskSize,
      nodes: spec.spec.nodes.map((n) => ({ name: n.name, address: n.address })),
      routes: await readRoutes(world),
      kubernetesVersion: spec.spec.kubernetesVersion,
    }),
  );
  return SUBNET_CHECKS.map((id) =>
    step(id, SUBNET_TITLES[id], async () => {
      const f = (await findings()).find((x) => x.id === id)!;
      return { status: f.status, summary: f.summary, why: f.why, ...(f.fix ? { fix: f.fix } : {}), evidence: f.evidence };
    }),
  );
}

// ------------------------------------------------------------------------------------------------------------
// This machine as a node

function hostSteps(spec: Spec, role: Role, world: World, opts: PreflightOptions): Step[] {
  const method = spec.spec.bootstrap.method;
  const sizing = SIZING[method][role];
  const where = 'this machine';
  const kubeadm = spec.spec.bootstrap.kubeadm;
  const needV6 = parseCidrList(spec.spec.network.podCIDR).some((c) => c.family === 'ipv6');
  const steps: Step[] = [
    step('cpu', `CPU cores (${role})`, async () => judgeCpu(world.cpus(), sizing, where)),
    step('memory', `memory (${role})`, async () => judgeMemory(world.memoryBytes(), sizing, where)),
  ];
  if (role === 'control-plane') {
    const etcdDir = kubeadm.etcdDataDir;
    steps.push(
      step(
        'etcd-disk-fsync',
        'etcd disk: fdatasync latency (2300-byte writes)',
        async (ctx) => {
          const dir = opts.fsyncDir ?? (await world.diskSpace(etcdDir))?.measured ?? world.tmpDir();
          const m = await measureFsync(dir, { totalBytes: opts.fsyncBytes ?? FSYNC_FULL_BYTES, signal: ctx.signal });
          if (ctx.signal.aborted) throw new Cancelled('etcd-disk-fsync stopped');
          return judgeFsync(m, FSYNC_FULL_BYTES);
        },
        { timeoutMs: 600_000 },
      ),
      step('disk-free-etcd', `free disk for etcd (${etcdDir})`, async () => {
        const d = await world.diskSpace(etcdDir);
        if (!d) return { status: 'warn', summary: `could not measure free space for ${etcdDir}`, why: 'etcd stops accepting writes when its disk is full', fix: `check with df -h ${etcdDir}` };
        return judgeDiskFree('etcd', d.measured, d.freeBytes, d.totalBytes, etcdDir);
      }),
    );
  }
  if (method === 'kubeadm') {
    const imagesDir = '/var/lib/containerd';
    steps.push(
      step('disk-free-images', `free disk for images (${imagesDir})`, async () => {
        const d = await world.diskSpace(imagesDir);
        if (!d) return { status: 'warn', summary: `could not measure free space for ${imagesDir}`, why: 'images fill this disk', fix: `check with df -h ${imagesDir}` };
        return judgeDiskFree('images', d.measured, d.freeBytes, d.totalBytes, imagesDir);
      }),
      step('kernel', 'kernel version', async () => judgeKernel(world.kernelRelease(), spec.spec.network.cni as Cni, where)),
      step('swap', 'swap is off', async () => judgeSwap(parseSwaps((await world.readText('/proc/swaps')) ?? 'header\n'), where)),
      step('cgroup-v2', 'cgroup v2', async () => judgeCgroup((await world.fileKind('/sys/fs/cgroup/cgroup.controllers')) === 'file', spec.spec.kubernetesVersion, where, kubeletAllowsCgroupV1(spec))),
      step('ip-forward', 'IP forwarding (net.ipv4.ip_forward)', async () =>
        judgeIpForward(await world.readText('/proc/sys/net/ipv4/ip_forward'), await world.readText('/proc/sys/net/ipv6/conf/all/forwarding'), needV6, where),
      ),
      step('time-sync', 'clock is synchronized (NTP)', async (ctx) => checkTimeSync(ctx, world)),
      step('cri-socket', `container runtime socket (${kubeadm.criSocket})`, async () =>
        judgeCriSocket(kubeadm.criSocket, await world.fileKind(kubeadm.criSocket.replace(/^unix:\/\//, '')), where),
      ),
    );
    const before132 = compareVersions(spec.spec.kubernetesVersion, '1.32') < 0;
    const bins: [string, boolean][] = [
      ...NODE_BINARIES.required.map((b) => [b, true] as [string, boolean]),
      ...NODE_BINARIES.recommended.map((b) => [b, false] as [string, boolean]),
      ...(before132 ? NODE_BINARIES.requiredBefore132.map((b) => [b, true] as [string, boolean]) : []),
    ];
    for (const [b, required] of bins) steps.push(step(`bin-${b}`, `${b} on PATH${required ? '' : ' (recommended)'}`, async () => judgeBinary(b, await world.which(b), required, where)));
  }
  steps.push(...localPortSteps(spec, role, world));
  return steps;
}

async function checkTimeSync(ctx: StepContext, world: World): Promise<StepOutcome> {
  const why = 'certificates, etcd leases and tokens compare clocks between machines; a skewed clock makes TLS fail with "certificate is not yet valid"';
  const fix = 'enable NTP: timedatectl set-ntp true (systemd-timesyncd) or install chrony';
  const timedatectl = await world.which('timedatectl');
  if (timedatectl) {
    const r = await ctx.exec([timedatectl, 'show', '-p', 'NTPSynchronized', '--value'], { allowFailure: true, timeoutMs: 5000 });
    const v = r.stdout.trim();
    if (r.exitCode === 0 && v === 'yes') return { status: 'pass', summary: 'timedatectl: NTPSynchronized=yes', why, evidence: { NTPSynchronized: v } };
    if (r.exitCode === 0 && v === 'no') return { status: 'warn', summary: 'timedatectl: NTPSynchronized=no', why, fix, evidence: { NTPSynchronized: v } };
  }
  if ((await world.fileKind('/run/systemd/timesync/synchronized')) !== undefined)
    return { status: 'pass', summary: 'systemd-timesyncd reports the clock synchronized', why, evidence: { marker: '/run/systemd/timesync/synchronized' } };
  return { status: 'warn', summary: 'could not confirm that the clock is synchronized (no answer from timedatectl, no systemd-timesyncd marker)', why, fix, evidence: { timedatectl: timedatectl ?? null } };
}

function portId(p: PortEntry): string {
  return `port-${p.port}${p.to ? `-${p.to}` : ''}${p.protocol === 'udp' ? '-udp' : ''}-free`;
}

function localPortSteps(spec: Spec, role: Role, world: World): Step[] {
  const ports = selectPorts({ role, method: spec.spec.bootstrap.method, cni: spec.spec.network.cni as Cni, kubeProxy: kubeProxyRuns(spec) })
    // SSH and the Talos maintenance API are supposed to be listening already.
    .filter((p) => !p.preBootstrap);
  const listeners = memo(() => readListeners(world));
  return ports.map((p) =>
    step(portId(p), `${formatPort(p)} is free (${p.component})`, async () => {
      const busy = listenersOn(await listeners(), p.protocol, p.port, p.to);
      const why = `${p.component} must bind ${formatPort(p)} on this ${role}; a port already taken makes it crash-loop`;
      const evidence = { port: formatPort(p), component: p.component, listeners: busy, source: p.source };
      if (busy.length > 0) {
        const shown = busy.slice(0, 5).map((l) => `${l.address}:${l.port}`).join(', ');
        return {
          status: 'fail',
          summary: `${formatPort(p)} is already in use here (listening: ${shown}${busy.length > 5 ? ', ...' : ''})`,
          why,
          fix: `find the owner with \`ss -${p.protocol === 'tcp' ? 't' : 'u'}lnp 'sport = :${busy[0]!.port}'\` and stop it; if an old cluster runs here, run \`kubeadm reset\` first`,
          evidence,
        };
      }
      return { status: 'pass', summary: `nothing listens on ${formatPort(p)}`, why, evidence };
    }),
  );
}

// ------------------------------------------------------------------------------------------------------------
// Operator tools

function parseToolVersion(tool: string, out: string): string | undefined {
  if (tool === 'kubectl') {
    try {
      const j = JSON.parse(out) as { clientVersion?: { gitVersion?: string } };
      if (j.clientVersion?.gitVersion) return j.clientVersion.gitVersion.replace(/^v/, '');
    } catch {
      /* fall through to the pattern */
    }
  }
  return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
}

function toolSteps(spec: Spec, world: World): Step[] {
  const method = spec.spec.bootstrap.method;
  const tools = operatorTools(method, spec.spec.kubernetesVersion, spec.spec.bootstrap.talos.version);
  return tools.map((t) =>
    step(`tool-${t.name}`, `${t.name}${t.min ? ` >= ${t.min}` : ''} on this machine`, async (ctx) => checkTool(ctx, t, world, spec)),
  );
}

async function checkTool(ctx: StepContext, t: ToolRequirement, world: World, spec: Spec): Promise<StepOutcome> {
  const { installHint } = await import('../exec/index.js');
  const found = await world.which(t.name);
  const optional = t.name === 'etcdctl';
  if (!found) {
    const alt = optional ? await world.which('etcdutl') : undefined;
    if (alt) return { status: 'pass', summary: `etcdctl is missing but etcdutl is at ${alt}`, why: t.why, evidence: { etcdutl: alt } };
    return { status: optional ? 'warn' : 'fail', summary: `${t.name} is not on PATH`, why: t.why, fix: installHint(t.name), evidence: { tool: t.name, path: null } };
  }
  if (!t.min) return { status: 'pass', summary: `${t.name} found at ${found}`, why: t.why, evidence: { tool: t.name, path: found } };
  const r = await ctx.exec([found, ...t.versionArgv], { allowFailure: true, timeoutMs: 10_000 });
  const version = parseToolVersion(t.name, `${r.stdout}\n${r.stderr}`);
  const evidence = { tool: t.name, path: found, version: version ?? null, min: t.min, argv: [t.name, ...t.versionArgv] };
  if (!version) return { status: 'warn', summary: `${t.name} at ${found} did not report a version (\`${t.name} ${t.versionArgv.join(' ')}\` exited ${r.exitCode})`, why: t.why, fix: installHint(t.name), evidence };
  if (compareVersions(version, t.min) < 0)
    return { status: 'fail', summary: `${t.name} ${version} is older than ${t.min}`, why: t.why, fix: `upgrade: ${installHint(t.name)}`, evidence };
  if (t.name === 'kubectl') {
    const [maj, min] = spec.spec.kubernetesVersion.split('.').map(Number);
    if (compareVersions(version, `${maj}.${min! + 2}`) >= 0)
      return { status: 'warn', summary: `kubectl ${version} is more than one minor version newer than Kubernetes ${spec.spec.kubernetesVersion}`, why: t.why, fix: `install kubectl ${maj}.${min}`, evidence };
  }
  return { status: 'pass', summary: `${t.name} ${version} (>= ${t.min}) at ${found}`, why: t.why, evidence };
}

// ------------------------------------------------------------------------------------------------------------
// Reachability from here

function reachSteps(spec: Spec, opts: { timeoutMs?: number; concurrency?: number } = {}): { steps: Step[]; reachable: RemoteOptions['reachable'] } {
  const method = spec.spec.bootstrap.method as Method;
  const pre = selectPreBootstrapPorts(method);
  // SSH goes where groundwork's ssh goes (its host and port: nodes[].ssh, a port forward or NAT), the rest to the address.
  const target = (n: NodeSpec, p: PortEntry) => {
    const ssh = p.port === 22 ? endpointForNode(spec, n) : undefined;
    return { node: n, entry: p, host: ssh?.host ?? n.address, port: ssh?.port ?? p.port };
  };
  const targets = spec.spec.nodes.flatMap((n) => pre.map((p) => target(n, p)));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REACH_TIMEOUT_MS;
  // One sweep over every target, bounded concurrency: a black-holed node costs one timeout, not one per step.
  let sweep: Promise<ReachResult[]> | undefined;
  const all = (signal: AbortSignal) => (sweep ??= probeAll(targets, { timeoutMs, concurrency: opts.concurrency ?? DEFAULT_REACH_CONCURRENCY, signal }));
  const steps = targets.map((t, i) =>
    step(`reach-${t.node.name}-${t.port}`, `${t.node.name} ${t.host}:${t.port} answers (${t.entry.component})`, async (ctx) => {
      const r = (await all(ctx.signal))[i]!;
      const why = `groundwork drives ${t.node.name} through ${t.entry.component} on ${t.port}/tcp; nothing else works until it answers`;
      const evidence = { host: t.host, port: t.port, status: r.status, ms: r.ms, code: r.code ?? null, timeoutMs };
      const hint = method === 'talos' ? `boot ${t.node.name} from the Talos ISO/PXE image (maintenance mode listens on 50000) and check that ${t.host} is its address` : `start sshd on ${t.node.name} and allow ${t.port}/tcp from this machine`;
      if (r.status === 'open') return { status: 'pass', summary: `${t.host}:${t.port} accepted a TCP connection in ${r.ms} ms`, why, evidence };
      if (r.status === 'refused') return { status: 'fail', summary: `${t.host}:${t.port} refused the connection: the host is up but nothing listens`, why, fix: hint, evidence };
      if (r.status === 'timeout')
        return { status: 'fail', summary: `${t.host}:${t.port} did not answer within ${timeoutMs} ms`, why, fix: `${hint}; a firewall dropping ${t.port}/tcp or a wrong address looks the same`, evidence };
      return { status: 'fail', summary: `${t.host}:${t.port}: ${r.code ?? 'connection failed'}`, why, fix: `check routing to ${t.host} from this machine (ip route get ${t.host})`, evidence };
    }),
  );
  const udp = PORT_CATALOG.filter((p) => p.protocol === 'udp' && (!p.cnis || p.cnis.includes(spec.spec.network.cni as Cni)));
  if (udp.length > 0) {
    steps.push(
      step('reach-udp', `UDP between nodes (${udp.map(formatPort).join(', ')})`, async () => ({
        status: 'skip',
        summary: `${udp.map((p) => `${formatPort(p)} (${p.component})`).join(', ')}: not verifiable by connect; UDP has no handshake, so a probe from here proves nothing. \`groundwork validate\` tests pod-to-pod traffic across nodes after bootstrap`,
        evidence: { ports: udp.map(formatPort), verifiable: false },
      })),
    );
  }
  const reachable: RemoteOptions['reachable'] = async (node, ctx) => {
    const results = await all(ctx.signal);
    const mine = targets.map((t, i) => ({ t, r: results[i]! })).filter((x) => x.t.node.name === node.name);
    const bad = mine.find((x) => x.r.status !== 'open');
    return { ok: !bad, check: bad ? `reach-${node.name}-${bad.t.port}` : '' };
  };
  return { steps, reachable };
}

// ------------------------------------------------------------------------------------------------------------
// --ignore

/** Downgrades a named check's failure to a warning, and says so in the result. */
function applyIgnore(s: Step, name: string): Step {
  return {
    ...s,
    title: `${s.title} (ignored by --ignore ${name})`,
    async run(ctx) {
      const o = await s.run(ctx);
      const note = `ignored by --ignore ${name}`;
      return {
        ...o,
        status: o.status === 'fail' ? 'warn' : o.status,
        summary: `${o.summary} [${note}${o.status === 'fail' ? ': failure downgraded to a warning' : ''}]`,
        evidence: { ignoredBy: `--ignore ${name}`, originalStatus: o.status, measured: o.evidence ?? null },
      };
    },
  };
}

export function checkIgnoreNames(names: string[], valid: string[]): void {
  const unknown = names.filter((n) => !valid.includes(n));
  if (unknown.length === 0) return;
  const all = unknown.some((n) => n.toLowerCase() === 'all');
  throw new UserError(`unknown preflight check${unknown.length > 1 ? 's' : ''} for --ignore: ${unknown.join(', ')}`, {
    exitCode: EXIT.usage,
    why: all ? 'there is no "ignore all": each check you skip is named, so the report shows what was waived' : '--ignore takes the name of one check, as printed in [FAIL name]',
    fix: `valid names for this spec: ${valid.join(', ')}`,
  });
}

// ------------------------------------------------------------------------------------------------------------

export function buildPreflightStage(loaded: LoadedSpec, opts: PreflightOptions = {}): Stage {
  const { spec } = loaded;
  const world = opts.world ?? realWorld();
  const detected = opts.role ? { role: opts.role } : detectRole(spec, world);
  const role = detected.role;
  const remote = opts.remote ?? true;
  const steps: Step[] = [...subnetSteps(spec, world)];
  if (role !== 'operator') steps.push(...hostSteps(spec, role, world, opts));
  steps.push(...toolSteps(spec, world));
  const reach = opts.reach === false ? undefined : reachSteps(spec, opts.reach);
  if (reach) steps.push(...reach.steps);
  if (remote) steps.push(...remoteNodeSteps(spec, world, { reachable: reach?.reachable, ...(typeof remote === 'object' ? remote : {}) }));

  const ids = steps.map((s) => s.id);
  const ignore = [...new Set(opts.ignore ?? [])];
  checkIgnoreNames(ignore, ids);
  const finalSteps = steps.map((s) => (ignore.includes(s.id) ? applyIgnore(s, s.id) : s));

  const notes = [
    role === 'operator'
      ? 'this machine is not a node in the spec: hardware, etcd disk and port checks run on the nodes (remote checks below, or `groundwork preflight --role control-plane` on a node)'
      : `this machine is checked as a ${role}${'node' in detected && detected.node ? ` (${detected.node.name})` : ''}`,
    'ports between nodes (6443, 2379-2380, 10250, CNI) cannot be probed before bootstrap: nothing listens yet; `groundwork validate` covers them',
  ];
  if (ignore.length > 0) notes.push(`ignored by the operator: ${ignore.join(', ')}`);
  return { name: STAGE, title: 'Check prerequisites', steps: finalSteps, notes };
}
