/**
 * What every command resolves once from the global flags and the world, before its own flags: the spec file,
 * --json and --yes, the state dir, whether colour is allowed, and the Ctrl-C signal. Each command's flags then
 * become its service's options in a pure function of (flags, context), tested with tables.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { colorAllowed, colorOn, type Io } from '../io.js';
import { resolveStateDir } from '../run/state-dir.js';
import type { GlobalOptions } from './types.js';

export interface CommandContext {
  io: Io;
  /** -f as given (messages name it so). */
  file: string;
  /** -f was given on the command line (not the default cluster.yaml). */
  fileGiven: boolean;
  json: boolean;
  yes: boolean;
  /** --state-dir, else .groundwork beside the spec (run/state-dir.ts). */
  stateDir: string;
  /** Colour allowed (not --no-color, no NO_COLOR); each output stream adds its own terminal test (colorOn). */
  color: boolean;
  /** --no-color was not given: for the engine, which applies NO_COLOR and the terminal test per stream itself. */
  colorFlag: boolean;
  /** Colour on this stream: allowed, and the stream is a terminal. */
  colorOn(stream: { isTTY?: boolean }): boolean;
  signal?: AbortSignal;
}

interface ContextRules {
  /** The spec is optional (rehearse, validate): a missing -f file puts the state dir in the working directory. */
  specOptional?: boolean;
}

/** The context from global flags already parsed (pure but for the one existence test of an optional spec). */
export function contextFrom(g: GlobalOptions & { yes?: boolean }, io: Io, rules: ContextRules = {}, fileGiven = false): CommandContext {
  const spec = rules.specOptional && !existsSync(path.resolve(io.cwd, g.file)) ? undefined : g.file;
  const color = colorAllowed(io.env, g.color);
  return {
    io,
    file: g.file,
    fileGiven,
    json: g.json,
    yes: g.yes ?? false,
    stateDir: resolveStateDir(g.stateDir, spec, io.cwd),
    color,
    colorFlag: g.color !== false,
    colorOn: (stream) => colorOn(stream, color),
    signal: io.signal,
  };
}

/** The context of the command commander is running. */
export function commandContext(cmd: Command, io: Io, rules: ContextRules = {}): CommandContext {
  let root = cmd;
  while (root.parent) root = root.parent;
  return contextFrom(cmd.optsWithGlobals() as GlobalOptions & { yes?: boolean }, io, rules, root.getOptionValueSource('file') === 'cli');
}
