/**
 * `setup --dry-run` cost against the node count: the plan, the engine, the run store and the reports must stay
 * linear. 5,000 nodes (the spec's cap) against 500 should be about 10x, never 100x.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bigSpecYaml } from '../helpers/big-spec.js';
import type { BenchLine } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/groundwork');

function dryRunMs(nodes: number, runs: number): number {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-dry-'));
    writeFileSync(path.join(dir, 'cluster.yaml'), bigSpecYaml(nodes));
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, [bin, 'setup', '--yes', '--dry-run', '--json'], { cwd: dir, stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
    rmSync(dir, { recursive: true, force: true });
  }
  return [...out].sort((a, b) => a - b)[Math.floor(out.length / 2)]!;
}

export default async function bench(): Promise<BenchLine[]> {
  const startup = dryRunMs(3, 3);
  const small = dryRunMs(500, 3);
  const big = dryRunMs(5000, 1);
  // Subtract the fixed cost (node start, imports) so the ratio measures the per-node work.
  const per = (ms: number) => Math.max(1, ms - startup);
  const ratio = per(big) / per(small);
  return [
    { name: 'setup --dry-run, 3 nodes (fixed cost, median of 3)', value: startup, unit: 'ms' },
    { name: 'setup --dry-run, 500 nodes (median of 3)', value: small, unit: 'ms' },
    {
      name: 'setup --dry-run, 5,000 nodes',
      value: big,
      unit: 'ms',
      baseline: { name: '500 nodes', value: small },
      goal: 'per-node work <= 20x of 500 nodes (linear is 10x, quadratic 100x)',
      met: ratio <= 20,
      note: `per-node work ratio ${ratio.toFixed(1)}x`,
    },
  ];
}
