/**
 * Renderers draw from the event log alone: the same events, fed without an engine, give listr2's list (piped:
 * its simple renderer) and the wizard's store.
 */
import { describe, expect, it } from 'vitest';
import { pickRenderer, storeRenderer, INTERRUPTED_WHILE_RUNNING } from '../../src/run/renderers.js';
import type { RunEvent, RunStore } from '../../src/run/events.js';
import type { Plan, Result, Step } from '../../src/run/types.js';
import { captureIo } from '../helpers/io.js';

const step = (id: string, stage: string): Step => ({ id, title: `step ${id}`, stage, run: async () => ({ status: 'pass', summary: '' }) });
const plan: Plan = {
  title: 't',
  stages: [
    { name: 'a', title: 'Stage A', steps: [step('a1', 'a'), step('a2', 'a')] },
    { name: 'b', title: 'Stage B', steps: [step('b1', 'b')] },
    { name: 'c', title: 'Stage C', steps: [step('c1', 'c')] },
  ],
};
const end = (id: string, stage: string, status: Result['status'], summary: string): RunEvent => ({
  type: 'step-end',
  id,
  status,
  summary,
  durationMs: 1,
  result: { id, title: `step ${id}`, stage, status, summary, durationMs: 1 },
});
const events: RunEvent[] = [
  { type: 'stage-start', stage: 'a' },
  { type: 'step-start', id: 'a1' },
  { type: 'step-output', id: 'a1', line: 'working' },
  end('a1', 'a', 'pass', 'ok'),
  { type: 'step-start', id: 'a2' },
  end('a2', 'a', 'fail', 'node unreachable'),
  { type: 'stage-skip', stage: 'b', summary: 'not run: it needs stage a, which failed' },
  end('b1', 'b', 'skip', 'not run: it needs stage a, which failed'),
  { type: 'stage-start', stage: 'c' },
  { type: 'step-start', id: 'c1' },
  { type: 'interrupted' },
  end('c1', 'c', 'fail', INTERRUPTED_WHILE_RUNNING),
  { type: 'finished' },
];

describe('renderers', () => {
  it("listr2's list (piped) says what the events say, in their order", async () => {
    const io = captureIo('/');
    const r = await pickRenderer('auto', { io, color: false });
    expect(r.quiet).toBe('never');
    await r.start(plan);
    for (const e of events) r.onEvent(e);
    await r.close();
    const lines = io.err().trim().split('\n');
    expect(lines).toEqual([
      '[STARTED] Stage A',
      '[STARTED] step a1',
      '[OUTPUT] working',
      '[COMPLETED] step a1: ok',
      '[STARTED] step a2',
      '[FAILED] step a2 [FAILED: step a2: node unreachable]',
      '[COMPLETED] Stage A',
      '[STARTED] Stage B',
      '[SKIPPED] Stage B [SKIPPED: not run: it needs stage a, which failed]',
      '[STARTED] Stage C',
      '[STARTED] step c1',
      '[FAILED] step c1 [FAILED: step c1: interrupted]',
      '[COMPLETED] Stage C',
    ]);
  });

  it("the wizard's store: every step's state from the same events, finished at the end", async () => {
    let store: RunStore | undefined;
    const r = storeRenderer((s) => (store = s));
    expect(r.quiet).toBe('always');
    await r.start(plan);
    for (const e of events) r.onEvent(e);
    await r.close();
    const view = store!.getSnapshot();
    expect(view.finished).toBe(true);
    expect(view.stages.flatMap((s) => s.steps.map((x) => [x.id, x.state, x.summary]))).toEqual([
      ['a1', 'pass', 'ok'],
      ['a2', 'fail', 'node unreachable'],
      ['b1', 'skip', 'not run: it needs stage a, which failed'],
      ['c1', 'fail', INTERRUPTED_WHILE_RUNNING],
    ]);
  });
});
