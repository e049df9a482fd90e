/**
 * The cluster spec (cluster.yaml): the contract shared with users and tests (DESIGN.md). Extend, don't rename.
 * Structural rules live here (zod); cross-field rules live in semantic.ts.
 */
import { z } from 'zod';
import ipaddr from 'ipaddr.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const dnsLabel = z
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
export const cidrList = z.string().refine(
  (v) => {
    const parts = v.split(',').map((p) => p.trim());
    return parts.length >= 1 && parts.length <= 2 && parts.every(isCidr);
  },
  { error: (iss) => `${JSON.stringify(iss.input)} is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")` },
);

export const ipAddress = z.string().refine((v) => ipaddr.isValid(v), {
  error: (iss) => `${JSON.stringify(iss.input)} is not an IP address`,
});

const kubeVersion = z
  .string()
  .regex(/^v?\d+\.\d+\.\d+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a Kubernetes version like "1.32.4"` })
  .transform((v) => v.replace(/^v/, ''));

export const NodeSpec = z.strictObject({
  name: dnsLabel.meta({ description: 'Node name (a DNS-1123 label); becomes the Kubernetes node name.' }),
  address: ipAddress.meta({ description: 'IP address groundwork and the other nodes reach this machine on.' }),
  role: z.enum(['control-plane', 'worker']).meta({ description: 'control-plane nodes run etcd and the API server; use an odd number of them.' }),
  /** Optional per-node overrides */
  installDisk: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  taints: z.array(z.string()).optional(),
  ssh: z.strictObject({ user: z.string().optional(), port: z.number().int().min(1).max(65535).optional() }).optional(),
});

export const TalosSpec = z.strictObject({
  version: z.string().regex(/^v\d+\.\d+\.\d+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a Talos version like "v1.10.5"` }).default('v1.10.5'),
  installDisk: z.string().default('/dev/sda'),
  /** Optional shared virtual IP for the control planes (Talos VIP). */
  vip: ipAddress.optional(),
});

export const KubeadmSpec = z.strictObject({
  ssh: z
    .strictObject({
      user: z.string().default('root'),
      identityFile: z.string().default('~/.ssh/id_ed25519'),
      port: z.number().int().min(1).max(65535).default(22),
    })
    .prefault({}),
  criSocket: z.string().default('unix:///run/containerd/containerd.sock'),
  etcdDataDir: z.string().default('/var/lib/etcd'),
  certSANs: z.array(z.string()).default([]),
});

export const BootstrapSpec = z.strictObject({
  method: z.enum(['talos', 'kubeadm']).meta({ description: 'How the cluster is bootstrapped: talos (machines booted into Talos maintenance mode) or kubeadm (over SSH).' }),
  talos: TalosSpec.prefault({}),
  kubeadm: KubeadmSpec.prefault({}),
});

export const NetworkSpec = z.strictObject({
  podCIDR: cidrList.default('10.244.0.0/16').meta({ description: 'Pod IP range: a CIDR, or "IPv4CIDR,IPv6CIDR" for dual-stack. Must not overlap node or Service addresses.' }),
  serviceCIDR: cidrList.default('10.96.0.0/12').meta({ description: 'Service (ClusterIP) range.' }),
  nodeMaskSize: z.number().int().min(8).max(128).default(24).meta({ description: 'Prefix length of the pod range each node gets (/24 = 254 pods per node).' }),
  cni: z.enum(['cilium', 'calico', 'flannel', 'none']).default('cilium').meta({ description: 'Pod network. flannel does not enforce NetworkPolicy; none leaves it to you.' }),
  /** Cilium replaces kube-proxy (eBPF) unless set to false. */
  kubeProxyReplacement: z.boolean().default(true),
});

export const BackupSpec = z.strictObject({
  schedule: z.string().regex(/^(\S+\s+){4}\S+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a cron schedule with five fields, e.g. "0 */6 * * *"` }).default('0 */6 * * *'),
  retain: z.number().int().min(1).default(28),
  /** Where snapshots go: a hostPath directory on the control planes or a PVC. */
  target: z
    .strictObject({
      hostPath: z.string().optional(),
      pvc: z.string().optional(),
    })
    .default({ hostPath: '/var/backups/etcd' }),
});

export const AddonsSpec = z.strictObject({
  monitoring: z.enum(['kube-prometheus-stack', 'victoria-metrics', 'none']).default('kube-prometheus-stack'),
  logging: z.enum(['fluent-bit', 'none']).default('fluent-bit'),
  backup: z.union([BackupSpec, z.literal(false)]).prefault({}),
  /** How long metrics are kept (Prometheus retention / VictoriaMetrics retentionPeriod), e.g. "15d". */
  retention: z.string().regex(/^\d+[hdwy]$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a retention like "15d" (a number and h, d, w or y)` }).default('15d'),
  /** StorageClass for metrics and dashboards volumes; unset means the cluster's default class. */
  storageClass: z.string().optional(),
  /** Air gap: local chart archives (.tgz) by chart name (cilium, tigera-operator, flannel, kube-prometheus-stack, victoria-metrics-k8s-stack, fluent-bit), used instead of the chart repositories. */
  chartArchives: z.partialRecord(z.enum(['cilium', 'tigera-operator', 'flannel', 'kube-prometheus-stack', 'victoria-metrics-k8s-stack', 'fluent-bit']), z.string()).optional(),
});

export const ImagesSpec = z.strictObject({
  /** Registry mirror for air-gapped installs; "" means the upstream registries. */
  registry: z.string().default(''),
});

export const ClusterSpecBody = z.strictObject({
  kubernetesVersion: kubeVersion.default('1.32.4').meta({ description: 'Kubernetes version, e.g. "1.32.4".' }),
  endpoint: z.url({ protocol: /^https$/, error: (iss) => (typeof iss.input === 'string' ? `${JSON.stringify(iss.input)} is not an https:// URL, e.g. https://10.0.10.10:6443` : undefined) }).meta({ description: 'The Kubernetes API URL clients use: https://<control-plane address or VIP>:6443', pattern: '^https://' }),
  bootstrap: BootstrapSpec,
  nodes: z.array(NodeSpec).min(1, 'must list at least one node').meta({ description: 'The machines: at least one control-plane node.' }),
  network: NetworkSpec.prefault({}),
  addons: AddonsSpec.prefault({}),
  images: ImagesSpec.prefault({}),
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
