/**
 * A lab of real nodes (issue 21, tools/real/REAL-PODS.md): the real control plane (./control-plane.ts) inside a
 * "fabric" network namespace, and N real nodes on it, each containerd + kubelet + kube-proxy in a network namespace
 * of its own (tools/real/real-node.sh does the netns, mount and cgroup plumbing; this module drives it through the
 * exec door). Pods get real IPs from their node's pod CIDR (bridge + host-local CNI, routed by the fabric),
 * Services go through real kube-proxy (iptables), names through a real CoreDNS (./coredns.ts), claims through a
 * real local-path-provisioner (./local-path.ts), NetworkPolicy through kube-router's policy controller on each node
 * (./netpol.ts; `networkPolicy: 'none'` leaves the bridge CNI policy-blind, as Flannel is). Nothing is pulled:
 * the nodes import the images tools/real/build-node.sh and tools/real/build-addons.sh built.
 *
 *   fabric netns gw-lab (bridge 10.99.0.254/24: the API server; every port forwarded to host 127.0.0.1)
 *     ├─ netns gw-real-1: eth0 10.99.0.1, pods 10.244.1.0/24
 *     └─ netns gw-real-2: eth0 10.99.0.2, pods 10.244.2.0/24 …
 *
 * Needs root, Debian's containerd, runc, containernetworking-plugins, iptables and socat; each missing piece is a
 * UserError naming the command that gets it.
 */
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError } from '../../errors.js';
import { createExec, type Exec } from '../../exec/index.js';
import { makeDirs } from '../../run/records.js';
import type { KubeObject } from '../../kube/index.js';
import { issueCertificate } from '../server/certs.js';
import { nthAddress } from '../controllers/ipam.js';
import { corednsObjects } from './coredns.js';
import { LOCAL_PATH_CLASS, localPathObjects } from './local-path.js';
import { DEFAULT_REAL_NETWORK_POLICY, NETPOL_PROGRAM, NETPOL_USER, netpolRbacObjects, type RealNetworkPolicy } from './netpol.js';
import { kubeconfigYaml, startRealControlPlane, type ControlPlanePrograms, type RealControlPlane, type RealControlPlaneOptions } from './control-plane.js';

/** tools/real/real-node.sh, from src/lab/real/ and from dist/lab/real/ alike. */
export const REAL_NODE_SCRIPT = fileURLToPath(new URL('../../../tools/real/real-node.sh', import.meta.url));
/** The fabric bridge's address (real-node.sh's FABRIC_IP default): where nodes and pods reach the API server. */
export const FABRIC_ADDRESS = '10.99.0.254';
export const LAB_FABRIC = 'gw-lab';
export const MAX_REAL_NODES = 8;
export const HOST_PACKAGES_FIX = 'apt-get install -y containerd runc containernetworking-plugins iptables socat busybox-static';
export const NODE_TOOLS_FIX = 'run `bash tools/real/build-node.sh` (kubelet, kube-proxy and the pause/probe images, into ~/.cache/groundwork/real-tools/node-current)';
export const ADDON_TOOLS_FIX = 'run `bash tools/real/build-addons.sh` (CoreDNS, local-path-provisioner, the agnhost probe image and kube-router\'s policy controller, into ~/.cache/groundwork/real-tools/addons-current)';
export const IPSET_FIX = 'apt-get install -y ipset (or --network-policy none: no NetworkPolicy enforcement)';
/** validate's --image-registry on this lab: the nodes hold `<it>/e2e-test-images/agnhost:2.53`. */
export const REAL_LAB_IMAGE_REGISTRY = 'groundwork.local';

const HOST_PROGRAMS = ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'socat', 'iptables', 'ip', 'nsenter', 'unshare'];
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function cacheDir(env: Record<string, string | undefined>): string {
  return env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? homedir(), '.cache'), 'groundwork', 'real-tools');
}

export interface RealNodeTools {
  /** kubelet, kube-proxy, images/pause.tar, images/probe.tar (build-node.sh). */
  node: string;
  /** coredns.tar, local-path.tar, agnhost.tar and kube-router-netpol (build-addons.sh). */
  addons: string;
}

