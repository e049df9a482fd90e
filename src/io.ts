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

/** Same rule as ink's is-in-ci (CI set to anything but "0"/"false", even ""), so we never start a UI ink won't draw. */
function isCI(env: Io['env']): boolean {
  const set = (v: string | undefined) => v !== undefined && v !== '0' && v.toLowerCase() !== 'false';
  return set(env.CI) || set(env.CONTINUOUS_INTEGRATION) || env.BUILD_NUMBER !== undefined || env.RUN_ID !== undefined;
}

/** May we draw an animated task tree? (STYLE 8, first question) */
export function mayAnimate(io: Io): boolean {
  return io.stderr.isTTY === true && !isCI(io.env) && io.env.TERM !== 'dumb';
}

/** May we ask a question? (STYLE 8, second question) */
export function mayPrompt(io: Io, yes: boolean): boolean {
  return !yes && io.stdin.isTTY === true && io.stdout.isTTY === true && !isCI(io.env);
}

/** May we colour at all? Not with --no-color (flag false), nor with NO_COLOR set to anything but "" (no-color.org). */
export function colorAllowed(env: Io['env'], flag: boolean | undefined): boolean {
  return flag !== false && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** Colour on this stream: allowed (colorAllowed) and the stream is a terminal. */
export function colorOn(stream: { isTTY?: boolean }, allowed: boolean): boolean {
  return allowed && stream.isTTY === true;
}

/**
 * An output file the operator named (--junit): said before a long run that it can't be written, not after.
 * The file may not exist yet; its directory must, and be writable; the path must not be a directory.
 */
export async function checkOutputFile(flag: string, file: string): Promise<void> {
  const { accessSync, constants, statSync } = await import('node:fs');
  const path = await import('node:path');
  const { UserError, EXIT } = await import('./errors.js');
  const dir = path.dirname(path.resolve(file));
  const fail = (reason: string, fix: string) => new UserError(`cannot write ${flag} ${file}: ${reason}`, { exitCode: EXIT.usage, fix });
  let st;
  try {
    st = statSync(file);
  } catch {
    /* a new file */
  }
  if (st?.isDirectory()) throw fail('it is a directory', `pass ${flag} with a file name, e.g. ${path.join(file, 'junit.xml')}`);
  try {
    if (!statSync(dir).isDirectory()) throw fail(`${dir} is not a directory`, `pass ${flag} with a path in an existing directory`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw fail(`the directory ${dir} does not exist`, `create it (\`mkdir -p ${dir}\`) or pass ${flag} with a path in an existing directory`);
  }
  try {
    accessSync(st ? file : dir, constants.W_OK);
  } catch {
    throw fail(`permission denied (${st ? file : dir} is not writable)`, `pass ${flag} with a path you can write`);
  }
}
