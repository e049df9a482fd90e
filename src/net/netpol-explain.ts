/**
 * NetworkPolicies in words, plus warnings for the classic mistakes that make a policy allow more (or less) than
 * its author meant. Pure; semantics shared with netpol.ts.
 */
import {
  effectivePolicyTypes,
  egressRuleAdmitting,
  type Destination,
  type LabelSelector,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
  type NetworkPolicyRule,
} from './netpol.js';

export function describeSelector(sel: LabelSelector | null | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const r of sel?.matchExpressions ?? []) {
    const vals = (r.values ?? []).join(',');
    if (r.operator === 'In') parts.push(`${r.key} in (${vals})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${vals})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator} (${vals})`);
  }
  return parts.join(',');
}

function isEmptySelector(sel: LabelSelector | null | undefined): boolean {
  return describeSelector(sel) === '';
}

function describePeer(peer: NetworkPolicyPeer, policyNs: string): string {
  if (peer.ipBlock) {
    const ex = peer.ipBlock.except ?? [];
    return ex.length > 0 ? `${peer.ipBlock.cidr} except ${ex.join(', ')}` : peer.ipBlock.cidr;
  }
  const hasPod = peer.podSelector != null;
  const hasNs = peer.namespaceSelector != null;
  const pods = hasPod && !isEmptySelector(peer.podSelector) ? `pods ${describeSelector(peer.podSelector)}` : 'all pods';
  // A podSelector alone means pods in the policy's own namespace: say so, it is the classic surprise.
  if (!hasNs) return `${pods} in namespace ${policyNs}`;
  const ns = isEmptySelector(peer.namespaceSelector) ? 'all namespaces' : `namespaces ${describeSelector(peer.namespaceSelector)}`;
  return `${pods} in ${ns}`;
}

function describePort(p: NetworkPolicyPort): string {
  const proto = p.protocol ?? 'TCP';
  if (p.port === undefined) return `any port/${proto}`;
  if (p.endPort !== undefined) return `ports ${p.port}-${p.endPort}/${proto}`;
  return `port ${p.port}/${proto}`;
}

function orList(items: string[]): string {
  return items.length === 1 ? items[0]! : `(${items.join(' OR ')})`;
}

function describeRule(rule: NetworkPolicyRule, peers: NetworkPolicyPeer[] | null | undefined, ns: string): string {
  const who = !peers || peers.length === 0 ? 'anywhere' : orList(peers.map((p) => describePeer(p, ns)));
  const ports = rule.ports && rule.ports.length > 0 ? orList(rule.ports.map(describePort)) : undefined;
  return ports ? `(${who} AND ${ports})` : `(${who} on any port)`;
}

