/**
 * Issue 16 item 6: the bare `groundwork` paints its first frame without ink (first-paint.ts). The painted lines
 * must be the very lines the Wizard then draws over them, at every size; and nothing is painted when the wizard
 * will open on another screen (a resumable run, an unparsable file).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { frameWith, mountWizard, plain } from './wizard-helpers.js';

beforeAll(() => {
  process.env.CI = 'false';
});

const lines = (s: string) =>
  s
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''));

describe('the first frame painted without ink', () => {
  // ink-testing-library lays out at 100 columns: sizes up to that.
  it('is line for line what the Wizard draws, for Talos and kubeadm, from 80x24 to 100x40 and on a short terminal', async () => {
    const { firstFrameText } = await import('../../src/ui/wizard/first-paint.js');
    const { defaultDraft, setPath } = await import('../../src/ui/wizard/model.js');
    const drafts = { talos: defaultDraft(), kubeadm: setPath(setPath(defaultDraft(), ['spec', 'bootstrap', 'method'], 'kubeadm'), ['spec', 'bootstrap', 'kubeadm'], { ssh: { user: 'ops', port: 2222 } }) };
    for (const [name, draft] of Object.entries(drafts)) {
      for (const [columns, rows] of [
        [80, 24],
        [100, 40],
        [80, 12],
      ] as const) {
        const painted = firstFrameText(draft, { rows, columns, color: false });
        const { app } = await mountWizard({ initial: draft, rows, columns });
        const drawn = await frameWith(app, 'Enter next');
        expect(lines(painted), `${name} ${columns}x${rows}`).toEqual(lines(drawn));
        // Colour changes the escapes only, never the text.
        expect(lines(plain(firstFrameText(draft, { rows, columns, color: true })))).toEqual(lines(painted));
        app.unmount();
      }
    }
  });

  it('paints for a new spec or one that parses (raw mode on, so early keys are kept and not echoed); not for a resumable run or a broken file', async () => {
    const { paintFirstFrame } = await import('../../src/ui/wizard/first-paint.js');
    const term = () => {
      const stdout = Object.assign(new PassThrough(), { rows: 24, columns: 80, isTTY: true });
      let raw = false;
      const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (v: boolean) => ((raw = v), stdin) });
      let text = '';
      stdout.on('data', (c: Buffer) => (text += c.toString()));
      return { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, raw: () => raw, text: () => text };
    };
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-first-paint-'));
    const file = path.join(dir, 'cluster.yaml');
    let t = term();
    const n = await paintFirstFrame({ file, color: false, stdout: t.stdout, stdin: t.stdin });
    expect(n).toBeGreaterThan(5);
    expect(t.raw()).toBe(true);
    expect(t.text()).toContain('groundwork · cluster');
    expect(plain(t.text()).split('\n')).toHaveLength(n! + 1);
    writeFileSync(file, 'apiVersion: groundwork.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: from-file\nspec:\n  bootstrap:\n    method: kubeadm\n');
    t = term();
    await paintFirstFrame({ file, color: false, stdout: t.stdout, stdin: t.stdin });
    expect(t.text()).toContain('from-file');
    expect(t.text()).toContain('SSH user');
    writeFileSync(file, 'spec: [\n');
    t = term();
    expect(await paintFirstFrame({ file, color: false, stdout: t.stdout, stdin: t.stdin })).toBeUndefined();
    expect(t.text()).toBe('');
    expect(t.raw()).toBe(false);
    writeFileSync(file, 'apiVersion: groundwork.dev/v1alpha1\n');
    mkdirSync(path.join(dir, '.groundwork', 'runs'), { recursive: true });
    t = term();
    expect(await paintFirstFrame({ file, color: false, stdout: t.stdout, stdin: t.stdin })).toBeUndefined();
  });
});

describe('the bare `groundwork` without a terminal', () => {
  it('exits 2 at once naming --yes and -f, painting nothing (the fast path without commander)', async () => {
    const { captureIo } = await import('../helpers/io.js');
    const { main } = await import('../../src/cli.js');
    const io = captureIo(mkdtempSync(path.join(tmpdir(), 'gw-bare-')), { NO_COLOR: '1', CI: 'true', PATH: '/nonexistent' }, new AbortController().signal);
    expect(await main([], io)).toBe(2);
    expect(io.err()).toContain('no terminal to ask questions in');
    expect(io.err()).toContain('groundwork setup --yes -f cluster.yaml');
    expect(io.out()).toBe('');
  });
});
