/**
 * Issue 9 / 16: `groundwork` with no arguments draws the wizard's first screen within 200 ms and at most 1.5x
 * `node -e 0` measured the same way: time from spawn to the first frame ("groundwork · cluster") in a
 * pseudo-terminal (first-frame.py, 80x24), in a fresh temp dir. Beside it: when ink has drawn its own frame
 * over the painted one (ink's synchronized-output marker: from then on keys are handled; keys typed earlier
 * are kept), and ink's own load floor, a bare ink "hello" bundled the way the wizard is. The machine's load
 * moves all of them; the ratios are the stable figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { build } from 'esbuild';
import type { BenchLine } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const RUNS = 9;
const MARKER = 'groundwork · cluster';
/** ink wraps every frame it writes in synchronized output (BSU); the painted frame does not. */
const INK_FRAME = '\u001b[?2026h';

/** Median ms to the marker (or to exit, with an empty marker) over RUNS spawns in a pseudo-terminal. */
function firstFrame(cwd: string, marker: string, argv: string[]): number {
  const env = { ...process.env };
  // ink reads any CI value as "not a terminal" and never draws; first-frame.py drops them too.
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  const out = execFileSync('python3', [path.join(here, 'first-frame.py'), String(RUNS), cwd, marker, ...argv], { encoding: 'utf8', env });
  const ms = Number(out.trim());
  if (!Number.isFinite(ms)) throw new Error(`no first frame within 10 s: ${argv.join(' ')} (marker ${JSON.stringify(marker)})`);
  return ms;
}

/** ink's load floor: one frame of <Text>, bundled (minified, one ESM file) as the wizard's bundle is. */
async function inkHello(dir: string): Promise<string> {
  const outfile = path.join(dir, 'ink-hello.mjs');
  await build({
    stdin: { contents: "import React from 'react'; import { render, Text } from 'ink'; render(React.createElement(Text, null, 'hello from ink')); setTimeout(() => process.exit(0), 100);", resolveDir: root, loader: 'js' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    logLevel: 'error',
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [
      {
        name: 'no-devtools',
        setup(b) {
          b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'x', namespace: 'stub' }));
          b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export default {}', loader: 'js' }));
        },
      },
    ],
  });
  return outfile;
}

export default async function bench(): Promise<BenchLine[]> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'gw-wizard-bench-'));
  try {
    const hello = await inkHello(cwd);
    const base = firstFrame(cwd, '', [process.execPath, '-e', '0']);
    const wizard = firstFrame(cwd, MARKER, [process.execPath, path.join(root, 'bin/groundwork')]);
    const ink = firstFrame(cwd, INK_FRAME, [process.execPath, path.join(root, 'bin/groundwork')]);
    const floor = firstFrame(cwd, 'hello from ink', [process.execPath, hello]);
    const baseline = { name: 'node -e 0 in the same pty', value: base };
    return [
      {
        name: `wizard: time to first frame (median of ${RUNS})`,
        value: wizard,
        unit: 'ms',
        baseline,
        goal: '< 200 ms and <= 1.5x node -e 0',
        met: wizard < 200 && wizard / base <= 1.5,
      },
      { name: `wizard: ink's frame drawn over it, keys handled (median of ${RUNS})`, value: ink, unit: 'ms', baseline, note: 'keys typed before it are kept (raw mode from the first frame)' },
      { name: `ink's own load floor: a bundled ink "hello" (median of ${RUNS})`, value: floor, unit: 'ms', baseline },
    ];
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
