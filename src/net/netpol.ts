/**
 * A pure NetworkPolicy evaluator with the real (networking.k8s.io/v1) semantics:
 * - a policy selects pods in its own namespace by spec.podSelector ({} = every pod there);
 * - a pod is isolated for ingress (egress) only if some policy with that policyType selects it;
 *   otherwise that direction is allowed;
 * - policyTypes missing: Ingress always, Egress only if spec.egress is present;
 * - an isolated pod admits a connection if ANY rule of ANY policy selecting it admits it (rules OR'ed);
 *   within a rule, peers are OR'ed and ports are OR'ed, and a rule needs a peer match AND a port match
 *   (missing/empty `from`/`to` = every peer, missing/empty `ports` = every port);
 * - in ONE peer, namespaceSelector + podSelector = AND; podSelector alone = pods in the policy's namespace;
 *   namespaceSelector alone = every pod in the matching namespaces; ipBlock = cidr minus except (by IP);
 * - a connection needs egress allowed at the source AND ingress allowed at the destination.
 * The lab enforces with it; the explainer (netpol-explain.ts) describes policies in words.
 */
import ipaddr from 'ipaddr.js';
import { matchLabels, requirementsOf, type LabelSelector } from './labels.js';

export type { LabelSelector };
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector | null;
  namespaceSelector?: LabelSelector | null;
  ipBlock?: { cidr: string; except?: string[] | null } | null;
}
export interface NetworkPolicyPort {
  protocol?: 'TCP' | 'UDP' | 'SCTP' | string;
  port?: number | string;
  endPort?: number;
}
export interface NetworkPolicyRule {
  from?: NetworkPolicyPeer[] | null;
  to?: NetworkPolicyPeer[] | null;
  ports?: NetworkPolicyPort[] | null;
}
export interface NetworkPolicy {
  metadata: { name: string; namespace?: string };
  spec: {
    podSelector?: LabelSelector | null;
    policyTypes?: ('Ingress' | 'Egress' | string)[] | null;
    ingress?: NetworkPolicyRule[] | null;
    egress?: NetworkPolicyRule[] | null;
  };
}

/** One end of a connection. A pod has labels; an address outside the cluster has only an IP. */
export interface Endpoint {
  ip: string;
  /** Present when the endpoint is a pod (then namespace is too). */
  podLabels?: Record<string, string>;
  namespace?: string;
  namespaceLabels?: Record<string, string>;
  /** A name for reasons, e.g. "default/client". */
  name?: string;
}
export interface Destination extends Endpoint {
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  /** Named container ports of the destination pod (for `port: http`). */
  namedPorts?: Record<string, number>;
}
export interface Connection {
  from: Endpoint;
  to: Destination;
}
interface Verdict {
  allowed: boolean;
  /** Why, one line per direction, in the operator's words. */
  reasons: string[];
}

export function matchesSelector(sel: LabelSelector | null | undefined, labels: Record<string, string> = {}): boolean {
  if (!sel) return true;
  // An unknown operator is rejected by a real API server; match nothing rather than everything.
  const reqs = requirementsOf(sel);
  return reqs !== undefined && matchLabels(reqs, labels);
}

/** The policyTypes a policy has, with the API server's defaulting when the field is missing. */
export function effectivePolicyTypes(p: NetworkPolicy): ('Ingress' | 'Egress')[] {
  const t = p.spec.policyTypes;
  if (t && t.length > 0) return t.filter((x): x is 'Ingress' | 'Egress' => x === 'Ingress' || x === 'Egress');
  // As the API server defaults it: Ingress always, Egress only when there are egress rules.
  return (p.spec.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

function ipInCidr(ip: string, cidr: string): boolean {
  try {
    const addr = ipaddr.process(ip);
    const range = ipaddr.parseCIDR(cidr);
    if (addr.kind() !== range[0].kind()) return false;
    return addr.match(range);
  } catch {
    return false;
  }
}

function policyNamespace(p: NetworkPolicy): string {
  return p.metadata.namespace ?? 'default';
}

function selects(p: NetworkPolicy, ep: Endpoint): boolean {
  return ep.podLabels !== undefined && ep.namespace === policyNamespace(p) && matchesSelector(p.spec.podSelector, ep.podLabels);
}

function peerMatches(peer: NetworkPolicyPeer, ep: Endpoint, policyNs: string): boolean {
  if (peer.ipBlock) {
    if (!ipInCidr(ep.ip, peer.ipBlock.cidr)) return false;
    return !(peer.ipBlock.except ?? []).some((c) => ipInCidr(ep.ip, c));
  }
  const hasPod = peer.podSelector !== undefined && peer.podSelector !== null;
  const hasNs = peer.namespaceSelector !== undefined && peer.namespaceSelector !== null;
  if (!hasPod && !hasNs) return false; // an empty peer is invalid in the API; admit nothing
  if (ep.podLabels === undefined) return false; // selectors only ever match pods
  const nsOk = hasNs ? matchesSelector(peer.namespaceSelector, ep.namespaceLabels ?? {}) : ep.namespace === policyNs;
  return nsOk && (!hasPod || matchesSelector(peer.podSelector, ep.podLabels));
}

function portMatches(ports: NetworkPolicyPort[] | null | undefined, to: Destination): boolean {
  if (!ports || ports.length === 0) return true;
  const proto = to.protocol ?? 'TCP';
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== proto) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') {
      if (/^\d+$/.test(p.port)) return Number(p.port) === to.port;
      return to.namedPorts?.[p.port] === to.port;
    }
    return p.endPort !== undefined ? to.port >= p.port && to.port <= p.endPort : to.port === p.port;
  });
}

