/**
 * What each wizard screen asks and shows, as data: the questions (every one answered by a spec field or a
 * flag, so `--yes` runs can answer them too), the draft's defaults, and the screens' titles and keys.
 * Pure and light: no yaml, no zod, no React, so the first frame can be drawn from it before anything else
 * loads (first-paint.ts).
 */
import type { SpecIssue } from '../../errors.js';
import type { SpecInput } from '../../spec/schema.js';
import { DEFAULT_KUBERNETES_VERSION, DEFAULT_TALOS_VERSION, KUBERNETES_RANGE_TEXT, TALOS_RANGE_TEXT } from '../../spec/versions.js';

export type Path = (string | number)[];

export interface Field {
  key: string;
  label: string;
  kind: 'text' | 'select';
  options?: { value: string; hint: string }[];
  path: Path;
  numeric?: boolean;
  help: string;
  /**
   * What the spec uses when the field is left empty (shown dim in the empty field). An emptied field with a
   * default is removed from the spec rather than written as "".
   */
  defaultValue?: string;
  /** A field whose value is not a plain scalar at `path`: how to read it from the draft and write it back. */
  read?: (d: SpecInput) => string;
  write?: (d: SpecInput, value: string) => SpecInput;
}

/** A question that is not a spec field: answered on the command line instead. */
export interface FlagQuestion {
  key: string;
  screen: ScreenName;
  question: string;
  /** The flag (or command) that answers it without a person. */
  flag: string;
}

/** A choice field: its options as value → hint, in the order the form offers them. */
function selectField(options: Record<string, string>, f: Omit<Field, 'kind' | 'options'>): Field {
  return { ...f, kind: 'select', options: Object.entries(options).map(([value, hint]) => ({ value, hint })) };
}

export const SCREENS = ['broken', 'resume', 'cluster', 'nodes', 'network', 'addons', 'review', 'preflight', 'run', 'results', 'next'] as const;
export type ScreenName = (typeof SCREENS)[number];

export const CLUSTER_FIELDS: Field[] = [
  selectField(
    {
      talos: 'immutable, API-managed OS built for Kubernetes: no SSH, no packages to drift',
      kubeadm: 'the upstream installer on the Linux you already run, over SSH',
    },
    { key: 'method', label: 'Bootstrap with', path: ['spec', 'bootstrap', 'method'], help: 'Talos replaces the OS and is managed only through its API. kubeadm installs Kubernetes on existing Linux hosts over SSH.' }),
  { key: 'name', label: 'Cluster name', kind: 'text', path: ['metadata', 'name'], help: 'A DNS-1123 label: lower-case letters, digits and "-".' },
  { key: 'endpoint', label: 'API endpoint', kind: 'text', path: ['spec', 'endpoint'], help: 'https://ADDRESS:6443 — a load balancer, a VIP, or the first control plane.' },
  { key: 'version', label: 'Kubernetes version', kind: 'text', path: ['spec', 'kubernetesVersion'], defaultValue: DEFAULT_KUBERNETES_VERSION, help: `e.g. ${DEFAULT_KUBERNETES_VERSION} (supported: ${KUBERNETES_RANGE_TEXT})` },
];

/** What a Talos run needs beyond the common fields (spec.bootstrap.talos). */
export const TALOS_FIELDS: Field[] = [
  { key: 'talosVersion', label: 'Talos version', kind: 'text', path: ['spec', 'bootstrap', 'talos', 'version'], defaultValue: DEFAULT_TALOS_VERSION, help: `The Talos release the machines boot, e.g. ${DEFAULT_TALOS_VERSION} (supported: ${TALOS_RANGE_TEXT}).` },
  { key: 'installDisk', label: 'Install disk', kind: 'text', path: ['spec', 'bootstrap', 'talos', 'installDisk'], defaultValue: '/dev/sda', help: 'The disk Talos installs to on every node (a node can override it in cluster.yaml). Everything on it is erased.' },
];

