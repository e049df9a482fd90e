/**
 * `startLab()`: the lab as a library. Starts a store (memory or etcd), a fresh PKI and token, the HTTPS API
 * server on loopback, the Node objects, then the controllers; writes a kubeconfig (0600).
 * See src/lab/types.ts for the options and the controllers' hook.
 */
import { UserError } from '../errors.js';
import { toKubeTaint } from '../spec/fields.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { makeDirs, writeFileAtomic } from '../run/records.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import type { Lab, LabContext, LabNode, LabOptions } from './types.js';
import type { KubeObject } from './store/types.js';
import { createMemoryStore, type Store } from './store/store.js';
import { createLabPki } from './server/certs.js';
import { startApiServer } from './server/api-server.js';
import { createPodLogs } from './logs.js';
import { nodePodCidr, nthAddress } from './controllers/ipam.js';
import { MAX_LAB_NODES, defaultLabPodCidr, labNodeAddress } from './store/limits.js';
import { LAB_ADMIN_EXTENSION } from './faults.js';
import { LAB_KUBERNETES_VERSION } from './version.js';
import { buildKubeconfig } from './kubeconfig.js';
import { startGarbageCollector } from './controllers/garbage-collector.js';
import { startNamespaceController } from './controllers/namespaces.js';
import { startServiceAccountController } from './controllers/service-accounts.js';
import { HOSTNAME_LABEL } from '../kube/paths.js';

export type { Lab, LabApi, LabOptions, LabNode, LabContext, StartControllers } from './types.js';


const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';

/** The lab's nodes: from the spec (names, roles, labels, taints) or `cp-N` / `w-N`, on 127.0.100.N (then 127.0.101.N ...). */
export function planNodes(opts: Pick<LabOptions, 'nodes' | 'controlPlanes' | 'spec'>): LabNode[] {
  if (opts.spec && opts.nodes === undefined && opts.controlPlanes === undefined) {
    return opts.spec.spec.nodes.map((n, i) => ({
      name: n.name,
      role: n.role,
      address: labNodeAddress(i),
      labels: n.labels,
      taints: n.taints,
    }));
  }
  const total = opts.nodes ?? 3;
  const cps = Math.min(opts.controlPlanes ?? 1, total);
  if (!Number.isInteger(total) || total < 1 || cps < 0 || total > MAX_LAB_NODES) throw new UserError(`--nodes must be a whole number from 1 to ${MAX_LAB_NODES}, not ${total}`, { exitCode: 2 });
  const nodes: LabNode[] = [];
  for (let i = 0; i < total; i++) {
    const cp = i < cps;
    nodes.push({ name: cp ? `cp-${i + 1}` : `w-${i - cps + 1}`, role: cp ? 'control-plane' : 'worker', address: labNodeAddress(i) });
  }
  return nodes;
}

/** What a lab node's kubelet reports about itself (one definition: the controllers re-post it too). */
export function labNodeInfo(n: LabNode): Record<string, string> {
  return {
    machineID: n.name,
    systemUUID: n.name,
    bootID: n.name,
    kernelVersion: '6.12.0-groundwork-lab',
    osImage: 'groundwork lab',
    containerRuntimeVersion: 'containerd://2.0.0',
    kubeletVersion: LAB_KUBERNETES_VERSION,
    kubeProxyVersion: LAB_KUBERNETES_VERSION,
    operatingSystem: 'linux',
    architecture: 'amd64',
  };
}

/** A Node object as a kubelet registers it: Ready, addresses, capacity, nodeInfo. */
export function buildNodeObject(n: LabNode, now: Date = new Date()): KubeObject {
  const capacity = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '50Gi', ...(n.capacity ?? {}) };
  const ts = `${now.toISOString().slice(0, 19)}Z`;
  const taints: { key: string; value?: string; effect: string }[] = (n.taints ?? []).map(toKubeTaint);
  if (n.role === 'control-plane' && n.taints === undefined) taints.push({ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' });
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: ts, lastTransitionTime: ts, reason, message });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        [HOSTNAME_LABEL]: n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        ...(n.role === 'control-plane' ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
        ...(n.labels ?? {}),
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { ...(taints.length > 0 ? { taints } : {}) },
    status: {
      capacity,
      allocatable: capacity,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: n.address },
        { type: 'Hostname', address: n.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: n.kubeletPort ?? 10250 } },
      nodeInfo: labNodeInfo(n),
    },
  };
}

async function createStore(opts: LabOptions): Promise<Store> {
  if (opts.etcd) {
    const { createEtcdStore } = await import('./store/etcd.js');
    return createEtcdStore(opts.etcd, { bookmarkIntervalMs: opts.bookmarkIntervalMs, historySize: opts.watchHistorySize });
  }
  return createMemoryStore({ bookmarkIntervalMs: opts.bookmarkIntervalMs, historySize: opts.watchHistorySize });
}

