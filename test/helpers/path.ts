/**
 * PATHs built for a test (STYLE: tests never depend on what else the machine has installed).
 * `systemPathWithout(['fio'])`: a directory of links to every program of the usual system directories except
 * the named ones, so a test of "no fio here" holds whether or not the machine has fio.
 */
import { existsSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SYSTEM_DIRS = ['/usr/local/bin', '/usr/bin', '/bin'];

export function systemPathWithout(exclude: readonly string[], dirs: readonly string[] = SYSTEM_DIRS): string {
  const bin = mkdtempSync(path.join(tmpdir(), 'gw-path-'));
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (exclude.includes(name) || existsSync(path.join(bin, name))) continue;
      const target = path.join(dir, name);
      try {
        if (!statSync(target).isFile()) continue;
        symlinkSync(target, path.join(bin, name));
      } catch {
        /* a dangling link or a race: not a program we need */
      }
    }
  }
  return bin;
}