/** The built node programs and images, or a UserError naming the command that builds what is missing. */
export function findRealNodeTools(env: Record<string, string | undefined> = process.env, networkPolicy: RealNetworkPolicy = DEFAULT_REAL_NETWORK_POLICY): RealNodeTools {
  const node = env.GROUNDWORK_REAL_NODE_TOOLS ?? path.join(cacheDir(env), 'node-current');
  const addons = env.GROUNDWORK_REAL_ADDONS ?? path.join(cacheDir(env), 'addons-current');
  const missing = (dir: string, files: string[]) => files.filter((f) => !existsSync(path.join(dir, f)));
  const n = missing(node, ['kubelet', 'kube-proxy', 'images/pause.tar', 'images/probe.tar']);
  if (n.length) throw new UserError(`the real node's programs are not built: ${n.join(', ')} missing in ${node}`, { why: '--nodes-real runs a real kubelet and kube-proxy per node', fix: NODE_TOOLS_FIX, exitCode: EXIT.usage });
  const a = missing(addons, ['coredns.tar', 'local-path.tar', 'agnhost.tar', ...(networkPolicy === 'kube-router' ? [NETPOL_PROGRAM] : [])]);
  if (a.length) {
    throw new UserError(`the real nodes' add-ons are not built: ${a.join(', ')} missing in ${addons}`, {
      why: `--nodes-real deploys a real CoreDNS and local-path-provisioner, validate's probe pods need the agnhost image on the nodes${networkPolicy === 'kube-router' ? ', and --network-policy kube-router runs kube-router\'s policy controller on each' : ''}`,
      fix: ADDON_TOOLS_FIX,
      exitCode: EXIT.usage,
    });
  }
  return { node: realpathSync(node), addons: realpathSync(addons) };
}

/** Root, the host programs real-node.sh runs, the CNI plugins: else a UserError naming what to install. */
export async function checkRealNodeHost(exec: Exec, uid = process.getuid?.() ?? -1, networkPolicy: RealNetworkPolicy = DEFAULT_REAL_NETWORK_POLICY): Promise<void> {
  if (uid !== 0) {
    throw new UserError('--nodes-real needs root: each node is containerd, kubelet and kube-proxy in network namespaces and cgroups of their own', {
      fix: 'run it as root (sudo groundwork lab up --api real --nodes-real 2), or use the simulated nodes (--nodes)',
      exitCode: EXIT.usage,
    });
  }
  const r = await exec(['sh', '-c', `for p in ${HOST_PROGRAMS.join(' ')}; do command -v "$p" >/dev/null || echo "$p"; done; [ -x /usr/lib/cni/bridge ] || echo "the CNI plugins (/usr/lib/cni)"`], { env: { PATH: SYSTEM_PATH }, replaceEnv: true, allowFailure: true });
  const missing = r.stdout.split('\n').filter(Boolean);
  if (missing.length) throw new UserError(`--nodes-real needs programs this machine lacks: ${missing.join(', ')}`, { fix: HOST_PACKAGES_FIX, exitCode: EXIT.usage });
  if (networkPolicy === 'kube-router') {
    const i = await exec(['sh', '-c', 'command -v ipset'], { env: { PATH: SYSTEM_PATH }, replaceEnv: true, allowFailure: true });
    if (i.exitCode !== 0) throw new UserError('--network-policy kube-router needs ipset, which this machine lacks: kube-router\'s policy controller keeps the pods each policy selects in ipsets', { fix: IPSET_FIX, exitCode: EXIT.usage });
  }
}

export interface RealNode {
  name: string;
  /** Its InternalIP on the fabric. */
  ip: string;
  podCIDR: string;
  /** real-node.sh's state dir: logs/, pod-logs/, the pid files. */
  dir: string;
}

export interface RealNodesLab {
  cp: RealControlPlane;
  fabric: string;
  nodes: RealNode[];
  /** Who enforces NetworkPolicy on the nodes ('none': nobody, the bridge CNI ignores it). */
  networkPolicy: RealNetworkPolicy;
  /** Stops a node's kubelet, kube-proxy, containerd and its containers (a real "node down"); idempotent. */
  stopNode(name: string): Promise<void>;
  /** Every node down, the control plane stopped, the fabric deleted, the state dirs removed; idempotent. */
  stop(): Promise<void>;
}

export interface RealNodesOptions {
  count: number;
  programs?: ControlPlanePrograms;
  tools?: RealNodeTools;
  /** More control-plane options (e.g. groundwork's hardening). */
  controlPlaneOptions?: Partial<RealControlPlaneOptions>;
  exec?: Exec;
  /** Progress, one line per step. */
  onProgress?: (line: string) => void;
  env?: Record<string, string | undefined>;
  /** Default LAB_FABRIC; node names are `<prefix>-1..N` (default gw-real). */
  fabric?: string;
  nodePrefix?: string;
  signal?: AbortSignal;
  /** Default 'kube-router': its policy controller on every node; 'none' runs the nodes without one. */
  networkPolicy?: RealNetworkPolicy;
  /**
   * Where the lab is recorded while it runs (leftovers.json, src/run/leftovers.ts): default
   * /run/groundwork/real-nodes-<fabric>, as machine-wide as the network namespaces it names (and, like them, gone
   * at reboot).
   */
  recordsDir?: string;
}