/** What a kubeadm run needs beyond the common fields: how groundwork reaches the hosts (spec.bootstrap.kubeadm.ssh). */
export const KUBEADM_FIELDS: Field[] = [
  { key: 'sshUser', label: 'SSH user', kind: 'text', path: ['spec', 'bootstrap', 'kubeadm', 'ssh', 'user'], defaultValue: 'root', help: 'The user groundwork logs in as on every node; it needs root or passwordless sudo.' },
  { key: 'sshKey', label: 'SSH key', kind: 'text', path: ['spec', 'bootstrap', 'kubeadm', 'ssh', 'identityFile'], defaultValue: '~/.ssh/id_ed25519', help: 'The private key file (ssh -i) on this machine. The key itself never goes into the spec.' },
  { key: 'sshPort', label: 'SSH port', kind: 'text', numeric: true, path: ['spec', 'bootstrap', 'kubeadm', 'ssh', 'port'], defaultValue: '22', help: 'The port sshd listens on, on every node (a node can override it in cluster.yaml).' },
  {
    key: 'knownHosts',
    label: 'known_hosts file',
    kind: 'text',
    path: ['spec', 'bootstrap', 'kubeadm', 'ssh', 'knownHostsFile'],
    defaultValue: '(your own)',
    help: "The known_hosts file with these nodes' host keys (ssh UserKnownHostsFile); empty uses your ~/.ssh/known_hosts.",
  },
];

export const NODE_FIELDS = (i: number): Field[] => [
  { key: `node-${i}-name`, label: 'name', kind: 'text', path: ['spec', 'nodes', i, 'name'], help: 'A DNS-1123 label, unique in the cluster.' },
  { key: `node-${i}-address`, label: 'address', kind: 'text', path: ['spec', 'nodes', i, 'address'], help: 'The IP groundwork and the other nodes reach it on.' },
  selectField(
    {
      'control-plane': 'runs etcd and the API server; use 1, 3 or 5',
      worker: 'runs your workloads',
    },
    { key: `node-${i}-role`, label: 'role', path: ['spec', 'nodes', i, 'role'], help: 'Control planes run etcd: an odd count keeps a majority when one fails.' }),
];

export const NETWORK_FIELDS: Field[] = [
  { key: 'podCIDR', label: 'Pod CIDR', kind: 'text', path: ['spec', 'network', 'podCIDR'], help: 'Addresses for pods; must not overlap services, nodes or your LAN. Dual-stack: "v4,v6".' },
  { key: 'serviceCIDR', label: 'Service CIDR', kind: 'text', path: ['spec', 'network', 'serviceCIDR'], help: 'Addresses for Service ClusterIPs.' },
  { key: 'nodeMaskSize', label: 'Per-node mask', kind: 'text', numeric: true, path: ['spec', 'network', 'nodeMaskSize'], help: 'Each node gets a /N slice of the pod CIDR (24 = 256 addresses, 110 pods).' },
  selectField(
    {
      cilium: 'eBPF, replaces kube-proxy, enforces NetworkPolicy',
      calico: 'BGP or VXLAN, enforces NetworkPolicy',
      flannel: 'simple overlay; does NOT enforce NetworkPolicy',
      none: 'bring your own CNI',
    },
    { key: 'cni', label: 'CNI', path: ['spec', 'network', 'cni'], help: 'The pod network. Flannel ignores NetworkPolicy: policies you write will not be enforced.' }),
];

