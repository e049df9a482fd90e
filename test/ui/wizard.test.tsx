import { describe, expect, it, beforeAll } from 'vitest';

beforeAll(() => {
  process.env.CI = 'false';
});

import { KEY, fakeServices, frameWith, mountWizard, plain, tick } from './wizard-helpers.js';

const { DOWN, UP, LEFT, BACKSPACE, ENTER, ESC } = KEY;

describe('wizard', () => {
  it('asks the first question on the first screen', async () => {
    const { app } = await mountWizard();
    expect(await frameWith(app, 'groundwork · cluster')).toContain('groundwork · cluster');
    expect(await frameWith(app, '› Bootstrap with')).toContain('› Bootstrap with');
  });

  it('edits a text field key by key and validates live with the spec loader', async () => {
    const { app } = await mountWizard();
    app.stdin.write(DOWN);
    await tick();
    for (let i = 0; i < 4; i++) {
      app.stdin.write(BACKSPACE);
      await tick(5);
    }
    app.stdin.write('Bad_Name');
    await tick();
    expect(await frameWith(app, 'Bad_Name')).toContain('Bad_Name');
    expect(await frameWith(app, '✖')).toContain('✖');
    app.stdin.write(ENTER);
    await tick();
    expect(await frameWith(app, 'fix the fields marked ✖ first')).toContain('fix the fields marked ✖ first');
    for (let i = 0; i < 8; i++) {
      app.stdin.write(BACKSPACE);
      await tick(5);
    }
    app.stdin.write('lab');
    await tick();
    app.stdin.write(ENTER);
    await tick();
    expect(await frameWith(app, 'groundwork · nodes')).toContain('groundwork · nodes');
  });

  it('walks every screen to the results, ignoring a failing check by name, and saves a spec that loads', async () => {
    const { RunStore } = await import('../../src/run/events.js');
    const { parseSpec } = await import('../../src/spec/load.js');
    const ignored: string[][] = [];
    const services = fakeServices({
      async preflight(_l, ignore) {
        ignored.push(ignore);
        return [
          { id: 'cpu', title: 'CPU', stage: 'preflight', status: 'pass', summary: '8 cores', durationMs: 1 },
          ignore.includes('etcd-disk-fsync')
            ? { id: 'etcd-disk-fsync', title: 'fsync', stage: 'preflight', status: 'warn', summary: 'p99 14 ms (ignored by --ignore etcd-disk-fsync)', durationMs: 1 }
            : { id: 'etcd-disk-fsync', title: 'fsync', stage: 'preflight', status: 'fail', summary: 'p99 14 ms, needs < 10 ms', fix: 'use an SSD', durationMs: 1 },
        ];
      },
      async run(_l, o) {
        const store = new RunStore({ title: 't', finished: false, stages: [{ name: 'validate', title: 'Validate', steps: [{ id: 'connectivity', title: 'Connectivity', stage: 'validate', state: 'pending' }] }] });
        o.onStore(store);
        store.apply({ type: 'step-start', id: 'connectivity' });
        await tick(30);
        store.apply({ type: 'step-end', id: 'connectivity', status: 'pass', summary: '4/4 paths', durationMs: 10 });
        await tick(60); // the finished step is drawn in the run screen before the results replace it
        return {
          runId: 'r1',
          runDir: '/tmp/r1',
          status: 'pass',
          startedAt: '',
          durationMs: 1200,
          results: [
            { id: 'connectivity', title: 'Connectivity', stage: 'validate', status: 'pass', summary: '4/4 paths', durationMs: 10, evidence: { matrix: { nodes: ['w-1', 'w-2'], cells: [['ok', 'ok'], ['ok', 'fail']] } } },
            { id: 'drill-snapshot', title: 'Snapshot', stage: 'drill', status: 'pass', summary: '2 MB saved', durationMs: 400, evidence: { atMs: 100 } },
            { id: 'drill-restore', title: 'Restore', stage: 'drill', status: 'pass', summary: 'restored', durationMs: 1500, evidence: { atMs: 600, rpoMs: 700 } },
            { id: 'drill-verify', title: 'Verify', stage: 'drill', status: 'pass', summary: 'revision 9', durationMs: 300, evidence: { atMs: 2200, rpoMs: 700, rtoMs: 1900 } },
          ],
        };
      },
    });
    const { app, code, press } = await mountWizard({ services });
    await press(ENTER); // cluster -> nodes
    expect(await frameWith(app, 'groundwork · nodes')).toContain('groundwork · nodes');
    await press(KEY.CTRL_N); // Ctrl-N adds a worker
    expect(await frameWith(app, 'w-3')).toContain('w-3');
    await press(ENTER); // -> network
    expect(await frameWith(app, 'Pod CIDR')).toContain('Pod CIDR');
    await press(DOWN); // serviceCIDR: make it overlap the pod CIDR
    await press(BACKSPACE, 12);
    await press('10.244.0.0/16');
    await tick(30);
    // The overlap is a spec error now (the same rule as cluster.yaml), shown at the field as it is typed.
    expect(await frameWith(app, 'podCIDR and serviceCIDR overlap')).toMatch(/Service CIDR +10\.244\.0\.0\/16[\s\S]*✖ podCIDR and serviceCIDR overlap/);
    await press(BACKSPACE, 13);
    await press('10.96.0.0/12');
    await press(ENTER); // -> addons
    expect(await frameWith(app, 'Monitoring')).toContain('Monitoring');
    await press(ENTER); // -> review
    await tick(30);
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    expect(await frameWith(app, 'apiVersion: groundwork.dev/v1alpha1')).toContain('apiVersion: groundwork.dev/v1alpha1');
    await press(ENTER); // saves, -> preflight
    await tick(50);
    expect(services.saved).toHaveLength(1);
    expect(await frameWith(app, '✖ etcd-disk-fsync')).toContain('✖ etcd-disk-fsync');
    await press(ENTER);
    expect(await frameWith(app, '1 check(s) failed')).toContain('1 check(s) failed');
    await press('i');
    await tick(50);
    expect(ignored.at(-1)).toEqual(['etcd-disk-fsync']);
    expect(await frameWith(app, 'ignored: etcd-disk-fsync')).toContain('ignored: etcd-disk-fsync');
    await press(ENTER); // run
    await tick(100);
    const results = await frameWith(app, /w-1\s+ok\s+ok/);
    expect(results).toContain('groundwork · results');
    expect(results).toContain('✔ connectivity: 4/4 paths');
    expect(results).toMatch(/w-1\s+ok\s+ok/);
    expect(results).toMatch(/w-2\s+ok\s+fail/);
    expect(results).toContain('timeline:');
    // The results screen owns the terminal: no line of the run log above its header.
    expect(results.split('\n')[0]).toMatch(/^groundwork · results/);
    expect(results).toContain('RPO 700ms');
    expect(results).toContain('RTO 1.9s');
    // Each phase: its start offset from the drill's start, then its duration.
    expect(results).toMatch(/snapshot\s+\+100ms .*400ms/);
    expect(results).toMatch(/restore\s+\+600ms .*1\.5s/);
    expect(results).toMatch(/verify\s+\+2\.2s .*300ms/);
    expect(results).toContain('ok reached · fail not reached · - not tested');
    await press(ENTER);
    // A rehearsal has nothing to resume: the next step is the real setup of the saved file.
    const next = await frameWith(app, 'for real:');
    expect(next).toContain('for real:      groundwork setup --yes -f cluster.yaml');
    expect(next).not.toContain('--resume');
    await press(ENTER);
    expect(code()).toBe(0);
    const loaded = parseSpec(services.saved[0]!, 'cluster.yaml');
    expect(loaded.spec.spec.nodes.map((n) => n.name)).toEqual(['cp-1', 'w-1', 'w-2', 'w-3']);
    expect(loaded.spec.spec.network.serviceCIDR).toBe('10.96.0.0/12');
  });

  it('q and Ctrl-C ask while an edit would be lost; y quits with 130', async () => {
    const { app, code } = await mountWizard();
    await tick();
    app.stdin.write(DOWN); // the cluster name
    await tick();
    app.stdin.write('x');
    await tick();
    app.stdin.write(UP); // back on the bootstrap choice: q is a key there, not a letter
    await tick();
    app.stdin.write('q');
    expect(await frameWith(app, 'Quit and lose the unsaved edits? y/n')).toContain('Quit and lose the unsaved edits? y/n');
    app.stdin.write('n');
    await tick(200);
    expect(plain(app.lastFrame())).not.toContain('Quit and lose');
    expect(code()).toBeUndefined();
    app.stdin.write('\u0003'); // Ctrl-C means the same
    expect(await frameWith(app, 'Quit and lose the unsaved edits? y/n')).toContain('Quit and lose the unsaved edits? y/n');
    app.stdin.write('y');
    await tick();
    expect(code()).toBe(130);
  });

  it('q with nothing unsaved and nothing running quits at once with 130 (interrupted before a run), on a form and on preflight', async () => {
    const first = await mountWizard();
    first.app.stdin.write('q');
    await tick();
    expect(first.code()).toBe(130);
    // preflight, after the save: still nothing to lose, still before a run.
    const { app, code, services } = await mountWizard({ services: fakeServices({ resumable: { runId: 'r1', summary: 'failed' } }) });
    app.stdin.write(ENTER); // resume -> review
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    app.stdin.write(ENTER); // save -> preflight
    expect(await frameWith(app, '0 passed')).toContain('groundwork · preflight');
    expect(services.saved).toHaveLength(1);
    app.stdin.write('q');
    await tick();
    expect(code()).toBe(130);
  });

  it('Ctrl-C during the run asks, then stops the step and exits 130; after a finished run q exits 0', async () => {
    let cancelled = 0;
    let finish: (s: import('../../src/run/types.js').RunSummary) => void = () => {};
    const summary = { status: 'pass', durationMs: 5, runDir: '.groundwork/runs/r2', results: [] } as unknown as import('../../src/run/types.js').RunSummary;
    const services = fakeServices({
      resumable: { runId: 'r1', summary: 'failed' },
      run: () => new Promise((r) => (finish = r)),
      cancel: () => void cancelled++,
    });
    const { app, code } = await mountWizard({ services });
    app.stdin.write(ENTER);
    await frameWith(app, 'groundwork · review');
    app.stdin.write(ENTER);
    await frameWith(app, '0 passed');
    app.stdin.write(ENTER); // run
    expect(await frameWith(app, 'groundwork · run')).toContain('groundwork · run');
    app.stdin.write('\u0003');
    expect(await frameWith(app, 'Stop the running step and quit? y/n')).toContain('Stop the running step and quit? y/n');
    app.stdin.write('n');
    await tick(100);
    expect(cancelled).toBe(0);
    expect(code()).toBeUndefined();
    app.stdin.write('q');
    expect(await frameWith(app, 'Stop the running step and quit? y/n')).toContain('Stop the running step and quit? y/n');
    app.stdin.write('y');
    await tick();
    expect(cancelled).toBe(1);
    expect(code()).toBe(130);

    // A run that finished, nothing unsaved: q leaves at once with 0.
    const second = await mountWizard({ services: fakeServices({ resumable: { runId: 'r1', summary: 'failed' }, run: async () => summary }) });
    second.app.stdin.write(ENTER);
    await frameWith(second.app, 'groundwork · review');
    second.app.stdin.write(ENTER);
    await frameWith(second.app, '0 passed');
    second.app.stdin.write(ENTER);
    expect(await frameWith(second.app, 'groundwork · results')).toContain('All passed');
    second.app.stdin.write('q');
    await tick();
    expect(second.code()).toBe(0);
    finish(summary);
  });

  it('shows help for the screen with ?', async () => {
    const { app } = await mountWizard();
    app.stdin.write('?');
    await tick();
    expect(await frameWith(app, '? How the cluster is bootstrapped')).toContain('? How the cluster is bootstrapped');
  });
});

