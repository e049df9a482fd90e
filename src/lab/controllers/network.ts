/**
 * The lab's network model: what a probe in a pod would see. Pod IPs of running pods, Service ClusterIPs with
 * endpoints (kube-proxy picks a ready backend), DNS names for Services (CoreDNS must be up and reachable),
 * NetworkPolicy through src/net/netpol.ts unless the CNI does not enforce it, and the network faults.
 */
import ipaddr from 'ipaddr.js';
import { isAllowed, onlyDirections, type Endpoint, type NetworkPolicy } from '../../net/netpol.js';
import { parseProbe } from '../../probe/index.js';
import { isDnsPod, isPodHealthy } from './nodes.js';
import { isPodReady, isTerminal, type Obj, type Runtime } from './runtime.js';
import { OrderedBucket } from '../store/ordered.js';
import type { KubeObject } from '../store/types.js';

export interface NetResult {
  ok: boolean;
  /** Printed after ok/fail: an IP, `timeout`, `refused`, `bad-address`. */
  detail?: string;
  /** A dropped packet makes the client wait for its timeout; a refusal comes back at once. */
  waits: boolean;
}

/**
 * The running pods the network model sees (Running, not finished, not being deleted), kept up to date from the
 * store's pod watch one event at a time, so no probe ever rebuilds it from every pod: in key order
 * (`<namespace>/<name>`, a namespace is a key range), by IP, and the host-network ones by node.
 */
interface PodIndex {
  ordered: OrderedBucket;
  byIp: Map<string, KubeObject>;
  hostNet: Map<string, Map<string, KubeObject>>;
  /** Bumped on every change to a namespace's running pods (memoised Service backends are valid while it stays). */
  nsVersion: Map<string, number>;
}

interface NetView {
  rt: Runtime;
  pods: PodIndex;
  services: KubeObject[];
  servicesByIp: Map<string, KubeObject>;
  servicesByKey: Map<string, KubeObject>;
  nsLabels: Map<string, Record<string, string>>;
  policies: NetworkPolicy[];
  /** The policies by namespace: a policy only ever selects pods of its own namespace. */
  policiesByNs: Map<string, NetworkPolicy[]>;
  enforce: boolean;
  nodeIps: Map<string, string>;
  /** A Service port's ready backends, per namespace version of the running pods. */
  backends: Map<string, { version: number; list: { pod: KubeObject; port: number }[] }>;
}

function isRunningPod(p: KubeObject): boolean {
  return !isTerminal(p) && !p.metadata.deletionTimestamp && (p.status as Obj)?.phase === 'Running';
}

function podKey(p: KubeObject): string {
  return `${p.metadata.namespace ?? ''}/${p.metadata.name}`;
}

function indexPod(ix: PodIndex, type: string, p: KubeObject): void {
  const key = podKey(p);
  const old = ix.ordered.tree.get(key);
  if (old) {
    ix.ordered.delete(old, 0);
    const ip = (old.status as Obj)?.podIP;
    if (ip && ix.byIp.get(ip) === old) ix.byIp.delete(ip);
    const node = nodeOf(old);
    if (node) ix.hostNet.get(node)?.delete(key);
  }
  const add = type !== 'DELETED' && isRunningPod(p);
  if (add) {
    ix.ordered.set(p, 0);
    const ip = (p.status as Obj)?.podIP;
    if ((p.spec as Obj)?.hostNetwork) {
      const node = nodeOf(p);
      if (node) {
        let m = ix.hostNet.get(node);
        if (!m) ix.hostNet.set(node, (m = new Map()));
        m.set(key, p);
      }
    } else if (ip) ix.byIp.set(ip, p);
  }
  if (old || add) {
    const ns = p.metadata.namespace ?? '';
    ix.nsVersion.set(ns, (ix.nsVersion.get(ns) ?? 0) + 1);
  }
}

/**
 * The view is a function of the objects it reads (pods, Services, namespaces, NetworkPolicies) and the faults.
 * Pods, the many, are indexed one watch event at a time; the rest (few) is rebuilt only after one of them changed.
 */
const VIEW_INPUTS = ['services', 'namespaces', 'networkpolicies.networking.k8s.io'];
interface ViewCache {
  changes: number;
  key?: string;
  view?: NetView;
  pods: PodIndex;
}
const views = new WeakMap<Runtime, ViewCache>();

