/**
 * The run store: an event changes one step (found through an index), the snapshot is rebuilt lazily and only
 * for the stage that changed, and a burst of events tells subscribers once. So a dry run of thousands of steps
 * costs O(1) per event, not a copy of every step.
 */
import { describe, expect, it } from 'vitest';
import { RunStore, type RunView } from '../../src/run/events.js';

function view(stages: number, steps: number): RunView {
  return {
    title: 't',
    finished: false,
    stages: Array.from({ length: stages }, (_, s) => ({
      name: `s${s}`,
      title: `Stage ${s}`,
      steps: Array.from({ length: steps }, (_, i) => ({ id: `s${s}-${i}`, title: `Step ${i}`, stage: `s${s}`, state: 'pending' as const })),
    })),
  };
}

describe('RunStore', () => {
  it('applies start, output and end to the one step, and keeps every other step and stage as it was', () => {
    const store = new RunStore(view(3, 1000));
    const before = store.getSnapshot();
    store.apply({ type: 'step-start', id: 's1-500' });
    store.apply({ type: 'step-output', id: 's1-500', line: 'working' });
    const mid = store.getSnapshot();
    expect(mid.stages[1]!.steps[500]).toMatchObject({ state: 'running', output: 'working' });
    store.apply({ type: 'step-end', id: 's1-500', status: 'pass', summary: 'ok', durationMs: 3 });
    const after = store.getSnapshot();
    expect(after.stages[1]!.steps[500]).toEqual({ id: 's1-500', title: 'Step 500', stage: 's1', state: 'pass', summary: 'ok', durationMs: 3, output: undefined });
    // Untouched stages are the very same arrays; untouched steps the very same objects.
    expect(after.stages[0]!.steps).toBe(before.stages[0]!.steps);
    expect(after.stages[2]!.steps).toBe(before.stages[2]!.steps);
    expect(after.stages[1]!.steps[499]).toBe(before.stages[1]!.steps[499]);
    // A snapshot once taken never changes (React compares them by identity).
    expect(before.stages[1]!.steps[500]!.state).toBe('pending');
    expect(store.getSnapshot()).toBe(after);
    expect(store.step('s1-500')?.state).toBe('pass');
    expect(store.step('nope')).toBeUndefined();
  });

  it('tells subscribers once per turn of the event loop, however many events came', async () => {
    const store = new RunStore(view(1, 5000));
    let told = 0;
    store.subscribe(() => told++);
    for (let i = 0; i < 5000; i++) {
      store.apply({ type: 'step-start', id: `s0-${i}` });
      store.apply({ type: 'step-end', id: `s0-${i}`, status: 'skip', summary: 'dry run', durationMs: 0 });
    }
    expect(told).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(told).toBe(1);
    expect(store.getSnapshot().stages[0]!.steps.every((s) => s.state === 'skip')).toBe(true);
    store.apply({ type: 'finished' });
    await new Promise((r) => setImmediate(r));
    expect(told).toBe(2);
    expect(store.getSnapshot().finished).toBe(true);
  });

  it('ignores events for steps it does not know', () => {
    const store = new RunStore(view(1, 2));
    const before = store.getSnapshot();
    store.apply({ type: 'step-start', id: 'other' });
    expect(store.getSnapshot().stages[0]!.steps).toEqual(before.stages[0]!.steps);
  });
});
