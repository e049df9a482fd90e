/**
 * Tiny real executables for playbook tests, in a temp bin dir that is the whole PATH (nothing from the machine
 * leaks in). Scripts use shell builtins only, and `exec` real programs by absolute path, so a timeout that kills
 * the direct child kills the work.
 */
import { chmodSync, mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface FakeBin {
  dir: string;
  env: { PATH: string };
  /** Adds an executable `name` with this sh body. */
  add(name: string, body: string): string;
  /** A tool that appends one line per call (its arguments joined by spaces) to <dir>/<name>.calls. */
  addRecorder(name: string, body?: string): string;
  calls(name: string): string[];
}

export function createFakeBin(): FakeBin {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bin-'));
  const add = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  return {
    dir,
    env: { PATH: dir },
    add,
    addRecorder(name, body = 'exit 0') {
      return add(name, `echo "$*" >> '${path.join(dir, `${name}.calls`)}'\n${body}`);
    },
    calls(name) {
      const f = path.join(dir, `${name}.calls`);
      return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(0, -1) : [];
    },
  };
}