export function buildNetView(rt: Runtime): NetView {
  let c = views.get(rt);
  if (!c) {
    const pods: PodIndex = { ordered: new OrderedBucket(), byIp: new Map(), hostNet: new Map(), nsVersion: new Map() };
    const cache: ViewCache = { changes: 0, pods };
    // Watch callbacks run synchronously with each write: the index and the count are exact, never a moment late.
    const stops = VIEW_INPUTS.map((r) => rt.store.watch(r, undefined, {}, () => void cache.changes++));
    stops.push(rt.store.watch('pods', undefined, {}, (e) => indexPod(pods, e.type, e.object)));
    for (const p of rt.store.list('pods').items) indexPod(pods, 'ADDED', p);
    // The store may outlive these controllers (tests start several on one lab): the watches go with them.
    rt.ctx.signal.addEventListener('abort', () => stops.forEach((stop) => stop()), { once: true });
    views.set(rt, (c = cache));
  }
  const key = `${c.changes}|${rt.faultsVersion}`;
  if (c.key !== key || !c.view) {
    c.view = computeNetView(rt, c.pods);
    c.key = key;
  }
  return c.view;
}

function computeNetView(rt: Runtime, pods: PodIndex): NetView {
  const services = rt.store.list('services').items;
  const servicesByIp = new Map<string, KubeObject>();
  const servicesByKey = new Map<string, KubeObject>();
  for (const s of services) {
    const ip = (s.spec as Obj)?.clusterIP;
    if (ip && ip !== 'None') servicesByIp.set(ip, s);
    const k = `${s.metadata.namespace}/${s.metadata.name}`;
    if (!servicesByKey.has(k)) servicesByKey.set(k, s);
  }
  const nsLabels = new Map<string, Record<string, string>>();
  for (const n of rt.store.list('namespaces').items) nsLabels.set(n.metadata.name!, { 'kubernetes.io/metadata.name': n.metadata.name!, ...(n.metadata.labels ?? {}) });
  const cni = rt.ctx.network.cni;
  const enforce = (cni === 'cilium' || cni === 'calico') && !rt.faults.has('netpol-not-enforced');
  const all = enforce ? (rt.store.list('networkpolicies.networking.k8s.io').items as unknown as NetworkPolicy[]) : [];
  // A CNI that enforces one direction only (the netpol-*-not-enforced faults) sees just that direction's isolation.
  const keep = (['Ingress', 'Egress'] as const).filter((d) => !rt.faults.has(`netpol-${d.toLowerCase()}-not-enforced`));
  const policies = keep.length === 2 ? all : onlyDirections(all, keep);
  const policiesByNs = new Map<string, NetworkPolicy[]>();
  for (const p of policies) {
    const ns = p.metadata.namespace ?? 'default';
    let l = policiesByNs.get(ns);
    if (!l) policiesByNs.set(ns, (l = []));
    l.push(p);
  }
  const nodeIps = new Map(rt.ctx.nodes.map((n) => [n.address, n.name]));
  return { rt, pods, services, servicesByIp, servicesByKey, nsLabels, policies, policiesByNs, enforce, nodeIps, backends: new Map() };
}

/** The running pods of one namespace, in key order. */
function* podsIn(v: NetView, ns: string | undefined): Iterable<KubeObject> {
  const prefix = `${ns ?? ''}/`;
  for (const [k, p] of v.pods.ordered.tree.entries(prefix)) {
    if (!k.startsWith(prefix)) return;
    yield p;
  }
}

/** The policies that can decide a connection between pods of these namespaces (each selects only its own). */
function policiesFor(v: NetView, a: string, b?: string): NetworkPolicy[] {
  const pa = v.policiesByNs.get(a) ?? [];
  if (b === undefined || b === a) return pa;
  const pb = v.policiesByNs.get(b) ?? [];
  return pa.length === 0 ? pb : pb.length === 0 ? pa : [...pa, ...pb];
}

