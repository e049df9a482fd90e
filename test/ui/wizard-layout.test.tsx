/**
 * Issue 16 item 4: every screen fits the terminal from 80x24 — long lists are windows with "N more" markers,
 * long lines wrap (never cut silently), the matrix pages with its legend, labels fit, and a resize redraws.
 * The frame stays one line shorter than the terminal, so the header never scrolls off and the shell prompt
 * lands below the footer on exit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Result, RunSummary } from '../../src/run/types.js';
import type { SpecInput } from '../../src/spec/schema.js';
import { KEY, fakeServices, frameWith, mountWizard, tick } from './wizard-helpers.js';

beforeAll(() => {
  process.env.CI = 'false';
});

const { DOWN, RIGHT, ENTER, CTRL_N } = KEY;

/** The frame fits cols x rows: no line wider, one line fewer than the terminal, the header on top. */
function expectFits(frame: string, cols: number, rows: number, header: string) {
  const lines = frame.replace(/\n$/, '').split('\n');
  for (const l of lines) expect(l.replace(/\s+$/, '').length, JSON.stringify(l)).toBeLessThanOrEqual(cols);
  expect(lines.length, frame).toBeLessThanOrEqual(rows - 1);
  expect(lines[0]).toContain(`groundwork · ${header}`);
}

/** The text of the frame with wrapping undone (continuation lines joined), to find what was wrapped. */
const unwrapped = (f: string) => f.split('\n').map((l) => l.trim()).join(' ');

async function draftWith(nodes: number, cps = 1): Promise<SpecInput> {
  const { defaultDraft, setPath } = await import('../../src/ui/wizard/model.js');
  const list = Array.from({ length: nodes }, (_, i) => ({ name: i < cps ? `cp-${i + 1}` : `w-${i + 1 - cps}`, address: `127.0.100.${i + 1}`, role: i < cps ? 'control-plane' : 'worker' }));
  return setPath(defaultDraft(), ['spec', 'nodes'], list);
}

function check(i: number, status: Result['status']): Result {
  return { id: `check-${String(i).padStart(2, '0')}`, title: `Check ${i}`, stage: 'preflight', status, summary: `summary of check ${i}${status === 'fail' ? ': something is wrong here and the text of it is long enough to need more than one line at 80 columns' : ''}`, fix: status === 'fail' ? 'do the thing' : undefined, durationMs: 1 };
}

function matrixSummary(n: number): RunSummary {
  const nodes = Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
  const cells = nodes.map((_, i) => nodes.map((_, j) => (i === 3 && j === 10 ? 'fail' : 'ok')));
  return {
    runId: 'r1',
    runDir: '/tmp/r1',
    status: 'pass',
    startedAt: '',
    durationMs: 1000,
    results: [{ id: 'connectivity', title: 'Connectivity', stage: 'validate', status: 'pass', summary: `${n * n} paths`, durationMs: 10, evidence: { matrix: { nodes, cells } } }],
  } as RunSummary;
}

