/**
 * The wizard's data: a draft cluster spec edited screen by screen, the questions each screen asks (every one
 * answered by a spec field or a flag, so `--yes` runs can answer them too), and live validation through the
 * same loader that reads cluster.yaml. Pure: no React, no I/O.
 */
import { parse, stringify } from 'yaml';
import { SpecError, type SpecIssue } from '../../errors.js';
import { parseSpec, type LoadedSpec } from '../../spec/load.js';
import type { SpecInput } from '../../spec/schema.js';
import { DEFAULT_KUBERNETES_VERSION, KUBERNETES_RANGE_TEXT } from '../../spec/versions.js';
import { analyzeSubnets, type SubnetFinding } from '../../net/subnets.js';

export type Path = (string | number)[];

export interface Field {
  key: string;
  label: string;
  kind: 'text' | 'select';
  options?: { value: string; hint: string }[];
  path: Path;
  numeric?: boolean;
  help: string;
}

/** A question that is not a spec field: answered on the command line instead. */
export interface FlagQuestion {
  key: string;
  screen: ScreenName;
  question: string;
  /** The flag (or command) that answers it without a person. */
  flag: string;
}

export const SCREENS = ['resume', 'cluster', 'nodes', 'network', 'addons', 'review', 'preflight', 'run', 'results', 'next'] as const;
export type ScreenName = (typeof SCREENS)[number];

export const CLUSTER_FIELDS: Field[] = [
  {
    key: 'method',
    label: 'Bootstrap with',
    kind: 'select',
    path: ['spec', 'bootstrap', 'method'],
    options: [
      { value: 'talos', hint: 'immutable, API-managed OS built for Kubernetes: no SSH, no packages to drift' },
      { value: 'kubeadm', hint: 'the upstream installer on the Linux you already run, over SSH' },
    ],
    help: 'Talos replaces the OS and is managed only through its API. kubeadm installs Kubernetes on existing Linux hosts over SSH.',
  },
  { key: 'name', label: 'Cluster name', kind: 'text', path: ['metadata', 'name'], help: 'A DNS-1123 label: lower-case letters, digits and "-".' },
  { key: 'endpoint', label: 'API endpoint', kind: 'text', path: ['spec', 'endpoint'], help: 'https://ADDRESS:6443 — a load balancer, a VIP, or the first control plane.' },
  { key: 'version', label: 'Kubernetes version', kind: 'text', path: ['spec', 'kubernetesVersion'], help: `e.g. ${DEFAULT_KUBERNETES_VERSION} (supported: ${KUBERNETES_RANGE_TEXT})` },
];

export const NODE_FIELDS = (i: number): Field[] => [
  { key: `node-${i}-name`, label: 'name', kind: 'text', path: ['spec', 'nodes', i, 'name'], help: 'A DNS-1123 label, unique in the cluster.' },
  { key: `node-${i}-address`, label: 'address', kind: 'text', path: ['spec', 'nodes', i, 'address'], help: 'The IP groundwork and the other nodes reach it on.' },
  {
    key: `node-${i}-role`,
    label: 'role',
    kind: 'select',
    path: ['spec', 'nodes', i, 'role'],
    options: [
      { value: 'control-plane', hint: 'runs etcd and the API server; use 1, 3 or 5' },
      { value: 'worker', hint: 'runs your workloads' },
    ],
    help: 'Control planes run etcd: an odd count keeps a majority when one fails.',
  },
];

export const NETWORK_FIELDS: Field[] = [
  { key: 'podCIDR', label: 'Pod CIDR', kind: 'text', path: ['spec', 'network', 'podCIDR'], help: 'Addresses for pods; must not overlap services, nodes or your LAN. Dual-stack: "v4,v6".' },
  { key: 'serviceCIDR', label: 'Service CIDR', kind: 'text', path: ['spec', 'network', 'serviceCIDR'], help: 'Addresses for Service ClusterIPs.' },
  { key: 'nodeMaskSize', label: 'Per-node mask', kind: 'text', numeric: true, path: ['spec', 'network', 'nodeMaskSize'], help: 'Each node gets a /N slice of the pod CIDR (24 = 256 addresses, 110 pods).' },
  {
    key: 'cni',
    label: 'CNI',
    kind: 'select',
    path: ['spec', 'network', 'cni'],
    options: [
      { value: 'cilium', hint: 'eBPF, replaces kube-proxy, enforces NetworkPolicy' },
      { value: 'calico', hint: 'BGP or VXLAN, enforces NetworkPolicy' },
      { value: 'flannel', hint: 'simple overlay; does NOT enforce NetworkPolicy' },
      { value: 'none', hint: 'bring your own CNI' },
    ],
    help: 'The pod network. Flannel ignores NetworkPolicy: policies you write will not be enforced.',
  },
];

