import { wholeNumber } from './flags.js';
import type { CommandModule } from './types.js';
import { commandContext, type CommandContext } from './context.js';
import { parseStages } from '../setup.js';
import type { RehearseOptions } from '../rehearse.js';

export interface RehearseFlags {
  nodes?: number;
  fault?: string[];
  stages?: string;
  timeout?: number;
}

/** rehearse's flags as the rehearsal's options. */
export function rehearseOptions(o: RehearseFlags, ctx: CommandContext): RehearseOptions {
  return { file: ctx.file, nodes: o.nodes, faults: o.fault, stateDir: ctx.stateDir, json: ctx.json, color: ctx.colorFlag, io: ctx.io, signal: ctx.signal, stages: parseStages(o.stages), timeoutS: o.timeout };
}

const mod: CommandModule = {
  register(program, io, setExit) {
    program
      .command('rehearse')
      .option('--nodes <n>', 'reshape the lab to N nodes (3 control planes from 3 up; 1-250)', wholeNumber(1, 250, 'nodes'))
      .option('--fault <name...>', 'start the lab with a fault (see `groundwork lab up --help`), to see what a broken cluster looks like')
      .option('--stages <list>', 'only these stages (comma-separated)')
      .option('--timeout <seconds>', 'how long validation waits for the lab (1-3600, default 120)', wholeNumber(1, 3600, 'seconds'))
      .addHelpText(
        'after',
        '\nUses -f cluster.yaml when it exists, else the embedded 3+2 lab spec (examples/lab.yaml).\nNothing leaves this machine: the lab listens on 127.0.0.1 and its nodes are 127.0.100.x.\n\nExamples:\n  $ groundwork rehearse\n  $ groundwork rehearse --nodes 5 --json\n  $ groundwork rehearse --fault netpol-not-enforced',
      )
      .action(async (o: RehearseFlags, cmd) => {
        const { runRehearse } = await import('../rehearse.js');
        const { exitCodeForSummary } = await import('../run/engine.js');
        const summary = await runRehearse(rehearseOptions(o, commandContext(cmd, io, { specOptional: true })));
        setExit(exitCodeForSummary(summary));
      });
  },
};
export default mod;
