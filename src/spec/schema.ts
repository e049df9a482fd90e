/**
 * The cluster spec (cluster.yaml): the contract shared with users and tests (DESIGN.md). Extend, don't rename.
 * Structural rules live here (zod); cross-field rules live in semantic.ts.
 */
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { cronSchedule, isLabelKey, isLabelValue, securityWaiver, taintSpec } from './fields.js';
import { DNS1123_LABEL, SSH_USER, isDnsName, isDnsSubdomain } from './names.js';
import { DEFAULT_KUBERNETES_VERSION, DEFAULT_TALOS_VERSION, KUBERNETES_RANGE_TEXT, TALOS_RANGE_TEXT } from './versions.js';

/**
 * The largest cluster groundwork plans and tests (test/spec/limits.test.ts, test/bench/dry-run.bench.ts): every
 * node is a handful of steps, argv lines and files, so the cost of a run grows with it.
 */
export const MAX_NODES = 5000;

const dnsLabel = z
  .string()
  .max(63, { error: (iss) => `${JSON.stringify(iss.input)} is longer than 63 characters (a DNS-1123 label)` })
  .regex(DNS1123_LABEL, {
    error: (iss) => `${JSON.stringify(iss.input)} is not a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit`,
  });

function isCidr(v: string): boolean {
  try {
    ipaddr.parseCIDR(v);
    return true;
  } catch {
    return false;
  }
}

/** A CIDR, or two comma-separated CIDRs (IPv4 and IPv6) for dual-stack. */
const cidrList = z.string().refine(
  (v) => {
    const parts = v.split(',').map((p) => p.trim());
    return parts.length >= 1 && parts.length <= 2 && parts.every(isCidr);
  },
  { error: (iss) => `${JSON.stringify(iss.input)} is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")` },
);

const ipAddress = z.string().refine((v) => ipaddr.isValid(v), {
  error: (iss) => `${JSON.stringify(iss.input)} is not an IP address`,
});

/*
 * Values that end up in a program's argv or in a config a program reads are held to their kind here, at the
 * edge (issue 20): a user name that starts with "-" would be an ssh option, a label value with "," a second
 * kubelet label, a NUL byte in a path an internal error.
 */
const show = (v: unknown) => JSON.stringify(typeof v === 'string' && v.length > 60 ? `${v.slice(0, 57)}...` : v);
const CONTROL = /[\u0000-\u001f\u007f]/;
function controlMessage(v: string): string {
  if (v.includes('\u0000')) return `${show(v)} contains a NUL byte`;
  if (/[\r\n]/.test(v)) return `${show(v)} contains a line break`;
  return `${show(v)} contains a control character`;
}

const sshUser = z.string().refine((v) => SSH_USER.test(v), {
  error: (iss) => `${show(iss.input)} is not a user name: lower-case letters, digits, "_", "." and "-", starting with a letter or "_", at most 32 characters`,
});

/** A file on this machine (a key, a chart archive): any name a file system allows, but one line and no NUL. */
const localPath = z
  .string()
  .min(1, 'is empty; it must be a file path')
  .superRefine((v, ctx) => {
    if (CONTROL.test(v)) ctx.addIssue({ code: 'custom', message: controlMessage(v), input: v });
    else if (v.startsWith('-')) ctx.addIssue({ code: 'custom', message: `${show(v)} starts with "-"; write ./${v} for a relative path`, input: v });
  });

/** An absolute path on a node (disk, data directory). */
const nodePath = z
  .string()
  .superRefine((v, ctx) => {
    if (CONTROL.test(v)) ctx.addIssue({ code: 'custom', message: controlMessage(v), input: v });
    else if (!v.startsWith('/')) ctx.addIssue({ code: 'custom', message: `${show(v)} is not an absolute path (it must start with "/")`, input: v });
  });

/** A certificate SAN: an IP address, a DNS name, or a wildcard name (*.example.com). */
const certSAN = z.string().refine((v) => ipaddr.isValid(v) || isDnsName(v.replace(/^\*\./, '')), {
  error: (iss) => `${show(iss.input)} is not an IP address or DNS name for the API server certificate`,
});