function endpointOf(v: NetView, pod: KubeObject): Endpoint {
  const ns = pod.metadata.namespace!;
  return { ip: (pod.status as Obj)?.podIP ?? '', podLabels: pod.metadata.labels ?? {}, namespace: ns, namespaceLabels: v.nsLabels.get(ns) ?? { 'kubernetes.io/metadata.name': ns }, name: `${ns}/${pod.metadata.name}` };
}

/** A Service selector (plain labels): an empty or missing one selects nothing, as for a Service without endpoints. */
export function selectorMatches(sel: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel || Object.keys(sel).length === 0) return false;
  return Object.entries(sel).every(([k, val]) => labels?.[k] === val);
}

/** Ready backends of a Service: [pod, targetPort] for the service port, in key order (memoised per pod change). */
function serviceBackends(v: NetView, svc: KubeObject, port: number, protocol: string): { pod: KubeObject; port: number }[] {
  const spec = svc.spec as Obj;
  const sp = ((spec.ports ?? []) as Obj[]).find((p) => p.port === port && (p.protocol ?? 'TCP') === protocol);
  if (!sp) return [];
  const ns = svc.metadata.namespace ?? '';
  const version = v.pods.nsVersion.get(ns) ?? 0;
  const memoKey = `${ns}/${svc.metadata.name}|${svc.metadata.resourceVersion}|${port}|${protocol}`;
  const hit = v.backends.get(memoKey);
  if (hit && hit.version === version) return hit.list;
  const out: { pod: KubeObject; port: number }[] = [];
  for (const p of podsIn(v, ns)) {
    if (!selectorMatches(spec.selector, p.metadata.labels) || !isPodReady(p)) continue;
    const tp = sp.targetPort ?? sp.port;
    const target = typeof tp === 'number' ? tp : /^\d+$/.test(tp) ? Number(tp) : namedPort(p, tp);
    if (target !== undefined) out.push({ pod: p, port: target });
  }
  v.backends.set(memoKey, { version, list: out });
  return out;
}

export function namedPort(pod: KubeObject, name: string): number | undefined {
  for (const c of ((pod.spec as Obj)?.containers ?? []) as Obj[]) {
    for (const p of (c.ports ?? []) as Obj[]) if (p.name === name) return p.containerPort;
  }
  return undefined;
}

function namedPorts(pod: KubeObject): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of ((pod.spec as Obj)?.containers ?? []) as Obj[]) for (const p of (c.ports ?? []) as Obj[]) if (p.name) out[p.name] = p.containerPort;
  return out;
}

/** The ports a pod's running containers listen on for `protocol` (a `serve` probe is TCP; declared ports say theirs). */
function listeningPorts(v: NetView, pod: KubeObject, protocol: 'TCP' | 'UDP' = 'TCP'): Set<number> {
  const run = v.rt.runs.get(pod.metadata.uid!);
  const out = new Set<number>();
  const containers = ((pod.spec as Obj)?.containers ?? []) as Obj[];
  for (const c of containers) {
    const cr = run?.containers.find((x) => x.name === c.name);
    if (cr && cr.state !== 'running') continue;
    const probe = probeOf(c);
    if (probe?.kind === 'serve') {
      if (protocol === 'TCP') out.add(probe.port);
    } else if (!probe || probe.kind === 'sleep') {
      for (const p of (c.ports ?? []) as Obj[]) if ((p.protocol ?? 'TCP') === protocol) out.add(p.containerPort);
    }
  }
  return out;
}

function nodeOf(pod: KubeObject): string | undefined {
  return (pod.spec as Obj)?.nodeName;
}

/** The first reachable target's result, else the first target's (targets tried in order, as long as none answers). */
function firstReachable<T>(targets: readonly T[], reach: (t: T) => NetResult): NetResult {
  let first: NetResult | undefined;
  for (const t of targets) {
    const r = reach(t);
    if (r.ok) return r;
    first ??= r;
  }
  return first!;
}

/** A container's probe, parsed once per (immutable, stored) container spec. */
const probes = new WeakMap<object, ReturnType<typeof parseProbe> | null>();
function probeOf(c: Obj): ReturnType<typeof parseProbe> {
  let p = probes.get(c);
  if (p === undefined) {
    p = parseProbe(c.command, c.args ?? []) ?? null;
    probes.set(c, p);
  }
  return p ?? undefined;
}

