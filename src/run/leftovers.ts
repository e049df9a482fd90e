/**
 * Things a step leaves while it works and must not outlive the run (a join config holding a bootstrap token on
 * a node, a local credentials file). A step records each one in <stateDir>/leftovers.json (0600) before it
 * makes it and clears the record once it removed it. A run killed in between (SIGKILL, power loss) leaves the
 * record; the next run in that state dir sweeps it before its first step, and says so.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Exec } from '../exec/index.js';
import { writeFileAtomic } from './records.js';

export interface Leftover {
  /** Unique per thing, e.g. join-config:w-1. */
  id: string;
  /** The run that made it. */
  runId: string;
  /** For the operator: what it is and where, e.g. "the join config (bootstrap token) on w-1". */
  what: string;
  /** Local files to delete. */
  files?: string[];
  /** A command that removes it (e.g. ssh … rm -f FILE); exit 0 means gone. */
  argv?: string[];
}

function file(stateDir: string): string {
  return path.join(stateDir, 'leftovers.json');
}

export function pendingLeftovers(stateDir: string): Leftover[] {
  try {
    const list = JSON.parse(readFileSync(file(stateDir), 'utf8')) as unknown;
    return Array.isArray(list) ? (list as Leftover[]) : [];
  } catch {
    return [];
  }
}

function save(stateDir: string, list: Leftover[]): void {
  if (list.length === 0) rmSync(file(stateDir), { force: true });
  else writeFileAtomic(file(stateDir), `${JSON.stringify(list, null, 2)}\n`);
}

/** Before making it: recorded on disk, so a kill a moment later still leaves it findable. */
export function recordLeftover(stateDir: string, l: Leftover): void {
  save(stateDir, [...pendingLeftovers(stateDir).filter((x) => x.id !== l.id), l]);
}

/** After removing it. */
export function clearLeftover(stateDir: string, id: string): void {
  const list = pendingLeftovers(stateDir);
  if (list.some((x) => x.id === id)) save(stateDir, list.filter((x) => x.id !== id));
}

export interface SweepResult {
  swept: Array<{ id: string; runId: string; what: string }>;
  failed: Array<{ id: string; runId: string; what: string; why: string }>;
}

/**
 * Removes what earlier runs left (files, then the command), clearing each record that is gone. One that can't
 * be removed now (a node down) stays recorded for the next run.
 */
export async function sweepLeftovers(stateDir: string, exec: Exec, say: (line: string) => void): Promise<SweepResult> {
  const out: SweepResult = { swept: [], failed: [] };
  for (const l of pendingLeftovers(stateDir)) {
    const brief = { id: l.id, runId: l.runId, what: l.what };
    try {
      for (const f of l.files ?? []) if (existsSync(f)) rmSync(f, { force: true });
      if (l.argv) {
        const r = await exec(l.argv, { allowFailure: true, timeoutMs: 30_000, step: 'sweep' });
        if (r.exitCode !== 0) throw new Error(`\`${r.argv.join(' ')}\` exited ${r.exitCode}`);
      }
      clearLeftover(stateDir, l.id);
      out.swept.push(brief);
      say(`swept what run ${l.runId} left behind: ${l.what}`);
    } catch (e) {
      const why = (e as Error).message;
      out.failed.push({ ...brief, why });
      say(`could not sweep what run ${l.runId} left behind: ${l.what}: ${why}; the next run tries again`);
    }
  }
  return out;
}
