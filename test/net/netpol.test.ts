import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isAllowed, matchesSelector, effectivePolicyTypes, type Connection, type NetworkPolicy, type Endpoint, type Destination } from '../../src/net/netpol.js';
import { explainPolicy, lintPolicy } from '../../src/net/netpol-explain.js';

const ns = (name: string, extra: Record<string, string> = {}) => ({ 'kubernetes.io/metadata.name': name, ...extra });
const pod = (namespace: string, labels: Record<string, string>, ip: string, nsExtra: Record<string, string> = {}): Endpoint => ({
  ip,
  namespace,
  podLabels: labels,
  namespaceLabels: ns(namespace, nsExtra),
  name: `${namespace}/${Object.values(labels)[0] ?? 'pod'}`,
});
const dest = (e: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP', namedPorts?: Record<string, number>): Destination => ({
  ...e,
  port,
  protocol,
  ...(namedPorts ? { namedPorts } : {}),
});

const web = pod('default', { app: 'web' }, '10.244.1.10');
const client = pod('default', { app: 'client' }, '10.244.2.10');
const postgres = pod('db', { app: 'postgres' }, '10.244.1.20');
const mysql = pod('db', { app: 'mysql' }, '10.244.2.20');
const monitoring = pod('monitoring', { app: 'prometheus' }, '10.244.3.10', { team: 'ops' });
const dns = pod('kube-system', { 'k8s-app': 'kube-dns' }, '10.244.0.5');
const outside: Endpoint = { ip: '192.0.2.7', name: '192.0.2.7' };

const np = (namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { name, namespace }, spec });

const denyAllIngress = np('default', 'default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const denyAll = np('default', 'default-deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
const allowSameNs = np('default', 'allow-same-namespace', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] });
const dbFromOps = np('db', 'postgres-from-ops', {
  podSelector: { matchLabels: { app: 'postgres' } },
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } }, podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [{ port: 5432 }] }],
});
const dbFromOpsOr = np('db', 'postgres-from-ops-or', {
  podSelector: { matchLabels: { app: 'postgres' } },
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }, { podSelector: { matchLabels: { app: 'web' } } }] }],
});
const webEgressDb = np('default', 'web-egress-db', {
  podSelector: { matchLabels: { app: 'web' } },
  policyTypes: ['Egress'],
  egress: [
    { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'db' } }, podSelector: { matchLabels: { app: 'postgres' } } }], ports: [{ port: 5432 }] },
    { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
  ],
});
const egressIpBlock = np('default', 'egress-cidr', {
  podSelector: { matchLabels: { app: 'client' } },
  egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24', except: ['192.0.2.128/25'] } }] }],
});
const namedPort = np('default', 'web-http', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ ports: [{ port: 'http' }] }],
});
const portRange = np('default', 'web-range', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ ports: [{ port: 8000, endPort: 8100 }] }],
});
const exprs = np('default', 'web-from-tiers', {
  podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
  ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['client'] }] } }] }],
});

const C = (from: Endpoint, to: Destination): Connection => ({ from, to });

describe('isAllowed: real-world policies', () => {
  it.each<[string, NetworkPolicy[], Connection, boolean]>([
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
  ])('%s', (_name, policies, conn, allowed) => {
    const v = isAllowed(conn, policies);
    expect(v.allowed).toBe(allowed);
    expect(v.reasons).toHaveLength(2);
  });

  it('says which policy isolates and what was refused', () => {
    const v = isAllowed(C(client, dest(web, 80)), [denyAllIngress]);
    expect(v.reasons[1]).toBe('ingress: default/web is isolated by default/default-deny-ingress; no rule allows from default/client on 80/TCP');
    expect(isAllowed(C(web, dest(postgres, 5432)), [webEgressDb]).reasons[0]).toBe('egress: allowed by default/web-egress-db egress rule 1');
  });
});

