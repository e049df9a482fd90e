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
import type { KubeObject } from '../store/types.js';

export interface NetResult {
  ok: boolean;
  /** Printed after ok/fail: an IP, `timeout`, `refused`, `bad-address`. */
  detail?: string;
  /** A dropped packet makes the client wait for its timeout; a refusal comes back at once. */
  waits: boolean;
}

interface NetView {
  rt: Runtime;
  pods: KubeObject[];
  podsByIp: Map<string, KubeObject>;
  services: KubeObject[];
  servicesByIp: Map<string, KubeObject>;
  nsLabels: Map<string, Record<string, string>>;
  policies: NetworkPolicy[];
  enforce: boolean;
  nodeIps: Map<string, string>;
}

/**
 * The view is a function of the objects it reads (pods, Services, namespaces, NetworkPolicies) and the faults, so
 * it is rebuilt only after one of those changed: a client pod's probes, started together (with events written in
 * between), share one view instead of each rebuilding it from every pod.
 */
const VIEW_INPUTS = ['pods', 'services', 'namespaces', 'networkpolicies.networking.k8s.io'];
const views = new WeakMap<Runtime, { changes: number; key?: string; view?: NetView }>();

export function buildNetView(rt: Runtime): NetView {
  let c = views.get(rt);
  if (!c) {
    const cache: { changes: number; key?: string; view?: NetView } = { changes: 0 };
    // Watch callbacks run synchronously with each write: the count is exact, never a moment late.
    const stops = VIEW_INPUTS.map((r) => rt.store.watch(r, undefined, {}, () => void cache.changes++));
    // The store may outlive these controllers (tests start several on one lab): the watches go with them.
    rt.ctx.signal.addEventListener('abort', () => stops.forEach((stop) => stop()), { once: true });
    views.set(rt, (c = cache));
  }
  const key = `${c.changes}|${rt.faultsVersion}`;
  if (c.key !== key || !c.view) {
    c.view = computeNetView(rt);
    c.key = key;
  }
  return c.view;
}