function ruleAdmits(rule: NetworkPolicyRule, peers: NetworkPolicyPeer[] | null | undefined, peer: Endpoint, to: Destination, ns: string): boolean {
  const peerOk = !peers || peers.length === 0 || peers.some((x) => peerMatches(x, peer, ns));
  return peerOk && portMatches(rule.ports, to);
}

function nameOf(ep: Endpoint): string {
  return ep.name ?? (ep.namespace ? `${ep.namespace}/${ep.ip}` : ep.ip);
}

function checkDirection(dir: 'Ingress' | 'Egress', conn: Connection, policies: readonly NetworkPolicy[]): { allowed: boolean; reason: string } {
  const subject = dir === 'Ingress' ? conn.to : conn.from;
  const other = dir === 'Ingress' ? conn.from : conn.to;
  const word = dir.toLowerCase();
  if (subject.podLabels === undefined) return { allowed: true, reason: `${word}: ${nameOf(subject)} is not a pod; no policy applies` };
  const selecting = policies.filter((p) => effectivePolicyTypes(p).includes(dir) && selects(p, subject));
  if (selecting.length === 0) return { allowed: true, reason: `${word}: no NetworkPolicy with policyType ${dir} selects ${nameOf(subject)}` };
  for (const p of selecting) {
    const rules = (dir === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? [];
    const i = rules.findIndex((r) => ruleAdmits(r, dir === 'Ingress' ? r.from : r.to, other, conn.to, policyNamespace(p)));
    if (i >= 0) return { allowed: true, reason: `${word}: allowed by ${policyNamespace(p)}/${p.metadata.name} ${word} rule ${i + 1}` };
  }
  const names = selecting.map((p) => `${policyNamespace(p)}/${p.metadata.name}`).join(', ');
  const port = `${conn.to.port}/${conn.to.protocol ?? 'TCP'}`;
  const what = dir === 'Ingress' ? `from ${nameOf(other)}` : `to ${nameOf(other)}`;
  return { allowed: false, reason: `${word}: ${nameOf(subject)} is isolated by ${names}; no rule allows ${what} on ${port}` };
}

/** Does some egress rule of `p` (ignoring whom it selects) admit traffic to `to`? Peers and ports as the evaluator reads them. */
export function egressRuleAdmitting(p: NetworkPolicy, to: Destination): number | undefined {
  const i = (p.spec.egress ?? []).findIndex((r) => ruleAdmits(r, r.to, to, to, policyNamespace(p)));
  return i >= 0 ? i : undefined;
}

/** Each direction on its own: egress at the source, ingress at the destination. */
export function verdictsByDirection(conn: Connection, policies: readonly NetworkPolicy[]): { egress: { allowed: boolean; reason: string }; ingress: { allowed: boolean; reason: string } } {
  return { egress: checkDirection('Egress', conn, policies), ingress: checkDirection('Ingress', conn, policies) };
}

/** Does the cluster let `conn` through under `policies` (all namespaces)? */
export function isAllowed(conn: Connection, policies: readonly NetworkPolicy[]): Verdict {
  const { egress, ingress } = verdictsByDirection(conn, policies);
  return { allowed: egress.allowed && ingress.allowed, reasons: [egress.reason, ingress.reason] };
}

/**
 * The policies as a CNI that enforces only some directions sees them: the other direction's isolation is dropped
 * (a policy left with no policyTypes selects nothing). The lab's "ingress/egress not enforced" faults use it.
 */
export function onlyDirections(policies: readonly NetworkPolicy[], keep: readonly ('Ingress' | 'Egress')[]): NetworkPolicy[] {
  return policies.flatMap((p) => {
    const types = effectivePolicyTypes(p).filter((t) => keep.includes(t));
    return types.length ? [{ ...p, spec: { ...p.spec, policyTypes: types } }] : [];
  });
}
