/**
 * `groundwork explain netpol FILE`: every NetworkPolicy in a (multi-document) YAML file, also inside `kind: List`
 * as `kubectl get netpol -o yaml` prints them, in plain logic with the classic-mistake warnings. The words come
 * from src/net/netpol-explain.ts, which shares its semantics with the evaluator the lab enforces with.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseAllDocuments } from 'yaml';
import { SpecError, UserError, fileError, type SpecIssue } from '../errors.js';
import type { Io } from '../io.js';
import type { NetworkPolicy } from '../net/netpol.js';
import { describeSelector, explainPolicy, explainUnion } from '../net/netpol-explain.js';

export interface ExplainedPolicy {
  name: string;
  namespace: string;
  /** Line of the document (or list) the policy came from. */
  line: number;
  logic: string[];
  warnings: string[];
  /** On the last of several policies selecting the same pods: what they allow together. */
  together?: string;
}

/** The NetworkPolicies in YAML text; parse errors and non-policies are reported with their line. */
export function explainNetpolText(text: string, file = '<input>'): { policies: ExplainedPolicy[]; skipped: string[] } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc });
  const issues: SpecIssue[] = [];
  const policies: ExplainedPolicy[] = [];
  const found: NetworkPolicy[] = [];
  const skipped: string[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const contents = doc.contents as { range?: [number, number, number] } | null;
    const start = lc.linePos(contents?.range?.[0] ?? doc.range?.[0] ?? 0);
    for (const e of doc.errors) {
      const pos = lc.linePos(e.pos[0]);
      issues.push({ file, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0]!, severity: 'error' });
    }
    if (doc.errors.length) continue;
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const list = isList(value);
    const items = list ? (value as { items?: unknown[] }).items ?? [] : [value];
    const itemNodes = list ? ((doc.get('items', true) as { items?: { range?: [number, number, number] }[] } | undefined)?.items ?? []) : [];
    for (const [idx, item] of items.entries()) {
      const at = itemNodes[idx]?.range ? lc.linePos(itemNodes[idx]!.range![0]) : start;
      const o = item as Partial<NetworkPolicy> & { kind?: string; apiVersion?: string };
      if (!o || typeof o !== 'object' || o.kind !== 'NetworkPolicy') {
        skipped.push(`${file}:${at.line}: ${o && typeof o === 'object' ? `${o.kind ?? 'object without kind'} ${(o.metadata as { name?: string } | undefined)?.name ?? ''}`.trim() : 'not an object'} (not a NetworkPolicy)`);
        continue;
      }
      if (!o.metadata?.name || !o.spec || typeof o.spec !== 'object') {
        issues.push({ file, line: at.line, column: at.col, path: o.metadata?.name ? 'spec' : 'metadata.name', message: 'a NetworkPolicy needs metadata.name and spec', severity: 'error' });
        continue;
      }
      found.push(o as NetworkPolicy);
      policies.push({
        name: o.metadata.name,
        namespace: o.metadata.namespace ?? 'default',
        line: at.line,
        logic: [],
        warnings: [],
      });
    }
  }
  if (issues.length) throw new SpecError(issues);
  // Words need the whole file: a policy's DNS may come from another one selecting the same pods.
  found.forEach((p, i) => {
    const lines = explainPolicy(p, found);
    policies[i]!.logic = lines.filter((l) => !l.startsWith('warning: '));
    policies[i]!.warnings = lines.filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length));
  });
  const groups = new Map<string, number[]>();
  found.forEach((p, i) => {
    const key = `${p.metadata.namespace ?? 'default'}\u0000${describeSelector(p.spec.podSelector)}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const idx of groups.values()) if (idx.length > 1) policies[idx[idx.length - 1]!]!.together = explainUnion(idx.map((i) => found[i]!));
  return { policies, skipped };
}

function isList(v: unknown): boolean {
  const k = (v as { kind?: unknown }).kind;
  return typeof k === 'string' && (k === 'List' || k.endsWith('List')) && Array.isArray((v as { items?: unknown }).items);
}

/** The text form: the first line unindented, the rest indented, a blank line between policies. */
export function formatExplained(policies: ExplainedPolicy[]): string {
  return policies.map((p) => [p.logic[0]!, ...p.logic.slice(1).map((l) => `  ${l}`), ...p.warnings.map((w) => `  warning: ${w}`), ...(p.together ? ['', p.together] : [])].join('\n')).join('\n\n');
}

async function readStdin(io: Io): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Prints the explanation; 0 when at least one policy was explained. */
export async function explainNetpolFile(file: string, o: { io: Io; json?: boolean }): Promise<number> {
  let text: string;
  try {
    text = file === '-' ? await readStdin(o.io) : await readFile(file, 'utf8');
  } catch (e) {
    throw fileError('the NetworkPolicy file', file, e, { fix: 'pass a YAML file with NetworkPolicies (or - for stdin)' });
  }
  const { policies, skipped } = explainNetpolText(text, file === '-' ? '<stdin>' : file);
  for (const s of skipped) o.io.stderr.write(`skipped ${s}\n`);
  if (policies.length === 0) throw new UserError(`no NetworkPolicy in ${file}`, { exitCode: 2, fix: 'the file needs documents with kind: NetworkPolicy (or a List of them)' });
  if (o.json) o.io.stdout.write(`${JSON.stringify(policies, null, 2)}\n`);
  else o.io.stdout.write(`${formatExplained(policies)}\n`);
  return 0;
}
