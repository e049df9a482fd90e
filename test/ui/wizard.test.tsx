import { describe, expect, it, beforeAll } from 'vitest';
import React from 'react';
import type { WizardServices } from '../../src/ui/wizard/Wizard.js';

beforeAll(() => {
  process.env.CI = 'false';
});

const plain = (s: string | undefined) => (s ?? '').replace(/\u001b\[[0-9;]*m/g, '');
/** Waits until the last frame contains text (ink throttles frames; a loaded machine renders late). */
async function frameWith(app: { lastFrame(): string | undefined }, text: string | RegExp, timeoutMs = 3000): Promise<string> {
  const start = Date.now();
  for (;;) {
    const f = plain(app.lastFrame());
    if (typeof text === 'string' ? f.includes(text) : text.test(f)) return f;
    if (Date.now() - start > timeoutMs) return f;
    await new Promise((r) => setTimeout(r, 20));
  }
}
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

function fakeServices(over: Partial<WizardServices> = {}): WizardServices & { saved: string[] } {
  const saved: string[] = [];
  return {
    specFile: 'cluster.yaml',
    saved,
    async save(yaml) {
      saved.push(yaml);
      return 'cluster.yaml';
    },
    async planText() {
      return 'groundwork setup: cluster lab\n1. preflight: Check prerequisites\n';
    },
    async preflight() {
      return [];
    },
    async run() {
      throw new Error('not in this test');
    },
    cancel() {},
    ...over,
  };
}

async function mount(services = fakeServices()) {
  const { render } = await import('ink-testing-library');
  const { Wizard } = await import('../../src/ui/wizard/Wizard.js');
  const { defaultDraft } = await import('../../src/ui/wizard/model.js');
  let code: number | undefined;
  const app = render(<Wizard initial={defaultDraft()} services={services} color={false} onExit={(c) => (code = c)} />);
  await tick();
  return { app, services, code: () => code };
}

const DOWN = '\u001B[B';
const BACKSPACE = '\u007F';
const ENTER = '\r';

describe('wizard', () => {
  it('asks the first question on the first screen', async () => {
    const { app } = await mount();
    expect(await frameWith(app, 'groundwork · cluster')).toContain('groundwork · cluster');
    expect(await frameWith(app, '› Bootstrap with')).toContain('› Bootstrap with');
  });

  it('edits a text field key by key and validates live with the spec loader', async () => {
    const { app } = await mount();
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
        return {
          runId: 'r1',
          runDir: '/tmp/r1',
          status: 'pass',
          startedAt: '',
          durationMs: 1200,
          results: [
            { id: 'connectivity', title: 'Connectivity', stage: 'validate', status: 'pass', summary: '4/4 paths', durationMs: 10, evidence: { matrix: { nodes: ['w-1', 'w-2'], cells: [['ok', 'ok'], ['ok', 'fail']] } } },
            { id: 'drill', title: 'Drill', stage: 'drill', status: 'pass', summary: 'restored in 1.1s', durationMs: 10 },
          ],
        };
      },
    });
    const { app, code } = await mount(services);
    const press = async (k: string, n = 1) => {
      for (let i = 0; i < n; i++) {
        app.stdin.write(k);
        await tick(15);
      }
    };
    await press(ENTER); // cluster -> nodes
    expect(await frameWith(app, 'groundwork · nodes')).toContain('groundwork · nodes');
    await press('\u000e'); // Ctrl-N adds a worker
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
    await press(ENTER);
    expect(await frameWith(app, 'restore drill: groundwork drill')).toContain('restore drill: groundwork drill');
    await press(ENTER);
    expect(code()).toBe(0);
    const loaded = parseSpec(services.saved[0]!, 'cluster.yaml');
    expect(loaded.spec.spec.nodes.map((n) => n.name)).toEqual(['cp-1', 'w-1', 'w-2', 'w-3']);
    expect(loaded.spec.spec.network.serviceCIDR).toBe('10.96.0.0/12');
  });

  it('asks before quitting while something runs, and q on a form screen asks too', async () => {
    const { app, code } = await mount();
    app.stdin.write('q');
    await tick();
    expect(await frameWith(app, 'Quit without finishing? y/n')).toContain('Quit without finishing? y/n');
    app.stdin.write('n');
    await tick(200);
    expect(plain(app.lastFrame())).not.toContain('Quit without finishing');
    app.stdin.write('q');
    await tick();
    app.stdin.write('y');
    await tick();
    expect(code()).toBe(0);
  });

  it('shows help for the screen with ?', async () => {
    const { app } = await mount();
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
