/**
 * The step engine: runs a Plan's stages of Steps, keeps run records, resumes. One way: the engine appends events
 * to the run's log; the run record, results, reports and every renderer are derived from those events.
 * runPlan is four parts: open (records, signal wiring), decide (run/decide.ts, pure), schedule (order,
 * concurrency, timeouts, retries) and close (the 'finished' event, cleanup, the records written).
 *
 * - A finished step (pass/warn/skip) is recorded in state.json after it ends; `--resume` skips it.
 * - A `once` step is recorded in <stateDir>/once.json and never runs again in that state dir.
 * - `done()` probes make steps idempotent: "already done" is a skip, not a re-run.
 * - A failed step stops the plan after its stage (continueOnFail steps let the rest of the stage run).
 * - Abort (Ctrl-C): the running process tree is killed through the signal, state is saved, cleanup hooks run,
 *   the summary says "interrupted" (exit 130).
 * Progress goes to stderr; the results table or the --json report goes to stdout.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Cancelled, ToolError, UserError } from '../errors.js';
import { createExec } from '../exec/index.js';
import { formatDuration } from '../duration.js';
import type { Io } from '../io.js';
import { colorAllowed, colorOn } from '../io.js';
import { RunRecords, ensureRunDir, findResumableRun, mkdirInStateDir, newRunId, type RunFlags, type RunState } from './records.js';
import { buildJunit, buildReport, formatSummary } from './report.js';
import { Redactor, Secret } from './secret.js';
import { EventLog, type RunEvent } from './events.js';
import { Leftovers, sweepLeftovers, type SweepResult } from './leftovers.js';
import { breathe, sleep } from './sleep.js';
import { mapLimit } from './map-limit.js';
import { decideStage, decideStep, stepsToForget } from './decide.js';
import { summarize } from './summary.js';
import { INTERRUPTED_WHILE_RUNNING, pickRenderer, type Renderer, type RendererName } from './renderers.js';
import type { Plan, Result, RunSummary, RunValues, Step, StepContext, StepOutcome } from './types.js';

export interface RunOptions {
  /** The command that runs the plan (setup, preflight, validate, drill); resume only continues the same command. */
  command: string;
  stateDir: string;
  io: Io;
  json?: boolean;
  color?: boolean;
  resume?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Environment for external processes (tests pass their own PATH). */
  env?: Record<string, string | undefined>;
  specFile?: string;
  /**
   * Who draws the run: a name (run/renderers.ts; 'auto': the ink task tree when we may animate, listr2 'simple'
   * otherwise) or the caller's own (the wizard's store).
   */
  renderer?: RendererName | Renderer;
  redactor?: Redactor;
  /** Write the results table (or the JSON report with --json) to stdout. Default true. */
  printResults?: boolean;
  /** Hooks that run after the plan, also on failure and interruption (e.g. delete a test namespace). */
  cleanup?: Array<(ctx: StepContext) => Promise<void>>;
  /** Extra fields for report.json. */
  reportExtra?: Record<string, unknown>;
  /** Where the run ran (RunSummary.ranOn): said in the text summary, report.json and junit.xml. */
  ranOn?: Record<string, string>;
  /** The run chosen by resolveRun (so stage builders could write files into its directory first). */
  run?: ResolvedRun;
  /** The flags that shaped this run, recorded so `--resume` can reuse them (see resumeFlags). */
  flags?: RunFlags;
  /** Values the caller knows before any step runs (rehearse: the lab's kubeconfig); they win over a resumed run's. */
  values?: RunValues;
  /** What the caller's own sweep removed before the run (rehearse sweeps before it starts its lab): reported, not swept again. */
  swept?: SweepResult;
}

export interface ResolvedRun {
  runId: string;
  runDir: string;
  resumed?: RunState;
}

/**
 * Picks the run directory before the plan is built: the newest unfinished run of this command with --resume,
 * a new one otherwise. Stage builders need it to write generated files (configs, values) where steps read them.
 */
