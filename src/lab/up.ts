/**
 * `groundwork lab up`: start a lab in the foreground, print how to use it, stop cleanly on SIGINT/SIGTERM
 * (the run's abort signal). Knows nothing about flags: src/commands/lab.ts maps them to LabUpOptions.
 */
import { LAB_KUBERNETES_VERSION } from './version.js';
import type { Io } from '../io.js';
import { UserError, EXIT } from '../errors.js';
import type { LabApi, LabCni, StartControllers } from './types.js';
import type { Spec } from '../spec/schema.js';
import { MAX_LAB_NODES } from './store/limits.js';
import { DEFAULT_REAL_NETWORK_POLICY, REAL_NETWORK_POLICIES, type RealNetworkPolicy } from './real/netpol.js';

export interface LabUpOptions {
  /** 'real' or 'embedded'; default real when the control plane's programs are there (PATH or the real-tools cache). */
  api?: LabApi;
  nodes?: number;
  /** Real nodes instead of simulated ones (src/lab/real/nodes.ts): kubelet, kube-proxy and containerd per node. */
  nodesReal?: number;
  /** With nodesReal: who enforces NetworkPolicy on the real nodes (default kube-router; none: nobody). */
  networkPolicy?: string;
  controlPlanes?: number;
  cni?: LabCni;
  faults: string[];
  etcd?: string;
  kubeconfigPath: string;
  port?: number;
  spec?: Spec;
  json: boolean;
  io: Io;
  signal?: AbortSignal;
  /** Defaults to the lab's controllers (src/lab/controllers). */
  controllers?: StartControllers;
}

const CNIS: readonly LabCni[] = ['cilium', 'calico', 'flannel', 'none'];

export function checkLabUpOptions(o: Pick<LabUpOptions, 'nodes' | 'controlPlanes' | 'cni' | 'port' | 'etcd'>): void {
  const bad = (msg: string, fix: string) => new UserError(msg, { fix, exitCode: EXIT.usage });
  if (o.nodes !== undefined && (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_LAB_NODES)) throw bad(`--nodes must be a whole number from 1 to ${MAX_LAB_NODES}, not ${o.nodes}`, 'e.g. --nodes 5');
  if (o.controlPlanes !== undefined && (!Number.isInteger(o.controlPlanes) || o.controlPlanes < 1)) throw bad(`--control-planes must be a whole number of at least 1, not ${o.controlPlanes}`, 'e.g. --control-planes 3');
  if (o.nodes !== undefined && o.controlPlanes !== undefined && o.controlPlanes > o.nodes) throw bad(`--control-planes (${o.controlPlanes}) cannot exceed --nodes (${o.nodes}): --nodes counts all nodes`, `e.g. --nodes ${o.controlPlanes + 2} --control-planes ${o.controlPlanes}`);
  if (o.cni !== undefined && !CNIS.includes(o.cni)) throw bad(`--cni must be one of ${CNIS.join(', ')}, not "${o.cni}"`, '--cni cilium');
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) throw bad(`--port must be a TCP port (0-65535), not ${o.port}`, '--port 6443 (0 picks a free one)');
  if (o.etcd !== undefined) {
    let u: URL;
    try {
      u = new URL(o.etcd);
    } catch {
      throw bad(`--etcd must be an etcd client URL, not "${o.etcd}"`, '--etcd http://127.0.0.1:2379');
    }
    if (u.protocol !== 'http:' || !(u.hostname.startsWith('127.') || u.hostname === 'localhost')) {
      throw bad(`--etcd must be a plain http:// URL on this machine (127.0.0.0/8), not "${o.etcd}"`, '--etcd http://127.0.0.1:2379');
    }
  }
}

async function defaultControllers(): Promise<StartControllers> {
  const { startControllers } = await import('./controllers/index.js');
  return startControllers;
}

