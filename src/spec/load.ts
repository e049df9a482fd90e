/**
 * Load cluster.yaml: YAML parsed with positions, validated by zod, semantic checks, defaults filled in.
 * Every problem at once as `file:LINE:COL path: message` (SpecError, exit 2). Never throws anything else
 * for any input text (a property test holds it to that).
 *
 * The YAML and zod plumbing here (parseYaml, locate, issuesFromZod, validateYaml) is shared with the playbook
 * loader, so every input file groundwork reads reports errors the same way.
 */
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, isScalar, isPair, isNode, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { SpecError, UserError, EXIT, fileError, type SpecIssue } from '../errors.js';
import { ClusterSpec, MAX_NODES, type Spec } from './schema.js';
export { MAX_NODES };
import { checkSemantics } from './semantic.js';
import { displayPath, parseYaml, type YamlSource } from './yaml-source.js';
export { displayPath, parseYaml, type YamlSource };

export interface LoadedSpec {
  spec: Spec;
  file: string;
  warnings: SpecIssue[];
}

type PathKey = string | number;

function isEmptyScalar(n: unknown): boolean {
  return isScalar(n) && n.value === null && (n.source === undefined || n.source === '' || n.source === '~' || n.source === 'null') && (n.range?.[0] === n.range?.[1]);
}

/**
 * Position for a data path. A value that exists: the value itself (an empty value: its key). A field that is
 * missing: the key of its nearest existing parent, so "spec.bootstrap.method: is required" points at `bootstrap:`.
 * `preferKey`: the key itself (unknown fields).
 */
export function locate(doc: Document, lc: LineCounter, p: readonly PathKey[], preferKey = false): { line: number; column: number } {
  let node: unknown = doc.contents;
  let best: YamlNode | undefined = isNode(node) ? node : undefined;
  let lastKey: YamlNode | undefined;
  for (let i = 0; i < p.length; i++) {
    const k = p[i]!;
    const last = i === p.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(k));
      if (!pair) {
        best = lastKey ?? best;
        break;
      }
      const keyNode = isNode(pair.key) ? pair.key : undefined;
      if (last && preferKey && keyNode) {
        best = keyNode;
        break;
      }
      node = pair.value;
      lastKey = keyNode;
      best = isNode(node) && !isEmptyScalar(node) ? node : (keyNode ?? best);
    } else if (isSeq(node)) {
      const item = node.items[Number(k)];
      if (!isNode(item)) {
        best = lastKey ?? best;
        break;
      }
      node = item;
      best = item;
      lastKey = undefined;
    } else break;
  }
  const offset = best?.range?.[0] ?? 0;
  const pos = lc.linePos(offset);
  return { line: pos.line, column: pos.col };
}

// ---- zod issues in the operator's words -------------------------------------------------------------------

function describe(v: unknown): string {
  if (v === null) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

const NOUN: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
};

