import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isAllowed, matchesSelector, effectivePolicyTypes, type Connection, type NetworkPolicy } from '../../src/net/netpol.js';
import { explainPolicy, lintPolicy } from '../../src/net/netpol-explain.js';
import { NETPOL_CASES, C, client, dbFromOps, dbFromOpsOr, denyAllIngress, dest, np, ns, postgres, web, webEgressDb, type NetpolCase } from './netpol-cases.js';

describe('isAllowed: real-world policies', () => {
  it.each<NetpolCase>(NETPOL_CASES)('%s', (_name, policies, conn, allowed) => {
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
