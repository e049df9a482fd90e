import { describe, expect, it, beforeAll } from 'vitest';
import React from 'react';
import { RunStore } from '../../src/run/events.js';

beforeAll(() => {
  // ink treats CI=true as non-interactive and renders only the last frame.
  process.env.CI = 'false';
});

function store(): RunStore {
  return new RunStore({
    title: 't',
    finished: false,
    stages: [
      { name: 'preflight', title: 'Check prerequisites', steps: [{ id: 'cpu', title: 'CPU', stage: 'preflight', state: 'pending' }, { id: 'mem', title: 'Memory', stage: 'preflight', state: 'pending' }] },
      { name: 'bootstrap', title: 'Bootstrap', steps: [{ id: 'gen', title: 'Generate secrets', stage: 'bootstrap', state: 'pending' }] },
    ],
  });
}

describe('TaskTree', () => {
  it('with rows, draws finished steps inside that many lines (the newest), nothing above (the wizard)', async () => {
    const { render } = await import('ink-testing-library');
    const { TaskTree } = await import('../../src/ui/task-tree.js');
    const s = store();
    const app = render(<TaskTree store={s} color={false} rows={4} />);
    for (const id of ['cpu', 'mem']) {
      s.apply({ type: 'step-start', id });
      s.apply({ type: 'step-end', id, status: 'pass', summary: 'ok', durationMs: 5 });
    }
    s.apply({ type: 'step-start', id: 'gen' });
    await new Promise((r) => setTimeout(r, 40));
    const lines = (app.lastFrame() ?? '').split('\n');
    expect(lines.length).toBeLessThanOrEqual(4);
    expect(lines[0]).toMatch(/earlier line\(s\)/);
    expect(lines.join('\n')).toContain('Memory');
    expect(lines.join('\n')).toContain('Generate secrets');
  });

  it('shows the running step with its live output, then moves finished steps above under their stage', async () => {
    const { render } = await import('ink-testing-library');
    const { TaskTree } = await import('../../src/ui/task-tree.js');
    const s = store();
    const app = render(<TaskTree store={s} color={false} />);
    expect(app.lastFrame()).toContain('next: CPU');
    s.apply({ type: 'step-start', id: 'cpu' });
    s.apply({ type: 'step-output', id: 'cpu', line: 'counting cores' });
    await new Promise((r) => setTimeout(r, 30));
    expect(app.lastFrame()).toContain('› CPU');
    expect(app.lastFrame()).toContain('counting cores');
    s.apply({ type: 'step-end', id: 'cpu', status: 'pass', summary: '8 cores', durationMs: 5 });
    s.apply({ type: 'step-start', id: 'mem' });
    s.apply({ type: 'step-end', id: 'mem', status: 'warn', summary: '4 GiB', durationMs: 5 });
    s.apply({ type: 'step-start', id: 'gen' });
    s.apply({ type: 'step-end', id: 'gen', status: 'fail', summary: 'talosctl missing', durationMs: 1500 });
    await new Promise((r) => setTimeout(r, 30));
    const all = app.frames.join('\n');
    expect(all).toContain('Check prerequisites');
    expect(all).toContain('✔ CPU: 8 cores');
    expect(all).toContain('! Memory: 4 GiB');
    expect(all).toContain('✖ Generate secrets: talosctl missing (1.5s)');
    // No live area remains once everything finished: the last frame lists each step exactly once.
    const last = app.lastFrame() ?? '';
    expect(last.split('CPU: 8 cores').length - 1).toBe(1);
    expect(last).not.toContain('›');
    app.unmount();
  });
});