function literal(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Zod's own messages start like this; custom messages from the schema are kept as written. */
const ZOD_DEFAULT = /^(Invalid|Too (small|big))/;

function friendly(iss: z.core.$ZodIssue): string {
  const input = (iss as { input?: unknown }).input;
  if (input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value')) return 'is required';
  if (!ZOD_DEFAULT.test(iss.message)) return iss.message;
  switch (iss.code) {
    case 'invalid_type': {
      const noun = NOUN[iss.expected] ?? iss.expected;
      if (input === undefined) return 'is required';
      if (input === null) return `is empty; it must be ${noun}`;
      if (iss.expected === 'int' && typeof input === 'number') return `must be a whole number, got ${input}`;
      return `must be ${noun}, got ${describe(input)}`;
    }
    case 'invalid_value':
      if (iss.values.length === 1) return `must be ${literal(iss.values[0])}, got ${describe(input)}`;
      return `${describe(input)} is not one of ${iss.values.map(String).join(', ')}`;
    case 'too_small':
    case 'too_big': {
      const small = iss.code === 'too_small';
      const bound = small ? (iss as { minimum: number | bigint }).minimum : (iss as { maximum: number | bigint }).maximum;
      const inclusive = iss.inclusive !== false;
      if (iss.origin === 'array') return `must have ${small ? 'at least' : 'at most'} ${bound} item${Number(bound) === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return `must be ${small ? 'at least' : 'at most'} ${bound} character${Number(bound) === 1 ? '' : 's'} long`;
      const word = small ? (inclusive ? 'at least' : 'greater than') : inclusive ? 'at most' : 'less than';
      return `must be ${word} ${bound}, got ${describe(input)}`;
    }
    case 'invalid_format':
      return `${describe(input)} is not a valid ${iss.format}`;
    case 'invalid_key':
      // A record key that failed its own schema (a label key): that schema's words.
      return iss.issues[0] && !ZOD_DEFAULT.test(iss.issues[0].message) ? iss.issues[0].message : `${describe(input)} is not a valid key`;
    default:
      return iss.message.replace(/^Invalid input: /, '');
  }
}

/** "a, b or c" */
function joinOr(xs: string[]): string {
  return xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

/** A union branch that failed only because the value had another type altogether. */
function isTypeMismatch(branch: readonly z.core.$ZodIssue[]): boolean {
  return branch.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'));
}

function expectedOf(branch: readonly z.core.$ZodIssue[]): string[] {
  return branch.map((i) => (i.code === 'invalid_type' ? (NOUN[i.expected] ?? i.expected) : i.code === 'invalid_value' ? i.values.map(literal).join(' or ') : '?'));
}

function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PathKey[] = []): { path: PathKey[]; iss: z.core.$ZodIssue; message?: string }[] {
  const out: { path: PathKey[]; iss: z.core.$ZodIssue; message?: string }[] = [];
  for (const iss of issues) {
    const p = [...prefix, ...iss.path.filter((k): k is string | number => typeof k !== 'symbol')];
    if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      // Report the branch the operator evidently meant (the one whose shape matched); if none matched, list the shapes.
      const meant = iss.errors.find((b) => !isTypeMismatch(b));
      if (meant) out.push(...flattenIssues(meant, p));
      else {
        const input = (iss as { input?: unknown }).input;
        const message = input === undefined ? 'is required' : `must be ${joinOr(iss.errors.flatMap(expectedOf))}, got ${describe(input)}`;
        out.push({ path: p, iss, message });
      }
      continue;
    }
    out.push({ path: p, iss });
  }
  return out;
}

export function issuesFromZod(error: z.ZodError, doc: Document, lc: LineCounter, file: string): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const { path: p, iss, message } of flattenIssues(error.issues)) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) {
        const at = locate(doc, lc, [...p, key], true);
        out.push({ file, ...at, path: displayPath([...p, key]), message: `unknown field "${key}"`, severity: 'error' });
      }
      continue;
    }
    out.push({ file, ...locate(doc, lc, p, iss.code === 'invalid_key'), path: displayPath(p), message: message ?? friendly(iss), severity: 'error' });
  }
  return sortIssues(out);
}

export function sortIssues(issues: SpecIssue[]): SpecIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

/** A spec of MAX_NODES nodes is well under 1 MiB; anything far larger is not a cluster spec. */
export const MAX_SPEC_BYTES = 4 * 1024 * 1024;

/** Parse and validate spec text. `file` is the name used in messages. */
export function parseSpec(text: string, file: string): LoadedSpec {
  const { data, source } = parseYaml(text, file);
  const { doc, lc } = source;
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: 'must be a mapping with apiVersion, kind, metadata and spec (see examples/talos-ha.yaml)', severity: 'error' }]);
  }
  // Before any per-node work: a spec far beyond the cap is refused at once, pointing at the first node too many.
  const nodes = (data as { spec?: { nodes?: unknown } }).spec?.nodes;
  if (Array.isArray(nodes) && nodes.length > MAX_NODES) {
    const at = locate(doc, lc, ['spec', 'nodes', MAX_NODES]);
    throw new SpecError([
      { file, ...at, path: `spec.nodes[${MAX_NODES}]`, message: `${nodes.length.toLocaleString('en-US')} nodes: groundwork plans clusters of at most ${MAX_NODES.toLocaleString('en-US')} nodes`, severity: 'error' },
    ]);
  }
  const parsed = ClusterSpec.safeParse(data, { reportInput: true });
  const structural = parsed.success ? [] : issuesFromZod(parsed.error, doc, lc, file);
  // Semantic checks run on the raw data too, so a duplicate node name shows up beside a bad CIDR, not after it is fixed.
  const semantic = checkSemantics(parsed.success ? parsed.data : data)
    .filter((s) => !structural.some((e) => displayPath(s.path).startsWith(e.path) && e.path !== ''))
    .map((s) => ({ file, ...locate(doc, lc, s.path), path: displayPath(s.path), message: s.message, severity: s.severity }));
  const errors = sortIssues([...structural, ...semantic.filter((s) => s.severity === 'error')]);
  if (errors.length > 0 || !parsed.success) throw new SpecError(errors);
  return { spec: parsed.data, file, warnings: semantic.filter((s) => s.severity === 'warning') };
}

/** The file as messages name it: relative to the working directory when it is below it, else as given. */
export function displayFile(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Read and validate a spec file. A missing file is a usage error naming the -f flag. */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await readRegularFile(file, MAX_SPEC_BYTES);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw fileError('the cluster spec', file, e, {
      fix: 'pass a spec with -f FILE (see examples/talos-ha.yaml), or run `groundwork` in a terminal to write one with the wizard',
    });
  }
  return parseSpec(text, displayFile(file));
}

/**
 * Reads a file that must be a regular file of at most `maxBytes`. Opened non-blocking and checked with fstat
 * before any read: a FIFO, a device or a socket given as a spec would block a read forever (and with it Ctrl-C),
 * so they are refused as usage errors.
 */
export async function readRegularFile(file: string, maxBytes: number, what = 'the cluster spec'): Promise<string> {
  const fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  try {
    const st = await fh.stat();
    // A directory reads as EISDIR everywhere else: the same words (fileError) for the same mistake.
    if (st.isDirectory()) throw Object.assign(new Error(`${file} is a directory`), { code: 'EISDIR', path: file });
    if (!st.isFile()) {
      const kind = st.isFIFO() ? 'a named pipe (FIFO)' : st.isSocket() ? 'a socket' : 'a device';
      throw new UserError(`cannot read ${what} ${file}: it is ${kind}, not a file`, {
        exitCode: EXIT.usage,
        fix: 'pass it as a regular file (write it to a file first if it comes from another program)',
      });
    }
    if (st.size > maxBytes) {
      throw new UserError(`cannot read ${what} ${file}: it is ${(st.size / 1024 / 1024).toFixed(1)} MiB, larger than any cluster spec (at most ${maxBytes / 1024 / 1024} MiB)`, {
        exitCode: EXIT.usage,
        fix: 'pass the cluster spec with -f FILE',
      });
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