describe('wizard layout at 80x24', () => {
  it('the form screens fit, with labels as wide as the longest ("etcd backup schedule" whole)', async () => {
    const { app, press } = await mountWizard({ rows: 24, columns: 80 });
    expectFits(await frameWith(app, 'Talos version'), 80, 24, 'cluster');
    await press(RIGHT); // kubeadm: four more fields
    expectFits(await frameWith(app, 'known_hosts file'), 80, 24, 'cluster');
    await press(ENTER);
    expectFits(await frameWith(app, 'groundwork · nodes'), 80, 24, 'nodes');
    await press(ENTER);
    expectFits(await frameWith(app, 'Pod CIDR'), 80, 24, 'network');
    await press(ENTER);
    const addons = await frameWith(app, 'Snapshots kept');
    expectFits(addons, 80, 24, 'add-ons');
    expect(addons).toMatch(/etcd backup schedule +0 \*\/6 \* \* \*/);
  });

  it('nodes beyond the screen are a window around the focused one, with "N more" markers both ways', async () => {
    const { app, press } = await mountWizard({ rows: 24, columns: 80, initial: await draftWith(12) });
    await press(ENTER);
    // The nodes screen's own marker: the cluster screen before it has arrows of its own (a loaded machine may
    // still show it when the first frame with an arrow is looked at).
    let f = await frameWith(app, /groundwork · nodes[\s\S]*↓ \d+ more/);
    expectFits(f, 80, 24, 'nodes');
    expect(f).toMatch(/↓ \d+ more/);
    expect(f).not.toMatch(/↑ \d+ more/);
    await press(DOWN, 30); // to node 11
    f = await frameWith(app, /↑ \d+ more/);
    expectFits(f, 80, 24, 'nodes');
    expect(f).toContain('node 11');
    expect(f).toMatch(/↑ \d+ more/);
    // Adding one more keeps the new node in view.
    await press(CTRL_N);
    f = await frameWith(app, 'node 13');
    expectFits(f, 80, 24, 'nodes');
  });

  it('a warning wraps at 80 and at 120 columns instead of being cut', async () => {
    const message = '2 control planes: an even etcd member count adds no fault tolerance; use 1 or 3';
    for (const columns of [80, 120]) {
      const { app, press } = await mountWizard({ rows: 24, columns, initial: await draftWith(4, 2) });
      await press(ENTER);
      const f = await frameWith(app, 'control planes:');
      expectFits(f, columns, 24, 'nodes');
      expect(unwrapped(f)).toContain(message);
      app.unmount();
    }
  });

  it('review wraps every command: the ssh host and the last argument are on screen; the rest scrolls with markers', async () => {
    const cmd = 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/home/operator/.ssh/known_hosts_lab -i /home/operator/.ssh/id_ed25519 -p 2222 ops@10.20.30.40 -- sudo kubeadm init --config /etc/kubernetes/kubeadm.yaml --upload-certs';
    const plan = ['groundwork setup: cluster lab', ...Array.from({ length: 30 }, (_, i) => `${i + 1}. step ${i + 1}`), `31. kubeadm-init`, `    ${cmd}`].join('\n');
    const services = fakeServices({ planText: async () => plan });
    const { app, press } = await mountWizard({ rows: 24, columns: 80, services });
    await press(ENTER, 4);
    let f = await frameWith(app, /↓ \d+ more/);
    expectFits(f, 80, 24, 'review');
    await press(' ', 10); // page down to the end
    f = await frameWith(app, 'upload-certs');
    expectFits(f, 80, 24, 'review');
    expect(f).toMatch(/↑ \d+ more/);
    expect(unwrapped(f)).toContain('ops@10.20.30.40 -- sudo kubeadm init');
    expect(unwrapped(f)).toContain('--upload-certs');
  });

  it('preflight: a list longer than the screen scrolls with the selection, "N more" both ways; the selected check in full', async () => {
    const checks = [...Array.from({ length: 3 }, (_, i) => check(i, 'fail')), ...Array.from({ length: 37 }, (_, i) => check(i + 3, 'pass'))];
    const services = fakeServices({ preflight: async () => checks });
    const { app, press } = await mountWizard({ rows: 24, columns: 80, services });
    await press(ENTER, 5);
    let f = await frameWith(app, '3 failed');
    expectFits(f, 80, 24, 'preflight');
    expect(f).toMatch(/↓ \d+ more/);
    expect(unwrapped(f)).toContain('something is wrong here and the text of it is long enough to need more than one line at 80 columns');
    await press(DOWN, 39);
    f = await frameWith(app, 'check-39');
    expectFits(f, 80, 24, 'preflight');
    expect(f).toMatch(/↑ \d+ more/);
    expect(f).not.toMatch(/↓ \d+ more/);
    // Only a failing check can be ignored.
    await press('i');
    expect(await frameWith(app, 'only a failing check can be ignored')).toContain('check-39 did not fail');
  });

  it('results: the matrix beyond 8 nodes is paged (←→), every row listed, with its legend; nothing cut silently', async () => {
    const services = fakeServices({ run: async () => matrixSummary(12) });
    const { app, press } = await mountWizard({ rows: 24, columns: 80, services });
    await press(ENTER, 6);
    let f = await frameWith(app, 'columns 1-');
    expectFits(f, 80, 24, 'results');
    const page = /columns 1-(\d+) of 12 \(page 1 of (\d+)/.exec(f);
    expect(page).not.toBeNull();
    const per = Number(page![1]);
    expect(per).toBeLessThan(12);
    // All twelve rows, scrolled into view, and the legend after them.
    await press(' ', 3);
    f = await frameWith(app, 'ok reached');
    expect(f).toContain('node-12');
    expect(f).toContain('row → column: ok reached · fail not reached · - not tested');
    await press(RIGHT);
    await press(KEY.UP, 20);
    f = await frameWith(app, `columns ${per + 1}-`);
    expectFits(f, 80, 24, 'results');
    expect(f).toContain('node-12');
    // node-04's row shows its failed path to node-11 on this page.
    if (per < 11) expect(f).toMatch(/node-04 .*fail/);
  });

  it('a resize redraws at the new size: the header stays on top and the frame fits, growing and shrinking', async () => {
    const { app } = await mountWizard({ rows: 24, columns: 80, initial: await draftWith(12) });
    const out = app.stdout as unknown as NodeJS.EventEmitter & { rows?: number; columns?: number };
    const resize = async (columns: number, rows: number) => {
      Object.defineProperty(out, 'columns', { value: columns, configurable: true });
      Object.defineProperty(out, 'rows', { value: rows, configurable: true });
      out.emit('resize');
      await tick(50);
    };
    await resize(120, 40);
    expectFits(await frameWith(app, 'Talos replaces the OS and is managed only through its API. kubeadm installs Kubernetes on existing Linux'), 120, 40, 'cluster');
    await resize(80, 12);
    const small = await frameWith(app, (f: string) => f.split('\n').length <= 11);
    expectFits(small, 80, 12, 'cluster');
    expect(small).toContain('› Bootstrap with');
  });
});

describe('next steps at 80 columns', () => {
  it('a long command wraps between words with a trailing backslash, a quoted path kept whole', async () => {
    const { RunStore } = await import('../../src/run/events.js');
    const { defaultDraft, setPath } = await import('../../src/ui/wizard/model.js');
    const draft = setPath(setPath(defaultDraft(), ['spec', 'bootstrap'], { method: 'kubeadm', kubeadm: { ssh: { user: 'ops', port: 2222, identityFile: '/home/op/my keys/lab cluster id_ed25519' } } }), ['metadata', 'name'], 'demo');
    const services = fakeServices({
      specFile: '/srv/clusters/production-east/cluster.yaml',
      run: async (_l, o) => {
        o.onStore(new RunStore({ title: 't', finished: true, stages: [] }));
        return { runId: 'r1', runDir: '/tmp/r1', status: 'pass', startedAt: '', durationMs: 10, results: [] } as RunSummary;
      },
    });
    const { app, press } = await mountWizard({ rows: 24, columns: 80, services, initial: draft });
    await press(ENTER, 4);
    await press('m'); // for real: the next steps name validate and drill
    await press(ENTER); // save, preflight
    await frameWith(app, '0 failed');
    await press(ENTER); // run
    await frameWith(app, 'groundwork · results');
    await press(ENTER);
    const f = await frameWith(app, 'restore drill:');
    expectFits(f, 80, 24, 'next steps');
    const drill = f.slice(f.indexOf('restore drill:'));
    expect(drill).toMatch(/ \\\n/);
    expect(drill).toContain("'/home/op/my keys/lab cluster id_ed25519'");
    const joined = drill.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Enter')).map((l) => l.replace(/ \\$/, '').trim()).join(' ');
    expect(joined).toContain("groundwork drill -f /srv/clusters/production-east/cluster.yaml --kubeadm ops@127.0.100.1 --ssh-port 2222 --ssh-identity '/home/op/my keys/lab cluster id_ed25519'");
  });
});
