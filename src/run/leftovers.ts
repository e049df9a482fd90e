/**
 * Things a run leaves while it works and must not outlive it: a join config holding a bootstrap token on a node,
 * a local credentials file, a test namespace, the drill's scratch data (a snapshot and the restored keyspace:
 * every Secret of the cluster), a throw-away etcd member's process group. Each is recorded in
 * <stateDir>/leftovers.json (0600) before it is made, and the record is cleared once it is removed. A run that
 * cannot finish its cleanup (SIGKILL, power loss, a second Ctrl-C) leaves the record; the next run in that state
 * dir sweeps it before its first step, and says so.
 *
 * Records may name their owner (the groundwork process that made them): a sweep never touches those of a
 * process that is still running (two runs may share a state dir), and kills a recorded process group only if its
 * leader is still the process recorded (start time from /proc), never a reused pid. On exit before cleanup
 * finished (a second Ctrl-C), what can go synchronously goes (directories, process groups); namespaces need the
 * API, so they wait for the next run.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isSameProcess, killProcessGroup, processIdentity, type Exec, type LeftoverItem, type LeftoverSink } from '../exec/index.js';
import { writeFileAtomic } from './records.js';
import { pollUntil } from './sleep.js';

export interface Leftover extends LeftoverItem {
  /** Unique per thing, e.g. join-config:w-1. */
  id: string;
  /** The run that made it. */
  runId: string;
  /** For the operator: what it is and where, e.g. "the join config (bootstrap token) on w-1". */
  what: string;
  /** The groundwork process that made it; while it runs, sweeps leave the record alone. */
  owner?: { pid: number; identity?: string };
  /** Sweeps that could not remove it (a node down, an API unreachable). */
  attempts?: number;
}

function file(stateDir: string): string {
  return path.join(stateDir, 'leftovers.json');
}

export function leftoversFile(stateDir: string): string {
  return file(stateDir);
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

// The sink steps see (StepContext.leftovers) is the exec door's interface: exec records each child's process group.
export type { LeftoverSink } from '../exec/index.js';

/** One run's records in a state dir, owned by this process, with the exit hook for a second Ctrl-C. */
export class Leftovers implements LeftoverSink {
  readonly stateDir: string;
  readonly #runId: string;
  readonly #mine = new Map<string, Leftover>();
  #exitHook?: () => void;
  /** Who owns the records: this process, read from /proc once (every spawned child is recorded). */
  #owner?: Leftover['owner'];

  constructor(stateDir: string, runId: string) {
    this.stateDir = stateDir;
    this.#runId = runId;
  }

  add(what: string, item: Pick<Leftover, 'files' | 'dirs' | 'argv' | 'process' | 'namespace'>): string {
    const l: Leftover = { id: `${this.#runId}:${randomBytes(4).toString('hex')}`, runId: this.#runId, what, ...item, owner: (this.#owner ??= { pid: process.pid, identity: processIdentity(process.pid) }) };
    this.#mine.set(l.id, l);
    recordLeftover(this.stateDir, l);
    this.#installExitHook();
    return l.id;
  }

  clear(id: string): void {
    if (!this.#mine.delete(id)) return;
    clearLeftover(this.stateDir, id);
    if (this.#mine.size === 0 && this.#exitHook) {
      process.off('exit', this.#exitHook);
      this.#exitHook = undefined;
    }
  }

  #installExitHook(): void {
    if (this.#exitHook) return;
    this.#exitHook = () => {
      for (const l of [...this.#mine.values()]) {
        if (l.namespace || l.argv) continue;
        try {
          if (l.process) killProcessGroup(l.process.pid, l.process.identity, 'SIGKILL');
          for (const d of l.dirs ?? []) rmSync(d, { recursive: true, force: true });
          for (const f of l.files ?? []) rmSync(f, { force: true });
          this.clear(l.id);
        } catch {
          /* left for the next run's sweep */
        }
      }
    };
    process.once('exit', this.#exitHook);
  }
}

function ownerAlive(o: Leftover['owner']): boolean {
  if (!o) return false;
  if (o.pid === process.pid) return true;
  return o.identity !== undefined ? isSameProcess(o.pid, o.identity) : processIdentity(o.pid) !== undefined;
}

export interface SweepResult {
  swept: Array<{ id: string; runId: string; what: string }>;
  failed: Array<{ id: string; runId: string; what: string; why: string }>;
}

/** A record a sweep could not remove this many times is given up on, with a message saying what to do. */
const MAX_ATTEMPTS = 3;

export interface SweepOptions {
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

/**
 * Removes what earlier runs left (process groups, directories and files, then the command, then namespaces),
 * clearing each record that is gone. One that can't be removed now (a node down) stays recorded for the next run.
 */
export async function sweepLeftovers(stateDir: string, exec: Exec, say: (line: string) => void, o: SweepOptions = {}): Promise<SweepResult> {
  const out: SweepResult = { swept: [], failed: [] };
  for (const l of pendingLeftovers(stateDir)) {
    if (ownerAlive(l.owner)) continue;
    const brief = { id: l.id, runId: l.runId, what: l.what };
    try {
      if (l.process && killProcessGroup(l.process.pid, l.process.identity, 'SIGTERM')) {
        const p = l.process;
        await pollUntil(async () => isSameProcess(p.pid, p.identity), (alive) => !alive, { timeoutMs: 3000, intervalMs: 50 });
        killProcessGroup(l.process.pid, l.process.identity, 'SIGKILL');
      }
      for (const d of l.dirs ?? []) rmSync(d, { recursive: true, force: true });
      for (const f of l.files ?? []) if (existsSync(f)) rmSync(f, { force: true });
      if (l.argv) {
        const r = await exec(l.argv, { allowFailure: true, timeoutMs: 30_000, step: 'sweep' });
        if (r.exitCode !== 0) throw new Error(`\`${r.argv.join(' ')}\` exited ${r.exitCode}`);
      }
      if (l.namespace) await deleteNamespace(l.namespace, o);
      clearLeftover(stateDir, l.id);
      out.swept.push(brief);
      say(`swept what run ${l.runId} left behind: ${l.what}`);
    } catch (e) {
      const why = (e as Error).message.split('\n')[0]!;
      out.failed.push({ ...brief, why });
      const attempts = (l.attempts ?? 0) + 1;
      if (attempts >= MAX_ATTEMPTS && !l.argv) {
        clearLeftover(stateDir, l.id);
        say(`gave up sweeping what run ${l.runId} left behind after ${attempts} attempts: ${l.what}: ${why}; remove it by hand`);
      } else {
        recordLeftover(stateDir, { ...l, attempts });
        say(`could not sweep what run ${l.runId} left behind: ${l.what}: ${why}; the next run tries again`);
      }
    }
  }
  return out;
}

async function deleteNamespace(ns: NonNullable<Leftover['namespace']>, o: SweepOptions): Promise<void> {
  const k = await import('../kube/index.js');
  const kube = await k.loadKubeConfig(ns.kubeconfig, ns.context, { env: o.env });
  try {
    const signal = AbortSignal.any([AbortSignal.timeout(10_000), ...(o.signal ? [o.signal] : [])]);
    await k.deleteNamespace(kube, ns.name, { wait: false, signal });
  } finally {
    kube.close();
  }
}
