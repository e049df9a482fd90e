import { wholeNumber } from './flags.js';
import type { CommandModule, GlobalOptions } from './types.js';

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
      .action(async (o: { nodes?: number; fault?: string[]; stages?: string; timeout?: number }, cmd) => {
        const g = cmd.optsWithGlobals() as GlobalOptions;
        const { runRehearse } = await import('../rehearse.js');
        const { parseStages } = await import('../setup.js');
        const { exitCodeForSummary } = await import('../run/engine.js');
        const summary = await runRehearse({
          file: g.file,
          nodes: o.nodes,
          faults: o.fault,
          stateDir: g.stateDir,
          json: g.json,
          color: g.color,
          io,
          signal: io.signal,
          stages: parseStages(o.stages),
          timeoutS: o.timeout,
        });
        setExit(exitCodeForSummary(summary));
      });
  },
};
export default mod;
