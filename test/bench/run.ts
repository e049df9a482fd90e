/**
 * `npm run bench`: runs every test/bench/*.bench.ts in turn and prints its figures, with ratios against
 * baselines measured in the same run. Usage: npm run bench [-- name-filter]
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type { Bench, BenchLine } from './types.js';

// Benches dial only loopback (src/net/loopback-guard.ts).
process.env.GROUNDWORK_LOOPBACK_ONLY = '1';
const dir = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !filter || f.includes(filter))
  .sort();

function fmt(l: BenchLine): string {
  const v = `${Number.isInteger(l.value) ? l.value : l.value.toFixed(2)} ${l.unit}`;
  const parts = [`${l.name}: ${v}`];
  if (l.baseline) parts.push(`ratio ${(l.value / l.baseline.value).toFixed(2)}x vs ${l.baseline.name} (${l.baseline.value.toFixed(2)} ${l.unit})`);
  if (l.goal) parts.push(`goal ${l.goal}: ${l.met === undefined ? 'n/a' : l.met ? 'met' : 'NOT met'}`);
  if (l.note) parts.push(l.note);
  return `  ${parts.join(' | ')}`;
}

let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default: Bench };
  process.stdout.write(`${f.replace(/\.bench\.ts$/, '')}\n`);
  try {
    const lines = await mod.default();
    for (const l of lines) process.stdout.write(`${fmt(l)}\n`);
  } catch (e) {
    failed++;
    process.stdout.write(`  error: ${(e as Error).stack ?? String(e)}\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
