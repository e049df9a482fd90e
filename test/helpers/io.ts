/** An Io for tests: stdout and stderr captured as text, no terminal, no colour. */
import { PassThrough } from 'node:stream';
import type { Io } from '../../src/io.js';

export type CapturedIo = Io & { out: () => string; err: () => string };

export function captureIo(cwd: string, env: Record<string, string | undefined> = { NO_COLOR: '1', CI: 'true' }, signal?: AbortSignal): CapturedIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, stdin: new PassThrough(), env, cwd, ...(signal ? { signal } : {}), out: () => out, err: () => err };
}
