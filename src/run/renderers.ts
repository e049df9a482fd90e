/**
 * Renderers: each draws a run from its event log and nothing else. The caller picks one (a name, or a Renderer of
 * its own, like the wizard's store); 'auto' is the ink task tree when we may animate (TTY, not CI, not --json),
 * listr2's 'simple' list otherwise.
 */
import type { Io } from '../io.js';
import { colorAllowed, colorOn, mayAnimate } from '../io.js';
import { RunStore, pendingView, type RunEvent } from './events.js';
import type { Plan, Result } from './types.js';

export interface Renderer {
  /**
   * When lines outside any step (retries, cleanup trouble) are kept off stderr: 'always' (the caller draws, or
   * nothing is drawn), 'while-drawing' (it owns the terminal once started), 'never'.
   */
  readonly quiet: 'always' | 'while-drawing' | 'never';
  /** Called once the plan is known, before any event. */
  start(plan: Plan): Promise<void> | void;
  /**
   * Resolves once it draws (never rejects; a failure shows at close()). The engine lets the first step run
   * before waiting for it, so a renderer that loads meanwhile costs the run nothing, and never falls behind.
   */
  ready?(): Promise<void>;
  onEvent(e: RunEvent): void;
  /** After the 'finished' event: draw the last frame and let go of the terminal. */
  close(): Promise<void>;
}

export type RendererName = 'auto' | 'ink' | 'default' | 'simple' | 'verbose' | 'silent';

/** The summary of a step stopped by the run's signal (the list says "<title>: interrupted"). */
export const INTERRUPTED_WHILE_RUNNING = 'interrupted while running';

/** The renderer a name stands for, on this Io. `color`: the caller's word (--no-color is false). */
export async function pickRenderer(name: RendererName, o: { io: Io; json?: boolean; color?: boolean }): Promise<Renderer> {
  if (name === 'silent') return silentRenderer();
  if (name === 'ink' || (name === 'auto' && mayAnimate(o.io) && !o.json)) {
    const stream = o.io.stderr as NodeJS.WriteStream;
    return inkRenderer(stream, colorOn(stream, colorAllowed(o.io.env, o.color)));
  }
  return listrRenderer(name === 'auto' ? 'simple' : name, o.io.stderr as NodeJS.WriteStream, o.color !== false);
}

function silentRenderer(): Renderer {
  return { quiet: 'always', start() {}, onEvent() {}, async close() {} };
}

/** Nothing drawn here: the caller is handed the run's store and draws it itself (the wizard). */
export function storeRenderer(onStore: (store: RunStore) => void): Renderer {
  let store: RunStore | undefined;
  return {
    quiet: 'always',
    start(plan) {
      store = new RunStore(pendingView(plan));
      onStore(store);
    },
    onEvent: (e) => store?.apply(e),
    async close() {},
  };
}

/** The ink task tree on stderr. */
function inkRenderer(stream: NodeJS.WriteStream, color: boolean): Renderer {
  let store: RunStore | undefined;
  let unmount: (() => Promise<void>) | undefined;
  return {
    quiet: 'while-drawing',
    async start(plan) {
      store = new RunStore(pendingView(plan));
      const { mountTaskTree } = await import('../ui/task-tree.js');
      unmount = mountTaskTree(store, stream, color);
    },
    onEvent: (e) => store?.apply(e),
    async close() {
      await unmount?.();
    },
  };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; settled: boolean } {
  let resolve!: (v: T) => void;
  const d = { promise: new Promise<T>((r) => (resolve = r)), resolve: (v: T) => ((d.settled = true), resolve(v)), settled: false };
  return d;
}

type ListrTask = { title: string; output: string; skip(msg?: string): void };
type ParentTask = { title: string; skip(msg?: string): void; newListr: (tasks: unknown[], o: unknown) => unknown };

/**
 * listr2's list (simple when piped, default, verbose) on stderr, mirroring the events: a stage task waits for its
 * stage to start or be skipped, a step task for its step to end, with the plan's concurrency so the list shows
 * what the engine runs.
 */