function describeDirection(dir: 'Ingress' | 'Egress', p: NetworkPolicy, ns: string): string {
  const word = dir.toLowerCase();
  const prep = dir === 'Ingress' ? 'from' : 'to';
  if (!effectivePolicyTypes(p).includes(dir)) return `${word} not affected by this policy`;
  const rules = (dir === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? [];
  if (rules.length === 0) return `${word} denied ${prep} everywhere (no rules)`;
  return `${word} allowed ${prep} ${rules.map((r) => describeRule(r, dir === 'Ingress' ? r.from : r.to, ns)).join(' OR ')}`;
}

/**
 * Where lookups go: a CoreDNS pod (kube-system, k8s-app=kube-dns) on 53/UDP, after the Service address is translated
 * to it. It has no address an ipBlock would match: CNIs apply ipBlocks to traffic leaving the cluster, not to pods.
 */
const COREDNS: Destination = {
  ip: '',
  podLabels: { 'k8s-app': 'kube-dns' },
  namespace: 'kube-system',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
  port: 53,
  protocol: 'UDP',
  namedPorts: { dns: 53, 'dns-tcp': 53 },
};

function allowsDns(p: NetworkPolicy): boolean {
  return egressRuleAdmitting(p, COREDNS) !== undefined;
}

/** Why a rule that looks like it allows DNS does not: the words that point at the fix. */
function dnsNearMiss(p: NetworkPolicy): string | undefined {
  const ns = p.metadata.namespace ?? 'default';
  const rules = p.spec.egress ?? [];
  for (const [i, r] of rules.entries()) {
    const peers = r.to ?? [];
    const dnsPort = !r.ports || r.ports.length === 0 || r.ports.some((x) => x.port === undefined || x.port === 53 || x.port === '53' || x.port === 'dns' || (typeof x.port === 'number' && x.endPort !== undefined && x.port <= 53 && x.endPort >= 53));
    const kubeDnsPodOnly = peers.find((x) => x.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns' && x.namespaceSelector == null);
    if (kubeDnsPodOnly && ns !== 'kube-system') {
      return `egress rule ${i + 1}'s peer pods k8s-app=kube-dns has no namespaceSelector, so it means pods in namespace ${ns}, not CoreDNS in kube-system: add namespaceSelector {matchLabels: {kubernetes.io/metadata.name: kube-system}} to the same peer`;
    }
    if (peers.length > 0 && peers.every((x) => x.ipBlock) && dnsPort) {
      return `egress rule ${i + 1} allows only ipBlocks (${peers.map((x) => describePeer(x, ns)).join(', ')}): lookups go to CoreDNS pods, which ipBlocks do not match`;
    }
  }
  return undefined;
}

/**
 * Warnings for the classic mistakes, each saying what actually happens and how to get what was meant. `siblings`
 * are the other policies read with it: DNS allowed by one that selects the same pods (or all pods) counts.
 */
export function lintPolicy(p: NetworkPolicy, siblings: readonly NetworkPolicy[] = []): string[] {
  const ns = p.metadata.namespace ?? 'default';
  const types = effectivePolicyTypes(p);
  const out: string[] = [];
  if (isEmptySelector(p.spec.podSelector)) out.push(`spec.podSelector is empty: this policy selects every pod in namespace ${ns}`);
  for (const dir of ['Ingress', 'Egress'] as const) {
    const rules = (dir === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? [];
    const word = dir.toLowerCase();
    const key = dir === 'Ingress' ? 'from' : 'to';
    if (p.spec.policyTypes && p.spec.policyTypes.length > 0 && !types.includes(dir) && rules.length > 0) {
      out.push(`spec.${word} is ignored: policyTypes does not include ${dir}`);
    }
    rules.forEach((r, i) => {
      const peers = (dir === 'Ingress' ? r.from : r.to) ?? [];
      const ports = r.ports ?? [];
      if (peers.length >= 2 && ports.length >= 2) {
        const example = `${describePeer(peers[0]!, ns)} on ${describePort(ports[ports.length - 1]!).replace(/^port /, '')}`;
        out.push(
          `${word} rule ${i + 1} allows every listed peer on every listed port (${example} too); ` +
            `if each peer has its own ports, start a separate rule ("- ${key}:") for each`,
        );
      }
      const podOnly = peers.some((x) => x.podSelector != null && x.namespaceSelector == null && !x.ipBlock);
      const nsOnly = peers.find((x) => x.namespaceSelector != null && x.podSelector == null && !x.ipBlock);
      if (podOnly && nsOnly) {
        out.push(
          `${word} rule ${i + 1} lists podSelector and namespaceSelector as separate peers, which are OR'ed: ` +
            `it admits ${describePeer(nsOnly, ns)} too; to mean pods matching both, put them in ONE peer ` +
            `(no "-" before namespaceSelector)`,
        );
      }
    });
  }
  if (!p.spec.policyTypes?.length && p.spec.egress && p.spec.egress.length === 0) {
    out.push('spec.egress is empty but policyTypes is not set, so egress is not isolated; set policyTypes: [Ingress, Egress] to deny egress');
  }
  const sameOrWider = siblings.filter(
    (q) => q !== p && (q.metadata.namespace ?? 'default') === ns && effectivePolicyTypes(q).includes('Egress') && (isEmptySelector(q.spec.podSelector) || describeSelector(q.spec.podSelector) === describeSelector(p.spec.podSelector)),
  );
  if (types.includes('Egress') && !allowsDns(p) && !sameOrWider.some(allowsDns)) {
    const near = dnsNearMiss(p);
    out.push(
      'egress is isolated and no rule allows DNS (53/UDP): name lookups from the selected pods will time out; ' +
        'add an egress rule to namespace kube-system pods k8s-app=kube-dns on 53/UDP and 53/TCP' +
        (near ? ` (${near})` : ''),
    );
  }
  return out;
}

/**
 * Several policies selecting the same pods add up (their rules are OR'ed per direction; a direction is isolated if
 * any of them isolates it): one sentence for what the pods may do under all of them.
 */
export function explainUnion(policies: readonly NetworkPolicy[]): string {
  const first = policies[0]!;
  const ns = first.metadata.namespace ?? 'default';
  const typed = (d: 'Ingress' | 'Egress') => policies.filter((p) => effectivePolicyTypes(p).includes(d));
  const merged: NetworkPolicy = {
    metadata: { name: 'union', namespace: ns },
    spec: {
      podSelector: first.spec.podSelector,
      policyTypes: (['Ingress', 'Egress'] as const).filter((d) => typed(d).length > 0),
      ingress: typed('Ingress').flatMap((p) => p.spec.ingress ?? []),
      egress: typed('Egress').flatMap((p) => p.spec.egress ?? []),
    },
  };
  const selected = isEmptySelector(first.spec.podSelector) ? `all pods in namespace ${ns}` : `pods ${describeSelector(first.spec.podSelector)} in namespace ${ns}`;
  const names = policies.map((p) => `${ns}/${p.metadata.name}`);
  const dir = (d: 'Ingress' | 'Egress') => (merged.spec.policyTypes!.includes(d) ? describeDirection(d, merged, ns) : `${d.toLowerCase()} not affected by these policies`);
  return `together ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} mean, for ${selected}: ${dir('Ingress')}; ${dir('Egress')}`;
}

/** The policy in words: which pods it selects, what each direction allows, then `warning: ...` lines. */
export function explainPolicy(p: NetworkPolicy, siblings: readonly NetworkPolicy[] = []): string[] {
  const ns = p.metadata.namespace ?? 'default';
  const selected = isEmptySelector(p.spec.podSelector)
    ? `all pods in namespace ${ns}`
    : `pods ${describeSelector(p.spec.podSelector)} in namespace ${ns}`;
  return [
    `${ns}/${p.metadata.name} selects ${selected}`,
    describeDirection('Ingress', p, ns),
    describeDirection('Egress', p, ns),
    ...lintPolicy(p, siblings).map((w) => `warning: ${w}`),
  ];
}
