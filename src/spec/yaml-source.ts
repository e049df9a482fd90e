/**
 * cluster.yaml's text as YAML with positions (parseYaml): syntax errors and duplicate keys as a SpecError with
 * file, line and column, the document kept for locating fields. Needs the yaml package alone (no zod, no
 * schema), so the wizard can open a file before the spec loader is loaded (src/ui/wizard/start.ts).
 */
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isNode, type Document } from 'yaml';
import { SpecError } from '../errors.js';

type PathKey = string | number;

/** `spec.nodes[1].name`: how a path reads in messages. */
export function displayPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out;
}

/** A YAML document with what is needed to turn a data path back into a line and column. */
export interface YamlSource {
  doc: Document;
  lc: LineCounter;
  file: string;
}

/** The data path of the key or value at a source offset (for YAML errors such as a duplicate key). */
function pathAtOffset(doc: Document, offset: number): PathKey[] {
  const out: PathKey[] = [];
  let node: unknown = doc.contents;
  const within = (n: unknown) => isNode(n) && n.range !== undefined && n.range !== null && offset >= n.range[0] && offset < n.range[2];
  for (let depth = 0; depth < 100; depth++) {
    if (isMap(node)) {
      const pair = node.items.find((it) => within(it.key) || within(it.value));
      if (!pair || !isScalar(pair.key)) break;
      out.push(String(pair.key.value));
      if (within(pair.key)) break;
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((it) => within(it));
      if (i < 0) break;
      out.push(i);
      node = node.items[i];
    } else break;
  }
  return out;
}

/**
 * Parse YAML text into plain data, keeping what locate() needs. YAML problems (syntax, duplicate keys, alias
 * bombs, several documents) become a SpecError with positions.
 */
export function parseYaml(text: string, file: string): { data: unknown; source: YamlSource } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // After the first syntax error the parser's further complaints are mostly echoes of it; duplicate keys are independent.
    const firstSyntax = doc.errors.find((e) => e.code !== 'DUPLICATE_KEY');
    const shown = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY' || e === firstSyntax);
    throw new SpecError(
      shown.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        if (e.code === 'DUPLICATE_KEY') {
          const p = pathAtOffset(doc, e.pos[0]);
          return { file, line: pos.line, column: pos.col, path: displayPath(p), message: 'duplicate key: a key may appear only once in a mapping', severity: 'error' as const };
        }
        return { file, line: pos.line, column: pos.col, path: '', message: `YAML syntax error: ${e.message.split('\n')[0]}`, severity: 'error' as const };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: `YAML: ${(e as Error).message.split('\n')[0]}`, severity: 'error' }]);
  }
  return { data, source: { doc, lc, file } };
}
