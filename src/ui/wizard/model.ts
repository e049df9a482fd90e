/**
 * The wizard's data: a draft cluster spec edited screen by screen, the questions each screen asks (every one
 * answered by a spec field or a flag, so `--yes` runs can answer them too), and live validation through the
 * same loader that reads cluster.yaml. Pure: no React, no I/O.
 */
import { isMap, isScalar, isSeq, stringify, type Document } from 'yaml';
import { SpecError, type SpecIssue } from '../../errors.js';
import { parseSpec, parseYaml, type LoadedSpec } from '../../spec/load.js';
import type { SpecInput } from '../../spec/schema.js';
import { analyzeSubnets, type SubnetFinding } from '../../net/subnets.js';
import { defaultDraft, type Path } from './screens.js';

// The questions and defaults live in screens.ts (light, for the first paint); one import serves both.
export * from './screens.js';


/** Where the wizard starts: the draft, the file's text (kept for a save that keeps its comments), or why it cannot be read. */
export interface StartingPoint {
  draft: SpecInput;
  /** The file's text when it parsed: saving edits this document (comments and key order stay). */
  text?: string;
  /** Why the file is no spec at all (YAML syntax, duplicate keys, not a mapping): shown before anything is edited. */
  problems?: SpecIssue[];
}

/**
 * An existing spec file's text as the wizard's starting draft. A file that is no YAML mapping is never opened
 * with defaults in its place: its problems (file, line, field) come back for the wizard to show, and the
 * operator chooses to start fresh. A file that parses opens as it is; its field errors show on their screens.
 */
export function draftFromYaml(text: string, file = 'cluster.yaml'): StartingPoint {
  try {
    const { data } = parseYaml(text, file);
    if (data && typeof data === 'object' && !Array.isArray(data)) return { draft: data as SpecInput, text };
    return { draft: defaultDraft(), problems: [{ file, line: 1, column: 1, path: '', message: 'is not a mapping with apiVersion, kind, metadata and spec (see examples/talos-ha.yaml)', severity: 'error' }] };
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    return { draft: defaultDraft(), problems: e.issues };
  }
}

/**
 * Writes the draft into the parsed document in place: unchanged nodes (and their comments, quoting and key
 * order) stay as they were; changed scalars keep their comments; keys the draft dropped are deleted; new keys
 * are added at the end of their mapping.
 */
function applyDraft(doc: Document, path: Path, value: unknown): void {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (value === undefined) {
    if (path.length > 0 && doc.hasIn(path)) doc.deleteIn(path);
    return;
  }
  const replace = (): void => {
    if (path.length === 0) doc.contents = doc.createNode(value) as typeof doc.contents;
    else doc.setIn(path, doc.createNode(value));
  };
  if (Array.isArray(value)) {
    if (!isSeq(node)) return replace();
    value.forEach((v, i) => {
      if (i < node.items.length) applyDraft(doc, [...path, i], v);
      else node.items.push(doc.createNode(v));
    });
    node.items.length = value.length;
    return;
  }
  if (value !== null && typeof value === 'object') {
    if (!isMap(node)) return replace();
    const obj = value as Record<string, unknown>;
    for (const pair of [...node.items]) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof k !== 'string' || obj[k] === undefined) node.delete(pair.key);
    }
    for (const [k, v] of Object.entries(obj)) if (v !== undefined) applyDraft(doc, [...path, k], v);
    return;
  }
  if (isScalar(node)) {
    if (node.value !== value) node.value = value;
    return;
  }
  replace();
}

/** The text to save: the operator's own file with the draft written into it (comments kept), or a new file. */
export function specText(draft: SpecInput, original?: string): string {
  if (original === undefined) return toYaml(draft);
  const { source } = parseYaml(original, 'cluster.yaml');
  applyDraft(source.doc, [], JSON.parse(JSON.stringify(draft)) as unknown);
  return source.doc.toString();
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