export function resolveRun(stateDir: string, command: string, resume: boolean, now: Date = new Date()): ResolvedRun {
  mkdirInStateDir(stateDir, path.join(stateDir, 'runs'));
  const resumed = resume ? findResumableRun(stateDir, command) : undefined;
  if (resume && !resumed) {
    throw new UserError(`nothing to resume in ${stateDir}: no unfinished ${command} run`, {
      exitCode: 2,
      fix: 'run without --resume to start a new run',
    });
  }
  const runId = resumed?.runId ?? newRunId(now);
  const runDir = path.join(stateDir, 'runs', runId);
  // Made here, 0700, before stage builders write into it; a state dir that can't hold it is the operator's to fix.
  ensureRunDir(runDir, stateDir);
  return { runId, runDir, resumed };
}


function hashFile(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** Turns what a step threw into a Result a person can act on (never a raw stack trace). */
export function resultFromError(step: Step, err: unknown, durationMs: number, redactor: Redactor): Result {
  const base = { id: step.id, title: step.title, stage: step.stage, durationMs };
  if (err instanceof UserError)
    return { ...base, status: 'fail', summary: redactor.redact(err.message), why: err.why && redactor.redact(err.why), fix: err.fix && redactor.redact(err.fix) };
  if (err instanceof ToolError)
    return {
      ...base,
      status: 'fail',
      summary: redactor.redact(`${err.message}: ${err.argv.join(' ')}`),
      detail: redactor.redact(err.stderrTail),
      fix: err.fix ? redactor.redact(err.fix) : `fix the cause above, then run again with --resume (finished steps are not repeated)`,
      evidence: { argv: err.argv, exitCode: err.exitCode },
    };
  const e = err instanceof Error ? err : new Error(String(err));
  return { ...base, status: 'fail', summary: redactor.redact(`internal error: ${e.message}`), detail: redactor.redact(e.stack ?? ''), why: 'this is a bug in groundwork' };
}

/** Runs one step with its timeout and retries. Throws Cancelled when the run is aborted. */
export async function executeStep(step: Step, ctx: StepContext): Promise<Result> {
  const attempts = 1 + Math.max(0, step.retries ?? 0);
  const started = Date.now();
  let last: Result | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (ctx.signal.aborted) throw new Cancelled();
    const stepAbort = new AbortController();
    const onRunAbort = () => stepAbort.abort();
    ctx.signal.addEventListener('abort', onRunAbort, { once: true });
    let timedOut = false;
    const timer = step.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stepAbort.abort();
        }, step.timeoutMs)
      : undefined;
    const stepCtx: StepContext = { ...ctx, signal: stepAbort.signal, exec: (argv, o) => ctx.exec(argv, { step: step.id, ...o, signal: o?.signal ? AbortSignal.any([o.signal, stepAbort.signal]) : stepAbort.signal }) };
    try {
      const outcome: StepOutcome = await step.run(stepCtx);
      const r: Result = { id: step.id, title: step.title, stage: step.stage, durationMs: Date.now() - started, ...redactOutcome(outcome, ctx.redactor) };
      if (r.status !== 'fail' || attempt === attempts) return r;
      last = r;
    } catch (err) {
      if (ctx.signal.aborted) throw new Cancelled();
      const r = timedOut
        ? { id: step.id, title: step.title, stage: step.stage, durationMs: Date.now() - started, status: 'fail' as const, summary: `did not finish within ${formatDuration(step.timeoutMs!)} and was stopped`, fix: 'check the node or tool it waits for; then run again with --resume' }
        : resultFromError(step, err, Date.now() - started, ctx.redactor);
      if (attempt === attempts) return r;
      last = r;
    } finally {
      if (timer) clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onRunAbort);
    }
    ctx.log(`${step.id}: attempt ${attempt} of ${attempts} failed (${last.summary}); retrying`);
    await sleep(Math.min(500 * 2 ** (attempt - 1), 5000), ctx.signal);
  }
  return last!;
}

function redactOutcome(o: StepOutcome, r: Redactor): StepOutcome {
  return r.redactDeep(o);
}