describe('every wizard question has a spec field or a flag that answers it', () => {
  it('field paths exist in the spec JSON Schema; flag questions name real flags', async () => {
    const { CLUSTER_FIELDS, NETWORK_FIELDS, ADDON_FIELDS, NODE_FIELDS, FLAG_QUESTIONS } = await import('../../src/ui/wizard/model.js');
    const { specJsonSchema } = await import('../../src/spec/json-schema.js');
    const schema = specJsonSchema() as Record<string, unknown>;
    const resolve = (node: Record<string, unknown>): Record<string, unknown> => {
      // unions (anyOf/oneOf): take the object branch
      const alts = (node.anyOf ?? node.oneOf) as Record<string, unknown>[] | undefined;
      return alts ? (alts.find((a) => a.type === 'object' || a.properties) ?? node) : node;
    };
    const walk = (path: (string | number)[]) => {
      let node = resolve(schema);
      for (const k of path) {
        node = resolve(typeof k === 'number' ? (node.items as Record<string, unknown>) : ((node.properties as Record<string, Record<string, unknown>>)?.[k] as Record<string, unknown>));
        if (!node) return false;
      }
      return true;
    };
    const fields = [...CLUSTER_FIELDS, ...NETWORK_FIELDS, ...ADDON_FIELDS, ...NODE_FIELDS(0)];
    for (const f of fields) expect(walk(f.path), f.path.join('.')).toBe(true);
    const { execFileSync } = await import('node:child_process');
    const help = execFileSync(process.execPath, ['bin/groundwork', 'setup', '--help'], { encoding: 'utf8' }) + execFileSync(process.execPath, ['bin/groundwork', '--help'], { encoding: 'utf8' });
    for (const q of FLAG_QUESTIONS) {
      for (const flag of q.flag.split(/ \| /).map((f) => f.split(' ').find((w) => w.startsWith('--')) ?? f)) {
        expect(help, `${q.key}: ${flag}`).toContain(flag.startsWith('--') ? flag : flag.split(' ')[0]!);
      }
    }
  });
});

