/**
 * `{{ path }}` placeholders rendered into argv elements. A value is interpolated inside the one element its
 * placeholder appears in: never split, never re-scanned for placeholders, never handed to a shell. Secret
 * values are revealed only into the argv given to exec; the preview shows [redacted].
 */
import { SpecError, type SpecIssue } from '../errors.js';
import { REDACTED, Secret } from '../run/secret.js';

/**
 * `{{ a.b[0].c }}` or `{{ "literal" }}` (a JSON string, for arguments that need braces themselves, such as
 * kubectl go-templates). Anything else between `{{` and `}}` is an error at load time.
 */
const PLACEHOLDER = /\{\{\s*(?:"((?:[^"\\]|\\.)*)"|([^{}"]*?))\s*\}\}/g;
const PATH = /^[A-Za-z_][\w-]*(\.[A-Za-z_0-9][\w-]*|\[\d+\])*$/;

/** Where a template came from, so an error can name the playbook file, step and placeholder. */
export interface RenderSite {
  file?: string;
  stepId?: string;
  /** Display path of the template in the playbook, e.g. steps[1].run[6]. */
  field?: string;
  line?: number;
  column?: number;
  /**
   * Paths under `values.` are filled at run time by earlier steps (capture). At plan time they stay as
   * written instead of failing.
   */
  deferValues?: boolean;
}

export interface RenderedArgv {
  /** For exec only: secrets revealed. */
  argv: string[];
  /** For plans, logs and audit: secrets as [redacted]. */
  preview: string[];
  /** Secret values used, so the caller can register them with the run's redactor. */
  secrets: Secret[];
}

/** Problems with a template's placeholders, found without any vars (load-time check). */
export function checkTemplate(template: string): string[] {
  const problems: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m[1] !== undefined) {
      try {
        JSON.parse(`"${m[1]}"`);
      } catch {
        problems.push(`${m[0]} is not a valid quoted literal`);
      }
    } else if (!PATH.test(m[2]!.trim())) problems.push(`${m[0]} is not a placeholder like {{ spec.endpoint }} or {{ item.address }}`);
  }
  const rest = template.replace(PLACEHOLDER, '');
  if (rest.includes('{{') || rest.includes('}}')) problems.push(`unbalanced "{{" or "}}" in ${JSON.stringify(template)} (write a literal brace pair as {{ "{{" }})`);
  return problems;
}

function splitPath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of p.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) out.push(m[1] !== undefined ? Number(m[1]) : m[2]!);
  return out;
}

type Lookup = { found: true; value: unknown } | { found: false; missing: string; available: string[] };

/** Resolve a dotted path in vars. Own properties only: `constructor` or `__proto__` never resolve to internals. */
export function lookupPath(vars: unknown, p: string): Lookup {
  let cur: unknown = vars;
  const keys = splitPath(p);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const here = keys.slice(0, i + 1).map((x) => (typeof x === 'number' ? `[${x}]` : `.${x}`)).join('').replace(/^\./, '');
    if (Array.isArray(cur)) {
      const idx = typeof k === 'number' ? k : /^\d+$/.test(k) ? Number(k) : NaN;
      if (!(idx >= 0 && idx < cur.length)) return { found: false, missing: here, available: cur.length === 0 ? ['(an empty list)'] : [`[0]..[${cur.length - 1}]`] };
      cur = cur[idx];
    } else if (cur !== null && typeof cur === 'object' && !(cur instanceof Secret)) {
      if (!Object.hasOwn(cur, String(k))) return { found: false, missing: here, available: Object.keys(cur).slice(0, 12) };
      cur = (cur as Record<string, unknown>)[String(k)];
    } else {
      return { found: false, missing: here, available: [] };
    }
  }
  return cur === undefined ? { found: false, missing: p, available: [] } : { found: true, value: cur };
}

class RenderProblem extends Error {}

function valueOf(path: string, value: unknown): { real: string; shown: string; secret?: Secret } {
  if (value instanceof Secret) return { real: value.reveal(), shown: REDACTED, secret: value };
  if (typeof value === 'string') return { real: value, shown: value };
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return { real: String(value), shown: String(value) };
  if (value === null) throw new RenderProblem(`{{ ${path} }} is empty (null); a placeholder needs a value`);
  if (Array.isArray(value)) throw new RenderProblem(`{{ ${path} }} is a list; a placeholder takes one value (pick one, e.g. {{ ${path}[0] }}, or use forEach)`);
  throw new RenderProblem(`{{ ${path} }} is a mapping; a placeholder takes one value (pick a field, e.g. {{ ${path}.name }})`);
}

function issue(site: RenderSite, message: string): SpecIssue {
  const step = site.stepId ? `step "${site.stepId}": ` : '';
  return { file: site.file ?? 'playbook', line: site.line ?? 1, column: site.column ?? 1, path: site.field ?? '', message: `${step}${message}`, severity: 'error' };
}

/** Render one template string. Throws SpecError naming the file, step and placeholder. */
export function renderTemplate(template: string, vars: unknown, site: RenderSite = {}): { value: string; preview: string; secrets: Secret[] } {
  const problems = checkTemplate(template);
  if (problems.length > 0) throw new SpecError(problems.map((p) => issue(site, p)));
  let value = '';
  let preview = '';
  const secrets: Secret[] = [];
  let last = 0;
  // One pass over the template: inserted values are never scanned again, so a value containing "{{ x }}" stays literal.
  for (const m of template.matchAll(PLACEHOLDER)) {
    const lit = template.slice(last, m.index);
    value += lit;
    preview += lit;
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      const s = JSON.parse(`"${m[1]}"`) as string;
      value += s;
      preview += s;
      continue;
    }
    const p = m[2]!.trim();
    const found = lookupPath(vars, p);
    if (!found.found) {
      const runValue = p === 'values' || p.startsWith('values.') || p.startsWith('values[');
      if (site.deferValues && runValue) {
        value += m[0];
        preview += m[0];
        continue;
      }
      if (runValue) throw new SpecError([issue(site, `{{ ${p} }} has no value: the step that captures it did not run in this run (skipped as already done, or finished in an earlier run)`)]);
      const avail = found.available.length > 0 ? ` (there: ${found.available.join(', ')})` : '';
      throw new SpecError([issue(site, `unknown placeholder {{ ${p} }}: nothing at ${found.missing}${avail}`)]);
    }
    try {
      const v = valueOf(p, found.value);
      value += v.real;
      preview += v.shown;
      if (v.secret) secrets.push(v.secret);
    } catch (e) {
      if (e instanceof RenderProblem) throw new SpecError([issue(site, e.message)]);
      throw e;
    }
  }
  value += template.slice(last);
  preview += template.slice(last);
  return { value, preview, secrets };
}

/**
 * Render an argv template: one output element per template element, always. `sites` (optional, one per
 * element) say where each element was written, for errors.
 */
export function renderArgv(template: readonly string[], vars: unknown, site: RenderSite = {}, sites?: readonly RenderSite[]): RenderedArgv {
  const argv: string[] = [];
  const preview: string[] = [];
  const secrets: Secret[] = [];
  const issues: SpecIssue[] = [];
  template.forEach((t, i) => {
    try {
      const r = renderTemplate(t, vars, { ...site, field: site.field !== undefined ? `${site.field}[${i}]` : undefined, ...sites?.[i] });
      argv.push(r.value);
      preview.push(r.preview);
      secrets.push(...r.secrets);
    } catch (e) {
      if (e instanceof SpecError) issues.push(...e.issues);
      else throw e;
    }
  });
  if (issues.length > 0) throw new SpecError(issues);
  return { argv, preview, secrets };
}
