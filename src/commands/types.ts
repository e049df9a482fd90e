import type { Command } from 'commander';
import type { Io } from '../io.js';

/** Global flags every command sees (set on the program, read with optsWithGlobals). */
export interface GlobalOptions {
  file: string;
  json: boolean;
  stateDir?: string;
  color: boolean;
}

/** A command module: defines flags and a thin action that lazy-imports the service that does the work. */
export interface CommandModule {
  register(program: Command, io: Io, setExit: (code: number) => void): void;
}

/** A command module from its register function: `export default defineCommand((program, io, setExit) => …)`. */
export function defineCommand(register: CommandModule['register']): CommandModule {
  return { register };
}
