/**
 * Tests that run bin/groundwork run dist/. `npm test` builds first; a test run on its own compiles only when a
 * source of the rooms it goes through is newer than its dist/ file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** `node bin/groundwork rehearse …` in a fresh directory (its HOME too) with only the PATH given: code and output. */
export function runRehearse(args: string[], PATH: string): { code: number | null; out: string; err: string; cwd: string } {
  const cwd = mkdtempSync(path.join(tmpdir(), 'gw-rehearse-'));
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/groundwork'), 'rehearse', ...args], { cwd, encoding: 'utf8', env: { PATH, NO_COLOR: '1', CI: 'true', GROUNDWORK_LOOPBACK_ONLY: '1', HOME: cwd } });
  return { code: r.status, out: r.stdout, err: r.stderr, cwd };
}
