/**
 * The scheduler's filters, pure: each returns why a node cannot take a pod (in kube-scheduler's words) or
 * nothing. `formatFailedScheduling` builds the FailedScheduling message exactly as kube-scheduler 1.32 does:
 * "0/5 nodes are available: 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
 *  3 Insufficient cpu. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling,
 *  3 No preemption victims found for incoming pod."
 */
import { matchesSelector, type LabelSelector } from '../../net/netpol.js';
import { podRequests, toUnits } from './quantity.js';

type Obj = Record<string, any>;

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | string;
}
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}

export function tolerates(tols: readonly Toleration[] | undefined, t: Taint): boolean {
  return (tols ?? []).some((tol) => {
    if (tol.effect && tol.effect !== t.effect) return false;
    if (tol.operator === 'Exists') return !tol.key || tol.key === t.key;
    return tol.key === t.key && (tol.value ?? '') === (t.value ?? '');
  });
}

/** The first taint (NoSchedule/NoExecute) the pod does not tolerate. */
export function untoleratedTaint(pod: Obj, node: Obj): Taint | undefined {
  const taints = (node.spec?.taints ?? []) as Taint[];
  return taints.find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pod.spec?.tolerations, t));
}

function matchesNodeRequirement(req: Obj, labels: Record<string, string>, fields: Record<string, string>, isField: boolean): boolean {
  const src = isField ? fields : labels;
  const has = Object.prototype.hasOwnProperty.call(src, req.key);
  const v = src[req.key];
  const vals = (req.values ?? []) as string[];
  switch (req.operator) {
    case 'In':
      return has && vals.includes(v!);
    case 'NotIn':
      return !has || !vals.includes(v!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
      return has && Number(v) > Number(vals[0]);
    case 'Lt':
      return has && Number(v) < Number(vals[0]);
    default:
      return false;
  }
}

/** nodeSelector AND required node affinity (terms OR'ed, expressions within a term AND'ed). */
export function matchesNodeSelection(pod: Obj, node: Obj): boolean {
  const labels = (node.metadata?.labels ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries((pod.spec?.nodeSelector ?? {}) as Record<string, string>)) if (labels[k] !== v) return false;
  const terms = (pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) as Obj[];
  if (terms.length === 0) return true;
  const fields = { 'metadata.name': node.metadata.name as string };
  return terms.some((term) => {
    const exprs = (term.matchExpressions ?? []) as Obj[];
    const flds = (term.matchFields ?? []) as Obj[];
    if (exprs.length === 0 && flds.length === 0) return false; // an empty term matches nothing
    return exprs.every((r) => matchesNodeRequirement(r, labels, fields, false)) && flds.every((r) => matchesNodeRequirement(r, labels, fields, true));
  });
}

export interface NodeUsage {
  requests: Record<string, number>;
  pods: number;
}

const allocCache = new WeakMap<object, Record<string, number>>();
function allocatableOf(node: Obj): Record<string, number> {
  const hit = allocCache.get(node);
  if (hit) return hit;
  const out: Record<string, number> = {};
  for (const [r, q] of Object.entries((node.status?.allocatable ?? {}) as Record<string, string>)) out[r] = toUnits(r, q);
  allocCache.set(node, out);
  return out;
}

/** "Insufficient cpu", "Insufficient memory", "Too many pods" for every resource that does not fit. */
export function resourceReasons(pod: Obj, node: Obj, usage: NodeUsage, req: Record<string, number> = podRequests(pod.spec)): string[] {
  const alloc = allocatableOf(node);
  const out: string[] = [];
  if (alloc.pods !== undefined && usage.pods + 1 > alloc.pods) out.push('Too many pods');
  for (const [r, v] of Object.entries(req)) {
    if (v === 0) continue;
    const a = alloc[r] ?? 0;
    if ((usage.requests[r] ?? 0) + v > a) out.push(`Insufficient ${r}`);
  }
  return out;
}

function topologyValue(node: Obj, key: string): string | undefined {
  return (node.metadata?.labels ?? {})[key] as string | undefined;
}

/** Required pod anti-affinity: no pod matching a term may already run in the node's topology domain. */
export function violatesAntiAffinity(
  pod: Obj,
  node: Obj,
  placed: readonly { pod: Obj; node: Obj }[],
  /** The placed pods that have required anti-affinity terms (default: found in `placed`). */
  placedWithAnti: readonly { pod: Obj; node: Obj }[] = placed.filter((p) => p.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length),
): boolean {
  const terms = (pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as Obj[];
  const ns = pod.metadata.namespace as string;
  for (const term of terms) {
    const key = term.topologyKey as string;
    const domain = topologyValue(node, key);
    if (domain === undefined) continue;
    const namespaces = (term.namespaces as string[] | undefined)?.length ? (term.namespaces as string[]) : [ns];
    if (placed.some((p) => namespaces.includes(p.pod.metadata.namespace) && topologyValue(p.node, key) === domain && matchesSelector(term.labelSelector, p.pod.metadata.labels ?? {}))) {
      return true;
    }
  }
  // Symmetry: an existing pod's required anti-affinity also keeps this pod away.
  for (const p of placedWithAnti) {
    const terms2 = (p.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as Obj[];
    for (const term of terms2) {
      const key = term.topologyKey as string;
      const d = topologyValue(node, key);
      if (d === undefined || topologyValue(p.node, key) !== d) continue;
      const namespaces = (term.namespaces as string[] | undefined)?.length ? (term.namespaces as string[]) : [p.pod.metadata.namespace];
      if (namespaces.includes(ns) && matchesSelector(term.labelSelector, pod.metadata.labels ?? {})) return true;
    }
  }
  return false;
}

/** Required pod affinity: some pod matching each term must run in the node's topology domain. */
export function violatesAffinity(pod: Obj, node: Obj, placed: readonly { pod: Obj; node: Obj }[]): boolean {
  const terms = (pod.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as Obj[];
  const ns = pod.metadata.namespace as string;
  return terms.some((term) => {
    const key = term.topologyKey as string;
    const domain = topologyValue(node, key);
    const namespaces = (term.namespaces as string[] | undefined)?.length ? (term.namespaces as string[]) : [ns];
    const matching = placed.filter((p) => namespaces.includes(p.pod.metadata.namespace) && matchesSelector(term.labelSelector, p.pod.metadata.labels ?? {}));
    // The first pod of a group may go anywhere when it matches its own term (kube-scheduler's special case).
    if (matching.length === 0) return !matchesSelector(term.labelSelector, pod.metadata.labels ?? {});
    return domain === undefined || !matching.some((p) => topologyValue(p.node, key) === domain);
  });
}

/**
 * topologySpreadConstraints with whenUnsatisfiable DoNotSchedule: placing the pod in the node's domain must
 * keep (count in domain + 1) - (min count over eligible domains) <= maxSkew.
 */
export function violatesTopologySpread(pod: Obj, node: Obj, eligibleNodes: readonly Obj[], placed: readonly { pod: Obj; node: Obj }[]): boolean {
  return topologySpreadFilter(pod, eligibleNodes, placed)(node);
}

/**
 * The spread check for one pod against every node: the per-domain counts depend on the pod, not on the node,
 * so they are counted once (O(placed)) and each node is then O(constraints) — not O(nodes x placed) per pod.
 */
function topologySpreadFilter(pod: Obj, eligibleNodes: readonly Obj[], placed: readonly { pod: Obj; node: Obj }[]): (node: Obj) => boolean {
  return new SpreadCounts(pod, eligibleNodes, placed).filter();
}

/**
 * The per-domain counts of a pod's DoNotSchedule spread constraints, counted once from the placed pods and then
 * kept up to date as pods are placed (`add`): pods with the same constraints and node selection (a Deployment's,
 * validate's spread pods) share one count per scheduling pass instead of each recounting every placed pod.
 */
export class SpreadCounts {
  private readonly ns: string;
  private readonly checks: { key: string; counts: Map<string, number>; maxSkew: number; selector: LabelSelector }[];

  constructor(pod: Obj, eligibleNodes: readonly Obj[], placed: readonly { pod: Obj; node: Obj }[]) {
    const cs = ((pod.spec?.topologySpreadConstraints ?? []) as Obj[]).filter((c) => (c.whenUnsatisfiable ?? 'DoNotSchedule') === 'DoNotSchedule');
    this.ns = pod.metadata.namespace as string;
    this.checks = cs.map((c) => {
      const counts = new Map<string, number>();
      for (const n of eligibleNodes) {
        const d = topologyValue(n, c.topologyKey as string);
        if (d !== undefined) counts.set(d, 0);
      }
      return { key: c.topologyKey as string, counts, maxSkew: Number(c.maxSkew ?? 1), selector: c.labelSelector as LabelSelector };
    });
    for (const p of placed) this.add(p.pod, p.node);
  }

  /** A pod placed on `node` (counted where it matches a constraint's selector, in the pod's namespace). */
  add(pod: Obj, node: Obj): void {
    for (const c of this.checks) {
      const d = topologyValue(node, c.key);
      if (d === undefined || !c.counts.has(d)) continue;
      if (pod.metadata.namespace !== this.ns || !matchesSelector(c.selector, pod.metadata.labels ?? {})) continue;
      c.counts.set(d, c.counts.get(d)! + 1);
    }
  }

  /** Whether placing the pod on a node would exceed a maxSkew (or the node has no domain), as of the counts now. */
  filter(): (node: Obj) => boolean {
    if (this.checks.length === 0) return () => false;
    const checks = this.checks.map((c) => {
      let min = Infinity;
      for (const v of c.counts.values()) if (v < min) min = v;
      return { ...c, min };
    });
    return (node) => {
      for (const c of checks) {
        const domain = topologyValue(node, c.key);
        if (domain === undefined) return true; // nodes without the key are not eligible
        if ((c.counts.get(domain) ?? 0) + 1 - c.min > c.maxSkew) return true;
      }
      return false;
    };
  }
}

const NOT_HELPFUL = 'Preemption is not helpful for scheduling';
const NO_VICTIMS = 'No preemption victims found for incoming pod';

function histogram(reasons: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts.entries()].map(([r, n]) => `${n} ${r}`).sort().join(', ');
}

/**
 * The FailedScheduling message. `perNode` holds each node's failure reasons (several only for resources).
 * `preFilter` is a pod-level reason that stops before nodes are looked at (unbound immediate claims).
 */
export function formatFailedScheduling(totalNodes: number, perNode: readonly string[][], preFilter?: string): string {
  if (preFilter !== undefined) {
    return `0/${totalNodes} nodes are available: ${preFilter}. preemption: 0/${totalNodes} nodes are available: ${totalNodes} ${NOT_HELPFUL}.`;
  }
  const reasons = perNode.flat();
  const pre = perNode.map((rs) => (rs.every((r) => r.startsWith('Insufficient ') || r === 'Too many pods') ? NO_VICTIMS : NOT_HELPFUL));
  const head = reasons.length > 0 ? `0/${totalNodes} nodes are available: ${histogram(reasons)}.` : `0/${totalNodes} nodes are available.`;
  return `${head} preemption: 0/${totalNodes} nodes are available: ${histogram(pre)}.`;
}

export function describeTaint(t: Taint): string {
  return `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;
}
