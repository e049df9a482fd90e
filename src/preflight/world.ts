/**
 * The machine preflight looks at (STYLE 5): OS facts, /proc and /sys files, PATH lookup, the clock. Checks take a
 * World; `realWorld()` is the default and tests pass their own facts. Nothing here runs at import.
 */
import { access, readFile, stat, statfs } from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DiskSpace {
  /** The directory actually measured: the nearest existing ancestor of the one asked for. */
  measured: string;
  freeBytes: number;
  totalBytes: number;
}

export interface World {
  cpus(): number;
  memoryBytes(): number;
  kernelRelease(): string;
  /** Text of a file such as /proc/swaps, or undefined when it does not exist or cannot be read. */
  readText(file: string): Promise<string | undefined>;
  /** 'socket' | 'file' | 'dir' | 'other', or undefined when missing. */
  fileKind(file: string): Promise<'socket' | 'file' | 'dir' | 'other' | undefined>;
  diskSpace(dir: string): Promise<DiskSpace | undefined>;
  /** Absolute path of an executable found on PATH, or undefined. */
  which(name: string): Promise<string | undefined>;
  /** Addresses of this machine's interfaces. */
  localAddresses(): string[];
  now(): number;
  env: Record<string, string | undefined>;
  /** Where the etcd fsync benchmark writes by default when the spec's data dir does not exist here. */
  tmpDir(): string;
}

export async function nearestExisting(dir: string): Promise<string> {
  let d = path.resolve(dir);
  for (;;) {
    try {
      if ((await stat(d)).isDirectory()) return d;
    } catch {
      /* keep climbing */
    }
    const up = path.dirname(d);
    if (up === d) return d;
    d = up;
  }
}

/** PATH lookup the way a shell does it: first executable match wins. */
export async function whichOnPath(name: string, pathVar: string | undefined): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutable(name)) ? name : undefined;
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

export function realWorld(env: Record<string, string | undefined> = process.env): World {
  return {
    cpus: () => os.availableParallelism(),
    memoryBytes: () => os.totalmem(),
    kernelRelease: () => os.release(),
    async readText(file) {
      try {
        return await readFile(file, 'utf8');
      } catch {
        return undefined;
      }
    },
    async fileKind(file) {
      try {
        const s = await stat(file);
        return s.isSocket() ? 'socket' : s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
      } catch {
        return undefined;
      }
    },
    async diskSpace(dir) {
      const measured = await nearestExisting(dir);
      try {
        const s = await statfs(measured);
        return { measured, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
      } catch {
        return undefined;
      }
    },
    which: (name) => whichOnPath(name, env.PATH),
    localAddresses: () =>
      Object.values(os.networkInterfaces())
        .flatMap((l) => l ?? [])
        .map((i) => i.address),
    now: () => Date.now(),
    env,
    tmpDir: () => os.tmpdir(),
  };
}