export const ADDON_FIELDS: Field[] = [
  {
    key: 'monitoring',
    label: 'Monitoring',
    kind: 'select',
    path: ['spec', 'addons', 'monitoring'],
    options: [
      { value: 'kube-prometheus-stack', hint: 'Prometheus, Alertmanager and Grafana' },
      { value: 'victoria-metrics', hint: 'VictoriaMetrics with Grafana: lighter on memory' },
      { value: 'none', hint: 'no monitoring' },
    ],
    help: 'Metrics and dashboards for the cluster.',
  },
  {
    key: 'logging',
    label: 'Logging',
    kind: 'select',
    path: ['spec', 'addons', 'logging'],
    options: [
      { value: 'fluent-bit', hint: 'ship container logs' },
      { value: 'none', hint: 'no log shipping' },
    ],
    help: 'Fluent Bit collects every container log.',
  },
  { key: 'backupSchedule', label: 'etcd backup schedule', kind: 'text', path: ['spec', 'addons', 'backup', 'schedule'], help: 'cron, five fields: "0 */6 * * *" is every six hours.' },
  { key: 'backupRetain', label: 'Snapshots kept', kind: 'text', numeric: true, path: ['spec', 'addons', 'backup', 'retain'], help: 'Older snapshots are deleted.' },
];

export const FLAG_QUESTIONS: FlagQuestion[] = [
  { key: 'resume', screen: 'resume', question: 'Resume the unfinished run?', flag: '--resume' },
  { key: 'save', screen: 'review', question: 'Where to save the spec?', flag: '--file' },
  { key: 'ignore', screen: 'preflight', question: 'Ignore a failing check?', flag: '--ignore' },
  { key: 'mode', screen: 'review', question: 'Rehearse on the lab or run for real?', flag: 'rehearse | setup --yes' },
];

export function getPath(obj: unknown, path: Path): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Immutable set along a path, creating objects/arrays as needed. */
export function setPath<T>(obj: T, path: Path, value: unknown): T {
  if (path.length === 0) return value as T;
  const [k, ...rest] = path;
  const base = (obj ?? (typeof k === 'number' ? [] : {})) as Record<string | number, unknown>;
  const copy = (Array.isArray(base) ? [...base] : { ...base }) as Record<string | number, unknown>;
  copy[k!] = setPath(base[k!], rest, value);
  return copy as T;
}

export function defaultDraft(): SpecInput {
  return {
    apiVersion: 'groundwork.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'demo' },
    spec: {
      kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
      endpoint: 'https://127.0.100.1:6443',
      bootstrap: { method: 'talos' },
      nodes: [
        { name: 'cp-1', address: '127.0.100.1', role: 'control-plane' },
        { name: 'w-1', address: '127.0.100.2', role: 'worker' },
        { name: 'w-2', address: '127.0.100.3', role: 'worker' },
      ],
      network: { podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeMaskSize: 24, cni: 'cilium' },
      addons: { monitoring: 'kube-prometheus-stack', logging: 'fluent-bit', backup: { schedule: '0 */6 * * *', retain: 28 } },
      images: { registry: '' },
    },
  } as SpecInput;
}

/** An existing spec file's text as the wizard's starting draft; a broken or empty file opens with the defaults. */
export function draftFromYaml(text: string): SpecInput {
  try {
    const data = parse(text) as SpecInput | null;
    return data && typeof data === 'object' ? data : defaultDraft();
  } catch {
    // A broken file still opens: the wizard shows its errors field by field once the user edits.
    return defaultDraft();
  }
}

/** The next free node name and address after the existing ones (cp-N / w-N, the next host address). */
export function suggestNode(draft: SpecInput, role: 'control-plane' | 'worker'): { name: string; address: string; role: typeof role } {
  const nodes = (draft.spec?.nodes ?? []) as { name: string; address: string }[];
  const prefix = role === 'control-plane' ? 'cp' : 'w';
  let n = 1;
  while (nodes.some((x) => x.name === `${prefix}-${n}`)) n++;
  const last = nodes.at(-1)?.address ?? '127.0.100.0';
  const m = /^(\d+\.\d+\.\d+\.)(\d+)$/.exec(last);
  let address = '';
  if (m) {
    let host = Number(m[2]) + 1;
    while (nodes.some((x) => x.address === `${m[1]}${host}`) && host < 254) host++;
    address = `${m[1]}${host}`;
  }
  return { name: `${prefix}-${n}`, address, role };
}