/** Objects every cluster has: the default namespaces and their service accounts. Existing ones are kept. */
async function seedCluster(store: Store, nodes: LabNode[], createNodes: boolean, serviceCIDR: string): Promise<void> {
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    if (!store.get('namespaces', undefined, ns)) await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    if (!store.get('serviceaccounts', ns, 'default')) await store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
  }
  if (!store.get('services', 'default', 'kubernetes')) {
    const apiServiceIp = nthAddress(serviceCIDR, 1);
    await store.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      // kube-apiserver creates it with the first address of the service range (10.96.0.1 for 10.96.0.0/12).
      spec: { type: 'ClusterIP', clusterIP: apiServiceIp, clusterIPs: [apiServiceIp], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
    });
  }
  if (createNodes) {
    for (const n of nodes) if (!store.get('nodes', undefined, n.name)) await store.create(buildNodeObject(n), { skipValidation: true });
  }
}

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const host = opts.host ?? '127.0.0.1';
  if (!host.startsWith('127.') && host !== 'localhost') throw new RangeError('the lab binds to loopback addresses only');
  const nodes = planNodes(opts);
  const net = opts.spec?.spec.network;
  // The simulator's address management is IPv4 (dual-stack specs use their IPv4 half): say so, don't crash.
  for (const [field, value] of [['podCIDR', net?.podCIDR], ['serviceCIDR', net?.serviceCIDR]] as const) {
    if (value && !value.split(',').some((c) => c.includes('.'))) {
      throw new UserError(`the lab simulates IPv4 networks only, and spec.network.${field} ${value} has no IPv4 range`, {
        exitCode: 2,
        fix: `rehearse with an IPv4 or dual-stack ${field} (e.g. "10.244.0.0/16,fd00:10:244::/56"); the real cluster can stay IPv6-only`,
      });
    }
  }
  // Every node needs a podCIDR slice: a range too small for the nodes is the operator's to fix, said before start.
  const podCIDR = net?.podCIDR ?? defaultLabPodCidr(nodes.length);
  const nodeMaskSize = net?.nodeMaskSize ?? 24;
  try {
    nodePodCidr(podCIDR, nodeMaskSize, nodes.length - 1);
  } catch (e) {
    throw new UserError(`spec.network.podCIDR ${podCIDR} has no room for ${nodes.length} nodes with nodeMaskSize ${nodeMaskSize}`, {
      exitCode: 2,
      why: (e as Error).message,
      fix: 'widen spec.network.podCIDR (a shorter prefix), raise nodeMaskSize, or start fewer nodes (--nodes)',
    });
  }
  if ((opts.api ?? 'embedded') === 'real') return startLabOnRealApi(opts, nodes, podCIDR);
  const store = await createStore(opts);
  const teardown = createTeardown();
  teardown.add(() => store.close());
  // What kube-controller-manager does for the embedded API's deletes: collect dependents, empty namespaces
  // (and, after the seed below, a `default` ServiceAccount in every namespace).
  for (const stop of [startGarbageCollector(store), startNamespaceController(store)]) teardown.add(stop);
  const logs = createPodLogs();
  try {
    const pki = await createLabPki([host, 'localhost', '127.0.0.1']);
    const token = randomBytes(24).toString('base64url');
    const srv = await startApiServer({ store, logs, token, certPem: pki.certPem, keyPem: pki.keyPem, host, port: opts.port ?? 0 });
    teardown.add(() => srv.close());
    const serviceCIDR = net?.serviceCIDR ?? DEFAULT_SERVICE_CIDR;
    await seedCluster(store, nodes, !opts.skipNodeObjects, serviceCIDR);
    // After the seed, which creates the first namespaces' accounts itself.
    teardown.add(startServiceAccountController(store));
    const context = await startNodeSide(opts, teardown, {
      api: 'embedded',
      store,
      logs,
      nodes,
      network: labNetwork(opts, podCIDR, serviceCIDR),
      faults: opts.faults ?? [],
      addInterceptor: (fn) => srv.addInterceptor(fn),
      addAdminRoute: (name, h) => srv.addAdminRoute(name, h),
    });
    // Holds the lab's token: written through a temp file born 0600 and renamed, so an existing 0644 file is
    // replaced, never filled first and chmodded after.
    const kubeconfigPath = await writeLabKubeconfig(opts.kubeconfigPath, buildKubeconfig({ server: srv.url, caPem: pki.caPem, user: { token }, cluster: 'groundwork-lab', userName: 'groundwork-lab-admin', context: 'groundwork-lab', namespace: 'default' }));
    return { api: 'embedded', url: srv.url, kubeconfigPath, token, caPem: pki.caPem, store, logs, nodes, context, stop: teardown.run };
  } catch (e) {
    await teardown.run();
    throw e;
  }
}

/** Stops what was started, newest first and once; a step that fails does not keep the others from running. */
function createTeardown(): { add(step: () => unknown): void; run(): Promise<void> } {
  const steps: Array<() => unknown> = [];
  let done: Promise<void> | undefined;
  return {
    add: (step) => void steps.unshift(step),
    run: () =>
      (done ??= (async () => {
        for (const step of steps) await Promise.resolve().then(step).catch(() => undefined);
      })()),
  };
}

function labNetwork(opts: LabOptions, podCIDR: string, serviceCIDR: string): LabContext['network'] {
  const net = opts.spec?.spec.network;
  return { podCIDR, serviceCIDR, nodeMaskSize: net?.nodeMaskSize ?? 24, cni: opts.cni ?? net?.cni ?? 'cilium', clusterDomain: 'cluster.local' };
}

