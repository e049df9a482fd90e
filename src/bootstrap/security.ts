/**
 * Secure by default (issue 19), pure (STYLE 2): the Pod Security admission configuration and the API audit policy
 * every control plane gets, and where each bootstrap method keeps them.
 *
 * - kubeadm: two files in /etc/kubernetes/groundwork/ on every control plane (copied before init and before each
 *   control-plane join), mounted read-only into kube-apiserver through ClusterConfiguration.apiServer.extraVolumes;
 *   the audit log goes to /var/log/kubernetes/audit/audit.log on the node (a hostPath, rotated by kube-apiserver).
 * - Talos: the same objects in its own config (classic `cluster.apiServer.admissionControl`/`auditPolicy`, or the
 *   v1.14 KubeAdmissionControlConfig/KubeAuditPolicyConfig documents). Talos writes the audit log to
 *   /var/log/audit/kube/ on each control plane's ephemeral partition: it is lost with the node (a reset or a
 *   reinstall wipes it), so ship it off the node (Fluent Bit does when logging is on).
 */
import type { PodSecurityLevel } from '../kube/pod-security.js';
import type { SecuritySpec, Spec } from '../spec/schema.js';

/** Where kube-apiserver's security files live on a kubeadm control plane (a read-only mount into its pod). */
export const KUBEADM_SECURITY_DIR = '/etc/kubernetes/groundwork';
export const KUBEADM_ADMISSION_FILE = `${KUBEADM_SECURITY_DIR}/admission.yaml`;
export const KUBEADM_AUDIT_POLICY_FILE = `${KUBEADM_SECURITY_DIR}/audit-policy.yaml`;
export const KUBEADM_AUDIT_LOG_DIR = '/var/log/kubernetes/audit';
export const KUBEADM_AUDIT_LOG = `${KUBEADM_AUDIT_LOG_DIR}/audit.log`;
/** Where Talos's kube-apiserver writes the audit log (on the node's EPHEMERAL partition). */
export const TALOS_AUDIT_LOG_DIR = '/var/log/audit/kube';
export const TALOS_AUDIT_LOG = `${TALOS_AUDIT_LOG_DIR}/kube-apiserver.log`;

/** The audit log directory of the spec's bootstrap method, on each control plane. */
export function auditLogDir(spec: Spec): string {
  return spec.spec.bootstrap.method === 'talos' ? TALOS_AUDIT_LOG_DIR : KUBEADM_AUDIT_LOG_DIR;
}

/** The PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1) the PodSecurity plugin reads. */
export function buildPodSecurityConfiguration(sec: SecuritySpec): Record<string, unknown> {
  const p = sec.podSecurity;
  return {
    apiVersion: 'pod-security.admission.config.k8s.io/v1',
    kind: 'PodSecurityConfiguration',
    defaults: { enforce: p.enforce, 'enforce-version': 'latest', audit: p.audit, 'audit-version': 'latest', warn: p.warn, 'warn-version': 'latest' },
    exemptions: { usernames: [], runtimeClasses: [], namespaces: [...p.exemptNamespaces] },
  };
}

/** kube-apiserver's --admission-control-config-file (apiserver.config.k8s.io/v1 AdmissionConfiguration). */
export function buildAdmissionConfiguration(sec: SecuritySpec): Record<string, unknown> {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [{ name: 'PodSecurity', configuration: buildPodSecurityConfiguration(sec) }],
  };
}

/** Reads that come in floods (every kubelet, controller and CNI agent watches them) and say nothing about who changed what. */
const HIGH_VOLUME_READS = [
  { group: '', resources: ['events', 'endpoints', 'nodes', 'nodes/status'] },
  { group: 'coordination.k8s.io', resources: ['leases'] },
  { group: 'discovery.k8s.io', resources: ['endpointslices'] },
  { group: 'events.k8s.io', resources: ['events'] },
];

/**
 * The audit policy (audit.k8s.io/v1): who changed what, without drowning the disk. First match wins:
 * probes and high-volume reads are not recorded; Secrets, ConfigMaps and token requests only at Metadata (their
 * bodies hold the secrets); exec/attach/port-forward and RBAC changes at RequestResponse; everything else at
 * Metadata. No RequestReceived stage: each request is written once, when its response starts.
 */
