import type { CommandModule, GlobalOptions } from './types.js';

const mod: CommandModule = {
  register(program, io, setExit) {
    program
      .command('plan')
      .option('--stages <list>', 'only these stages (comma-separated: preflight,bootstrap,cni,monitoring,backup,validate,drill)')
      .addHelpText('after', '\nExample:\n  $ groundwork plan -f examples/talos-ha.yaml --stages bootstrap')
      .action(async (o: { stages?: string }, cmd) => {
        const g = cmd.optsWithGlobals() as GlobalOptions;
        const { printPlan } = await import('../setup.js');
        await printPlan({ file: g.file, stateDir: g.stateDir, json: g.json, stages: o.stages, io });
        setExit(0);
      });
  },
};
export default mod;
