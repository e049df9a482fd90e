/**
 * The NetworkPolicy evaluator's table of real-world policies (src/net/netpol.ts): a small world of pods in four
 * namespaces and one address outside the cluster, the policies people write, and for each connection whether
 * Kubernetes says it is allowed. test/net/netpol.test.ts holds the evaluator to it; test/real-node/ holds a real
 * enforcer (kube-router's policy controller on the real-nodes lab) to the same table, so the evaluator validate
 * trusts is checked against a real cluster, not only against itself.
 */
import type { Connection, Destination, Endpoint, NetworkPolicy } from '../../src/net/netpol.js';

export const ns = (name: string, extra: Record<string, string> = {}) => ({ 'kubernetes.io/metadata.name': name, ...extra });
export const pod = (namespace: string, labels: Record<string, string>, ip: string, nsExtra: Record<string, string> = {}): Endpoint => ({
  ip,
  namespace,
  podLabels: labels,
  namespaceLabels: ns(namespace, nsExtra),
  name: `${namespace}/${Object.values(labels)[0] ?? 'pod'}`,
});
export const dest = (e: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP', namedPorts?: Record<string, number>): Destination => ({
  ...e,
  port,
  protocol,
  ...(namedPorts ? { namedPorts } : {}),
});

export const web = pod('default', { app: 'web' }, '10.244.1.10');
export const client = pod('default', { app: 'client' }, '10.244.2.10');
export const postgres = pod('db', { app: 'postgres' }, '10.244.1.20');
export const mysql = pod('db', { app: 'mysql' }, '10.244.2.20');
export const monitoring = pod('monitoring', { app: 'prometheus' }, '10.244.3.10', { team: 'ops' });
export const dns = pod('kube-system', { 'k8s-app': 'kube-dns' }, '10.244.0.5');
const outside: Endpoint = { ip: '192.0.2.7', name: '192.0.2.7' };

export const np = (namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { name, namespace }, spec });

export const denyAllIngress = np('default', 'default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
export const denyAll = np('default', 'default-deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
export const allowSameNs = np('default', 'allow-same-namespace', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] });
export const dbFromOps = np('db', 'postgres-from-ops', {
  podSelector: { matchLabels: { app: 'postgres' } },
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } }, podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [{ port: 5432 }] }],
});
export const dbFromOpsOr = np('db', 'postgres-from-ops-or', {
  podSelector: { matchLabels: { app: 'postgres' } },
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }, { podSelector: { matchLabels: { app: 'web' } } }] }],
});
export const webEgressDb = np('default', 'web-egress-db', {
  podSelector: { matchLabels: { app: 'web' } },
  policyTypes: ['Egress'],
  egress: [
    { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'db' } }, podSelector: { matchLabels: { app: 'postgres' } } }], ports: [{ port: 5432 }] },
    { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
  ],
});
export const egressIpBlock = np('default', 'egress-cidr', {
  podSelector: { matchLabels: { app: 'client' } },
  egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24', except: ['192.0.2.128/25'] } }] }],
});
export const namedPort = np('default', 'web-http', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ ports: [{ port: 'http' }] }],
});
export const portRange = np('default', 'web-range', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ ports: [{ port: 8000, endPort: 8100 }] }],
});
export const exprs = np('default', 'web-from-tiers', {
  podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
  ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['client'] }] } }] }],
});

export const C = (from: Endpoint, to: Destination): Connection => ({ from, to });

/** Name, the policies in force, the connection, and whether NetworkPolicy allows it. */
export type NetpolCase = [string, NetworkPolicy[], Connection, boolean];

export const NETPOL_CASES: NetpolCase[] = [
  ['no policies: everything flows', [], C(client, dest(web, 80)), true],
  ['default-deny-ingress blocks pod-to-pod in ns', [denyAllIngress], C(client, dest(web, 80)), false],
  ['default-deny-ingress does not touch other namespaces', [denyAllIngress], C(client, dest(postgres, 5432)), true],
  ['default-deny-ingress leaves egress open', [denyAllIngress], C(web, dest(postgres, 5432)), true],
  ['default-deny-all blocks egress out of ns', [denyAll], C(web, dest(postgres, 5432)), false],
  ['allow-same-namespace admits a neighbour', [denyAllIngress, allowSameNs], C(client, dest(web, 80)), true],
  ['allow-same-namespace refuses another namespace', [denyAllIngress, allowSameNs], C(monitoring, dest(web, 80)), false],
  ['ns AND pod selector: prometheus in ops on 5432', [dbFromOps], C(monitoring, dest(postgres, 5432)), true],
  ['ns AND pod selector: wrong port', [dbFromOps], C(monitoring, dest(postgres, 5433)), false],
  ['ns AND pod selector: web (wrong ns) refused', [dbFromOps], C(web, dest(postgres, 5432)), false],
  ['ns AND pod selector: other pods in db unaffected', [dbFromOps], C(web, dest(mysql, 3306)), true],
  ['OR peers: any pod in ops', [dbFromOpsOr], C(monitoring, dest(postgres, 1)), true],
  ['OR peers: podSelector means the policy namespace only', [dbFromOpsOr], C(web, dest(postgres, 5432)), false],
  ['egress to postgres allowed', [webEgressDb], C(web, dest(postgres, 5432)), true],
  ['egress to mysql refused', [webEgressDb], C(web, dest(mysql, 3306)), false],
  ['egress DNS over UDP allowed', [webEgressDb], C(web, dest(dns, 53, 'UDP')), true],
  ['egress to the world refused', [webEgressDb], C(web, dest(outside as Endpoint, 443)), false],
  ['ipBlock admits an address in the cidr', [egressIpBlock], C(client, dest({ ...outside }, 443)), true],
  ['ipBlock except carves a hole', [egressIpBlock], C(client, dest({ ip: '192.0.2.200' }, 443)), false],
  ['missing policyTypes with egress rules isolates egress', [egressIpBlock], C(client, dest(web, 80)), false],
  ['external client to unisolated pod', [egressIpBlock], C(outside, dest(web, 80)), true],
  ['named port matches the container port', [namedPort], C(client, dest(web, 8080, 'TCP', { http: 8080 })), true],
  ['named port does not match another port', [namedPort], C(client, dest(web, 9090, 'TCP', { http: 8080 })), false],
  ['endPort range: inside', [portRange], C(client, dest(web, 8050)), true],
  ['endPort range: outside', [portRange], C(client, dest(web, 8101)), false],
  ['port protocol defaults to TCP', [portRange], C(client, dest(web, 8050, 'UDP')), false],
  ['matchExpressions NotIn refuses client', [exprs], C(client, dest(web, 80)), false],
  ['matchExpressions NotIn admits others in ns', [exprs], C(pod('default', { app: 'batch' }, '10.244.1.99'), dest(web, 80)), true],
];
