/**
 * Pure builders for every object validation creates (STYLE 2). Pods meet the restricted Pod Security Standard:
 * non-root, RuntimeDefault seccomp, no privilege escalation, every capability dropped. Containers come from the
 * probe vocabulary (src/probe), so a real cluster and the lab run the same commands.
 */
import { buildProbeContainer, type Probe } from '../probe/index.js';
import { HOSTNAME_LABEL, type KubeObject } from '../kube/paths.js';
import { podSecurityLabels } from '../kube/pod-security.js';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const RUN_LABEL = 'groundwork.dev/validate-run';
export const SUITE_LABEL = 'groundwork.dev/suite';
export const ROLE_LABEL = 'groundwork.dev/role';

export interface BuildContext {
  namespace: string;
  runId: string;
  /** Image registry mirror ('' = upstream registry.k8s.io). */
  registry: string;
}

/** The namespace everything lives in: labelled so that cleanup (and an operator) can find it. */
export function buildNamespace(name: string, runId: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        [MANAGED_BY]: 'groundwork',
        [RUN_LABEL]: runId,
        // Admission enforces what we promise: the restricted Pod Security Standard.
        ...podSecurityLabels('restricted'),
      },
    },
  };
}

export interface ProbeSpec {
  /** Container name (DNS-1123 label). */
  name: string;
  probe: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodOptions {
  labels?: Record<string, string>;
  nodeName?: string;
  affinity?: unknown;
  tolerations?: unknown[];
  topologySpreadConstraints?: unknown[];
  volumes?: unknown[];
  restartPolicy?: 'Never' | 'Always';
  /** Extra fields merged into each container (resources). */
  resources?: unknown;
  /** Probes run one after another before the containers start (init containers), e.g. a gate. */
  init?: ProbeSpec[];
}

/** A pod whose containers are probes. */
export function buildProbePod(ctx: BuildContext, name: string, suite: string, probes: ProbeSpec[], opts: PodOptions = {}): KubeObject {
  const containers = probes.map((p) => {
    const c = buildProbeContainer(p.probe, { name: p.name, registry: ctx.registry, volumeMounts: p.volumeMounts });
    if (opts.resources) c.resources = opts.resources;
    return c;
  });
  const spec: Record<string, unknown> = {
    restartPolicy: opts.restartPolicy ?? 'Never',
    automountServiceAccountToken: false,
    // Nothing to flush: deletion should not wait 30 s per pod.
    terminationGracePeriodSeconds: 1,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      fsGroup: 65534,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers,
  };
  if (opts.init?.length) spec.initContainers = opts.init.map((p) => buildProbeContainer(p.probe, { name: p.name, registry: ctx.registry, volumeMounts: p.volumeMounts }));
  if (opts.nodeName) spec.nodeName = opts.nodeName;
  if (opts.affinity) spec.affinity = opts.affinity;
  if (opts.tolerations) spec.tolerations = opts.tolerations;
  if (opts.topologySpreadConstraints) spec.topologySpreadConstraints = opts.topologySpreadConstraints;
  if (opts.volumes) spec.volumes = opts.volumes;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ctx.namespace,
      labels: { [MANAGED_BY]: 'groundwork', [RUN_LABEL]: ctx.runId, [SUITE_LABEL]: suite, ...opts.labels },
    },
    spec,
  };
}

export function buildService(ctx: BuildContext, name: string, suite: string, selector: Record<string, string>, port: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ctx.namespace, labels: { [MANAGED_BY]: 'groundwork', [RUN_LABEL]: ctx.runId, [SUITE_LABEL]: suite } },
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'tcp', port, targetPort: port, protocol: 'TCP' }] },
  };
}

export function buildPvc(ctx: BuildContext, name: string, storageClassName: string | undefined, size = '16Mi'): KubeObject {
  const spec: Record<string, unknown> = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } };
  // No storageClassName on purpose when testing the default class: that is how most workloads ask for storage.
  if (storageClassName !== undefined) spec.storageClassName = storageClassName;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: ctx.namespace, labels: { [MANAGED_BY]: 'groundwork', [RUN_LABEL]: ctx.runId, [SUITE_LABEL]: 'storage' } },
    spec,
  };
}

/** Pins a pod to one node through the scheduler (nodeAffinity), unlike nodeName which bypasses it. */
export function requireNode(node: string): unknown {
  return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [node] }] }] } } };
}

/** Prefers any node but these (where the volume allows it). */
export function preferNotNodes(nodes: string[]): unknown {
  return { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'NotIn', values: nodes }] } }] } };
}

/** The NetworkPolicies of the enforcement test: default-deny, the common two-rule egress policy (plus memcached, which only ingress isolation refuses), and ingress for three of the servers. */
export function buildNetpolObjects(namespace: string, runId: string): KubeObject[] {
  const labels = { [MANAGED_BY]: 'groundwork', [RUN_LABEL]: runId, [SUITE_LABEL]: 'netpol' };
  const meta = (name: string) => ({ name, namespace, labels });
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('client-egress'),
      spec: {
        podSelector: { matchLabels: { [ROLE_LABEL]: 'client' } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ podSelector: { matchLabels: { app: 'postgres' } } }], ports: [{ protocol: 'TCP', port: 5432 }] },
          { to: [{ podSelector: { matchLabels: { app: 'mysql' } } }], ports: [{ protocol: 'TCP', port: 3306 }] },
          // Egress allows it; only the namespace's default-deny (ingress) refuses it: the probe of ingress enforcement.
          { to: [{ podSelector: { matchLabels: { app: 'memcached' } } }], ports: [{ protocol: 'TCP', port: 11211 }] },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('servers-ingress'),
      spec: {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['postgres', 'mysql', 'redis'] }] },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { [ROLE_LABEL]: 'client' } } }] }],
      },
    },
  ];
}

/**
 * The least a kubeconfig user needs to run `groundwork validate` (printed by --print-rbac). Cluster-wide reads for
 * the control-plane, DNS, scheduling and storage checks; writes only for what the tests create.
 */
export function buildClusterRole(name = 'groundwork-validate'): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { [MANAGED_BY]: 'groundwork' } },
    rules: [
      { nonResourceURLs: ['/readyz', '/readyz/*', '/livez', '/version'], verbs: ['get'] },
      { apiGroups: [''], resources: ['nodes', 'persistentvolumes', 'events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
      { apiGroups: [''], resources: ['pods', 'services', 'persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'statefulsets'], verbs: ['get', 'list'] },
      { apiGroups: ['batch'], resources: ['cronjobs', 'jobs'], verbs: ['get', 'list'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'create', 'delete'] },
      { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list'] },
      // The kubernetes Service's endpoints: where pods' API traffic goes (connectivity).
      { apiGroups: [''], resources: ['endpoints'], verbs: ['get'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
      // security: RBAC and ServiceAccounts read, SubjectAccessReviews, a dry-run baseline label on namespaces,
      // /metrics (encryption at rest) and kube-apiserver's mirror pods (pods, above). Never Secrets: with the right
      // to create one, the encryption check writes a probe Secret; without it, it reads what /metrics holds.
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'clusterrolebindings', 'rolebindings'], verbs: ['list'] },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['patch'] },
    ],
  };
}
