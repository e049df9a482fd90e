import { describe, expect, it } from 'vitest';
import { explainNetpolText, formatExplained } from '../../src/validate/explain-netpol.js';
import { SpecError } from '../../src/errors.js';

const DNS_WARNING =
  'egress is isolated and no rule allows DNS (53/UDP): name lookups from the selected pods will time out; add an egress rule to namespace kube-system pods k8s-app=kube-dns on 53/UDP and 53/TCP';

// Real-world shapes (the Kubernetes docs' examples, ahmetb/kubernetes-network-policy-recipes, and the classic
// mistakes from "Kubernetes NetworkPolicy gotchas" posts) with the plain logic a reviewer would write.
const TABLE: { name: string; yaml: string; logic: string[]; warnings: string[] }[] = [
  {
    name: 'the common two-rule egress policy',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: postgres}}}]
    ports: [{protocol: TCP, port: 5432}]
  - to: [{podSelector: {matchLabels: {app: mysql}}}]
    ports: [{protocol: TCP, port: 3306}]`,
    logic: [
      'prod/api-egress selects pods app=api in namespace prod',
      'ingress not affected by this policy',
      'egress allowed to (pods app=postgres in namespace prod AND port 5432/TCP) OR (pods app=mysql in namespace prod AND port 3306/TCP)',
    ],
    warnings: [DNS_WARNING],
  },
  {
    name: 'the same policy with the second "- to" missing (rules merged)',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: postgres}}
    - podSelector: {matchLabels: {app: mysql}}
    ports:
    - {protocol: TCP, port: 5432}
    - {protocol: TCP, port: 3306}`,
    logic: [
      'prod/api-egress selects pods app=api in namespace prod',
      'ingress not affected by this policy',
      'egress allowed to ((pods app=postgres in namespace prod OR pods app=mysql in namespace prod) AND (port 5432/TCP OR port 3306/TCP))',
    ],
    warnings: [
      'egress rule 1 allows every listed peer on every listed port (pods app=postgres in namespace prod on 3306/TCP too); if each peer has its own ports, start a separate rule ("- to:") for each',
      DNS_WARNING,
    ],
  },
  {
    name: 'default deny all (docs)',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]`,
    logic: ['prod/default-deny-all selects all pods in namespace prod', 'ingress denied from everywhere (no rules)', 'egress denied to everywhere (no rules)'],
    warnings: ['spec.podSelector is empty: this policy selects every pod in namespace prod', DNS_WARNING],
  },
  {
    name: 'prometheus from the monitoring namespace (one peer: AND)',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-monitoring, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
      podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}
    ports: [{port: 9090}]`,
    logic: [
      'prod/allow-from-monitoring selects pods app=web in namespace prod',
      'ingress allowed from (pods app.kubernetes.io/name=prometheus in namespaces kubernetes.io/metadata.name=monitoring AND port 9090/TCP)',
      'egress not affected by this policy',
    ],
    warnings: [],
  },
  {
    name: 'the same with a stray "-" (two peers: OR)',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-monitoring, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
    - podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}`,
    logic: [
      'prod/allow-from-monitoring selects pods app=web in namespace prod',
      'ingress allowed from ((all pods in namespaces kubernetes.io/metadata.name=monitoring OR pods app.kubernetes.io/name=prometheus in namespace prod) on any port)',
      'egress not affected by this policy',
    ],
    warnings: [
      "ingress rule 1 lists podSelector and namespaceSelector as separate peers, which are OR'ed: it admits all pods in namespaces kubernetes.io/metadata.name=monitoring too; to mean pods matching both, put them in ONE peer (no \"-\" before namespaceSelector)",
    ],
  },
  {
    name: 'DNS plus HTTPS to the world except the cluster and metadata service',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns-and-world, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 169.254.169.254/32]}}]
    ports: [{protocol: TCP, port: 443}]`,
    logic: [
      'prod/allow-dns-and-world selects pods app=api in namespace prod',
      'ingress not affected by this policy',
      'egress allowed to (pods k8s-app=kube-dns in namespaces kubernetes.io/metadata.name=kube-system AND (port 53/UDP OR port 53/TCP)) OR (0.0.0.0/0 except 10.0.0.0/8, 169.254.169.254/32 AND port 443/TCP)',
    ],
    warnings: [],
  },
  {
    name: 'allow all ingress (docs), no namespace',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-ingress}
