/**
 * A loaded playbook + vars → Steps (src/run/types.ts). Rendering happens twice: at plan time for the preview
 * (so a bad placeholder fails `groundwork plan`, before anything runs) and at run time with the values earlier
 * steps captured.
 *
 * Retries and per-attempt timeouts are handled here, around each process, so Step.retries and Step.timeoutMs
 * stay unset: the engine must not wrap them a second time.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Cancelled, SpecError, ToolError, type SpecIssue } from '../errors.js';
import { Secret } from '../run/secret.js';
import type { Step, StepContext, StepOutcome } from '../run/types.js';
import { displayPath } from '../spec/load.js';
import type { Spec } from '../spec/schema.js';
import type { LoadedPlaybook } from './load.js';
import { lookupPath, renderArgv, renderTemplate, type RenderSite } from './render.js';
import { parseDuration, type Playbook, type PlaybookStep, type When } from './schema.js';

export interface PlaybookStepsOptions {
  /** First retry waits this long, then twice as long each time (capped at 8×). Default 250 ms. */
  backoffMs?: number;
}

type PathKey = string | number;

/**
 * The vars a playbook sees from a spec: `spec` (the spec body: spec.network.cni …), `metadata`, `cluster.name`,
 * `nodes.all`, `nodes.controlPlanes`, `nodes.workers`, `nodes.firstControlPlane`, plus whatever the caller adds
 * (secretsDir, files.*, runDir …).
 */
export function specVars(spec: Spec, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const all = spec.spec.nodes;
  const controlPlanes = all.filter((n) => n.role === 'control-plane');
  return {
    spec: spec.spec,
    metadata: spec.metadata,
    cluster: { name: spec.metadata.name },
    nodes: { all, controlPlanes, workers: all.filter((n) => n.role === 'worker'), firstControlPlane: controlPlanes[0] },
    ...extra,
  };
}

