/**
 * Load cluster.yaml: YAML parsed with positions, validated by zod, semantic checks, defaults filled in.
 * Every problem at once as `file:LINE:COL path: message` (SpecError, exit 2). Never throws anything else
 * for any input text (a property test holds it to that).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, isPair, isNode, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { SpecError, UserError, EXIT, type SpecIssue } from '../errors.js';
import { ClusterSpec, type Spec } from './schema.js';
import { checkSemantics } from './semantic.js';

export interface LoadedSpec {
  spec: Spec;
  file: string;
  warnings: SpecIssue[];
}

type PathKey = string | number;

function displayPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out;
}

/** Position of the deepest node that exists along `p`; for a key, the key itself. */
export function locate(doc: Document, lc: LineCounter, p: readonly PathKey[], preferKey = false): { line: number; column: number } {
  let node: unknown = doc.contents;
  let best: YamlNode | undefined = isNode(node) ? node : undefined;
  for (let i = 0; i < p.length; i++) {
    const k = p[i]!;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(k));
      if (!pair) break;
      const last = i === p.length - 1;
      if (last && preferKey && isNode(pair.key)) {
        best = pair.key;
        break;
      }
      node = pair.value;
      if (isNode(node)) best = node;
      else if (isNode(pair.key)) best = pair.key;
    } else if (node && typeof node === 'object' && 'items' in node && Array.isArray((node as { items: unknown[] }).items)) {
      const item = (node as { items: unknown[] }).items[Number(k)];
      if (!isNode(item)) break;
      node = item;
      best = item;
    } else break;
  }
  const offset = best?.range?.[0] ?? 0;
  const pos = lc.linePos(offset);
  return { line: pos.line, column: pos.col };
}

export function issuesFromZod(error: z.ZodError, doc: Document, lc: LineCounter, file: string): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const iss of error.issues) {
    const p = iss.path.filter((k): k is string | number => typeof k !== 'symbol');
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) {
        const at = locate(doc, lc, [...p, key], true);
        out.push({ file, ...at, path: displayPath([...p, key]), message: `unknown field "${key}"`, severity: 'error' });
      }
      continue;
    }
    let message = iss.message;
    if (iss.code === 'invalid_type' && (iss as { input?: unknown }).input === undefined) message = 'is required';
    else if (iss.code === 'invalid_type') message = `${message.replace(/^Invalid input: /, '')}`;
    out.push({ file, ...locate(doc, lc, p), path: displayPath(p), message, severity: 'error' });
  }
  return out;
}

/** Parse and validate spec text. `file` is the name used in messages. */
export function parseSpec(text: string, file: string): LoadedSpec {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SpecError(
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}`, severity: 'error' as const };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: `YAML: ${(e as Error).message}`, severity: 'error' }]);
  }
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: 'must be a mapping with apiVersion, kind, metadata and spec', severity: 'error' }]);
  }
  const parsed = ClusterSpec.safeParse(data);
  if (!parsed.success) throw new SpecError(issuesFromZod(parsed.error, doc, lc, file));
  const semantic = checkSemantics(parsed.data).map((s) => ({ file, ...locate(doc, lc, s.path), path: displayPath(s.path), message: s.message, severity: s.severity }));
  const errors = semantic.filter((s) => s.severity === 'error');
  if (errors.length > 0) throw new SpecError(errors);
  return { spec: parsed.data, file, warnings: semantic.filter((s) => s.severity === 'warning') };
}

/** Read and validate a spec file. A missing file is a usage error naming the -f flag. */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read the cluster spec ${file}${code === 'ENOENT' ? ': no such file' : `: ${code ?? (e as Error).message}`}`, {
      exitCode: EXIT.usage,
      fix: 'pass a spec with -f FILE (see examples/talos-ha.yaml), or run `groundwork` in a terminal to write one with the wizard',
    });
  }
  return parseSpec(text, path.relative(process.cwd(), file) || file);
}