const TIMEOUT: NetResult = { ok: false, detail: 'timeout', waits: true };
const REFUSED: NetResult = { ok: false, detail: 'refused', waits: false };

/** A pod (after any Service DNAT) reaching `target` on port: policies, faults, then is anything listening. */
function reachPod(v: NetView, from: KubeObject, target: KubeObject, port: number, protocol: 'TCP' | 'UDP'): NetResult {
  if (v.enforce) {
    // No policy in either namespace: nothing isolates either end (isAllowed would say so, at a price per probe).
    const policies = policiesFor(v, from.metadata.namespace ?? '', target.metadata.namespace ?? '');
    if (policies.length > 0 && !isAllowed({ from: endpointOf(v, from), to: { ...endpointOf(v, target), port, protocol, namedPorts: namedPorts(target) } }, policies).allowed) return TIMEOUT;
  }
  if (v.rt.faults.has('cross-node-traffic-dropped') && nodeOf(from) !== nodeOf(target)) return TIMEOUT;
  if (v.rt.faults.isNodeNotReady(nodeOf(target) ?? '')) return TIMEOUT;
  if (protocol === 'UDP' && isDnsPod(target)) return isPodHealthy(v.rt, target) ? { ok: true, waits: false } : TIMEOUT;
  // Nothing listening: TCP is refused at once; a UDP datagram goes unanswered (nc -u waits out its timeout).
  if (!listeningPorts(v, target, protocol).has(port)) return protocol === 'UDP' ? TIMEOUT : REFUSED;
  return { ok: true, waits: false };
}

/** Outside the pod network: node addresses and anything else (the lab has no route to the world). */
function isApiEndpoint(v: NetView, ip: string, port: number): boolean {
  const ep = v.rt.store.get('endpoints', 'default', 'kubernetes') as Obj | undefined;
  return ((ep?.subsets ?? []) as Obj[]).some((s) => ((s.addresses ?? []) as Obj[]).some((a) => a.ip === ip) && ((s.ports ?? []) as Obj[]).some((p) => p.port === port));
}

function reachAddress(v: NetView, from: KubeObject, ip: string, port: number, protocol: 'TCP' | 'UDP'): NetResult {
  if (v.enforce) {
    const policies = policiesFor(v, from.metadata.namespace ?? '');
    if (policies.length > 0 && !isAllowed({ from: endpointOf(v, from), to: { ip, port, protocol } }, policies).allowed) return TIMEOUT;
  }
  // The API server's advertised endpoint (a real control plane's --advertise-address): up while the lab runs.
  if (v.rt.ctx.api === 'real' && isApiEndpoint(v, ip, port)) return { ok: true, waits: false };
  const node = v.nodeIps.get(ip);
  if (node) {
    if (v.rt.faults.isNodeNotReady(node)) return TIMEOUT;
    const cp = v.rt.ctx.nodes.find((n) => n.name === node)?.role === 'control-plane';
    const open = new Set(protocol === 'TCP' ? [10250, ...(cp ? [6443, 2379, 2380, 10257, 10259] : [])] : []);
    for (const p of v.pods.hostNet.get(node)?.values() ?? []) for (const x of listeningPorts(v, p, protocol)) open.add(x);
    return open.has(port) ? { ok: true, waits: false } : REFUSED;
  }
  return TIMEOUT;
}

