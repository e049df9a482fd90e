import { Option } from 'commander';
import { wholeNumber } from './flags.js';
import { MAX_LAB_NODES } from '../lab/store/limits.js';
import { defineCommand } from './types.js';
import { commandContext, type CommandContext } from './context.js';
import { parseStages } from '../setup.js';
import type { RehearseOptions } from '../rehearse.js';

export interface RehearseFlags {
  nodes?: number;
  fault?: string[];
  stages?: string;
  timeout?: number;
  api?: 'real' | 'embedded';
}

/** rehearse's flags as the rehearsal's options. */
export function rehearseOptions(o: RehearseFlags, ctx: CommandContext): RehearseOptions {
  return { file: ctx.file, nodes: o.nodes, faults: o.fault, stateDir: ctx.stateDir, json: ctx.json, color: ctx.colorFlag, io: ctx.io, signal: ctx.signal, stages: parseStages(o.stages), timeoutS: o.timeout, api: o.api };
}

export default defineCommand((program, io, setExit) => {
  program
    .command('rehearse')
    .option('--nodes <n>', `reshape the lab to N nodes (3 control planes from 3 up; 1-${MAX_LAB_NODES})`, wholeNumber(1, MAX_LAB_NODES, 'nodes'))
    .option('--fault <name...>', 'start the lab with a fault (see `groundwork lab up --help`), to see what a broken cluster looks like')
    .option('--stages <list>', 'only these stages (comma-separated)')
    .addOption(new Option('--api <api>', "the lab's API: real (kube-apiserver and friends from `npm run real-tools` or PATH) or embedded; default real when those programs are there").choices(['real', 'embedded']))
    .option('--timeout <seconds>', 'how long validation waits for the lab (1-3600, default 120)', wholeNumber(1, 3600, 'seconds'))
    .addHelpText(
      'after',
      '\nUses -f cluster.yaml when it exists, else the embedded 3+2 lab spec (examples/lab.yaml).\nNothing leaves this machine: the lab listens on 127.0.0.1 and its nodes are 127.0.100.x.\n\nExamples:\n  $ groundwork rehearse\n  $ groundwork rehearse --nodes 5 --json\n  $ groundwork rehearse --fault netpol-not-enforced',
    )
    .action(async (o: RehearseFlags, cmd) => {
      const { runRehearse } = await import('../rehearse.js');
      const { exitCodeForSummary } = await import('../run/types.js');
      const summary = await runRehearse(rehearseOptions(o, commandContext(cmd, io, { specOptional: true })));
      setExit(exitCodeForSummary(summary));
    });
});
