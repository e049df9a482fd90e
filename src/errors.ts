/**
 * Errors by who must act (STYLE 7). Deep code throws these; only cli.ts renders them and picks the exit code.
 */

import { redactSecretShapes } from './run/secret-shapes.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export interface UserErrorOptions {
  /** Why it matters / what we saw. */
  why?: string;
  /** What the operator should do next (a command, a flag, a file to edit). */
  fix?: string;
  /** 2 for usage and spec errors, 1 for everything else the user must fix. */
  exitCode?: number;
  cause?: unknown;
}

/** Something the operator can fix: bad input, a missing tool, an unreachable node. */
export class UserError extends Error {
  readonly why?: string;
  readonly fix?: string;
  readonly exitCode: number;
  constructor(message: string, opts: UserErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'UserError';
    this.why = opts.why;
    this.fix = opts.fix;
    this.exitCode = opts.exitCode ?? EXIT.failed;
  }
}

/** One problem in a spec or other input file, with its position. */
export interface SpecIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. spec.network.podCIDR */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatIssue(i: SpecIssue): string {
  const where = `${i.file}:${i.line}:${i.column}`;
  const path = i.path === '' ? '' : ` ${i.path}:`;
  const prefix = i.severity === 'warning' ? ' warning:' : '';
  return `${where}${prefix}${path} ${i.message}`;
}

/** Every error in an input file at once; exit code 2. */
export class SpecError extends UserError {
  readonly issues: SpecIssue[];
  constructor(issues: SpecIssue[]) {
    super(issues.map(formatIssue).join('\n'), { exitCode: EXIT.usage });
    this.name = 'SpecError';
    this.issues = issues;
  }
}

/** An external tool ran and failed: the command, its exit code and the last lines of stderr. */
export class ToolError extends Error {
  readonly argv: string[];
  readonly exitCode: number | undefined;
  readonly stderrTail: string;
  readonly fix?: string;
  constructor(argv: string[], exitCode: number | undefined, stderrTail: string, opts: { message?: string; fix?: string } = {}) {
    super(opts.message ?? `${argv[0]} exited with code ${exitCode ?? 'unknown'}`);
    this.name = 'ToolError';
    this.argv = argv;
    this.exitCode = exitCode;
    // Built from a tool's output: whoever shows it, a token the tool printed is not in it.
    this.stderrTail = redactSecretShapes(stderrTail);
    this.fix = opts.fix;
  }
}

/** Why a file the operator named can't be read, in words (never a bare errno). */
export function fileProblem(err: unknown): { reason: string; hint?: string } {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return { reason: 'no such file' };
    case 'EACCES':
    case 'EPERM':
      return { reason: 'permission denied', hint: 'give yourself read access (`chmod u+r FILE`, or run as its owner)' };
    case 'EISDIR':
      return { reason: 'it is a directory, not a file', hint: 'pass the file inside it' };
    case 'ENOTDIR':
      return { reason: 'a part of the path is a file, not a directory' };
    case 'ELOOP':
      return { reason: 'too many levels of symbolic links' };
    case 'ENAMETOOLONG':
      return { reason: 'the path is too long' };
    case 'ERR_INVALID_ARG_VALUE':
    case 'ERR_INVALID_ARG_TYPE':
      return { reason: 'the path contains a NUL byte' };
    default:
      return { reason: e?.code ?? (err instanceof Error ? err.message : String(err)) };
  }
}

/**
 * A file the operator named (with `flag`) that can't be read, as a UserError: the path, what is wrong, the fix.
 * Usage error (exit 2): the command line or spec points at the wrong thing.
 */
export function fileError(what: string, file: string, err: unknown, opts: { fix: string; exitCode?: number }): UserError {
  const p = fileProblem(err);
  return new UserError(`cannot read ${what} ${file}: ${p.reason}`, {
    exitCode: opts.exitCode ?? EXIT.usage,
    fix: p.hint ? `${p.hint.replace('FILE', file)}, or ${opts.fix}` : opts.fix,
  });
}

/** The operator interrupted (Ctrl-C, SIGTERM). Cleanup has run by the time this reaches the top. */
export class Cancelled extends Error {
  constructor(message = 'interrupted') {
    super(message);
    this.name = 'Cancelled';
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof Cancelled) return EXIT.interrupted;
  if (err instanceof UserError) return err.exitCode;
  return EXIT.failed;
}

/**
 * Plain-text rendering for the terminal (stderr). Bugs keep their stack; user errors don't. Everything it
 * prints passes the secret-shape redactor: an error that escaped a run never met the run's redactor.
 */
export function renderError(err: unknown): string {
  return redactSecretShapes(renderErrorText(err));
}

function renderErrorText(err: unknown): string {
  if (err instanceof SpecError) {
    // Headed by the file(s), so a log line says which input was wrong before it says how.
    const files = [...new Set(err.issues.map((i) => i.file))];
    const n = err.issues.length;
    return `error: ${files.join(', ') || 'the input'} has ${n === 1 ? 'a problem' : `${n} problems`}\n${err.message}`;
  }
  if (err instanceof UserError) {
    const lines = [`error: ${err.message}`];
    if (err.why) lines.push(`  why: ${err.why}`);
    if (err.fix) lines.push(`  fix: ${err.fix}`);
    return lines.join('\n');
  }
  if (err instanceof ToolError) {
    const lines = [`error: ${err.message}`, `  command: ${err.argv.join(' ')}`];
    if (err.stderrTail) lines.push(...err.stderrTail.split('\n').map((l) => `  | ${l}`));
    if (err.fix) lines.push(`  fix: ${err.fix}`);
    return lines.join('\n');
  }
  if (err instanceof Cancelled) return `interrupted: ${err.message}`;
  const e = err instanceof Error ? err : new Error(String(err));
  return `internal error (a bug in groundwork, please report it): ${e.stack ?? e.message}`;
}