export const ADDON_FIELDS: Field[] = [
  selectField(
    {
      'kube-prometheus-stack': 'Prometheus, Alertmanager and Grafana',
      'victoria-metrics': 'VictoriaMetrics with Grafana: lighter on memory',
      none: 'no monitoring',
    },
    { key: 'monitoring', label: 'Monitoring', path: ['spec', 'addons', 'monitoring'], help: 'Metrics and dashboards for the cluster.' }),
  selectField(
    {
      'fluent-bit': 'ship container logs',
      none: 'no log shipping',
    },
    { key: 'logging', label: 'Logging', path: ['spec', 'addons', 'logging'], help: 'Fluent Bit collects every container log.' }),
  selectField(
    {
      stdout: "each collector pod's own output (kubectl logs)",
      loki: 'a Loki endpoint, e.g. http://loki.logging:3100',
      elasticsearch: 'an Elasticsearch endpoint',
      opensearch: 'an OpenSearch endpoint',
      http: 'any HTTP endpoint that takes JSON lines',
      forward: 'a Fluentd/Fluent Bit forward endpoint, e.g. tcp://fluentd.logging:24224',
    },
    {
      key: 'logDestination',
      label: 'Log destination',
      path: ['spec', 'addons', 'logDestination'],
      help: 'Where Fluent Bit sends the logs. No credentials in the spec: use an endpoint the cluster may reach without them.',
      read: (d) => {
        const v = getPath(d, ['spec', 'addons', 'logDestination']) as string | { type?: string } | undefined;
        return typeof v === 'object' && v !== null ? String(v.type ?? '') : String(v ?? 'stdout');
      },
      write: (d, value) => {
        if (value === 'stdout') return setPath(d, ['spec', 'addons', 'logDestination'], 'stdout');
        const url = getPath(d, ['spec', 'addons', 'logDestination', 'url']);
        return setPath(d, ['spec', 'addons', 'logDestination'], { type: value, url: typeof url === 'string' ? url : '' });
      },
    },
  ),
  { key: 'logUrl', label: 'Log endpoint URL', kind: 'text', path: ['spec', 'addons', 'logDestination', 'url'], help: 'http(s)://HOST:PORT for loki, elasticsearch, opensearch and http; tcp:// or tls:// for forward.' },
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

/** The fields a screen asks, for this draft: the bootstrap method's own fields, the log URL only for an endpoint. */
export function screenFields(screen: 'cluster' | 'network' | 'addons', d: SpecInput): Field[] {
  if (screen === 'network') return NETWORK_FIELDS;
  if (screen === 'cluster') return [...CLUSTER_FIELDS, ...(getPath(d, ['spec', 'bootstrap', 'method']) === 'kubeadm' ? KUBEADM_FIELDS : TALOS_FIELDS)];
  const logging = getPath(d, ['spec', 'addons', 'logging']);
  const dest = ADDON_FIELDS.find((f) => f.key === 'logDestination')!.read!(d);
  return ADDON_FIELDS.filter((f) => (f.key !== 'logDestination' && f.key !== 'logUrl') || (logging !== 'none' && (f.key === 'logDestination' || dest !== 'stdout')));
}

/** A field's value as the form shows and edits it. */
export function fieldValue(f: Field, d: SpecInput): string {
  return f.read ? f.read(d) : String(getPath(d, f.path) ?? '');
}

/** The draft with a field set from its edited text: numbers as numbers, an emptied field with a default removed. */
export function writeField(d: SpecInput, f: Field, text: string): SpecInput {
  if (f.write) return f.write(d, text);
  if (text === '' && f.defaultValue !== undefined) return setPath(d, f.path, undefined);
  return setPath(d, f.path, f.numeric ? (text === '' ? '' : Number(text)) : text);
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

export const FORM_SCREENS: ScreenName[] = ['cluster', 'nodes', 'network', 'addons'];

export function title(s: ScreenName): string {
  return {
    broken: 'cannot read the spec',
    resume: 'resume',
    cluster: 'cluster',
    nodes: 'nodes',
    network: 'network',
    addons: 'add-ons',
    review: 'review',
    preflight: 'preflight',
    run: 'run',
    results: 'results',
    next: 'next steps',
  }[s];
}

export function progress(s: ScreenName): string {
  const order: ScreenName[] = ['cluster', 'nodes', 'network', 'addons', 'review', 'preflight', 'run', 'results'];
  const i = order.indexOf(s);
  return i < 0 ? '' : `step ${i + 1} of ${order.length}`;
}

export function keysFor(s: ScreenName): string {
  if (s === 'nodes') return 'Enter next · Esc back · ↑↓ field · ←→ role · ^N worker · ^P control plane · ^X remove · ? help';
  if (FORM_SCREENS.includes(s)) return 'Enter next · Esc back · ↑↓ field · ←→ choose · ? help · q quit (on a choice)';
  if (s === 'review') return 'Enter save and check · s save · m rehearse/for real · ↑↓ scroll · Esc back · ? help · q quit';
  if (s === 'preflight') return 'Enter run · r re-check · i ignore selected · ↑↓ select · Esc back · ? help · q quit';
  if (s === 'run') return 'Ctrl-C stop the running step · q quit · ? help';
  if (s === 'results') return 'Enter next steps · ↑↓ scroll · q quit';
  if (s === 'resume') return 'Enter/y resume · n new · q quit';
  if (s === 'broken') return 'n start fresh · q quit · ? help';
  return 'Enter/Esc finish · q quit';
}

/** The label column: as wide as the screen's longest label, so none is cut ("etcd backup schedule"). */
export function labelWidth(fields: Field[], cols: number, min = 8): number {
  return Math.min(Math.max(min, ...fields.map((f) => f.label.length)), Math.floor(cols / 3));
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

export function dottedPath(p: Path): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out === '' ? k : `.${k}`;
  return out;
}

/** Issues that belong to a screen's fields (or below them). */
export function issuesFor(v: { issues: SpecIssue[] }, prefixes: string[]): SpecIssue[] {
  return v.issues.filter((i) => prefixes.some((p) => i.path === p || i.path.startsWith(`${p}.`) || i.path.startsWith(`${p}[`)));
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