function isWhenTrue(when: When | undefined, vars: unknown): boolean {
  if (when === undefined) return true;
  const p = typeof when === 'string' ? when : when.path;
  const found = lookupPath(vars, p);
  const v = found.found ? found.value : undefined;
  if (typeof when === 'string') return Boolean(v) && !(Array.isArray(v) && v.length === 0);
  if (when.equals !== undefined && v !== when.equals) return false;
  if (when.notEquals !== undefined && v === when.notEquals) return false;
  return when.equals !== undefined || when.notEquals !== undefined ? true : Boolean(v);
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Cancelled());
    const onAbort = () => {
      clearTimeout(t);
      reject(new Cancelled());
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function itemKey(item: unknown, index: number): string {
  if (item && typeof item === 'object' && 'name' in item) {
    const n = (item as { name: unknown }).name;
    if (typeof n === 'string' || typeof n === 'number') return String(n);
  }
  return String(index);
}

/** Steps of a playbook for the given vars. Every problem (unknown placeholders, a bad forEach) at once, as SpecError. */
export function playbookSteps(playbook: LoadedPlaybook | Playbook, vars: Record<string, unknown>, opts: PlaybookStepsOptions = {}): Step[] {
  const file = 'file' in playbook ? playbook.file : `playbooks/${playbook.name}.yaml`;
  const where = 'where' in playbook ? playbook.where : () => ({ line: 1, column: 1 });
  const siteOf = (stepId: string, p: PathKey[], extra: Partial<RenderSite> = {}): RenderSite => ({ file, stepId, field: displayPath(p), ...where(p), ...extra });
  const issues: SpecIssue[] = [];
  const seen = new Set<string>();
  const steps: Step[] = [];

  playbook.steps.forEach((def, si) => {
    let items: unknown[] = [undefined];
    if (def.forEach !== undefined) {
      const found = lookupPath(vars, def.forEach);
      if (!found.found || !Array.isArray(found.value)) {
        const site = siteOf(def.id, ['steps', si, 'forEach']);
        const what = found.found ? `is not a list` : `does not exist${found.available.length ? ` (there: ${found.available.join(', ')})` : ''}`;
        issues.push({ file, line: site.line!, column: site.column!, path: site.field!, message: `step "${def.id}": forEach ${def.forEach} ${what}`, severity: 'error' });
        return;
      }
      items = found.value;
    }
    items.forEach((item, index) => {
      const v = def.forEach !== undefined ? { ...vars, item, index } : vars;
      if (!isWhenTrue(def.when, v)) return;
      const id = def.forEach !== undefined ? `${def.id}:${itemKey(item, index)}` : def.id;
      try {
        steps.push(buildStep(playbook.stage, def, si, id, v, siteOf, opts));
      } catch (e) {
        if (!(e instanceof SpecError)) throw e;
        // The same mistake for every item of a forEach is said once.
        for (const i of e.issues) {
          const key = `${i.line}:${i.column}:${i.message.replace(`"${id}"`, `"${def.id}"`)}`;
          if (!seen.has(key)) issues.push(i);
          seen.add(key);
        }
      }
    });
  });
  if (issues.length > 0) throw new SpecError(issues);
  return steps;
}

function buildStep(
  stage: string,
  def: PlaybookStep,
  si: number,
  id: string,
  vars: Record<string, unknown>,
  siteOf: (stepId: string, p: PathKey[], extra?: Partial<RenderSite>) => RenderSite,
  opts: PlaybookStepsOptions,
): Step {
  const argvSites = (key: 'run' | 'unless', n: number) => Array.from({ length: n }, (_, j) => siteOf(id, ['steps', si, key, j]));
  const plan = { deferValues: true } as const;
  const issues: SpecIssue[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (e instanceof SpecError) issues.push(...e.issues);
      else throw e;
      return undefined;
    }
  };
  // Plan-time rendering: validates every placeholder and gives the preview.
  const title = attempt(() => renderTemplate(def.title, vars, siteOf(id, ['steps', si, 'title'], plan)).preview);
  const run = attempt(() => renderArgv(def.run, vars, plan, argvSites('run', def.run.length).map((s) => ({ ...s, ...plan }))));
  const unless = def.unless ? attempt(() => renderArgv(def.unless!, vars, plan, argvSites('unless', def.unless!.length).map((s) => ({ ...s, ...plan })))) : undefined;
  const creates = def.creates !== undefined ? attempt(() => renderTemplate(def.creates!, vars, siteOf(id, ['steps', si, 'creates'], plan))) : undefined;
  const secret = def.secret !== undefined ? attempt(() => renderTemplate(def.secret!, vars, siteOf(id, ['steps', si, 'secret'], plan))) : undefined;
  if (issues.length > 0) throw new SpecError(issues);

  const timeoutMs = def.timeout !== undefined ? parseDuration(def.timeout) : undefined;
  const retries = def.retries;
  const capture = typeof def.capture === 'string' ? { name: def.capture, secret: false } : def.capture;
  const notes = [
    unless ? `skipped when this succeeds: ${unless.preview.join(' ')}` : undefined,
    creates ? `skipped when ${creates.preview} exists` : undefined,
    timeoutMs !== undefined ? `timeout ${typeof def.timeout === 'number' ? `${def.timeout}ms` : def.timeout} per attempt` : undefined,
    retries > 0 ? `${retries} retr${retries === 1 ? 'y' : 'ies'}` : undefined,
    capture ? `keeps its output as values.${capture.name}${capture.secret ? ' (secret)' : ''}` : undefined,
  ].filter((n): n is string => n !== undefined);
  const files = [...new Set([creates?.preview, secret?.preview].filter((f): f is string => f !== undefined))];

  /** Run-time rendering: the same templates with the values earlier steps captured. */
  const runtime = (ctx: StepContext) => {
    const v = { ...vars, values: ctx.values };
    const r = (key: 'run' | 'unless', t: readonly string[]) => renderArgv(t, v, {}, argvSites(key, t.length));
    // A relative path is relative to the run directory, where the builders write the files steps need.
    const resolveFile = (key: 'creates' | 'secret') =>
      def[key] === undefined ? undefined : path.resolve(ctx.runDir, renderTemplate(def[key]!, v, siteOf(id, ['steps', si, key])).value);
    return { run: r('run', def.run), unless: def.unless ? r('unless', def.unless) : undefined, creates: resolveFile('creates'), secret: resolveFile('secret') };
  };

  const step: Step = {
    id,
    title: title ?? def.title,
    stage,
    ...(def.once ? { once: true } : {}),
    preview: { argv: [run!.preview], ...(files.length ? { files } : {}), ...(notes.length ? { note: notes.join('; ') } : {}) },
    async run(ctx: StepContext): Promise<StepOutcome> {
      const r = runtime(ctx);
      for (const s of r.run.secrets) ctx.redactor.add(s);
      const shown = r.run.preview.join(' ');
      if (ctx.dryRun) return { status: 'skip', summary: `dry run: would run ${shown}` };
      const attempts = retries + 1;
      let result;
      for (let n = 1; ; n++) {
        try {
          result = await ctx.exec(r.run.argv, { timeoutMs, step: id, signal: ctx.signal });
          break;
        } catch (e) {
          // A missing tool or an interrupt won't get better by trying again.
          if (!(e instanceof ToolError) || n >= attempts || ctx.signal.aborted) {
            if (e instanceof ToolError && attempts > 1) throw new ToolError(e.argv, e.exitCode, e.stderrTail, { message: `${e.message} (${n} attempts)`, fix: e.fix });
            throw e;
          }
          ctx.log(`${id}: attempt ${n} of ${attempts} failed (${e.message}); retrying`);
          // A once step (bootstrap) may have taken effect even though the attempt failed (a timeout after the
          // node accepted it): probe again before sending it a second time.
          if (def.once && step.done && (await step.done(ctx))) return { status: 'pass', summary: `${shown}: took effect on attempt ${n} (confirmed by its probe)` };
          await abortableSleep(Math.min((opts.backoffMs ?? 250) * 2 ** (n - 1), (opts.backoffMs ?? 250) * 8), ctx.signal);
        }
      }
      if (r.secret !== undefined) {
        if (!existsSync(r.secret)) {
          return {
            status: 'fail',
            summary: `${shown} succeeded but did not write its secret file ${r.secret}`,
            why: 'later steps need that file, and groundwork must lock it down (0600) and redact its contents',
            fix: `check the playbook step "${def.id}": its secret: path must be the file the command writes`,
          };
        }
        await ctx.registerSecretFile(r.secret);
      }
      if (capture) {
        const out = result.stdout.trim();
        if (capture.secret) {
          ctx.redactor.add(out);
          ctx.values[capture.name] = new Secret(out, capture.name);
        } else ctx.values[capture.name] = out;
      }
      if (r.creates !== undefined && !existsSync(r.creates)) {
        return {
          status: 'warn',
          summary: `${shown} succeeded but ${r.creates} does not exist`,
          why: 'the step will run again next time, because its creates: file is missing',
          fix: `check the playbook step "${def.id}": creates: must name the file the command writes`,
        };
      }
      return { status: 'pass', summary: `ran ${shown}` };
    },
  };
  if (creates || unless) {
    step.done = async (ctx: StepContext): Promise<boolean> => {
      const r = runtime(ctx);
      if (r.creates !== undefined && existsSync(r.creates)) return true;
      if (r.unless) {
        for (const s of r.unless.secrets) ctx.redactor.add(s);
        const probe = await ctx.exec(r.unless.argv, { allowFailure: true, timeoutMs, step: id, signal: ctx.signal });
        return probe.exitCode === 0;
      }
      return false;
    };
  }
  return step;
}

/** Loads a playbook and turns it into Steps: the one call a stage needs. */
export async function stepsFromPlaybookFile(file: string, vars: Record<string, unknown>, opts?: PlaybookStepsOptions): Promise<{ playbook: LoadedPlaybook; steps: Step[] }> {
  const { loadPlaybook } = await import('./load.js');
  const playbook = await loadPlaybook(file);
  return { playbook, steps: playbookSteps(playbook, vars, opts) };
}