function listrRenderer(kind: 'default' | 'simple' | 'verbose', out: NodeJS.WriteStream, icons: boolean): Renderer {
  const stages = new Map<string, ReturnType<typeof deferred<{ skip?: string }>>>();
  const steps = new Map<string, { ended: ReturnType<typeof deferred<Result>>; task?: ListrTask; output?: string }>();
  let running: Promise<unknown> | undefined;
  let loaded: Promise<typeof import('listr2')> | undefined;
  const stageOf = (name: string) => stages.get(name) ?? stages.set(name, deferred()).get(name)!;
  const stepOf = (id: string) => steps.get(id) ?? steps.set(id, { ended: deferred() }).get(id)!;

  const start = (plan: Plan) => {
    for (const stage of plan.stages) {
      stageOf(stage.name);
      for (const st of stage.steps) stepOf(st.id);
    }
    // listr2 (about 50 ms to load) loads beside the run's first step, not before it (see ready()): what happens
    // meanwhile waits in the deferreds above, and the list draws it once it runs.
    loaded = import('listr2');
    running = loaded.then((listr2) => runList(plan, listr2));
    // A listr2 that cannot load fails the run at close(), not as an unhandled rejection before it.
    running.catch(() => undefined);
  };

  const runList = (plan: Plan, { Listr, ListrLogger, ProcessOutput }: typeof import('listr2')) => {
    const logger = new ListrLogger({ processOutput: new ProcessOutput(out, out), useIcons: icons });
    const stageTasks = plan.stages.map((stage) => ({
      title: stage.title,
      task: async (_: unknown, stageTask: ParentTask) => {
        const decided = await stageOf(stage.name).promise;
        if (decided.skip !== undefined) {
          stageTask.skip(decided.skip);
          return undefined;
        }
        const stepTasks = stage.steps.map((step) => ({
          title: step.title,
          task: async (_c: unknown, task: ListrTask) => {
            const slot = stepOf(step.id);
            slot.task = task;
            if (slot.output !== undefined) task.output = slot.output;
            const r = await slot.ended.promise;
            if (r.status === 'fail') throw new Error(`${step.title}: ${r.summary === INTERRUPTED_WHILE_RUNNING ? 'interrupted' : r.summary}`);
            if (r.status === 'warn') task.title = `${step.title} (warning: ${r.summary})`;
            else if (r.status === 'pass') task.title = `${step.title}: ${r.summary}`;
            // A step that did not run, or says skip, is shown as skipped, never with a tick.
            else task.skip(`${step.title}: ${r.summary}`);
          },
        }));
        // After the steps: a stage whose every step was skipped is shown as skipped, not ticked. (An untitled
        // subtask is not drawn; skipping the parent before it completes keeps its tick away.)
        const closer = {
          task: async () => {
            const rs = await Promise.all(stage.steps.map((st) => stepOf(st.id).ended.promise));
            if (rs.length > 0 && rs.every((r) => r.status === 'skip')) {
              const reasons = [...new Set(rs.map((r) => r.summary))];
              stageTask.skip(reasons.length === 1 ? reasons[0] : 'every step skipped');
            }
          },
        };
        const body = stage.concurrency ? [{ task: (_c: unknown, t: ParentTask) => t.newListr(stepTasks, { concurrent: stage.concurrency, exitOnError: false }) }] : stepTasks;
        return stageTask.newListr([...body, closer], { concurrent: false, exitOnError: false });
      },
    }));
    const list = new Listr(stageTasks as never, {
      concurrent: false,
      exitOnError: false,
      registerSignalListeners: false,
      renderer: kind as 'default',
      fallbackRenderer: 'simple',
      rendererOptions: { logger, collapseSubtasks: false, showErrorMessage: true } as never,
      fallbackRendererOptions: { logger } as never,
    });
    return list.run().catch(() => undefined /* failures are in the events */);
  };

  return {
    quiet: 'never',
    start,
    ready: () => (loaded ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    ),
    onEvent(e) {
      if (e.type === 'stage-start') stageOf(e.stage).resolve({});
      else if (e.type === 'stage-skip') stageOf(e.stage).resolve({ skip: e.summary });
      else if (e.type === 'step-output') {
        const slot = stepOf(e.id);
        slot.output = e.line;
        if (slot.task) slot.task.output = e.line;
      } else if (e.type === 'step-end') stepOf(e.id).ended.resolve(e.result);
      else if (e.type === 'finished') {
        // Whatever did not start by now never will: let the list end.
        for (const d of stages.values()) if (!d.settled) d.resolve({ skip: 'not run' });
        for (const [, s] of steps) if (!s.ended.settled) s.ended.resolve({ id: '', title: '', stage: '', status: 'skip', summary: 'not run', durationMs: 0 });
      }
    },
    async close() {
      await running;
    },
  };
}