const labelKey = z.string().refine(isLabelKey, {
  error: (iss) => `${show(iss.input)} is not a label key: [prefix/]name, the name up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`,
});
const labelValue = z.string().refine(isLabelValue, {
  error: (iss) => `${show(iss.input)} is not a label value: up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit (or empty)`,
});

/** A Kubernetes object name (StorageClass, PVC): a DNS-1123 subdomain. */
const objectName = z.string().refine((v) => isDnsSubdomain(v), {
  error: (iss) => `${show(iss.input)} is not a Kubernetes name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`,
});

/** An image registry mirror: host[:port][/path], or "" for the upstream registries. */
const registry = z.string().refine((v) => v === '' || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*\/?$/.test(v), {
  error: (iss) => `${show(iss.input)} is not a registry like "registry.example.com:5000/mirror" (host[:port][/path])`,
});

/** A kubeadm preflight check's name as kubeadm prints it (`[ERROR Port-2379]`, `FileContent--proc-sys-net-ipv4-ip_forward`). */
const preflightCheckName = z.string().superRefine((v, ctx) => {
  if (v.toLowerCase() === 'all') {
    ctx.addIssue({ code: 'custom', message: '"all" would hide every failed check; name each check this machine cannot pass (kubeadm prints it in brackets: [ERROR SystemVerification])', input: v });
  } else if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is not a kubeadm preflight check name like "SystemVerification" or "Port-2379" (letters, digits, ".", "_" and "-")`, input: v });
  }
});

/** An image tag (OCI: up to 128 of [A-Za-z0-9_.-], not starting with "." or "-"). */
const imageTag = z.string().refine((v) => /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(v), {
  error: (iss) => `${show(iss.input)} is not an image tag like "3.7.0-0" or "v1.15.0"`,
});

/** unix:///path or /path */
const criSocket = z.string().refine((v) => /^(unix:\/\/)?\/[^\u0000-\u001f\u007f]*$/.test(v), {
  error: (iss) => `${show(iss.input)} is not a socket like "unix:///run/containerd/containerd.sock"`,
});

/** The API endpoint: https://HOST[:PORT] with HOST an IP address or DNS name (it goes into certificates and kubeadm's controlPlaneEndpoint). */
function endpointHostOk(v: string): boolean {
  try {
    const u = new URL(v);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    return (ipaddr.isValid(host) || isDnsName(host)) && u.username === '' && u.password === '' && (u.pathname === '/' || u.pathname === '') && u.search === '' && u.hash === '';
  } catch {
    return true; // not a URL at all: z.url says so
  }
}

const kubeVersion = z
  .string()
  .regex(/^v?\d+\.\d+\.\d+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a Kubernetes version like "${DEFAULT_KUBERNETES_VERSION}"` })
  .transform((v) => v.replace(/^v/, ''));

export const NodeSpec = z.strictObject({
  name: dnsLabel.meta({ description: 'Node name (a DNS-1123 label); becomes the Kubernetes node name.' }),
  address: ipAddress.meta({ description: 'IP address groundwork and the other nodes reach this machine on.' }),
  role: z.enum(['control-plane', 'worker']).meta({ description: 'control-plane nodes run etcd and the API server; use an odd number of them.' }),
  /** Optional per-node overrides */
  installDisk: nodePath.optional(),
  labels: z.record(labelKey, labelValue).optional(),
  taints: z.array(taintSpec).optional(),
  ssh: z
    .strictObject({
      user: sshUser.optional(),
      port: z.number().int().min(1).max(65535).optional(),
      /** Where groundwork's ssh and scp reach this node when that is not `address` (a port forward, a NAT or a bastion's published port); kubeadm and the cluster still use `address`. */
      host: z
        .string()
        .refine((v) => ipaddr.isValid(v) || isDnsName(v), { error: (iss) => `${show(iss.input)} is not an IP address or DNS name to reach the node over SSH` })
        .optional()
        .meta({ description: 'Where groundwork reaches this node over SSH when that is not its address (a port forward, a NAT); the cluster still uses address.' }),
    })
    .optional(),
});

