/**
 * The step engine: runs a Plan's stages of Steps through listr2, keeps run records, resumes.
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
import { colorAllowed, colorOn, mayAnimate } from '../io.js';
import { RunRecords, ensureRunDir, findResumableRun, mkdirInStateDir, newRunId, type RunFlags, type RunState } from './records.js';
import { buildJunit, formatSummary } from './report.js';
import { Redactor, Secret } from './secret.js';
import { RunStore, type RunEvent } from './events.js';
import { Leftovers, sweepLeftovers } from './leftovers.js';
import { breathe, sleep } from './sleep.js';
import type { Plan, Result, RunSummary, Step, StepContext, StepOutcome } from './types.js';

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
  /** 'auto': the ink task tree when we may animate (TTY, not CI, not --json), listr2 'simple' otherwise. */
  renderer?: 'auto' | 'ink' | 'default' | 'simple' | 'verbose' | 'silent';
  /** Progress events, for renderers and tests. */
  onEvent?: (e: RunEvent) => void;
  /** Hands over the progress store as soon as the plan is known (the wizard draws it itself). */
  onStore?: (store: RunStore) => void;
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

/** Colour only on a terminal, and never with --no-color or NO_COLOR. */
function colorFor(opts: RunOptions, stream: { isTTY?: boolean }): boolean {
  return colorOn(stream, colorAllowed(opts.io.env, opts.color));
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
    const stepCtx: StepContext = { ...ctx, signal: stepAbort.signal, exec: (argv, o) => ctx.exec(argv, { step: step.id, ...o, signal: stepAbort.signal }) };
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

type ListrTask = { title: string; output: string; skip(msg?: string): void };

export async function runPlan(plan: Plan, opts: RunOptions): Promise<RunSummary> {
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

  // Lines outside any step's task (retries, cleanup trouble): straight to stderr, where progress goes.
  // (Not while ink owns the terminal or the caller draws progress itself.)
  let quiet = opts.renderer === 'silent';
  const note = (line: string) => {
    if (!quiet) opts.io.stderr.write(`${redactor.redact(line)}\n`);
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
  const sweep = opts.dryRun || abort.signal.aborted ? undefined : await sweepLeftovers(opts.stateDir, ctx.exec, note, { env: opts.env ?? opts.io.env, signal: abort.signal });

  const results: Result[] = [];
  /** Set by an interruption: nothing more runs. */
  let stopped = false;
  let interrupted = false;
  /** Plan stages with a failed step: the stages that need them are skipped. */
  const failedStages = new Set<string>();
  /** Tasks already shown as skipped (so a skip is said once). */
  const skippedTasks = new WeakSet<object>();
  const startedMs = Date.now();

  // An atomic stage that did not finish runs again whole on resume.
  for (const stage of plan.stages) {
    if (!stage.atomic) continue;
    const finished = stage.steps.every((st) => state.steps[st.id] && state.steps[st.id]!.status !== 'fail');
    if (!finished) for (const st of stage.steps) delete state.steps[st.id];
  }

  if (resumed && specHash && resumed.specHash && resumed.specHash !== specHash) {
    ctx.log(`the spec changed since run ${resumed.runId} started; finished steps are still not repeated`);
  }

  const runOne = async (step: Step, task: ListrTask | undefined, within: { stopped: boolean }): Promise<Result> => {
    const skip = (summary: string): Result => {
      if (task) {
        task.skip(`${step.title}: ${summary}`);
        skippedTasks.add(task);
      }
      return { id: step.id, title: step.title, stage: step.stage, status: 'skip', summary, durationMs: 0 };
    };
    // Yield now and then, so a signal is seen even in a CPU-bound run of thousands of quick steps.
    await breathe();
    if (abort.signal.aborted) interrupted = stopped = true;
    if (stopped) return skip('not run: interrupted');
    if (within.stopped) return skip('not run: an earlier step failed');
    const prev = state.steps[step.id];
    const mustRedo = prev?.secretOutputs?.some((k) => !(k in ctx.values)) && !step.once;
    if (prev && prev.status !== 'fail' && !mustRedo) return skip(`finished in an earlier attempt (${prev.summary})`);
    const once = step.once ? records.onceDone(step.id) : undefined;
    if (once) return skip(`done once already in run ${once.runId}; never repeated`);
    if (opts.dryRun) {
      const argv = step.preview?.argv?.map((a) => a.join(' ')).join('; ');
      return skip(`dry run${argv ? `: would run ${redactor.redact(argv)}` : ''}`);
    }
    const logCtx: StepContext = task
      ? { ...ctx, log: (line) => {
            const l = redactor.redact(line);
            task.output = l;
            emit({ type: 'step-output', id: step.id, line: l });
          } }
      : ctx;
    if (step.done) {
      try {
        if (await step.done(logCtx)) {
          const r = skip('already done (its effect exists), not repeated');
          state.steps[step.id] = { status: 'skip', at: new Date().toISOString(), summary: r.summary };
          if (step.once) records.markOnce(step.id, r.summary);
          records.saveState();
          return r;
        }
      } catch (err) {
        if (abort.signal.aborted) throw new Cancelled();
        return resultFromError(step, err, 0, redactor);
      }
    }
    const before = new Map(Object.entries(ctx.values));
    const r = await executeStep(step, logCtx);
    if (r.status !== 'fail') {
      const secretOutputs = Object.entries(ctx.values)
        .filter(([k, v]) => v instanceof Secret && before.get(k) !== v)
        .map(([k]) => k);
      state.steps[step.id] = { status: r.status, at: new Date().toISOString(), summary: r.summary, ...(secretOutputs.length ? { secretOutputs } : {}) };
      if (step.once) records.markOnce(step.id, r.summary);
    } else {
      state.steps[step.id] = { status: 'fail', at: new Date().toISOString(), summary: r.summary };
    }
    records.saveState();
    return r;
  };

  const rendererChoice = opts.renderer ?? 'auto';
  const useInk = rendererChoice === 'ink' || (rendererChoice === 'auto' && mayAnimate(opts.io) && !opts.json);
  const renderer = useInk ? 'silent' : rendererChoice === 'auto' ? 'simple' : rendererChoice;
  quiet ||= useInk;
  const store = new RunStore({
    title: plan.title,
    stages: plan.stages.map((st) => ({ name: st.name, title: st.title, steps: st.steps.map((x) => ({ id: x.id, title: x.title, stage: st.name, state: 'pending' as const })) })),
    finished: false,
  });
  const emit = (e: RunEvent) => {
    store.apply(e);
    opts.onEvent?.(e);
  };
  opts.onStore?.(store);
  let unmount: (() => Promise<void>) | undefined;
  if (useInk) {
    const { mountTaskTree } = await import('../ui/task-tree.js');
    unmount = mountTaskTree(store, opts.io.stderr as NodeJS.WriteStream, colorFor(opts, opts.io.stderr));
  }

  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const out = opts.io.stderr as NodeJS.WriteStream;
  // Icons unless colour is off by the caller's word (--no-color, or a caller that decided no colour here).
  const logger = new ListrLogger({ processOutput: new ProcessOutput(out, out), useIcons: opts.color !== false });

  type ParentTask = { title: string; skip(msg?: string): void; newListr: (tasks: unknown[], o: unknown) => unknown };
  const skipResult = (id: string, title: string, stage: string, summary: string, fix?: string): Result => ({
    id,
    title,
    stage,
    status: 'skip',
    summary,
    ...(fix ? { fix } : {}),
    durationMs: 0,
  });

  const stageTasks = plan.stages.map((stage, index) => ({
    title: stage.title,
    task: (_: unknown, stageTask: ParentTask) => {
      if (abort.signal.aborted) interrupted = stopped = true;
      // Interrupted: the rest is said once per stage, not drawn step by step (thousands of steps in a big plan).
      // A stage runs unless a stage it needs failed (by default: any earlier stage), or it cannot run here.
      const earlier = new Set(plan.stages.slice(0, index).map((x) => x.name));
      const blockers = [...failedStages].filter((n) => earlier.has(n) && (stage.needs === undefined || stage.needs.includes(n)));
      const whole = stopped
        ? { summary: 'not run: interrupted' }
        : blockers.length > 0
          ? { summary: `not run: it needs stage ${blockers.join(', ')}, which failed` }
          : stage.unavailable
            ? { summary: `cannot run here: ${stage.unavailable.reason}`, fix: stage.unavailable.fix }
            : undefined;
      if (whole) {
        const rs = stage.steps.length > 0 ? stage.steps.map((st) => skipResult(st.id, st.title, st.stage, whole.summary)) : [skipResult(stage.name, stage.title, stage.name, whole.summary, whole.fix)];
        for (const r of rs) {
          results.push(r);
          emit({ type: 'step-end', id: r.id, status: 'skip', summary: r.summary, durationMs: 0 });
        }
        stageTask.skip(whole.summary);
        return undefined;
      }
      const within = { stopped: false };
      const mine: Result[] = [];
      const steps = stage.steps.map((step) => ({
        title: step.title,
        task: async (_c: unknown, task: ListrTask) => {
          let r: Result;
          emit({ type: 'step-start', id: step.id });
          try {
            r = await runOne(step, task, within);
          } catch (err) {
            if (err instanceof Cancelled || abort.signal.aborted) {
              interrupted = true;
              stopped = true;
              r = { id: step.id, title: step.title, stage: step.stage, status: 'fail', summary: 'interrupted while running', durationMs: 0 };
              results.push(r);
              mine.push(r);
              emit({ type: 'step-end', id: step.id, status: 'fail', summary: r.summary, durationMs: 0 });
              throw new Error(`${step.title}: interrupted`);
            }
            r = resultFromError(step, err, 0, redactor);
          }
          results.push(r);
          mine.push(r);
          emit({ type: 'step-end', id: step.id, status: r.status, summary: r.summary, durationMs: r.durationMs });
          if (r.status === 'fail') {
            failedStages.add(stage.name);
            if (!step.continueOnFail) within.stopped = true;
            throw new Error(`${step.title}: ${r.summary}`);
          }
          if (r.status === 'warn') task.title = `${step.title} (warning: ${r.summary})`;
          else if (r.status === 'pass') task.title = `${step.title}: ${r.summary}`;
          // A step that says skip is shown as skipped, never with a tick (runOne's own skips already are).
          else if (r.status === 'skip' && !skippedTasks.has(task)) task.skip(`${step.title}: ${r.summary}`);
        },
      }));
      // After the steps: a stage whose every step was skipped is shown as skipped, not ticked. (An untitled
      // subtask is not drawn; skipping the parent before it completes keeps its tick away.)
      const closer = {
        task: () => {
          if (mine.length > 0 && mine.every((r) => r.status === 'skip')) {
            const reasons = [...new Set(mine.map((r) => r.summary))];
            stageTask.skip(reasons.length === 1 ? reasons[0] : 'every step skipped');
          }
        },
      };
      const body = stage.concurrency ? [{ task: (_c: unknown, t: ParentTask) => t.newListr(steps, { concurrent: stage.concurrency, exitOnError: false }) }] : steps;
      return stageTask.newListr([...body, closer], { concurrent: false, exitOnError: false });
    },
  }));
  const guarded = stageTasks;

  const list = new Listr(guarded as never, {
    concurrent: false,
    exitOnError: false,
    registerSignalListeners: false,
    renderer: renderer as 'default',
    fallbackRenderer: 'simple',
    rendererOptions: { logger, collapseSubtasks: false, showErrorMessage: true } as never,
    fallbackRendererOptions: { logger } as never,
    silentRendererCondition: renderer === 'silent',
  });
  try {
    await list.run();
  } catch {
    /* failures are in results */
  }

  if (abort.signal.aborted) interrupted = true;
  // The engine says the run is over; a renderer only draws what the events say.
  emit({ type: 'finished' });
  await unmount?.();
  const stageCleanups = plan.stages.flatMap((st) => (st.cleanup ? [st.cleanup] : []));
  for (const hook of [...stageCleanups, ...(opts.cleanup ?? [])]) {
    try {
      await hook({ ...ctx, signal: new AbortController().signal });
    } catch (err) {
      note(`cleanup failed: ${(err as Error).message}`);
    }
  }
  opts.signal?.removeEventListener('abort', onAbort);

  const failed = results.some((r) => r.status === 'fail');
  // A headline stage that did not run (every result a skip, and not because this is a dry run or a resume that
  // found it done) leaves the run incomplete: the verdict and the exit code say so.
  const skippedHeadlines = opts.dryRun
    ? []
    : plan.stages
        .filter((st) => st.headline)
        .flatMap((st) => {
          const rs = results.filter((r) => r.stage === st.name || st.steps.some((x) => x.id === r.id));
          const skipped = rs.length > 0 && rs.every((r) => r.status === 'skip' && !/^finished in an earlier attempt|^done once already/.test(r.summary));
          return skipped ? [{ stage: st.name, title: st.title, reason: rs[0]!.summary }] : [];
        });
  const finalStatus: RunSummary['status'] = interrupted ? 'interrupted' : failed ? 'fail' : skippedHeadlines.length > 0 ? 'incomplete' : 'pass';
  state.status = finalStatus;
  records.saveState();
  const summary: RunSummary = {
    runId: state.runId,
    runDir: records.runDir,
    status: finalStatus,
    results,
    startedAt: state.startedAt,
    durationMs: Date.now() - startedMs,
    ...(skippedHeadlines.length > 0 ? { skippedHeadlines } : {}),
    ...(opts.ranOn ? { ranOn: opts.ranOn } : {}),
  };
  const report = {
    groundwork: 1,
    command: opts.command,
    plan: plan.title,
    ...summary,
    notes: plan.stages.flatMap((s) => (s.notes ?? []).map((n) => `${s.name}: ${n}`)),
    ...(sweep && (sweep.swept.length || sweep.failed.length) ? { leftovers: sweep } : {}),
    ...opts.reportExtra,
  };
  records.writeReport(report);
  records.writeJunit(buildJunit(summary, `groundwork ${opts.command}`));
  if (opts.printResults !== false) {
    if (opts.json) opts.io.stdout.write(`${JSON.stringify(redactor.redactDeep(report), null, 2)}\n`);
    else opts.io.stdout.write(redactor.redact(formatSummary(summary, colorFor(opts, opts.io.stdout))));
  }
  return summary;
}
