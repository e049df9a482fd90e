/**
 * Run progress as data: the engine publishes events, renderers (ink in a TTY) read snapshots.
 * A tiny external store that React's useSyncExternalStore can subscribe to; no React here.
 */
import type { Status } from './types.js';

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
  | { type: 'step-start'; id: string }
  | { type: 'step-output'; id: string; line: string }
  | { type: 'step-end'; id: string; status: Status; summary: string; durationMs: number }
  | { type: 'finished' };

export class RunStore {
  #view: RunView;
  #listeners = new Set<() => void>();

  constructor(view: RunView) {
    this.#view = view;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  };

  getSnapshot = (): RunView => this.#view;

  apply(e: RunEvent): void {
    if (e.type === 'finished') {
      this.#view = { ...this.#view, finished: true };
    } else {
      this.#view = {
        ...this.#view,
        stages: this.#view.stages.map((s) => ({
          ...s,
          steps: s.steps.map((st) => {
            if (st.id !== e.id) return st;
            if (e.type === 'step-start') return { ...st, state: 'running' as const };
            if (e.type === 'step-output') return { ...st, output: e.line };
            return { ...st, state: e.status, summary: e.summary, durationMs: e.durationMs, output: undefined };
          }),
        })),
      };
    }
    for (const l of this.#listeners) l();
  }
}
