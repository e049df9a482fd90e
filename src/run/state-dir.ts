/**
 * Where run records live: the one rule, for every command and service. Light on purpose (path only): command
 * modules resolve it once, before any heavy module loads.
 */
import path from 'node:path';

/**
 * --state-dir as given (relative to the working directory), else `.groundwork` beside the spec file, else (no
 * spec: rehearse and validate without one) `.groundwork` in the working directory.
 */
export function resolveStateDir(flag: string | undefined, specFile: string | undefined, cwd: string): string {
  if (flag) return path.resolve(cwd, flag);
  return path.join(specFile ? path.dirname(path.resolve(cwd, specFile)) : path.resolve(cwd), '.groundwork');
}