/** A run between open and close: its records, its context for steps, its one event log. */
interface OpenRun {
  state: RunState;
  records: RunRecords;
  redactor: Redactor;
  abort: AbortController;
  ctx: StepContext;
  log: EventLog;
  /** A line outside any step's task (retries, cleanup trouble), to stderr unless the renderer owns it. */
  note: (line: string) => void;
  sweep: SweepResult | undefined;
  /** This run's records in leftovers.json (flushed when the run closes). */
  leftovers: Leftovers;
  startedMs: number;
  /** Set once the run saw its signal: nothing more starts. */
  stopped: boolean;
  /** The renderer's ready(), awaited before every step but the first (run/renderers.ts). */
  rendererReady?: Promise<void>;
  /** Steps begun so far. */
  begun: number;
  /** Says the run is interrupted (once, in the log) and stops it. */
  interrupt(): void;
  /** Unhooks the caller's signal. */
  detach(): void;
}

const skipResult = (id: string, title: string, stage: string, summary: string, fix?: string): Result => ({
  id,
  title,
  stage,
  status: 'skip',
  summary,
  ...(fix ? { fix } : {}),
  durationMs: 0,
});

type StepEnd = Extract<RunEvent, { type: 'step-end' }>;

function stepEnd(result: Result, record?: StepEnd['record']): StepEnd {
  return { type: 'step-end', id: result.id, status: result.status, summary: result.summary, durationMs: result.durationMs, result, ...(record ? { record } : {}) };
}

/** Open: the run's state (new or resumed), records, signal wiring, step context; what a killed run left is swept. */
async function openRun(plan: Plan, opts: RunOptions, renderer: Renderer): Promise<OpenRun> {
  const redactor = opts.redactor ?? new Redactor();
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  if (opts.signal) {
    if (opts.signal.aborted) abort.abort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
  }

  let state: RunState;
  const now = new Date();
  const run = opts.run ?? resolveRun(opts.stateDir, opts.command, opts.resume ?? false, now);
  const resumed = run.resumed;
  const specHash = hashFile(opts.specFile);
  if (resumed) {
    state = { ...resumed, status: 'running' };
  } else {
    state = {
      version: 1,
      runId: run.runId,
      command: opts.command,
      planTitle: plan.title,
      specFile: opts.specFile,
      specHash,
      status: 'running',
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.flags ? { flags: opts.flags } : {}),
      startedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      steps: {},
      values: {},
      secretFiles: [],
    };
  }
  Object.assign(state.values, opts.values);
  const records = new RunRecords(opts.stateDir, state, redactor);
  // What an earlier run here could not clean up (a second Ctrl-C, SIGKILL) goes first, and is said.
  const leftovers = new Leftovers(opts.stateDir, state.runId);
  // A resumed run redacts the secrets its earlier attempt created.
  for (const f of state.secretFiles) {
    try {
      redactor.addSecretText(readFileSync(f, 'utf8'));
    } catch {
      /* the file may have been removed; nothing to redact then */
    }
  }

  // Lines outside any step's task go straight to stderr, where progress goes (not while ink owns the terminal
  // or the caller draws progress itself).
  let started = false;
  const note = (line: string) => {
    if (renderer.quiet === 'always' || (renderer.quiet === 'while-drawing' && started)) return;
    opts.io.stderr.write(`${redactor.redact(line)}\n`);
  };
  const ctx: StepContext = {
    runDir: records.runDir,
    stateDir: opts.stateDir,
    signal: abort.signal,
    redactor,
    dryRun: opts.dryRun ?? false,
    exec: createExec({ audit: records, redactor, signal: abort.signal, env: opts.env, leftovers }),
    log: note,
    values: state.values,
    leftovers,
    async registerSecretFile(file: string) {
      const { chmod, readFile } = await import('node:fs/promises');
      await chmod(file, 0o600);
      redactor.addSecretText(await readFile(file, 'utf8'));
      if (!state.secretFiles.includes(file)) state.secretFiles.push(file);
      records.saveState();
    },
  };
  records.saveState();

  // What a killed run left (a join config with its token on a node): removed before anything else runs.
  const sweep = opts.swept ?? (opts.dryRun || abort.signal.aborted ? undefined : await sweepLeftovers(opts.stateDir, ctx.exec, note, { env: opts.env ?? opts.io.env, signal: abort.signal }));

  // An atomic stage that did not finish runs again whole on resume.
  for (const id of stepsToForget(plan, state.steps)) delete state.steps[id];
  if (resumed && specHash && resumed.specHash && resumed.specHash !== specHash) {
    ctx.log(`the spec changed since run ${resumed.runId} started; finished steps are still not repeated`);
  }

  // The run record follows the log: what a step leaves for --resume is written as it ends.
  const log = new EventLog();
  log.subscribe((e) => {
    if (e.type !== 'step-end' || !e.record) return;
    const { status, summary, secretOutputs } = e.record.state;
    state.steps[e.id] = { status, at: new Date().toISOString(), summary, ...(secretOutputs ? { secretOutputs } : {}) };
    if (e.record.once) records.markOnce(e.id, summary);
    records.saveState();
  });
  log.subscribe((e) => renderer.onEvent(e));
  await renderer.start(plan);
  started = true;

  const open: OpenRun = {
    state,
    records,
    redactor,
    abort,
    ctx,
    log,
    note,
    sweep,
    leftovers,
    startedMs: Date.now(),
    stopped: false,
    ...(renderer.ready ? { rendererReady: renderer.ready() } : {}),
    begun: 0,
    interrupt() {
      if (open.stopped) return;
      open.stopped = true;
      log.emit({ type: 'interrupted' });
    },
    detach: () => opts.signal?.removeEventListener('abort', onAbort),
  };
  return open;
}

