/**
 * The namespaces the add-on releases go into, created by groundwork with explicit Pod Security labels before helm
 * runs (helm's --create-namespace makes them unlabelled, so the cluster default decides: `baseline` on Talos, which
 * refuses node-exporter's and Fluent Bit's pods). The builder is pure; the step applies them server-side.
 */
import type { KubeClient, KubeObject } from '../kube/index.js';
import { podSecurityLabels, type PodSecurityLevel } from '../kube/pod-security.js';
import type { Step } from '../run/types.js';
import type { ChartRef } from './charts.js';
import { clusterKubeconfig } from '../run/cluster-kubeconfig.js';

/** Namespaces of the cluster itself: groundwork installs into them but never relabels them. */
const CLUSTER_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'default']);

function buildAddonNamespace(name: string, level: PodSecurityLevel): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'groundwork', ...podSecurityLabels(level) } },
  };
}

/**
 * One Namespace per release namespace groundwork owns. Two releases sharing a namespace get the most permissive
 * level either asks for (a namespace has one level). `levels` (spec.security.podSecurity.namespaces) wins for the
 * namespaces it names, and with `includeListed` its other namespaces are created too (the first add-on stage
 * does that, so a namespace the operator declared privileged exists with its labels before anything lands in it).
 */
export function buildAddonNamespaces(charts: readonly ChartRef[], levels: Readonly<Record<string, PodSecurityLevel>> = {}, includeListed = false): KubeObject[] {
  const order: PodSecurityLevel[] = ['restricted', 'baseline', 'privileged'];
  const out = new Map<string, PodSecurityLevel>();
  for (const c of charts) {
    if (CLUSTER_NAMESPACES.has(c.namespace)) continue;
    const prev = out.get(c.namespace);
    out.set(c.namespace, prev && order.indexOf(prev) > order.indexOf(c.podSecurity) ? prev : c.podSecurity);
  }
  for (const [ns, level] of Object.entries(levels)) {
    if (CLUSTER_NAMESPACES.has(ns)) continue;
    if (out.has(ns) || includeListed) out.set(ns, level);
  }
  return [...out].map(([name, level]) => buildAddonNamespace(name, level));
}

interface NamespaceStepOptions {
  stage: string;
  namespaces: KubeObject[];
  connect?: (kubeconfig: string) => Promise<KubeClient>;
}

function levelOf(ns: KubeObject): string {
  return ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] ?? '?';
}

/** Server-side apply of the namespaces (field manager groundwork): creates them or sets their labels. */
export function buildNamespacesStep(o: NamespaceStepOptions): Step {
  const list = o.namespaces.map((n) => `${n.metadata.name} (${levelOf(n)})`).join(', ');
  return {
    id: `${o.stage}-namespaces`,
    title: `Create namespace${o.namespaces.length > 1 ? 's' : ''} ${list} with Pod Security labels`,
    stage: o.stage,
    timeoutMs: 60_000,
    retries: 1,
    preview: { note: `server-side applies Namespace ${list}: pod-security.kubernetes.io/enforce, audit and warn set to the level` },
    async run(ctx) {
      const kube = await (o.connect ?? (async (k: string) => (await import('../kube/index.js')).loadKubeConfig(k)))(clusterKubeconfig(ctx).path);
      try {
        for (const ns of o.namespaces) await kube.apply(ns, ctx.signal);
      } finally {
        kube.close();
      }
      return {
        status: 'pass',
        summary: `namespace${o.namespaces.length > 1 ? 's' : ''} ${list} applied`,
        evidence: { namespaces: o.namespaces.map((n) => ({ name: n.metadata.name, labels: n.metadata.labels })) },
      };
    },
  };
}