const TalosSpec = z.strictObject({
  version: z.string().regex(/^v\d+\.\d+\.\d+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a Talos version like "${DEFAULT_TALOS_VERSION}"` }).default(DEFAULT_TALOS_VERSION).meta({ description: `Talos release the machines boot (supported: ${TALOS_RANGE_TEXT}); v1.14 and later get typed config documents.` }),
  installDisk: nodePath.default('/dev/sda'),
  /** Optional shared virtual IP for the control planes (Talos VIP). */
  vip: ipAddress.optional(),
});

const KubeadmSpec = z.strictObject({
  ssh: z
    .strictObject({
      user: sshUser.default('root'),
      identityFile: localPath.default('~/.ssh/id_ed25519'),
      /** known_hosts for this cluster's nodes (UserKnownHostsFile); default: the user's own. */
      knownHostsFile: localPath
        .refine((v) => !/[\s"'\\]/.test(v), { error: (iss) => `${show(iss.input)} holds a space, quote or backslash, which ssh's UserKnownHostsFile would split or unquote` })
        .optional(),
      port: z.number().int().min(1).max(65535).default(22),
    })
    .prefault({}),
  criSocket: criSocket.default('unix:///run/containerd/containerd.sock'),
  etcdDataDir: nodePath.default('/var/lib/etcd'),
  certSANs: z.array(certSAN).default([]),
  /**
   * kubeadm preflight checks to ignore, each by its name as kubeadm prints it (`[ERROR SystemVerification]` ->
   * SystemVerification): for a check a node cannot pass and the operator knows why. Never `all`.
   */
  ignorePreflightErrors: z
    .array(preflightCheckName)
    .default([])
    .refine((v) => new Set(v.map((x) => x.toLowerCase())).size === v.length, { error: 'names a check twice' })
    .meta({ description: 'kubeadm preflight checks to ignore, each by the name kubeadm prints (e.g. SystemVerification); "all" is refused.' }),
  /** Fields of the KubeletConfiguration kubeadm writes to every node (only what is set here; kubelet's defaults otherwise). */
  kubelet: z
    .strictObject({
      /** kubelet 1.35+ refuses a cgroup v1 host unless this is false (and kubeadm's SystemVerification check fails there: ignore it by name). */
      failCgroupV1: z.boolean().optional().meta({ description: 'false lets kubelet 1.35+ run on a cgroup v1 host (deprecated upstream; also ignore the SystemVerification preflight check).' }),
      /** kubeadm writes systemd unless told; a node without systemd (or a runtime on cgroupfs) needs cgroupfs. */
      cgroupDriver: z.enum(['systemd', 'cgroupfs']).optional().meta({ description: "kubelet's cgroup driver; it must match the container runtime's (kubeadm's default: systemd)." }),
    })
    .prefault({}),
  /**
   * Image tags of what kubeadm deploys besides Kubernetes, when the mirror holds other tags than kubeadm pins
   * (etcd 3.7.0-0, CoreDNS v1.14.6 for 1.37): ClusterConfiguration's etcd.local.imageTag and dns.imageTag.
   */
  imageTags: z
    .strictObject({
      etcd: imageTag.optional().meta({ description: "etcd's image tag instead of the one kubeadm pins." }),
      coredns: imageTag.optional().meta({ description: "CoreDNS's image tag instead of the one kubeadm pins." }),
    })
    .prefault({}),
});

const BootstrapSpec = z.strictObject({
  method: z.enum(['talos', 'kubeadm']).meta({ description: 'How the cluster is bootstrapped: talos (machines booted into Talos maintenance mode) or kubeadm (over SSH).' }),
  talos: TalosSpec.prefault({}),
  kubeadm: KubeadmSpec.prefault({}),
});

const NetworkSpec = z.strictObject({
  podCIDR: cidrList.default('10.244.0.0/16').meta({ description: 'Pod IP range: a CIDR, or "IPv4CIDR,IPv6CIDR" for dual-stack. Must not overlap node or Service addresses.' }),
  serviceCIDR: cidrList.default('10.96.0.0/12').meta({ description: 'Service (ClusterIP) range.' }),
  nodeMaskSize: z.number().int().min(8).max(128).default(24).meta({ description: 'Prefix length of the pod range each node gets (/24 = 254 pods per node).' }),
  cni: z.enum(['cilium', 'calico', 'flannel', 'none']).default('cilium').meta({ description: 'Pod network. flannel does not enforce NetworkPolicy; none leaves it to you.' }),
  /** Cilium replaces kube-proxy (eBPF) unless set to false. */
  kubeProxyReplacement: z.boolean().default(true),
});