/** The focused field's line, without the "›" and the trailing cursor cell. */
const focusedLine = (f: string) => (f.split('\n').find((l) => l.startsWith('›')) ?? '').replace(/\s+$/, '');
const HOME = '\u001B[H';
const END = '\u001B[F';

describe('wizard text fields edit like a shell line', () => {
  async function onName() {
    const m = await mountWizard();
    m.app.stdin.write(DOWN);
    await tick();
    expect(focusedLine(await frameWith(m.app, '› Cluster name'))).toMatch(/^› Cluster name\s+\S+$/);
    return m;
  }
  const press = async (app: { stdin: { write(s: string): void } }, ...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await tick(15);
    }
  };

  it('counts every Backspace of a burst that arrives in one chunk', async () => {
    const { app } = await onName();
    const before = focusedLine(plain(app.lastFrame())).split(/\s+/).at(-1)!;
    // One write = one chunk: what a held key or an ssh session delivers.
    await press(app, BACKSPACE.repeat(before.length + 2), 'lab2');
    const f = await frameWith(app, /› Cluster name\s+lab2\s*$/m);
    expect(focusedLine(f)).toMatch(/^› Cluster name {2,}lab2$/);
    expect(f).not.toContain('✖');
  });

  it('Ctrl-U kills to the start, Ctrl-W deletes the word before the cursor', async () => {
    const { app } = await onName();
    await press(app, '\u0015', 'ab cd');
    expect(focusedLine(await frameWith(app, /Cluster name\s+ab cd/))).toMatch(/^› Cluster name {2,}ab cd$/);
    await press(app, '\u0017');
    expect(focusedLine(await frameWith(app, /Cluster name\s+ab\s*$/m))).toMatch(/^› Cluster name {2,}ab$/);
    await press(app, LEFT, LEFT, '\u0015'); // 'ab ' with the cursor after 'a': leaves 'b '
    expect(focusedLine(await frameWith(app, /Cluster name\s+b\s*$/m))).toMatch(/^› Cluster name {2,}b$/);
  });

  it('moves the cursor with ←/→, Home/End and Ctrl-A/Ctrl-E, and inserts (and pastes) there', async () => {
    const { app } = await onName();
    await press(app, '\u0015', 'lab', LEFT, LEFT, 'x');
    expect(focusedLine(await frameWith(app, /Cluster name\s+lxab/))).toMatch(/^› Cluster name {2,}lxab$/);
    await press(app, HOME, 'y', END, 'z', '\u0001', 'q', '\u0005', '-1');
    expect(focusedLine(await frameWith(app, /Cluster name\s+qylxabz-1/))).toMatch(/^› Cluster name {2,}qylxabz-1$/);
    await press(app, HOME, 'pasted-\u0007');
    expect(focusedLine(await frameWith(app, /Cluster name\s+pasted-q/))).toMatch(/^› Cluster name {2,}pasted-qylxabz-1$/);
  });
});

