/**
 * The world a command sees (STYLE 5): streams, environment, working directory, terminal facts.
 * Tests pass their own; nothing reads process.* deep in the code.
 */
import type { Writable, Readable } from 'node:stream';

export interface Io {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  stdin: Readable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted on Ctrl-C / SIGTERM (set by cli.ts main). */
  signal?: AbortSignal;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

function truthyEnv(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function isCI(env: Io['env']): boolean {
  return truthyEnv(env.CI) || truthyEnv(env.CONTINUOUS_INTEGRATION) || env.BUILD_NUMBER !== undefined;
}

/** May we draw an animated task tree? (STYLE 8, first question) */
export function mayAnimate(io: Io): boolean {
  return io.stderr.isTTY === true && !isCI(io.env) && io.env.TERM !== 'dumb';
}

/** May we ask a question? (STYLE 8, second question) */
export function mayPrompt(io: Io, yes: boolean): boolean {
  return !yes && io.stdin.isTTY === true && io.stdout.isTTY === true && !isCI(io.env);
}

export function useColor(io: Io, flag: boolean | undefined): boolean {
  if (flag === false) return false;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  return io.stderr.isTTY === true;
}