const BackupSpec = z.strictObject({
  schedule: cronSchedule.default('0 */6 * * *'),
  retain: z.number().int().min(1).default(28),
  /** Where snapshots go: a hostPath directory on the control planes or a PVC. */
  target: z
    .strictObject({
      hostPath: nodePath.optional(),
      pvc: objectName.optional(),
    })
    .default({ hostPath: '/var/backups/etcd' }),
});

/**
 * Where the log collector sends logs: `stdout` (each collector pod's own output, `kubectl logs`) or an endpoint
 * of the operator's. No credentials here (they would be secrets in the spec): use an endpoint the cluster network
 * may reach without them, or add an output of your own to the values after groundwork.
 */
const LogEndpointSpec = z
  .strictObject({
    type: z.enum(['loki', 'elasticsearch', 'opensearch', 'http', 'forward']),
    url: z.string(),
  })
  .superRefine((v, ctx) => {
    const schemes = v.type === 'forward' ? ['tcp:', 'tls:'] : ['http:', 'https:'];
    let u: URL | undefined;
    try {
      u = new URL(v.url);
    } catch {
      u = undefined;
    }
    if (!u || !schemes.includes(u.protocol) || u.hostname === '') {
      const example = v.type === 'forward' ? 'tcp://fluentd.logging:24224' : v.type === 'loki' ? 'http://loki.logging:3100' : 'https://logs.example.com:9200';
      ctx.addIssue({ code: 'custom', path: ['url'], message: `${JSON.stringify(v.url)} is not a ${schemes.map((x) => x.replace(':', '://')).join(' or ')} URL for a ${v.type} endpoint, e.g. ${example}` });
    }
  });
const LogDestinationSpec = z.union([z.literal('stdout'), LogEndpointSpec]);