function computeNetView(rt: Runtime): NetView {
  const pods = rt.store.list('pods').items.filter((p) => !isTerminal(p) && !p.metadata.deletionTimestamp && (p.status as Obj)?.phase === 'Running');
  const podsByIp = new Map<string, KubeObject>();
  for (const p of pods) {
    const ip = (p.status as Obj)?.podIP;
    if (ip && !(p.spec as Obj)?.hostNetwork) podsByIp.set(ip, p);
  }
  const services = rt.store.list('services').items;
  const servicesByIp = new Map<string, KubeObject>();
  for (const s of services) {
    const ip = (s.spec as Obj)?.clusterIP;
    if (ip && ip !== 'None') servicesByIp.set(ip, s);
  }
  const nsLabels = new Map<string, Record<string, string>>();
  for (const n of rt.store.list('namespaces').items) nsLabels.set(n.metadata.name!, { 'kubernetes.io/metadata.name': n.metadata.name!, ...(n.metadata.labels ?? {}) });
  const cni = rt.ctx.network.cni;
  const enforce = (cni === 'cilium' || cni === 'calico') && !rt.faults.has('netpol-not-enforced');
  const all = enforce ? (rt.store.list('networkpolicies.networking.k8s.io').items as unknown as NetworkPolicy[]) : [];
  // A CNI that enforces one direction only (the netpol-*-not-enforced faults) sees just that direction's isolation.
  const keep = (['Ingress', 'Egress'] as const).filter((d) => !rt.faults.has(`netpol-${d.toLowerCase()}-not-enforced`));
  const policies = keep.length === 2 ? all : onlyDirections(all, keep);
  const nodeIps = new Map(rt.ctx.nodes.map((n) => [n.address, n.name]));
  return { rt, pods, podsByIp, services, servicesByIp, nsLabels, policies, enforce, nodeIps };
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

/** Ready backends of a Service: [pod, targetPort] for the service port. */
function serviceBackends(v: NetView, svc: KubeObject, port: number, protocol: string): { pod: KubeObject; port: number }[] {
  const spec = svc.spec as Obj;
  const sp = ((spec.ports ?? []) as Obj[]).find((p) => p.port === port && (p.protocol ?? 'TCP') === protocol);
  if (!sp) return [];
  const out: { pod: KubeObject; port: number }[] = [];
  for (const p of v.pods) {
    if (p.metadata.namespace !== svc.metadata.namespace || !selectorMatches(spec.selector, p.metadata.labels) || !isPodReady(p)) continue;
    const tp = sp.targetPort ?? sp.port;
    const target = typeof tp === 'number' ? tp : /^\d+$/.test(tp) ? Number(tp) : namedPort(p, tp);
    if (target !== undefined) out.push({ pod: p, port: target });
  }
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
    const probe = parseProbe(c.command, c.args ?? []);
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

const TIMEOUT: NetResult = { ok: false, detail: 'timeout', waits: true };
const REFUSED: NetResult = { ok: false, detail: 'refused', waits: false };

/** A pod (after any Service DNAT) reaching `target` on port: policies, faults, then is anything listening. */
function reachPod(v: NetView, from: KubeObject, target: KubeObject, port: number, protocol: 'TCP' | 'UDP'): NetResult {
  if (v.enforce) {
    const verdict = isAllowed({ from: endpointOf(v, from), to: { ...endpointOf(v, target), port, protocol, namedPorts: namedPorts(target) } }, v.policies);
    if (!verdict.allowed) return TIMEOUT;
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
    const verdict = isAllowed({ from: endpointOf(v, from), to: { ip, port, protocol } }, v.policies);
    if (!verdict.allowed) return TIMEOUT;
  }
  // The API server's advertised endpoint (a real control plane's --advertise-address): up while the lab runs.
  if (v.rt.ctx.api === 'real' && isApiEndpoint(v, ip, port)) return { ok: true, waits: false };
  const node = v.nodeIps.get(ip);
  if (node) {
    if (v.rt.faults.isNodeNotReady(node)) return TIMEOUT;
    const cp = v.rt.ctx.nodes.find((n) => n.name === node)?.role === 'control-plane';
    const open = new Set(protocol === 'TCP' ? [10250, ...(cp ? [6443, 2379, 2380, 10257, 10259] : [])] : []);
    for (const p of v.pods) if ((p.spec as Obj)?.hostNetwork && nodeOf(p) === node) for (const x of listeningPorts(v, p, protocol)) open.add(x);
    return open.has(port) ? { ok: true, waits: false } : REFUSED;
  }
  return TIMEOUT;
}

/** DNS from `from`: needs a Ready CoreDNS pod it may reach on 53/UDP. */
export function resolveName(v: NetView, from: KubeObject, name: string): NetResult {
  if (ipaddr.isValid(name)) return { ok: true, detail: name, waits: false };
  const dnsSvc = v.services.find((s) => s.metadata.namespace === 'kube-system' && s.metadata.name === 'kube-dns');
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
  const svc = svcName ? v.services.find((s) => s.metadata.name === svcName && s.metadata.namespace === svcNs) : undefined;
  if (!svc) return { ok: false, detail: 'bad-address', waits: false };
  const ip = (svc.spec as Obj).clusterIP;
  if (ip === 'None') {
    const ready = v.pods.find((p) => p.metadata.namespace === svcNs && selectorMatches((svc.spec as Obj).selector, p.metadata.labels) && isPodReady(p));
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
      const results = targets.map((t) => {
        const pod = v.podsByIp.get(t.ip);
        return pod ? reachPod(v, from, pod, t.port, protocol) : reachAddress(v, from, t.ip, t.port, protocol);
      });
      return results.find((x) => x.ok) ?? results[0]!;
    }
    const backends = serviceBackends(v, svc, port, protocol);
    if (backends.length === 0) return REFUSED; // kube-proxy rejects a Service without endpoints
    // kube-proxy picks one backend; the lab picks the first reachable one so results are repeatable,
    // but a backend on a dropped path still fails when it is the only one.
    const results = backends.map((b) => reachPod(v, from, b.pod, b.port, protocol));
    return results.find((x) => x.ok) ?? results[0]!;
  }
  const pod = v.podsByIp.get(ip);
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
