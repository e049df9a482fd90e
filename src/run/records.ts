/**
 * Run records (DESIGN: .groundwork/ beside the spec): runs/<id>/audit.jsonl, state.json, report.json, junit.xml;
 * once.json (steps that must never run twice in this state dir); secrets/ (0700, files 0600).
 * Writes are atomic (temp file + rename) so a kill at any moment leaves a readable state.json.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AuditEntry, AuditSink } from '../exec/index.js';
import { Secret, type Redactor } from './secret.js';
import type { Result, Status } from './types.js';

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
  status: 'running' | 'pass' | 'fail' | 'interrupted';
  /** A dry run changes nothing, so it neither ends nor continues a real run's --resume chain. */
  dryRun?: boolean;
  startedAt: string;
  updatedAt: string;
  steps: Record<string, StepState>;
  values: Record<string, unknown>;
  secretFiles: string[];
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

export function writeFileAtomic(file: string, content: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

/** The state dir default: .groundwork beside the spec file. */
export function defaultStateDir(specFile: string): string {
  return path.join(path.dirname(path.resolve(specFile)), '.groundwork');
}

export function secretsDir(stateDir: string): string {
  const dir = path.join(stateDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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

export class RunRecords implements AuditSink {
  readonly runDir: string;
  readonly stateDir: string;
  state: RunState;
  #once: Record<string, OnceRecord>;
  readonly #redactor: Redactor;

  constructor(stateDir: string, state: RunState, redactor: Redactor) {
    this.stateDir = stateDir;
    this.runDir = path.join(stateDir, 'runs', state.runId);
    mkdirSync(this.runDir, { recursive: true });
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
    appendFileSync(path.join(this.runDir, 'audit.jsonl'), `${this.#redactor.redact(JSON.stringify(entry))}\n`);
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
