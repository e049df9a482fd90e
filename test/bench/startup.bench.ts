import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { BenchLine } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(argv: string[], runs = 15): number {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', cwd: root });
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(out);
}

export default async function bench(): Promise<BenchLine[]> {
  const base = time([process.execPath, '-e', '0']);
  const version = time([process.execPath, path.join(root, 'bin/groundwork'), '--version']);
  const help = time([process.execPath, path.join(root, 'bin/groundwork'), '--help']);
  const baseline = { name: 'node -e 0', value: base };
  return [
    { name: 'groundwork --version (median of 15)', value: version, unit: 'ms', baseline, goal: '<= 1.5x', met: version / base <= 1.5 },
    { name: 'groundwork --help (median of 15)', value: help, unit: 'ms', baseline },
  ];
}
