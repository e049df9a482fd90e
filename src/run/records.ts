/**
 * Run records (DESIGN: .groundwork/ beside the spec): runs/<id>/audit.jsonl, state.json, report.json, junit.xml;
 * once.json (steps that must never run twice in this state dir); secrets/ (0700, files 0600).
 * Writes are atomic (temp file + rename) so a kill at any moment leaves a readable state.json.
 * Every record can hold tool output (redacted, but still the operator's): files are 0600, run dirs 0700.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AuditEntry, AuditSink } from '../exec/index.js';
import { EXIT, UserError } from '../errors.js';
import { Secret, type Redactor } from './secret.js';
import type { Result, RunValues, Status } from './types.js';

export interface StepState {
  status: Status;
  at: string;
  summary: string;
  /** ctx.values keys holding Secrets this step produced: never saved, so a resumed run runs the step again. */
  secretOutputs?: string[];
}

export interface RunState {
  version: 1;
  runId: string;
  command: string;
  planTitle: string;
  specFile?: string;
  specHash?: string;
  status: 'running' | 'pass' | 'fail' | 'incomplete' | 'interrupted';
  /** A dry run changes nothing, so it neither ends nor continues a real run's --resume chain. */
  dryRun?: boolean;
  /** The flags that shaped the run (--stages, --ignore): `--resume` runs the same plan with them. */
  flags?: RunFlags;
  startedAt: string;
  updatedAt: string;
  steps: Record<string, StepState>;
  values: RunValues;
  secretFiles: string[];
}

/** Flag name (as typed, without --) -> its value; a flag left out is absent. */
export type RunFlags = Record<string, string[]>;

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * The flags of a resumed run: what the interrupted run was started with, so `--resume` continues exactly that
 * run (its stages, its ignored checks). A flag given again with the same value is fine; a different value is a
 * usage error naming both. A run recorded before flags were kept takes the flags given now.
 * `show` spells a flag's value as the operator typed it (e.g. a comma list).
 */
export function resumeFlags(resumed: RunState | undefined, given: RunFlags, show: (flag: string, value: string[]) => string = (f, v) => `--${f} ${v.join(' ')}`): RunFlags {
  if (!resumed?.flags) return given;
  const recorded = resumed.flags;
  for (const [flag, value] of Object.entries(given)) {
    const was = recorded[flag];
    if (was !== undefined && sameValues(was, value)) continue;
    throw new UserError(`${show(flag, value)} conflicts with the run being resumed (${resumed.runId}), which ${was === undefined ? `ran without --${flag}` : `ran with ${show(flag, was)}`}`, {
      exitCode: EXIT.usage,
      why: '--resume continues the interrupted run exactly as it was started',
      fix: `leave --${flag} out to resume that run as it was, or start a new run without --resume`,
    });
  }
  return { ...recorded };
}

export interface OnceRecord {
  runId: string;
  at: string;
  summary: string;
}

export function newRunId(now: Date = new Date()): string {
  // Milliseconds keep ids in start order (findResumableRun sorts them); the random suffix keeps them unique.
  const iso = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${iso}-${String(now.getUTCMilliseconds()).padStart(3, '0')}${randomBytes(2).toString('hex')}`;
}

/** Mode of run records (state, report, JUnit, audit, once.json): they can hold tool output. */
export const RECORD_MODE = 0o600;

/**
 * Writes through a temp file created with `mode` (never widened, never chmodded afterwards) and a rename, so a
 * reader sees the old content or the new, and the file is never readable by others for a moment.
 */
export function writeFileAtomic(file: string, content: string, mode = RECORD_MODE): void {
  const tmp = `${file}.${process.pid}.tmp`;
  // A temp file a killed run left keeps its mode if written over: start from none.
  rmSync(tmp, { force: true });
  writeFileSync(tmp, content, { mode, flag: 'wx' });
  renameSync(tmp, file);
}

/**
 * What is wrong with a state dir that cannot be used, said as a UserError naming the path (never a stack):
 * it is a file, a part of its path is a file, or it is not writable.
 */
export function stateDirError(stateDir: string, err: unknown): UserError | undefined {
  const e = err as NodeJS.ErrnoException;
  const at = typeof e?.path === 'string' ? e.path : stateDir;
  const fix = 'pass --state-dir a directory you can write (or leave it out: .groundwork beside the spec)';
  if (e?.code === 'ENOTDIR' || e?.code === 'EEXIST') {
    const file = firstFileOnPath(stateDir) ?? at;
    return new UserError(`the state dir ${stateDir} cannot be used: ${file} is a file, not a directory`, { exitCode: EXIT.usage, why: 'run records and secrets live in directories under the state dir', fix });
  }
  if (e?.code === 'EACCES' || e?.code === 'EPERM' || e?.code === 'EROFS') {
    // mkdir names the path it could not make; the directory that refused is the nearest one that exists.
    let refused = at;
    while (!existsSync(refused) && path.dirname(refused) !== refused) refused = path.dirname(refused);
    return new UserError(`the state dir ${stateDir} is not writable: ${refused}: ${e.code === 'EROFS' ? 'read-only file system' : 'permission denied'}`, {
      exitCode: EXIT.usage,
      why: 'every run records its state, report and audit log there',
      fix: `${fix}; or give yourself write access (\`chmod u+w ${refused}\`)`,
    });
  }
  if (e?.code === 'ENOENT') {
    return new UserError(`the state dir ${stateDir} cannot be created: ${at}: that file system does not allow it`, { exitCode: EXIT.usage, why: 'run records and secrets live in directories under the state dir', fix });
  }
  return undefined;
}