export function buildAuditPolicy(): Record<string, unknown> {
  return {
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [
      { level: 'None', nonResourceURLs: ['/healthz*', '/livez*', '/readyz*', '/version', '/metrics', '/openapi/*'] },
      { level: 'None', verbs: ['get', 'list', 'watch'], resources: HIGH_VOLUME_READS },
      {
        level: 'Metadata',
        resources: [
          { group: '', resources: ['secrets', 'configmaps', 'serviceaccounts/token'] },
          { group: 'authentication.k8s.io', resources: ['tokenreviews'] },
        ],
      },
      { level: 'RequestResponse', resources: [{ group: '', resources: ['pods/exec', 'pods/attach', 'pods/portforward'] }] },
      {
        level: 'RequestResponse',
        verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'],
        resources: [{ group: 'rbac.authorization.k8s.io', resources: ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'] }],
      },
      { level: 'Metadata' },
    ],
  };
}

/** kube-apiserver flags for the audit log's rotation (the same numbers on both methods). */
export function auditRetentionArgs(sec: SecuritySpec): Record<string, string> {
  if (sec.audit === false) return {};
  return { 'audit-log-maxage': String(sec.audit.maxAge), 'audit-log-maxbackup': String(sec.audit.maxBackups), 'audit-log-maxsize': String(sec.audit.maxSize) };
}

/** The files every kubeadm control plane needs before kube-apiserver starts, by remote path. */
export function buildKubeadmSecurityFiles(spec: Spec): { remote: string; content: Record<string, unknown> }[] {
  const sec = spec.spec.security;
  return [
    { remote: KUBEADM_ADMISSION_FILE, content: buildAdmissionConfiguration(sec) },
    ...(sec.audit === false ? [] : [{ remote: KUBEADM_AUDIT_POLICY_FILE, content: buildAuditPolicy() }]),
  ];
}

/** ClusterConfiguration.apiServer additions for kubeadm v1beta4: extraArgs (as a map; the caller lists them) and extraVolumes. */
export function buildKubeadmApiServerSecurity(spec: Spec): { args: Record<string, string>; volumes: Record<string, unknown>[] } {
  const sec = spec.spec.security;
  const args: Record<string, string> = { 'admission-control-config-file': KUBEADM_ADMISSION_FILE };
  const volumes: Record<string, unknown>[] = [
    { name: 'groundwork-security', hostPath: KUBEADM_SECURITY_DIR, mountPath: KUBEADM_SECURITY_DIR, readOnly: true, pathType: 'DirectoryOrCreate' },
  ];
  if (sec.audit !== false) {
    Object.assign(args, { 'audit-policy-file': KUBEADM_AUDIT_POLICY_FILE, 'audit-log-path': KUBEADM_AUDIT_LOG, 'audit-log-format': 'json' }, auditRetentionArgs(sec));
    volumes.push({ name: 'audit-log', hostPath: KUBEADM_AUDIT_LOG_DIR, mountPath: KUBEADM_AUDIT_LOG_DIR, readOnly: false, pathType: 'DirectoryOrCreate' });
  }
  return { args, volumes };
}

/**
 * Talos documents for a control plane's patch. Talos always runs PodSecurity and an audit policy of its own; these
 * make them the spec's. `audit: false` leaves Talos's default policy in place (Talos has no switch to turn it off).
 */
export function buildTalosSecurityPatch(spec: Spec, format: 'v1alpha1' | 'multidoc'): { classicApiServer?: Record<string, unknown>; docs: Record<string, unknown>[] } {
  const sec = spec.spec.security;
  const retention = auditRetentionArgs(sec);
  if (format === 'v1alpha1') {
    return {
      classicApiServer: {
        admissionControl: [{ name: 'PodSecurity', configuration: buildPodSecurityConfiguration(sec) }],
        ...(sec.audit === false ? {} : { auditPolicy: buildAuditPolicy(), extraArgs: retention }),
      },
      docs: [],
    };
  }
  const docs: Record<string, unknown>[] = [{ apiVersion: 'v1alpha1', kind: 'KubeAdmissionControlConfig', name: 'PodSecurity', configuration: buildPodSecurityConfiguration(sec) }];
  if (sec.audit !== false) {
    docs.push({ apiVersion: 'v1alpha1', kind: 'KubeAuditPolicyConfig', configuration: buildAuditPolicy() });
    docs.push({ apiVersion: 'v1alpha1', kind: 'KubeAPIServerConfig', extraArgs: retention });
  }
  return { docs };
}

/**
 * The Pod Security level of each namespace groundwork creates or expects: the spec's own list wins over what the
 * add-ons need (an operator may tighten or loosen one on purpose).
 */
export function namespaceLevels(spec: Spec, addonLevels: ReadonlyMap<string, PodSecurityLevel>): Map<string, PodSecurityLevel> {
  const out = new Map(addonLevels);
  for (const [ns, level] of Object.entries(spec.spec.security.podSecurity.namespaces)) out.set(ns, level);
  return out;
}

export const KUBEADM_ENCRYPTION_FILE = `${KUBEADM_SECURITY_DIR}/encryption.yaml`;

/**
 * kube-apiserver's --encryption-provider-config (apiserver.config.k8s.io/v1): Secrets written with secretbox
 * (XSalsa20-Poly1305) under `key` (32 random bytes, base64), `identity` last so Secrets written before still read.
 * Talos does the same on its own (secretboxEncryptionSecret in its secrets bundle).
 */
export function buildEncryptionConfiguration(key: string): Record<string, unknown> {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [{ resources: ['secrets'], providers: [{ secretbox: { keys: [{ name: 'groundwork-1', secret: key }] } }, { identity: {} }] }],
  };
}