spec:
  podSelector: {}
  ingress: [{}]`,
    logic: ['default/allow-all-ingress selects all pods in namespace default', 'ingress allowed from (anywhere on any port)', 'egress not affected by this policy'],
    warnings: ['spec.podSelector is empty: this policy selects every pod in namespace default'],
  },
  {
    name: 'ports as their own rule (allows anywhere on 5432)',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: split-ports, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
  - ports: [{port: 5432}]`,
    logic: ['shop/split-ports selects pods app=api in namespace shop', 'ingress not affected by this policy', 'egress allowed to (pods app=db in namespace shop on any port) OR (anywhere AND port 5432/TCP)'],
    // A peer with no ports allows every port to that peer only; "anywhere" on 5432/TCP is not 53/UDP.
    warnings: [DNS_WARNING],
  },
  {
    name: 'empty egress without policyTypes does not isolate egress',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-no-types, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  egress: []`,
    logic: ['shop/egress-no-types selects pods app=api in namespace shop', 'ingress denied from everywhere (no rules)', 'egress not affected by this policy'],
    warnings: ['spec.egress is empty but policyTypes is not set, so egress is not isolated; set policyTypes: [Ingress, Egress] to deny egress'],
  },
  {
    name: 'port range from every namespace, set-based selector',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: range, namespace: shop}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: In, values: [web, api]}]}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 8000, endPort: 8100, protocol: TCP}]`,
    logic: ['shop/range selects pods tier in (web,api) in namespace shop', 'ingress allowed from (all pods in all namespaces AND ports 8000-8100/TCP)', 'egress not affected by this policy'],
    warnings: [],
  },
  {
    name: 'egress to ipBlocks only (0.0.0.0/0 on 53 too): CoreDNS pods are not in an ipBlock',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: world-only, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]`,
    logic: ['shop/world-only selects pods app=api in namespace shop', 'ingress not affected by this policy', 'egress allowed to (0.0.0.0/0 on any port)'],
    warnings: [`${DNS_WARNING} (egress rule 1 allows only ipBlocks (0.0.0.0/0): lookups go to CoreDNS pods, which ipBlocks do not match)`],
  },
  {
    name: 'kube-dns by podSelector without a namespaceSelector (pods of its own namespace)',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-wrong, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{protocol: UDP, port: 53}]`,
    logic: ['shop/dns-wrong selects pods app=api in namespace shop', 'ingress not affected by this policy', 'egress allowed to (pods k8s-app=kube-dns in namespace shop AND port 53/UDP)'],
    warnings: [
      `${DNS_WARNING} (egress rule 1's peer pods k8s-app=kube-dns has no namespaceSelector, so it means pods in namespace shop, not CoreDNS in kube-system: add namespaceSelector {matchLabels: {kubernetes.io/metadata.name: kube-system}} to the same peer)`,
    ],
  },
  {
    name: 'DNS to any pod in any namespace on 53/UDP is DNS',
    yaml: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-anywhere, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{protocol: UDP, port: 53}]`,
    logic: ['shop/dns-anywhere selects all pods in namespace shop', 'ingress not affected by this policy', 'egress allowed to (all pods in all namespaces AND port 53/UDP)'],
    warnings: ['spec.podSelector is empty: this policy selects every pod in namespace shop'],
  },
];

describe('explain netpol', () => {
  it.each(TABLE)('$name', ({ yaml, logic, warnings }) => {
    const { policies } = explainNetpolText(yaml);
    expect(policies).toHaveLength(1);
    expect(policies[0]!.logic).toEqual(logic);
    expect(policies[0]!.warnings).toEqual(warnings);
  });

  it('reads multi-document files and kubectl List output, skipping other kinds, with lines', () => {
    const text = [TABLE[0]!.yaml, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}', `apiVersion: v1\nkind: List\nitems:\n- ${TABLE[6]!.yaml.split('\n').join('\n  ')}`].join('\n---\n');
    const { policies, skipped } = explainNetpolText(text, 'p.yaml');
    expect(policies.map((p) => `${p.namespace}/${p.name}@${p.line}`)).toEqual(['prod/api-egress@1', 'default/allow-all-ingress@20']);
    expect(skipped).toEqual(['p.yaml:13: ConfigMap x (not a NetworkPolicy)']);
  });

  it('formats each policy as a block, warnings last', () => {
    const { policies } = explainNetpolText([TABLE[3]!.yaml, TABLE[6]!.yaml].join('\n---\n'));
    expect(formatExplained(policies)).toBe(
      [
        'prod/allow-from-monitoring selects pods app=web in namespace prod',
        '  ingress allowed from (pods app.kubernetes.io/name=prometheus in namespaces kubernetes.io/metadata.name=monitoring AND port 9090/TCP)',
        '  egress not affected by this policy',
        '',
        'default/allow-all-ingress selects all pods in namespace default',
        '  ingress allowed from (anywhere on any port)',
        '  egress not affected by this policy',
        '  warning: spec.podSelector is empty: this policy selects every pod in namespace default',
      ].join('\n'),
    );
  });

  it('several policies selecting the same pods: one sentence for the union, and DNS from any of them counts', () => {
    const text = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{protocol: UDP, port: 53}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-ingress, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {app: ingress-nginx}}}]
    ports: [{port: 8080}]`;
    const { policies } = explainNetpolText(text);
    expect(policies.map((p) => p.warnings.filter((w) => w.includes('DNS')))).toEqual([[], [], []]);
    expect(policies.map((p) => p.together)).toEqual([
      undefined,
      undefined,
      'together prod/default-deny, prod/allow-dns and prod/web-from-ingress mean, for all pods in namespace prod: ingress allowed from (pods app=ingress-nginx in namespace prod AND port 8080/TCP); egress allowed to (pods k8s-app=kube-dns in namespaces kubernetes.io/metadata.name=kube-system AND port 53/UDP)',
    ]);
    expect(formatExplained(policies)).toContain('\n\ntogether prod/default-deny');
  });

  it('YAML errors and policies without a name are SpecErrors with file:line', () => {
    const e = (() => {
      try {
        explainNetpolText('a: [\n', 'bad.yaml');
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(SpecError);
    expect((e as SpecError).message).toMatch(/^bad\.yaml:\d+:\d+ /);
    expect(() => explainNetpolText('kind: NetworkPolicy\nmetadata: {}\nspec: {}\n', 'n.yaml')).toThrow(/n\.yaml:1:1 metadata\.name: a NetworkPolicy needs/);
  });
});