function firstFileOnPath(p: string): string | undefined {
  let cur = path.resolve(p);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(cur);
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const c of chain) {
    try {
      if (!statSync(c).isDirectory()) return c;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Creates a directory in the state dir (0700 by default), saying what is wrong with the state dir if it can't. */
export function mkdirInStateDir(stateDir: string, dir: string, mode = 0o700): void {
  try {
    // One level at a time: Node's recursive mkdir never returns under /proc (full CPU, signals unseen).
    mkdirEachLevel(dir, mode);
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', path: dir });
  } catch (err) {
    throw stateDirError(stateDir, err) ?? err;
  }
}

/** A run directory (and runs/ above it), created 0700; one an older groundwork made wider is narrowed. */
export function ensureRunDir(runDir: string, stateDir = path.dirname(path.dirname(runDir))): void {
  mkdirInStateDir(stateDir, runDir);
  for (const d of [path.dirname(runDir), runDir]) {
    if ((statSync(d).mode & 0o077) !== 0) chmodSync(d, 0o700);
  }
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'that file system does not allow it (no such directory)',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file of that name is in the way',
};

/**
 * mkdir -p for the state dir and what is under it, one level at a time. Node's recursive mkdir never returns on
 * some pseudo file systems (a --state-dir under /proc spins at full CPU and ignores signals); this one fails at
 * once with a UserError that says why, in words.
 */
export function makeDirs(dir: string, mode?: number): void {
  try {
    mkdirEachLevel(dir, mode);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw cannotCreate(path.resolve(dir), `${err.path ?? dir}: ${ERRNO_WORDS[err.code ?? ''] ?? err.code ?? err.message}`);
  }
}

/** The errno-throwing core of makeDirs (mkdirInStateDir words its errors itself). */
function mkdirEachLevel(dir: string, mode?: number): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  let cur = target;
  for (;;) {
    let st;
    try {
      st = statSync(cur);
    } catch {
      st = undefined;
    }
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${cur} is a file, not a directory`), { code: 'ENOTDIR', path: cur });
      break;
    }
    const up = path.dirname(cur);
    if (up === cur) break;
    missing.unshift(cur);
    cur = up;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, mode === undefined ? undefined : { mode });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST' && statSync(d, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw e;
    }
  }
}

function cannotCreate(dir: string, why: string): UserError {
  return new UserError(`cannot create the directory ${dir}`, { why, exitCode: EXIT.usage, fix: 'pass --state-dir with a directory you can write to (default: .groundwork beside the spec)' });
}

export function secretsDir(stateDir: string): string {
  const dir = path.join(stateDir, 'secrets');
  mkdirInStateDir(stateDir, dir);
  chmodSync(dir, 0o700);
  return dir;
}

/** The newest run in a state dir that did not pass, for --resume. */
export function findResumableRun(stateDir: string, command?: string): RunState | undefined {
  const runs = path.join(stateDir, 'runs');
  if (!existsSync(runs)) return undefined;
  const ids = readdirSync(runs).sort().reverse();
  for (const id of ids) {
    const f = path.join(runs, id, 'state.json');
    if (!existsSync(f)) continue;
    try {
      const s = JSON.parse(readFileSync(f, 'utf8')) as RunState;
      if (command && s.command !== command) continue;
      if (s.dryRun) continue;
      return s.status === 'pass' ? undefined : s;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** One line of an audit log (created 0600). */
export function appendAudit(file: string, line: string): void {
  appendFileSync(file, `${line}\n`, { mode: RECORD_MODE });
}

export class RunRecords implements AuditSink {
  readonly runDir: string;
  readonly stateDir: string;
  state: RunState;
  #once: Record<string, OnceRecord>;
  readonly #redactor: Redactor;

  constructor(stateDir: string, state: RunState, redactor: Redactor) {
    this.stateDir = stateDir;
    this.runDir = path.join(stateDir, 'runs', state.runId);
    ensureRunDir(this.runDir, stateDir);
    this.state = state;
    this.#redactor = redactor;
    this.#once = this.#readOnce();
  }

  #onceFile(): string {
    return path.join(this.stateDir, 'once.json');
  }

  #readOnce(): Record<string, OnceRecord> {
    try {
      return JSON.parse(readFileSync(this.#onceFile(), 'utf8')) as Record<string, OnceRecord>;
    } catch {
      return {};
    }
  }

  onceDone(stepId: string): OnceRecord | undefined {
    return this.#once[stepId];
  }

  markOnce(stepId: string, summary: string): void {
    this.#once[stepId] = { runId: this.state.runId, at: new Date().toISOString(), summary: this.#redactor.redact(summary) };
    writeFileAtomic(this.#onceFile(), `${JSON.stringify(this.#once, null, 2)}\n`);
  }

  record(entry: AuditEntry): void {
    appendAudit(path.join(this.runDir, 'audit.jsonl'), this.#redactor.redact(JSON.stringify(entry)));
  }

  saveState(): void {
    this.state.updatedAt = new Date().toISOString();
    // Secret values (captured tokens, keys) are never written: a resumed run produces them again.
    const values = Object.fromEntries(Object.entries(this.state.values).filter(([, v]) => !(v instanceof Secret)));
    const text = this.#redactor.redact(JSON.stringify({ ...this.state, values }, null, 2));
    writeFileAtomic(path.join(this.runDir, 'state.json'), `${text}\n`);
  }

  writeReport(report: unknown): string {
    const file = path.join(this.runDir, 'report.json');
    writeFileAtomic(file, `${JSON.stringify(this.#redactor.redactDeep(report), null, 2)}\n`);
    return file;
  }

  writeJunit(xml: string): string {
    const file = path.join(this.runDir, 'junit.xml');
    writeFileAtomic(file, this.#redactor.redact(xml));
    return file;
  }
}

export function resultCounts(results: Result[]): Record<Status, number> {
  const c: Record<Status, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) c[r.status]++;
  return c;
}
