/**
 * Load playbooks/*.yaml: YAML with positions, the zod schema, then checks a schema can't say (unique step ids,
 * well-formed placeholders). Errors are SpecErrors with file:line:col, like cluster.yaml's.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SpecError, UserError, EXIT, fileError, type SpecIssue } from '../errors.js';
import { displayFile, displayPath, issuesFromZod, locate, parseYaml, sortIssues, type YamlSource } from '../spec/load.js';
import { checkTemplate } from './render.js';
import { Playbook } from './schema.js';

type PathKey = string | number;

export interface LoadedPlaybook extends Playbook {
  file: string;
  /** Line and column of a field in the playbook file, for errors found later (rendering at plan time). */
  where(p: readonly PathKey[]): { line: number; column: number };
}

/** Parse and validate playbook text; `file` is the name used in messages. */
export function parsePlaybook(text: string, file: string): LoadedPlaybook {
  const { data, source } = parseYaml(text, file);
  const { doc, lc } = source;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SpecError([{ file, line: 1, column: 1, path: '', message: 'must be a mapping with name, stage and steps (see playbooks/README.md)', severity: 'error' }]);
  }
  const parsed = Playbook.safeParse(data, { reportInput: true });
  if (!parsed.success) throw new SpecError(issuesFromZod(parsed.error, doc, lc, file));
  const issues = checkPlaybook(parsed.data, source);
  if (issues.length > 0) throw new SpecError(issues);
  const where = (p: readonly PathKey[]) => locate(doc, lc, p);
  return Object.assign(parsed.data, { file, where });
}

function checkPlaybook(pb: Playbook, src: YamlSource): SpecIssue[] {
  const out: SpecIssue[] = [];
  const at = (p: PathKey[], message: string): SpecIssue => ({ file: src.file, ...locate(src.doc, src.lc, p), path: displayPath(p), message, severity: 'error' });
  const seen = new Map<string, number>();
  pb.steps.forEach((s, i) => {
    const prev = seen.get(s.id);
    if (prev !== undefined) out.push(at(['steps', i, 'id'], `duplicate step id "${s.id}" (also steps[${prev}])`));
    else seen.set(s.id, i);
    const templates: [PathKey[], string][] = [
      [['steps', i, 'title'], s.title],
      ...s.run.map((t, j): [PathKey[], string] => [['steps', i, 'run', j], t]),
      ...(s.unless ?? []).map((t, j): [PathKey[], string] => [['steps', i, 'unless', j], t]),
      ...(s.creates !== undefined ? [[['steps', i, 'creates'], s.creates] as [PathKey[], string]] : []),
      ...(s.secret !== undefined ? [[['steps', i, 'secret'], s.secret] as [PathKey[], string]] : []),
    ];
    for (const [p, t] of templates) for (const problem of checkTemplate(t)) out.push(at(p, problem));
    // The program itself comes from the playbook, never from a value: a placeholder there could run anything.
    if (/\{\{/.test(s.run[0]!)) out.push(at(['steps', i, 'run', 0], 'the program (first element) must be written out, not a placeholder'));
    if (s.unless && /\{\{/.test(s.unless[0]!)) out.push(at(['steps', i, 'unless', 0], 'the program (first element) must be written out, not a placeholder'));
  });
  return sortIssues(out);
}

/** Read and validate a playbook file. */
export async function loadPlaybook(file: string): Promise<LoadedPlaybook> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw fileError('the playbook', file, e, { fix: 'reinstall groundwork: its playbooks/ directory is incomplete', exitCode: EXIT.usage });
  }
  return parsePlaybook(text, displayFile(file));
}

/** The playbooks shipped with groundwork (playbooks/ beside src/ and dist/). */
export function builtinPlaybookFile(name: string): string {
  return fileURLToPath(new URL(`../../playbooks/${name}.yaml`, import.meta.url));
}