describe('wizard: a ✖ blocks leaving the screen', () => {
  async function onNetwork(services = fakeServices()) {
    const m = await mountWizard({ services });
    m.app.stdin.write(ENTER);
    await tick();
    await frameWith(m.app, 'groundwork · nodes');
    m.app.stdin.write(ENTER);
    await tick();
    expect(await frameWith(m.app, '› Pod CIDR')).toContain('› Pod CIDR');
    return m;
  }
  const set = async (app: { stdin: { write(s: string): void } }, value: string) => {
    app.stdin.write('\u0015');
    await tick(15);
    app.stdin.write(value);
    await tick(30);
  };

  it('a failing network finding (too small a Service CIDR) blocks Enter and focuses the field; a warning does not', async () => {
    const { app } = await onNetwork();
    app.stdin.write(DOWN);
    await tick();
    await set(app, '10.96.0.0/29');
    app.stdin.write(UP);
    await tick();
    expect(await frameWith(app, '✖ service-cidr-capacity')).toContain('✖ service-cidr-capacity');
    app.stdin.write(ENTER);
    await tick(50);
    const f = await frameWith(app, 'fix the fields marked ✖ first');
    expect(f).toContain('groundwork · network');
    expect(f).toContain('fix the fields marked ✖ first (1 error)');
    expect(focusedLine(f)).toMatch(/^› Service CIDR\s+10\.96\.0\.0\/29$/);
    // A warning only: 192.168.0.0/16 is a classic home-LAN range (!), and Enter goes on.
    await set(app, '10.96.0.0/12');
    app.stdin.write(UP);
    await tick();
    await set(app, '192.168.0.0/16');
    expect(await frameWith(app, '! classic-collisions')).toContain('! classic-collisions');
    app.stdin.write(ENTER);
    expect(await frameWith(app, 'groundwork · add-ons')).toContain('groundwork · add-ons');
  });

  it('an overlap the pod CIDR causes elsewhere (node addresses inside it) is shown and blocks Enter on the network screen', async () => {
    const { app } = await onNetwork();
    await set(app, '127.0.0.0/8');
    app.stdin.write(DOWN);
    await tick();
    const shown = await frameWith(app, 'is inside podCIDR');
    expect(shown).toMatch(/✖ spec\.nodes\[0\]\.address: 127\.0\.100\.1 is inside podCIDR/);
    app.stdin.write(ENTER);
    await tick(50);
    const f = await frameWith(app, 'fix the fields marked ✖ first');
    expect(f).toContain('groundwork · network');
    expect(focusedLine(f)).toMatch(/^› Pod CIDR\s+127\.0\.0\.0\/8$/);
  });

  it('s refuses to save a spec with errors, and says why', async () => {
    const { defaultDraft, setPath } = await import('../../src/ui/wizard/model.js');
    const bad = setPath(defaultDraft(), ['spec', 'network', 'serviceCIDR'], '10.244.0.0/16');
    // The resume screen goes straight to review: the one way to arrive there with an error.
    const services = fakeServices({ resumable: { runId: 'r0', summary: 'stopped at bootstrap' } });
    const { app } = await mountWizard({ services, initial: bad });
    app.stdin.write(ENTER);
    await tick();
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    app.stdin.write('s');
    await tick(50);
    expect(await frameWith(app, 'not saved: 1 error marked ✖')).toContain('not saved: 1 error marked ✖');
    app.stdin.write(ENTER);
    await tick(50);
    expect(plain(app.lastFrame())).toContain('groundwork · review');
    expect(services.saved).toHaveLength(0);
  });

  it('m (rehearse/for real) clears the other mode’s preflight results and ignores', async () => {
    const modes: string[] = [];
    const services = fakeServices({
      async preflight(_l, _ignore, mode) {
        modes.push(mode);
        return mode === 'rehearse'
          ? [{ id: 'cpu', title: 'CPU', stage: 'preflight', status: 'pass', summary: 'lab cores', durationMs: 1 }]
          : [{ id: 'ssh', title: 'SSH', stage: 'preflight', status: 'fail', summary: 'no route to 127.0.100.1', durationMs: 1 }];
      },
    });
    const { app } = await mountWizard({ services });
    for (let i = 0; i < 4; i++) {
      app.stdin.write(ENTER);
      await tick(30);
    }
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    app.stdin.write(ENTER);
    expect(await frameWith(app, '1 passed, 0 warnings, 0 failed')).toContain('✔ cpu');
    app.stdin.write(ESC);
    await tick(50);
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    app.stdin.write('m');
    expect(await frameWith(app, 'earlier preflight results and ignores are cleared')).toContain('run for real against the nodes');
    app.stdin.write(ENTER);
    const f = await frameWith(app, '0 passed, 0 warnings, 1 failed');
    expect(f).toContain('✖ ssh');
    expect(f).not.toContain('✔ cpu');
    expect(modes).toEqual(['rehearse', 'setup']);
  });
});