/**
 * What both APIs share once the store answers: a deleted pod's logs dropped, then the controllers (stopped,
 * and the lab's signal aborted, before anything they use).
 */
async function startNodeSide(opts: LabOptions, teardown: ReturnType<typeof createTeardown>, ctx: Omit<LabContext, 'signal'>): Promise<LabContext> {
  const stopLogDrop = ctx.store.watch('pods', undefined, {}, (e) => {
    if (e.type === 'DELETED') ctx.logs.drop(e.object.metadata.namespace!, e.object.metadata.name!);
  });
  teardown.add(stopLogDrop);
  const abort = new AbortController();
  const context: LabContext = { ...ctx, signal: abort.signal };
  if (opts.controllers) teardown.add(await opts.controllers(context));
  teardown.add(() => abort.abort());
  return context;
}

/** The lab's kubeconfig (0600, atomically): at `at`, or in a fresh temp dir. */
async function writeLabKubeconfig(at: string | undefined, text: string): Promise<string> {
  const kubeconfigPath = at ?? path.join(await mkdtemp(path.join(tmpdir(), 'groundwork-lab-')), 'kubeconfig');
  makeDirs(path.dirname(kubeconfigPath));
  writeFileAtomic(kubeconfigPath, text, 0o600);
  return kubeconfigPath;
}

/** The lab's kubeconfig on the real API: the control plane's admin one, plus where the lab's admin routes are. */
function buildRealKubeconfig(adminKubeconfig: string, adminUrl: string): string {
  const doc = parseYaml(readFileSync(adminKubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[]; contexts: { context: Record<string, unknown> }[] };
  for (const c of doc.clusters) c.cluster.extensions = [{ name: LAB_ADMIN_EXTENSION, extension: { server: adminUrl } }];
  for (const c of doc.contexts) c.context.namespace = 'default';
  return stringify(doc);
}

/**
 * The lab's node side on a real control plane: the store mirrors the real API (list+watch, writes over HTTPS),
 * the lab serves the kubelet API on each node's address and its admin routes on loopback; the controllers run
 * the node side only (ctx.api 'real').
 */
async function startLabOnRealApi(opts: LabOptions, planned: LabNode[], podCIDR: string): Promise<Lab> {
  const net = opts.spec?.spec.network;
  const { startRealControlPlane, hardenedAsGroundworkConfigures, LAB_API_ADVERTISE_ADDRESS } = await import('./real/control-plane.js');
  const { createMirrorStore } = await import('./store/mirror.js');
  const { startNodeServers } = await import('./real/node-servers.js');
  const { loadKubeConfig } = await import('../kube/index.js');
  const cp = opts.controlPlane ?? (await startRealControlPlane({
    ...(await hardenedAsGroundworkConfigures(opts.spec?.spec.security)),
    ...opts.controlPlaneOptions,
    serviceCIDR: net?.serviceCIDR?.split(',').find((c) => c.includes('.')) ?? DEFAULT_SERVICE_CIDR,
    podSecurity: opts.spec?.spec.bootstrap.method === 'kubeadm' ? 'kubeadm' : 'talos',
    advertiseAddress: LAB_API_ADVERTISE_ADDRESS,
  }));
  const teardown = createTeardown();
  if (opts.controlPlane === undefined) teardown.add(() => cp.stop());
  const logs = createPodLogs();
  try {
    const kube = await loadKubeConfig(cp.kubeconfig, undefined, { requestTimeoutMs: 30_000 });
    const store = await createMirrorStore({ kube });
    teardown.add(() => store.close());
    await store.synced;
    const servers = await startNodeServers({ nodes: planned, store, logs, ca: cp.ca });
    teardown.add(() => servers.close());
    const nodes = planned.map((n) => ({ ...n, kubeletPort: servers.kubeletPorts.get(n.name) }));
    // The kubelets register their nodes (or find them registered by an earlier lab on this control plane).
    if (!opts.skipNodeObjects) {
      for (const n of nodes) {
        if (store.get('nodes', undefined, n.name)) continue;
        await store.create(buildNodeObject(n)).catch((e: unknown) => {
          if ((e as { code?: number }).code !== 409) throw e;
        });
      }
    }
    const context = await startNodeSide(opts, teardown, {
      api: 'real',
      store,
      logs,
      nodes,
      network: labNetwork(opts, podCIDR, cp.serviceCIDR),
      faults: opts.faults ?? [],
      addInterceptor: () => () => undefined,
      addAdminRoute: (name, h) => servers.addAdminRoute(name, h),
    });
    const kubeconfigPath = await writeLabKubeconfig(opts.kubeconfigPath, buildRealKubeconfig(cp.kubeconfig, servers.adminUrl));
    return { api: 'real', url: cp.server, kubeconfigPath, token: '', caPem: cp.caPem, etcdUrl: cp.etcdUrl, store, logs, nodes, context, stop: teardown.run };
  } catch (e) {
    await teardown.run();
    throw e;
  }
}