export function toYaml(draft: SpecInput): string {
  return `# yaml-language-server: $schema=./groundwork.schema.json\n${stringify(draft)}`;
}

export interface Validation {
  loaded?: LoadedSpec;
  /** Issues keyed by dotted spec path (spec.nodes[0].name). */
  byPath: Map<string, SpecIssue[]>;
  issues: SpecIssue[];
}

/** Validates the draft with the same loader as cluster.yaml, so the wizard and files agree on every rule. */
export function validateDraft(draft: SpecInput, file = 'cluster.yaml'): Validation {
  const byPath = new Map<string, SpecIssue[]>();
  let issues: SpecIssue[] = [];
  let loaded: LoadedSpec | undefined;
  try {
    loaded = parseSpec(toYaml(draft), file);
    issues = loaded.warnings;
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    issues = e.issues;
  }
  for (const i of issues) byPath.set(i.path, [...(byPath.get(i.path) ?? []), i]);
  return { loaded, byPath, issues };
}

export function dottedPath(p: Path): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out === '' ? k : `.${k}`;
  return out;
}

/** Issues that belong to a screen's fields (or below them). */
export function issuesFor(v: Validation, prefixes: string[]): SpecIssue[] {
  return v.issues.filter((i) => prefixes.some((p) => i.path === p || i.path.startsWith(`${p}.`) || i.path.startsWith(`${p}[`)));
}

/** Live overlap and capacity findings for the network screen (no routes: those are checked by preflight). */
export function networkFindings(v: Validation): SubnetFinding[] {
  const s = v.loaded?.spec;
  if (!s) return [];
  try {
    return analyzeSubnets({
      podCIDR: s.spec.network.podCIDR,
      serviceCIDR: s.spec.network.serviceCIDR,
      nodeMaskSize: s.spec.network.nodeMaskSize,
      nodes: s.spec.nodes.map((n) => ({ name: n.name, address: n.address })),
      routes: [],
      kubernetesVersion: s.spec.kubernetesVersion,
    }).filter((f) => f.status !== 'pass');
  } catch {
    return [];
  }
}

/** One offered next step: a label and the exact argv (after `groundwork`) that does it. */
export interface NextStep {
  label: string;
  argv: string[];
}

/**
 * The next steps for this spec and what happened, as exact commands (each one is parsed by the real CLI in
 * test/ui/next-steps.test.ts). A rehearsal has nothing to resume: its next step is the real setup. After a
 * real run: resume it when it did not finish, else validate with the cluster's kubeconfig and drill the
 * spec's first control plane.
 */
export function nextSteps(d: SpecInput, o: { file: string; stateDir: string; mode: 'rehearse' | 'setup'; status?: string }): NextStep[] {
  const f = ['-f', o.file];
  if (o.mode === 'rehearse') return [{ label: 'for real', argv: ['setup', '--yes', ...f] }];
  if (o.status !== 'pass') return [{ label: 'resume', argv: ['setup', '--yes', '--resume', ...f] }];
  const out: NextStep[] = [{ label: 're-validate', argv: ['validate', ...f, '--kubeconfig', `${o.stateDir}/secrets/kubeconfig`] }];
  const spec = (d.spec ?? {}) as { bootstrap?: { method?: string; kubeadm?: { ssh?: { user?: string; port?: number; identityFile?: string } } }; nodes?: { role?: string; address?: string; ssh?: { user?: string; port?: number } }[] };
  const cp = (spec.nodes ?? []).find((n) => n.role === 'control-plane');
  if (cp?.address) {
    if (spec.bootstrap?.method === 'talos') out.push({ label: 'restore drill', argv: ['drill', ...f, '--talos', cp.address, '--talosconfig', `${o.stateDir}/secrets/talos/talosconfig`] });
    else {
      const ssh = spec.bootstrap?.kubeadm?.ssh ?? {};
      const user = cp.ssh?.user ?? ssh.user ?? 'root';
      const port = cp.ssh?.port ?? ssh.port;
      out.push({
        label: 'restore drill',
        argv: ['drill', ...f, '--kubeadm', `${user}@${cp.address}`, ...(port && port !== 22 ? ['--ssh-port', String(port)] : []), ...(ssh.identityFile ? ['--ssh-identity', ssh.identityFile] : [])],
      });
    }
  }
  return out;
}

/** An argv as one shell line: words with anything but safe characters are single-quoted. */
export function shellLine(argv: string[]): string {
  return ['groundwork', ...argv].map((w) => (/^[\w@%+=:,./~-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