describe('selectors and defaults', () => {
  it.each([
    [{}, { a: '1' }, true],
    [{ matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
    [{ matchLabels: { a: '1' } }, { a: '2' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { a: '' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['x'] }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Bogus', values: [] }] }, { a: 'x' }, false],
  ])('%j matches %j: %s', (sel, labels, want) => {
    expect(matchesSelector(sel, labels)).toBe(want);
  });

  it.each([
    [{ podSelector: {} }, ['Ingress']],
    [{ podSelector: {}, egress: [] }, ['Ingress']],
    [{ podSelector: {}, egress: [{}] }, ['Ingress', 'Egress']],
    [{ podSelector: {}, policyTypes: ['Egress'] }, ['Egress']],
  ])('policyTypes of %j', (spec, want) => {
    expect(effectivePolicyTypes({ metadata: { name: 'p' }, spec })).toEqual(want);
  });
});

// Properties over random small worlds.
const labelsArb = fc.dictionary(fc.constantFrom('app', 'tier', 'team'), fc.constantFrom('a', 'b', 'c'), { maxKeys: 2 });
const selectorArb = fc.record({ matchLabels: labelsArb });
const nsArb = fc.constantFrom('default', 'db', 'ops');
const ipArb = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 254 })).map(([a, b]) => `10.244.${a}.${b}`);
const podArb = fc.record({ namespace: nsArb, podLabels: labelsArb, ip: ipArb }).map((p) => ({ ...p, namespaceLabels: ns(p.namespace) }));
const peerArb = fc.oneof(
  fc.record({ podSelector: selectorArb }),
  fc.record({ namespaceSelector: fc.record({ matchLabels: fc.constantFrom({}, ns('db'), ns('ops')) }) }),
  fc.record({ podSelector: selectorArb, namespaceSelector: fc.record({ matchLabels: fc.constantFrom({}, ns('db')) }) }),
  fc.record({ ipBlock: fc.record({ cidr: fc.constantFrom('10.244.0.0/16', '10.244.1.0/24', '0.0.0.0/0'), except: fc.constantFrom<string[]>([], ['10.244.2.0/24']) }) }),
);
const ruleArb = fc.record(
  { peers: fc.array(peerArb, { maxLength: 2 }), ports: fc.array(fc.record({ port: fc.constantFrom(80, 443, 5432) }), { maxLength: 2 }) },
);
const policyArb = fc
  .record({
    namespace: nsArb,
    podSelector: fc.oneof(fc.constant({}), selectorArb),
    types: fc.constantFrom<string[]>(['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(ruleArb, { maxLength: 2 }),
    egress: fc.array(ruleArb, { maxLength: 2 }),
  })
  .map(
    (r, i = 0): NetworkPolicy => ({
      metadata: { name: `p${i}`, namespace: r.namespace },
      spec: {
        podSelector: r.podSelector,
        policyTypes: r.types,
        ingress: r.ingress.map((x) => ({ from: x.peers, ports: x.ports })),
        egress: r.egress.map((x) => ({ to: x.peers, ports: x.ports })),
      },
    }),
  );
const connArb = fc
  .record({ from: podArb, to: podArb, port: fc.constantFrom(80, 443, 5432, 8080) })
  .map(({ from, to, port }): Connection => ({ from, to: { ...to, port } }));

describe('isAllowed properties', () => {
  it('adding an allow rule never reduces allowed traffic', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 3 }), connArb, ruleArb, fc.nat(), fc.boolean(), (policies, conn, rule, idx, ingress) => {
        if (policies.length === 0) return;
        const before = isAllowed(conn, policies).allowed;
        const i = idx % policies.length;
        const p = structuredClone(policies[i]!);
        if (ingress) p.spec.ingress = [...(p.spec.ingress ?? []), { from: rule.peers, ports: rule.ports }];
        else p.spec.egress = [...(p.spec.egress ?? []), { to: rule.peers, ports: rule.ports }];
        const after = isAllowed(conn, policies.map((q, j) => (j === i ? p : q))).allowed;
        if (before) expect(after).toBe(true);
      }),
    );
  });

  it('no policy selecting either pod means allowed', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 3 }), connArb, (policies, conn) => {
        // Move every policy to a namespace no pod is in.
        const elsewhere = policies.map((p) => ({ ...p, metadata: { ...p.metadata, namespace: 'nowhere' } }));
        expect(isAllowed(conn, elsewhere).allowed).toBe(true);
      }),
    );
  });

  it('adding a deny-only policy (no rules) never allows what was refused', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 3 }), policyArb, connArb, (policies, extra, conn) => {
        const denyOnly = { ...extra, spec: { ...extra.spec, ingress: [], egress: [] } };
        if (!isAllowed(conn, policies).allowed) expect(isAllowed(conn, [...policies, denyOnly]).allowed).toBe(false);
      }),
    );
  });

  it('policy order does not matter', () => {
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 4 }), connArb, (policies, conn) => {
        expect(isAllowed(conn, [...policies].reverse()).allowed).toBe(isAllowed(conn, policies).allowed);
      }),
    );
  });
});