/** One step: decided, probed, run with its timeout and retries; its end (and what the record keeps) is an event. */
async function scheduleStep(run: OpenRun, step: Step, within: { stopped: boolean }, dryRun: boolean): Promise<Result> {
  const { ctx, redactor, abort, records, state } = run;
  // The first step runs while the renderer loads; the others wait for it, so what is drawn keeps up with the run.
  if (run.begun++ > 0 && run.rendererReady) await run.rendererReady;
  run.log.emit({ type: 'step-start', id: step.id });
  const attempt = async (): Promise<StepEnd> => {
    // Yield now and then, so a signal is seen even in a CPU-bound run of thousands of quick steps.
    await breathe();
    if (abort.signal.aborted) run.interrupt();
    const decision = decideStep(step, {
      stopped: run.stopped,
      stageStopped: within.stopped,
      prev: state.steps[step.id],
      values: ctx.values,
      once: step.once ? records.onceDone(step.id) : undefined,
      dryRun,
      redact: (t) => redactor.redact(t),
    });
    if (!decision.run) return stepEnd(skipResult(step.id, step.title, step.stage, decision.summary));
    const logCtx: StepContext = { ...ctx, log: (line) => run.log.emit({ type: 'step-output', id: step.id, line: redactor.redact(line) }) };
    if (step.done) {
      try {
        if (await step.done(logCtx)) {
          const summary = 'already done (its effect exists), not repeated';
          return stepEnd(skipResult(step.id, step.title, step.stage, summary), { state: { status: 'skip', summary }, once: step.once === true });
        }
      } catch (err) {
        if (abort.signal.aborted) throw new Cancelled();
        return stepEnd(resultFromError(step, err, 0, redactor));
      }
    }
    const before = new Map(Object.entries(ctx.values));
    const r = await executeStep(step, logCtx);
    if (r.status === 'fail') return stepEnd(r, { state: { status: 'fail', summary: r.summary }, once: false });
    const secretOutputs = Object.entries(ctx.values)
      .filter(([k, v]) => v instanceof Secret && before.get(k) !== v)
      .map(([k]) => k);
    return stepEnd(r, { state: { status: r.status, summary: r.summary, ...(secretOutputs.length ? { secretOutputs } : {}) }, once: step.once === true });
  };
  let end: StepEnd;
  try {
    end = await attempt();
  } catch (err) {
    if (err instanceof Cancelled || abort.signal.aborted) {
      run.interrupt();
      end = stepEnd({ id: step.id, title: step.title, stage: step.stage, status: 'fail', summary: INTERRUPTED_WHILE_RUNNING, durationMs: 0 });
    } else end = stepEnd(resultFromError(step, err, 0, redactor));
  }
  run.log.emit(end);
  return end.result;
}