const AddonsSpec = z.strictObject({
  monitoring: z.enum(['kube-prometheus-stack', 'victoria-metrics', 'none']).default('kube-prometheus-stack'),
  logging: z.enum(['fluent-bit', 'none']).default('fluent-bit'),
  /** Where collected logs go: "stdout" (default), or { type: loki | elasticsearch | opensearch | http | forward, url }. */
  logDestination: LogDestinationSpec.default('stdout'),
  backup: z.union([BackupSpec, z.literal(false)]).prefault({}),
  /** How long metrics are kept (Prometheus retention / VictoriaMetrics retentionPeriod), e.g. "15d". */
  retention: z.string().regex(/^\d+[hdwy]$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a retention like "15d" (a number and h, d, w or y)` }).default('15d'),
  /** StorageClass for metrics and dashboards volumes; unset means the cluster's default class. */
  storageClass: objectName.optional(),
  /** Air gap: local chart archives (.tgz) by chart name (cilium, tigera-operator, flannel, kube-prometheus-stack, victoria-metrics-k8s-stack, fluent-bit), used instead of the chart repositories. */
  chartArchives: z.partialRecord(z.enum(['cilium', 'tigera-operator', 'flannel', 'kube-prometheus-stack', 'victoria-metrics-k8s-stack', 'fluent-bit']), localPath).optional(),
});

const ImagesSpec = z.strictObject({
  /** Registry mirror for air-gapped installs; "" means the upstream registries. */
  registry: registry.default(''),
  /**
   * One Helm chart repository that holds every chart groundwork installs (a mirror for air gaps: Harbor, Nexus,
   * Artifactory, ChartMuseum), used instead of each chart's upstream repository: an https:// (or http://) URL
   * serving index.yaml, or an oci:// registry path. Unset means the upstream repositories.
   */
  chartRepository: z
    .string()
    .regex(/^(https?|oci):\/\/[^\s/]+/, { error: (iss) => `${JSON.stringify(iss.input)} is not a chart repository URL (https://charts.example.com/ or oci://registry.example.com/charts)` })
    .optional(),
});

const podSecurityLevel = z.enum(['privileged', 'baseline', 'restricted']);

/**
 * Pod Security admission as the API servers are configured at bootstrap (kubeadm: an AdmissionConfiguration file on
 * every control plane; Talos: its admission control config), and the levels of the namespaces that must differ.
 */
const PodSecuritySpec = z.strictObject({
  enforce: podSecurityLevel.default('baseline').meta({ description: 'Cluster-wide default level pods must meet (refused otherwise).' }),
  audit: podSecurityLevel.default('restricted').meta({ description: 'Level whose violations are recorded in the API audit log.' }),
  warn: podSecurityLevel.default('restricted').meta({ description: 'Level whose violations are returned to the client as warnings.' }),
  exemptNamespaces: z.array(dnsLabel).default(['kube-system']).meta({ description: 'Namespaces Pod Security admission does not check at all (kube-system: the cluster\'s own static and node pods).' }),
  /**
   * Namespaces with a level of their own (e.g. `{ ingress-nginx: privileged }`), labelled by groundwork when it
   * creates them and allowed privileged, hostNetwork, hostPID and hostPath pods when `privileged`. The add-on
   * namespaces groundwork installs node agents into (the CNI's, monitoring for node-exporter, logging for Fluent
   * Bit) are `privileged` without being listed.
   */
  namespaces: z.record(dnsLabel, podSecurityLevel).default({}),
});

/** API audit logging (kube-apiserver --audit-policy-file): on by default; the log's rotation on each control plane. */
const AuditSpec = z.strictObject({
  maxAge: z.number().int().min(1).max(3650).default(30).meta({ description: 'Days an audit log file is kept (--audit-log-maxage).' }),
  maxBackups: z.number().int().min(1).max(1000).default(10).meta({ description: 'Rotated audit log files kept (--audit-log-maxbackup).' }),
  maxSize: z.number().int().min(1).max(10240).default(100).meta({ description: 'MiB an audit log file grows to before it is rotated (--audit-log-maxsize).' }),
});

export const SecuritySpec = z.strictObject({
  podSecurity: PodSecuritySpec.prefault({}),
  /** false: no API audit log (not recommended; GW-SEC-008 then fails unless waived). */
  audit: z.union([AuditSpec, z.literal(false)]).prefault({}),
  /** Security checks that may fail, each with a reason and an expiry day; shown in every report. */
  waivers: z.array(securityWaiver).default([]),
});

const ClusterSpecBody = z.strictObject({
  kubernetesVersion: kubeVersion.default(DEFAULT_KUBERNETES_VERSION).meta({ description: `Kubernetes version, e.g. "${DEFAULT_KUBERNETES_VERSION}" (supported: ${KUBERNETES_RANGE_TEXT}).` }),
  endpoint: z
    .url({ protocol: /^https$/, error: (iss) => (typeof iss.input === 'string' ? `${JSON.stringify(iss.input)} is not an https:// URL, e.g. https://10.0.10.10:6443` : undefined) })
    .refine((v) => endpointHostOk(v), { error: (iss) => `${show(iss.input)} has no IP address or DNS name as its host (and nothing but a port after it)` })
    .meta({ description: 'The Kubernetes API URL clients use: https://<control-plane address or VIP>:6443', pattern: '^https://' }),
  bootstrap: BootstrapSpec,
  nodes: z.array(NodeSpec).min(1, 'must list at least one node').max(MAX_NODES, `at most ${MAX_NODES.toLocaleString('en-US')} nodes`).meta({ description: 'The machines: at least one control-plane node.' }),
  network: NetworkSpec.prefault({}),
  addons: AddonsSpec.prefault({}),
  images: ImagesSpec.prefault({}),
  security: SecuritySpec.prefault({}),
});

export const ClusterSpec = z.strictObject({
  apiVersion: z.literal('groundwork.dev/v1alpha1'),
  kind: z.literal('Cluster'),
  metadata: z.strictObject({ name: dnsLabel }),
  spec: ClusterSpecBody,
});

export type Spec = z.output<typeof ClusterSpec>;
export type SpecInput = z.input<typeof ClusterSpec>;
export type NodeSpec = z.output<typeof NodeSpec>;
export type SecuritySpec = z.output<typeof SecuritySpec>;
