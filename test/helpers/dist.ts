/**
 * Tests that run bin/groundwork run dist/. `npm test` builds first; a test run on its own compiles only when a
 * source of the rooms it goes through is newer than its dist/ file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Compiles (tsc -p, which emits despite transient type errors elsewhere) when a source file is newer than its dist/ file. */
export function compileIfStale(sources: readonly string[]): void {
  const stale = sources.some((f) => {
    const js = path.join(repoRoot, 'dist', f.replace(/\.ts$/, '.js'));
    return !existsSync(js) || statSync(js).mtimeMs < statSync(path.join(repoRoot, 'src', f)).mtimeMs;
  });
  if (stale) spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', repoRoot], { cwd: repoRoot, stdio: 'ignore' });
}

/** The .ts files of these src/ rooms, as paths below src/. */
export function roomSources(rooms: readonly string[]): string[] {
  return rooms.flatMap((d) => readdirSync(path.join(repoRoot, 'src', d)).filter((f) => f.endsWith('.ts')).map((f) => `${d}/${f}`));
}