/** Schedule: the stages in order, each decided whole, its steps one at a time or `concurrency` at once. */
async function schedule(plan: Plan, run: OpenRun, dryRun: boolean): Promise<void> {
  /** Plan stages with a failed step: the stages that need them are skipped. */
  const failedStages = new Set<string>();
  for (const [index, stage] of plan.stages.entries()) {
    if (run.abort.signal.aborted) run.interrupt();
    const decision = decideStage(plan, index, { stopped: run.stopped, failedStages });
    if (!decision.run) {
      // Said once per stage, not step by step (an interrupted big plan has thousands).
      run.log.emit({ type: 'stage-skip', stage: stage.name, summary: decision.summary });
      const rs = stage.steps.length > 0 ? stage.steps.map((st) => skipResult(st.id, st.title, st.stage, decision.summary)) : [skipResult(stage.name, stage.title, stage.name, decision.summary, decision.fix)];
      for (const r of rs) run.log.emit(stepEnd(r));
      continue;
    }
    run.log.emit({ type: 'stage-start', stage: stage.name });
    const within = { stopped: false };
    await mapLimit(stage.steps, stage.concurrency || 1, async (step) => {
      const r = await scheduleStep(run, step, within, dryRun);
      if (r.status === 'fail') {
        failedStages.add(stage.name);
        if (!step.continueOnFail) within.stopped = true;
      }
    });
  }
}

/** Close: the 'finished' event, cleanup hooks, then the summary, report.json, junit.xml and state.json from the log. */
async function closeRun(plan: Plan, run: OpenRun, renderer: Renderer, opts: RunOptions): Promise<RunSummary> {
  const { ctx, records, state, redactor } = run;
  if (run.abort.signal.aborted) run.interrupt();
  // The engine says the run is over; a renderer only draws what the events say.
  run.log.emit({ type: 'finished' });
  await renderer.close();
  const stageCleanups = plan.stages.flatMap((st) => (st.cleanup ? [st.cleanup] : []));
  for (const hook of [...stageCleanups, ...(opts.cleanup ?? [])]) {
    try {
      await hook({ ...ctx, signal: new AbortController().signal });
    } catch (err) {
      run.note(`cleanup failed: ${(err as Error).message}`);
    }
  }
  // Clears of exited processes' records wait for a write (run/leftovers.ts): the run ends with its file up to date.
  try {
    run.leftovers.flush();
  } catch (err) {
    run.note(`could not update ${path.join(opts.stateDir, 'leftovers.json')}: ${(err as Error).message}`);
  }
  run.detach();

  const summary = summarize(run.log.events, {
    plan,
    dryRun: opts.dryRun ?? false,
    runId: state.runId,
    runDir: records.runDir,
    startedAt: state.startedAt,
    durationMs: Date.now() - run.startedMs,
    ranOn: opts.ranOn,
  });
  state.status = summary.status;
  records.saveState();
  const report = buildReport(summary, { command: opts.command, plan, sweep: run.sweep, extra: opts.reportExtra });
  records.writeReport(report);
  records.writeJunit(buildJunit(summary, `groundwork ${opts.command}`));
  if (opts.printResults !== false) {
    if (opts.json) opts.io.stdout.write(`${JSON.stringify(redactor.redactDeep(report), null, 2)}\n`);
    else opts.io.stdout.write(redactor.redact(formatSummary(summary, colorOn(opts.io.stdout, colorAllowed(opts.io.env, opts.color)))));
  }
  return summary;
}

export async function runPlan(plan: Plan, opts: RunOptions): Promise<RunSummary> {
  const renderer = typeof opts.renderer === 'object' ? opts.renderer : await pickRenderer(opts.renderer ?? 'auto', opts);
  const run = await openRun(plan, opts, renderer);
  await schedule(plan, run, opts.dryRun ?? false);
  return closeRun(plan, run, renderer, opts);
}