/** DNS from `from`: needs a Ready CoreDNS pod it may reach on 53/UDP. */
export function resolveName(v: NetView, from: KubeObject, name: string): NetResult {
  if (ipaddr.isValid(name)) return { ok: true, detail: name, waits: false };
  const dnsSvc = v.servicesByKey.get('kube-system/kube-dns');
  const backends = dnsSvc ? serviceBackends(v, dnsSvc, 53, 'UDP') : [];
  if (!backends.some((b) => reachPod(v, from, b.pod, b.port, 'UDP').ok)) return { ok: false, detail: 'timeout', waits: true };
  const domain = v.rt.ctx.network.clusterDomain || 'cluster.local';
  const fromNs = from.metadata.namespace!;
  const n = name.replace(/\.$/, '');
  let svcName: string | undefined;
  let svcNs: string | undefined;
  const parts = n.split('.');
  if (n.endsWith(`.svc.${domain}`) && parts.length === 3 + domain.split('.').length) [svcName, svcNs] = parts;
  else if (parts.length === 3 && parts[2] === 'svc') [svcName, svcNs] = parts;
  else if (parts.length === 2) [svcName, svcNs] = parts;
  else if (parts.length === 1) [svcName, svcNs] = [parts[0], fromNs];
  const svc = svcName ? v.servicesByKey.get(`${svcNs}/${svcName}`) : undefined;
  if (!svc) return { ok: false, detail: 'bad-address', waits: false };
  const ip = (svc.spec as Obj).clusterIP;
  if (ip === 'None') {
    let ready: KubeObject | undefined;
    for (const p of podsIn(v, svcNs)) {
      if (selectorMatches((svc.spec as Obj).selector, p.metadata.labels) && isPodReady(p)) {
        ready = p;
        break;
      }
    }
    return ready ? { ok: true, detail: (ready.status as Obj).podIP, waits: false } : { ok: false, detail: 'bad-address', waits: false };
  }
  return { ok: true, detail: ip, waits: false };
}

/** TCP (or UDP) to host:port from a pod. */
export function connect(v: NetView, from: KubeObject, host: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP'): NetResult {
  const r = resolveName(v, from, host);
  if (!r.ok) return r;
  const ip = r.detail!;
  const svc = v.servicesByIp.get(ip);
  if (svc) {
    if (((svc.spec as Obj).ports ?? []).every((p: Obj) => p.port !== port)) return TIMEOUT;
    if (!(svc.spec as Obj).selector || Object.keys((svc.spec as Obj).selector).length === 0) {
      // Endpoints maintained by someone else (kubernetes -> the control planes' 6443, or manual ones).
      const sp = ((svc.spec as Obj).ports as Obj[]).find((p) => p.port === port)!;
      const ep = v.rt.store.get('endpoints', svc.metadata.namespace, svc.metadata.name!) as Obj | undefined;
      const targets: { ip: string; port: number }[] = [];
      for (const sub of (ep?.subsets ?? []) as Obj[]) {
        const epPort = ((sub.ports ?? []) as Obj[]).find((p) => (sp.name ? p.name === sp.name : true))?.port;
        for (const a of (sub.addresses ?? []) as Obj[]) if (epPort !== undefined) targets.push({ ip: a.ip, port: epPort });
      }
      if (!ep) {
        // No Endpoints object (a real API server refuses loopback addresses there): its EndpointSlices.
        const slices = v.rt.store.list('endpointslices.discovery.k8s.io', svc.metadata.namespace, { labelSelector: `kubernetes.io/service-name=${svc.metadata.name}` }).items as Obj[];
        for (const sl of slices) {
          const slPort = ((sl.ports ?? []) as Obj[]).find((p) => (sp.name ? p.name === sp.name : true))?.port;
          for (const e of (sl.endpoints ?? []) as Obj[]) {
            if (e.conditions?.ready === false || slPort === undefined) continue;
            for (const a of (e.addresses ?? []) as string[]) targets.push({ ip: a, port: slPort });
          }
        }
      }
      if (targets.length === 0) return REFUSED;
      return firstReachable(targets, (t) => {
        const pod = v.pods.byIp.get(t.ip);
        return pod ? reachPod(v, from, pod, t.port, protocol) : reachAddress(v, from, t.ip, t.port, protocol);
      });
    }
    const backends = serviceBackends(v, svc, port, protocol);
    if (backends.length === 0) return REFUSED; // kube-proxy rejects a Service without endpoints
    // kube-proxy picks one backend; the lab picks the first reachable one so results are repeatable,
    // but a backend on a dropped path still fails when it is the only one.
    return firstReachable(backends, (b) => reachPod(v, from, b.pod, b.port, protocol));
  }
  const pod = v.pods.byIp.get(ip);
  if (pod) return reachPod(v, from, pod, port, protocol);
  return reachAddress(v, from, ip, port, protocol);
}

export function httpGet(v: NetView, from: KubeObject, url: string): NetResult {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, detail: '000', waits: false };
  }
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const r = connect(v, from, u.hostname.replace(/^\[(.*)\]$/, '$1'), port);
  return r.ok ? { ok: true, detail: '200', waits: false } : { ok: false, detail: '000', waits: r.waits };
}