/** The records of a real-nodes lab on `fabric` (see RealNodesOptions.recordsDir). */
export function realNodesRecordsDir(fabric: string = LAB_FABRIC): string {
  return path.join('/run/groundwork', `real-nodes-${fabric}`);
}

/** The i-th node (1-based): name, fabric address, pod CIDR. */
export function realNodePlan(i: number, prefix = 'gw-real'): { name: string; ip: string; podCIDR: string } {
  return { name: `${prefix}-${i}`, ip: `10.99.0.${i}`, podCIDR: `10.244.${i}.0/24` };
}

export async function startRealNodesLab(o: RealNodesOptions): Promise<RealNodesLab> {
  const env = o.env ?? process.env;
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_REAL_NODES) {
    throw new UserError(`--nodes-real must be a whole number from 1 to ${MAX_REAL_NODES}, not ${o.count}`, { fix: 'e.g. --nodes-real 2', exitCode: EXIT.usage });
  }
  // Starting stops at Ctrl-C (the signal); tearing down must not (its own exec, no signal).
  const exec = o.exec ?? createExec({ env: { PATH: SYSTEM_PATH }, ...(o.signal ? { signal: o.signal } : {}) });
  const teardownExec = o.exec ?? createExec({ env: { PATH: SYSTEM_PATH } });
  const say = o.onProgress ?? (() => undefined);
  const networkPolicy = o.networkPolicy ?? DEFAULT_REAL_NETWORK_POLICY;
  await checkRealNodeHost(exec, undefined, networkPolicy);
  const tools = o.tools ?? findRealNodeTools(env, networkPolicy);
  const fabric = o.fabric ?? LAB_FABRIC;
  const plan = Array.from({ length: o.count }, (_, i) => realNodePlan(i + 1, o.nodePrefix));
  const sh = (args: string[], extra: Record<string, string> = {}, using = exec) =>
    using(['bash', REAL_NODE_SCRIPT, ...args], { env: { PATH: SYSTEM_PATH, ...extra }, replaceEnv: true, allowFailure: true, timeoutMs: 180_000 });

  // What a killed lab left (SIGKILL, a second Ctrl-C): its nodes, fabric, control plane and state go first, by
  // what it recorded; a lab that is still running is left alone, and refused just below.
  const recordsDir = o.recordsDir ?? realNodesRecordsDir(fabric);
  makeDirs(recordsDir, 0o700);
  const { Leftovers, sweepLeftovers } = await import('../../run/leftovers.js');
  await sweepLeftovers(recordsDir, teardownExec, say);
  const leftovers = new Leftovers(recordsDir, `lab-${process.pid}-${Date.now().toString(36)}`);

  const listed = (await exec(['ip', 'netns', 'list'], { allowFailure: true })).stdout.split('\n').map((l) => l.split(' ')[0]);
  const taken = [fabric, ...plan.map((n) => `gw-${n.name}`)].filter((n) => listed.includes(n));
  if (taken.length) {
    throw new UserError(`network namespace ${taken.join(', ')} already exists: another real-nodes lab is up, or a killed one left it`, {
      fix: `stop the other lab (Ctrl-C in its terminal); for a killed one's leftovers: ${taken.map((n) => `ip netns delete ${n}`).join('; ')}`,
      exitCode: EXIT.usage,
    });
  }

  const work = mkdtempSync(path.join(tmpdir(), 'groundwork-real-nodes-'));
  // Before anything starts: every node in work/ down, the fabric deleted, work/ removed (real-node.sh lab-down).
  const labRecord = leftovers.add(`the real-nodes lab on ${fabric} (its nodes' kubelets, containerd and network namespaces; state in ${work})`, {
    argv: ['bash', REAL_NODE_SCRIPT, 'lab-down', work, fabric],
    timeoutMs: 30_000 * (o.count + 1),
  });
  const started: RealNode[] = [];
  const downed = new Set<string>();
  let cp: RealControlPlane | undefined;
  let fabricUp = false;
  const stopNode = async (name: string) => {
    const n = started.find((x) => x.name === name);
    if (!n || downed.has(name)) return;
    downed.add(name);
    await sh(['down', n.dir], {}, teardownExec);
  };
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const n of [...started].reverse()) await stopNode(n.name).catch(() => undefined);
      await cp?.stop().catch(() => undefined);
      if (fabricUp) await sh(['fabric-down', path.join(work, 'fabric'), fabric], {}, teardownExec).catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
      leftovers.clear(labRecord);
      leftovers.flush();
    })());

  try {
    const f = await sh(['fabric-up', path.join(work, 'fabric'), fabric]);
    if (f.exitCode !== 0) throw new Error(`real-node.sh fabric-up failed:\n${f.stdout}${f.stderr}`);
    fabricUp = true;
    say(`fabric ${fabric} up (bridge ${FABRIC_ADDRESS}/24)`);
    cp = await startRealControlPlane({
      ...o.controlPlaneOptions,
      ...(o.programs ? { programs: o.programs } : {}),
      netns: { name: fabric, address: FABRIC_ADDRESS },
      record: { sink: leftovers, what: `the real-nodes lab's control plane` },
    });
    say(`control plane up: ${cp.server} (inside ${fabric} at ${FABRIC_ADDRESS})`);
    const kubeconfigFor = async (cn: string, orgs: string[]) => {
      const c = await issueCertificate(cp!.ca, { commonName: cn, organizations: orgs, usage: 'client' });
      const name = `client-${cn.replace(/[^A-Za-z0-9.-]/g, '_')}`;
      return cp!.file(`${name}.kubeconfig`, kubeconfigYaml(cp!.clusterServer, cp!.caPem, { certPem: c.certPem, keyPem: c.keyPem }, name));
    };
    const proxyKubeconfig = await kubeconfigFor('system:kube-proxy', []);
    const { loadKubeConfig, waitFor } = await import('../../kube/index.js');
    const kube = await loadKubeConfig(cp.kubeconfig, undefined, { requestTimeoutMs: 10_000 });
    const sig = o.signal ? { signal: o.signal } : {};
    const netpolEnv: Record<string, string> = {};
    if (networkPolicy === 'kube-router') {
      for (const obj of netpolRbacObjects()) await kube.apply(obj, o.signal);
      netpolEnv.NETPOL_BIN = path.join(tools.addons, NETPOL_PROGRAM);
      netpolEnv.KUBECONFIG_NETPOL = await kubeconfigFor(NETPOL_USER, []);
    }
    for (const p of plan) {
      const dir = path.join(work, p.name);
      const node: RealNode = { ...p, dir };
      started.push(node);
      const up = await sh(['up', dir], {
        NODE_NAME: p.name,
        NODE_IP: p.ip,
        POD_CIDR: p.podCIDR,
        SERVICE_CIDR: cp.serviceCIDR,
        CLUSTER_DNS: nthAddress(cp.serviceCIDR, 10),
        KUBECONFIG_NODE: await kubeconfigFor(`system:node:${p.name}`, ['system:nodes']),
        KUBECONFIG_PROXY: proxyKubeconfig,
        CLIENT_CA: path.join(cp.dir, 'pki', 'ca.crt'),
        NODE_BIN: tools.node,
        NODE_IMAGES: path.join(tools.node, 'images'),
        EXTRA_IMAGES: ['coredns.tar', 'local-path.tar', 'agnhost.tar'].map((t) => path.join(tools.addons, t)).join(' '),
        FABRIC: fabric,
        ...netpolEnv,
      });
      if (up.exitCode !== 0) throw new Error(`node ${p.name} did not start (real-node.sh up):\n${up.stderr.slice(-3000)}`);
      say(`node ${p.name} up (${p.ip}, pods ${p.podCIDR}${networkPolicy === 'kube-router' ? ', NetworkPolicy by kube-router' : ', no NetworkPolicy enforcement'})`);
    }
    const isReady = (n: KubeObject) => (((n as { status?: unknown }).status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    await waitFor(kube, 'v1', 'Node', { timeoutMs: 120_000, what: `${plan.length} real nodes Ready`, ...sig }, (objs) =>
      [...objs.values()].filter(isReady).length >= plan.length ? true : undefined,
    );
    say(`${plan.length} nodes Ready`);
    const dnsIP = nthAddress(cp.serviceCIDR, 10);
    const replicas = Math.min(2, plan.length);
    for (const obj of corednsObjects({ dnsIP, replicas })) await kube.apply(obj, o.signal);
    await waitFor(kube, 'apps/v1', 'Deployment', { namespace: 'kube-system', timeoutMs: 120_000, what: 'CoreDNS Ready', ...sig }, (objs) =>
      ((objs.get('kube-system/coredns')?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) >= replicas ? true : undefined,
    );
    say(`CoreDNS Ready (kube-dns ${dnsIP})`);
    for (const obj of localPathObjects({ nodes: started.map((n) => ({ name: n.name, path: path.join(n.dir, 'local-path') })) })) await kube.apply(obj, o.signal);
    await waitFor(kube, 'apps/v1', 'Deployment', { namespace: 'kube-system', timeoutMs: 120_000, what: 'local-path-provisioner Ready', ...sig }, (objs) =>
      ((objs.get('kube-system/local-path-provisioner')?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) >= 1 ? true : undefined,
    );
    say(`local-path-provisioner Ready (default StorageClass ${LOCAL_PATH_CLASS})`);
    return { cp, fabric, nodes: started, networkPolicy, stopNode, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