export async function runLabUp(o: LabUpOptions): Promise<number> {
  checkLabUpOptions(o);
  if (o.nodesReal !== undefined) return runRealNodesLabUp(o);
  if (o.networkPolicy !== undefined) {
    throw new UserError('--network-policy is for --nodes-real: it picks who enforces NetworkPolicy on real nodes', {
      fix: 'drop --network-policy (the simulated lab enforces NetworkPolicy as its --cni would: --cni flannel ignores it), or add --api real --nodes-real N',
      exitCode: EXIT.usage,
    });
  }
  const { chooseLabApi } = await import('./real/control-plane.js');
  if (o.api === 'real') {
    if (o.etcd !== undefined) throw new UserError('--etcd is for the embedded API: the real control plane keeps its objects in its own etcd', { exitCode: EXIT.usage, fix: 'drop --etcd, or add --api embedded' });
    if (o.port !== undefined) throw new UserError('--port is for the embedded API: the real kube-apiserver listens on a free port of 127.0.0.1', { exitCode: EXIT.usage, fix: 'drop --port, or add --api embedded' });
  }
  // --etcd and --port keep the embedded API (the real API has its own etcd and picks its own port).
  const { api, programs } = chooseLabApi(o.api, o.io.env, o.etcd !== undefined || o.port !== undefined);
  const { parseFault } = await import('./faults.js');
  for (const f of o.faults) parseFault(f);
  const { startLab } = await import('./index.js');
  const controllers = o.controllers ?? (await defaultControllers());
  let lab;
  try {
    lab = await startLab({
      api,
      nodes: o.nodes,
      controlPlanes: o.controlPlanes,
      cni: o.cni,
      faults: o.faults,
      etcd: o.etcd,
      kubeconfigPath: o.kubeconfigPath,
      port: o.port,
      spec: o.spec,
      controllers,
      ...(programs ? { controlPlaneOptions: { programs } } : {}),
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new UserError(`port ${o.port} is already in use on 127.0.0.1`, { fix: 'pick another --port, or --port 0 for a free one', exitCode: EXIT.usage, cause: e });
    if (o.etcd && /cannot reach etcd/.test((e as Error).message)) throw new UserError(`cannot reach etcd at ${o.etcd}`, { why: (e as Error).message, fix: 'start etcd first, or drop --etcd to keep the objects in memory', cause: e });
    throw e;
  }
  const { io } = o;
  const summary = {
    api,
    url: lab.url,
    kubeconfig: lab.kubeconfigPath,
    nodes: lab.nodes.map((n) => ({ name: n.name, role: n.role, internalIP: n.address })),
    store: api === 'real' ? `etcd ${lab.etcdUrl}` : o.etcd ? `etcd ${o.etcd}` : 'memory',
    faults: o.faults,
  };
  if (o.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    io.stdout.write(
      upMessage(
        [`lab is up: ${lab.url} (${api === 'real' ? 'the real kube-apiserver, kube-controller-manager and kube-scheduler' : `the embedded Kubernetes ${LAB_KUBERNETES_VERSION} API`}, ${lab.nodes.length} nodes, store: ${summary.store})`],
        lab.kubeconfigPath,
        [`export KUBECONFIG=${lab.kubeconfigPath}`],
        'Ctrl-C stops the lab.',
      ),
    );
  }
  await untilAborted(o.signal);
  await lab.stop();
  io.stderr.write('lab stopped\n');
  return EXIT.ok;
}

/** The flags a lab of real nodes has no use for: each names why. */
function checkRealNodesOptions(o: LabUpOptions): void {
  const bad = (flag: string, why: string) => new UserError(`${flag} does not go with --nodes-real: ${why}`, { exitCode: EXIT.usage, fix: `drop ${flag}` });
  if (o.api === 'embedded') throw bad('--api embedded', 'real nodes join the real control plane (--api real)');
  if (o.nodes !== undefined) throw bad('--nodes', '--nodes counts simulated nodes; --nodes-real N starts N real ones');
  if (o.controlPlanes !== undefined) throw bad('--control-planes', 'the control plane runs beside the nodes, not on one of them');
  if (o.cni !== undefined) throw bad('--cni', 'the nodes use the real bridge CNI plugin (who enforces NetworkPolicy on it: --network-policy kube-router|none)');
  if (o.faults.length > 0) throw bad('--fault', 'the faults are the simulator\'s; break a real node for real (kubectl cordon, scale CoreDNS to 0, --network-policy none for a policy-blind CNI)');
  if (o.etcd !== undefined) throw bad('--etcd', 'the real control plane keeps its objects in its own etcd');
  if (o.port !== undefined) throw bad('--port', 'the real kube-apiserver listens on a free port of 127.0.0.1');
  if (o.networkPolicy !== undefined && !(REAL_NETWORK_POLICIES as readonly string[]).includes(o.networkPolicy)) {
    throw new UserError(`--network-policy must be one of ${REAL_NETWORK_POLICIES.join(', ')}, not "${o.networkPolicy}"`, {
      fix: '--network-policy kube-router (its policy controller on every node, the default), or --network-policy none (a policy-blind CNI, for real)',
      exitCode: EXIT.usage,
    });
  }
}

/**
 * `lab up --api real --nodes-real N`: the real control plane and N real nodes (src/lab/real/nodes.ts), the admin
 * kubeconfig written like the other modes', everything stopped on Ctrl-C (the run's abort signal).
 */
async function runRealNodesLabUp(o: LabUpOptions): Promise<number> {
  checkRealNodesOptions(o);
  const { findControlPlanePrograms, hardenedAsGroundworkConfigures } = await import('./real/control-plane.js');
  const { startRealNodesLab, findRealNodeTools, REAL_LAB_IMAGE_REGISTRY } = await import('./real/nodes.js');
  const networkPolicy = (o.networkPolicy ?? DEFAULT_REAL_NETWORK_POLICY) as RealNetworkPolicy;
  const programs = findControlPlanePrograms(o.io.env);
  const tools = findRealNodeTools(o.io.env, networkPolicy);
  const { io } = o;
  const progress = (line: string) => void io.stderr.write(`${line}\n`);
  const lab = await startRealNodesLab({
    count: o.nodesReal!,
    programs,
    tools,
    env: o.io.env,
    controlPlaneOptions: {
      ...(await hardenedAsGroundworkConfigures(o.spec?.spec.security)),
      podSecurity: o.spec?.spec.bootstrap.method === 'kubeadm' ? 'kubeadm' : 'talos',
    },
    onProgress: progress,
    networkPolicy,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  try {
    const { readFileSync } = await import('node:fs');
    const { writeFileAtomic, makeDirs } = await import('../run/records.js');
    const path = await import('node:path');
    const YAML = await import('yaml');
    const doc = YAML.parse(readFileSync(lab.cp.kubeconfig, 'utf8')) as { contexts: { context: Record<string, unknown> }[] };
    for (const c of doc.contexts) c.context.namespace = 'default';
    makeDirs(path.dirname(o.kubeconfigPath));
    writeFileAtomic(o.kubeconfigPath, YAML.stringify(doc), 0o600);
    const summary = {
      api: 'real',
      url: lab.cp.server,
      kubeconfig: o.kubeconfigPath,
      nodes: lab.nodes.map((n) => ({ name: n.name, role: 'worker', internalIP: n.ip, podCIDR: n.podCIDR, stateDir: n.dir })),
      store: `etcd ${lab.cp.etcdUrl}`,
      /** The control plane's etcd on host loopback (plain http): what `groundwork drill --endpoints` takes. */
      etcd: lab.cp.etcdUrl,
      imageRegistry: REAL_LAB_IMAGE_REGISTRY,
      networkPolicy: lab.networkPolicy,
    };
    if (o.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      io.stdout.write(
        upMessage(
          [
            `lab is up: ${lab.cp.server} (the real kube-apiserver, kube-controller-manager and kube-scheduler; ${lab.nodes.length} real nodes: kubelet, kube-proxy, containerd${lab.networkPolicy === 'kube-router' ? ', kube-router\'s NetworkPolicy controller' : ''}; CoreDNS; store: ${summary.store})`,
            ...(lab.networkPolicy === 'none' ? ['  NetworkPolicy: not enforced (--network-policy none: the bridge CNI ignores it, as Flannel does)'] : []),
            ...lab.nodes.map((n) => `  node ${n.name}  ${n.ip}  pods ${n.podCIDR}  (network namespace gw-${n.name}, logs ${n.dir}/logs)`),
          ],
          o.kubeconfigPath,
          [`groundwork validate --kubeconfig ${o.kubeconfigPath} --image-registry ${REAL_LAB_IMAGE_REGISTRY} --only connectivity,dns,netpol`, `groundwork drill --endpoints ${lab.cp.etcdUrl}`],
          'Ctrl-C stops the lab (nodes, control plane, network namespaces).',
        ),
      );
    }
    await untilAborted(o.signal);
  } finally {
    await lab.stop();
  }
  io.stderr.write('lab stopped\n');
  return EXIT.ok;
}

/** What `lab up` prints once the lab serves: what is up, the kubeconfig, commands to try, how to stop it. */
function upMessage(headline: string[], kubeconfigPath: string, tries: string[], stop: string): string {
  return [...headline, `kubeconfig: ${kubeconfigPath}`, '', 'try it from another terminal:', `  kubectl --kubeconfig ${kubeconfigPath} get nodes -o wide`, ...tries.map((t) => `  ${t}`), '', stop, ''].join('\n');
}

/** Resolves when the signal aborts (at once if it already has); never without a signal. */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    else signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}
