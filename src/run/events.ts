/**
 * A run as data: the engine appends events to one log; results, the summary, the reports and the run record are
 * derived from it (run/summary.ts), and every renderer draws from it (run/renderers.ts). RunStore is the view
 * the ink renderers read: a tiny external store that React's useSyncExternalStore can subscribe to; no React here.
 */
import type { Plan, Result, Status } from './types.js';
import type { StepState } from './records.js';

export interface StepView {
  id: string;
  title: string;
  stage: string;
  state: 'pending' | 'running' | Status;
  summary?: string;
  /** Last line of live output while running. */
  output?: string;
  durationMs?: number;
}

export interface RunView {
  title: string;
  stages: { name: string; title: string; steps: StepView[] }[];
  finished: boolean;
}

export type RunEvent =
  /** A stage whose steps are about to be decided one by one. */
  | { type: 'stage-start'; stage: string }
  /** A stage none of whose steps runs (a stage it needs failed, interrupted, cannot run here): said once. */
  | { type: 'stage-skip'; stage: string; summary: string }
  | { type: 'step-start'; id: string }
  | { type: 'step-output'; id: string; line: string }
  | {
      type: 'step-end';
      id: string;
      status: Status;
      summary: string;
      durationMs: number;
      /** What the step found or did, as reports carry it (redacted). */
      result: Result;
      /** What state.json keeps of it for --resume (unset: nothing new to keep), and whether once.json does. */
      record?: { state: Omit<StepState, 'at'>; once: boolean };
    }
  /** The run saw its signal: nothing more starts; the verdict is "interrupted". */
  | { type: 'interrupted' }
  /** Said by the engine once every step has ended, before cleanup: renderers draw their last frame. */
  | { type: 'finished' };

/** What RunStore reads of an event (a step-end without its result is enough for a view). */
type ViewEvent =
  | Exclude<RunEvent, { type: 'step-end' }>
  | { type: 'step-end'; id: string; status: Status; summary: string; durationMs: number };

/** The run's one record of what happened: appended to in order, told to each subscriber as it comes. */
export class EventLog {
  readonly #events: RunEvent[] = [];
  readonly #subscribers: Array<(e: RunEvent) => void> = [];

  emit(e: RunEvent): void {
    this.#events.push(e);
    for (const fn of this.#subscribers) fn(e);
  }

  subscribe(fn: (e: RunEvent) => void): void {
    this.#subscribers.push(fn);
  }

  get events(): readonly RunEvent[] {
    return this.#events;
  }
}

/** The view of a plan before anything ran: every step pending. */
export function pendingView(plan: Plan): RunView {
  return {
    title: plan.title,
    stages: plan.stages.map((st) => ({ name: st.name, title: st.title, steps: st.steps.map((x) => ({ id: x.id, title: x.title, stage: st.name, state: 'pending' as const })) })),
    finished: false,
  };
}

/**
 * O(1) per event: steps are found through an index and replaced one at a time; the snapshot React reads is
 * rebuilt lazily (once per render, only the stages that changed), never on every event. Listeners are told at
 * most once per turn of the event loop, so a burst of events (a dry run of 5,000 steps) draws one frame.
 */
export class RunStore {
  #title: string;
  #stages: { name: string; title: string; steps: StepView[] }[];
  #index = new Map<string, { stage: number; step: number }>();
  #finished: boolean;
  #snapshot: RunView | undefined;
  #dirtyStages = new Set<number>();
  #stageSnapshots: StepView[][];
  #listeners = new Set<() => void>();
  #notifyScheduled = false;

  constructor(view: RunView) {
    this.#title = view.title;
    this.#finished = view.finished;
    this.#stages = view.stages.map((s) => ({ name: s.name, title: s.title, steps: [...s.steps] }));
    // What snapshots hand out: never the arrays apply() writes into.
    this.#stageSnapshots = this.#stages.map((s) => [...s.steps]);
    this.#stages.forEach((s, i) => s.steps.forEach((st, j) => this.#index.set(st.id, { stage: i, step: j })));
  }

  subscribe = (fn: () => void): (() => void) => {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  };

  getSnapshot = (): RunView => {
    if (!this.#snapshot) {
      for (const i of this.#dirtyStages) this.#stageSnapshots[i] = [...this.#stages[i]!.steps];
      this.#dirtyStages.clear();
      this.#snapshot = {
        title: this.#title,
        finished: this.#finished,
        stages: this.#stages.map((s, i) => ({ name: s.name, title: s.title, steps: this.#stageSnapshots[i]! })),
      };
    }
    return this.#snapshot;
  };

  /** One step's current view (O(1)); undefined for an unknown id. */
  step(id: string): StepView | undefined {
    const at = this.#index.get(id);
    return at ? this.#stages[at.stage]!.steps[at.step] : undefined;
  }

  apply(e: ViewEvent): void {
    if (e.type === 'stage-start' || e.type === 'stage-skip' || e.type === 'interrupted') return;
    if (e.type === 'finished') {
      this.#finished = true;
    } else {
      const at = this.#index.get(e.id);
      if (!at) return;
      const steps = this.#stages[at.stage]!.steps;
      const st = steps[at.step]!;
      steps[at.step] =
        e.type === 'step-start'
          ? { ...st, state: 'running' }
          : e.type === 'step-output'
            ? { ...st, output: e.line }
            : { ...st, state: e.status, summary: e.summary, durationMs: e.durationMs, output: undefined };
      this.#dirtyStages.add(at.stage);
    }
    this.#snapshot = undefined;
    this.#scheduleNotify();
  }

  #scheduleNotify(): void {
    if (this.#notifyScheduled || this.#listeners.size === 0) return;
    this.#notifyScheduled = true;
    setImmediate(() => {
      this.#notifyScheduled = false;
      for (const l of this.#listeners) l();
    });
  }
}
