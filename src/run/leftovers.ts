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

/**
 * One run's records in a state dir, owned by this process, with the exit hook for a second Ctrl-C.
 *
 * Writes are batched without losing crash safety: a record is on disk before `add` returns (a SIGKILL a moment
 * later still leaves it), while clearing the record of a process that has exited waits for the next write (the
 * next `add`, `flush`, a timer, or the exit hook). Such a record left behind by a SIGKILL is harmless: a sweep
 * signals a process group only if its leader is still the process recorded (its start time), never a reused pid.
 * Every other clear (a directory, a file, a namespace, a command) is written at once.
 */
export class Leftovers implements LeftoverSink {
  readonly stateDir: string;
  readonly #runId: string;
  readonly #mine = new Map<string, Leftover>();
  /** Records of exited processes, cleared here and not yet on disk. */
  readonly #cleared = new Set<string>();
  #flushTimer?: NodeJS.Timeout;
  #exitHook?: () => void;
  /** Who owns the records: this process, read from /proc once (every spawned child is recorded). */
  #owner?: Leftover['owner'];

  constructor(stateDir: string, runId: string) {
    this.stateDir = stateDir;
    this.#runId = runId;
  }

  add(what: string, item: Pick<Leftover, 'files' | 'dirs' | 'argv' | 'timeoutMs' | 'process' | 'namespace'>): string {
    const l: Leftover = { id: `${this.#runId}:${randomBytes(4).toString('hex')}`, runId: this.#runId, what, ...item, owner: (this.#owner ??= { pid: process.pid, identity: processIdentity(process.pid) }) };
    this.#mine.set(l.id, l);
    // One write: the new record, and the clears waiting for a write.
    this.#write([l]);
    this.#installExitHook();
    return l.id;
  }

  clear(id: string): void {
    const l = this.#mine.get(id);
    if (!l) return;
    this.#mine.delete(id);
    this.#cleared.add(id);
    // Within a run the next add writes it anyway; a run that goes quiet has it written soon.
    if (isProcessOnly(l)) this.#flushTimer ??= setTimeout(() => this.flush(), FLUSH_AFTER_MS).unref();
    else this.#write([]);
    this.#releaseExitHook();
  }

  /** Writes the clears still waiting (the engine calls it when a run closes; the exit hook too). */
  flush(): void {
    if (this.#cleared.size > 0) this.#write([]);
    this.#releaseExitHook();
  }

  /** Read-modify-write of the shared file (two runs may share a state dir): drops what was cleared, adds `added`. */
  #write(added: Leftover[]): void {
    const gone = new Set([...this.#cleared, ...added.map((l) => l.id)]);
    const before = pendingLeftovers(this.stateDir);
    const kept = before.filter((x) => !gone.has(x.id));
    this.#cleared.clear();
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    if (added.length === 0 && kept.length === before.length) return;
    save(this.stateDir, [...kept, ...added]);
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
          // Gone: its record goes with the one write below.
          this.#mine.delete(l.id);
          this.#cleared.add(l.id);
        } catch {
          /* left for the next run's sweep */
        }
      }
      try {
        this.flush();
      } catch {
        /* the records stay; the next run's sweep finds nothing left to remove */
      }
    };
    process.once('exit', this.#exitHook);
  }

  /** Nothing of ours left to remove or to write: the exit hook goes. */
  #releaseExitHook(): void {
    if (this.#mine.size > 0 || this.#cleared.size > 0 || !this.#exitHook) return;
    process.off('exit', this.#exitHook);
    this.#exitHook = undefined;
  }
}

/** How long the clear of an exited process's record may wait for another write. */
const FLUSH_AFTER_MS = 1000;

/** A record of a process group and nothing else: safe to leave on disk a while (see Leftovers). */
function isProcessOnly(l: Leftover): boolean {
  return l.process !== undefined && !l.dirs?.length && !l.files?.length && !l.argv && !l.namespace;
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
    // A process that had exited before its run was killed (its record's clear not yet written): nothing was left.
    if (isProcessOnly(l) && !isSameProcess(l.process!.pid, l.process!.identity)) {
      clearLeftover(stateDir, l.id);
      continue;
    }
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
        const r = await exec(l.argv, { allowFailure: true, timeoutMs: l.timeoutMs ?? 30_000, step: 'sweep' });
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