describe('explainPolicy', () => {
  it.each<[string, NetworkPolicy, string[]]>([
    [
      'default deny',
      denyAllIngress,
      [
        'default/default-deny-ingress selects all pods in namespace default',
        'ingress denied from everywhere (no rules)',
        'egress not affected by this policy',
        'warning: spec.podSelector is empty: this policy selects every pod in namespace default',
      ],
    ],
    [
      'postgres from ops',
      dbFromOps,
      [
        'db/postgres-from-ops selects pods app=postgres in namespace db',
        'ingress allowed from (pods app=prometheus in namespaces team=ops AND port 5432/TCP)',
        'egress not affected by this policy',
      ],
    ],
    [
      'two egress rules, each with its port',
      np('app', 'db-egress', {
        podSelector: { matchLabels: { app: 'api' } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ podSelector: { matchLabels: { app: 'postgres' } } }], ports: [{ port: 5432 }] },
          { to: [{ podSelector: { matchLabels: { app: 'mysql' } } }], ports: [{ port: 3306 }] },
          { ports: [{ port: 53, protocol: 'UDP' }] },
        ],
      }),
      [
        'app/db-egress selects pods app=api in namespace app',
        'ingress not affected by this policy',
        'egress allowed to (pods app=postgres in namespace app AND port 5432/TCP) OR (pods app=mysql in namespace app AND port 3306/TCP) OR (anywhere AND port 53/UDP)',
      ],
    ],
  ])('%s', (_n, p, lines) => {
    expect(explainPolicy(p)).toEqual(lines);
  });

  it('warns when a missing "- to" merged two rules into one', () => {
    const merged = np('app', 'db-egress', {
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'postgres' } } }, { podSelector: { matchLabels: { app: 'mysql' } } }], ports: [{ port: 5432 }, { port: 3306 }] }],
    });
    const w = lintPolicy(merged);
    expect(w).toContain(
      'egress rule 1 allows every listed peer on every listed port (pods app=postgres in namespace app on 3306/TCP too); if each peer has its own ports, start a separate rule ("- to:") for each',
    );
    expect(w.some((x) => x.startsWith('egress is isolated and no rule allows DNS'))).toBe(true);
  });

  it('warns about separate namespace and pod peers (OR, not AND)', () => {
    expect(lintPolicy(dbFromOpsOr)).toEqual([
      'ingress rule 1 lists podSelector and namespaceSelector as separate peers, which are OR\'ed: it admits all pods in namespaces team=ops too; to mean pods matching both, put them in ONE peer (no "-" before namespaceSelector)',
    ]);
  });

  it('warns about ignored rules and an empty egress without policyTypes', () => {
    expect(lintPolicy(np('a', 'x', { podSelector: { matchLabels: { a: 'b' } }, policyTypes: ['Egress'], ingress: [{}], egress: [{}] }))).toEqual([
      'spec.ingress is ignored: policyTypes does not include Ingress',
    ]);
    expect(lintPolicy(np('a', 'x', { podSelector: { matchLabels: { a: 'b' } }, egress: [] }))).toEqual([
      'spec.egress is empty but policyTypes is not set, so egress is not isolated; set policyTypes: [Ingress, Egress] to deny egress',
    ]);
  });

  it('does not warn about DNS when a rule allows 53/UDP', () => {
    expect(lintPolicy(webEgressDb).some((w) => w.includes('DNS'))).toBe(false);
  });
});
