import { defineCommand } from './types.js';
import { commandContext, type CommandContext } from './context.js';

/** plan's flags as printPlan's options. */
export function planOptions(o: { stages?: string }, ctx: CommandContext): { file: string; stateDir: string; json: boolean; stages?: string; io: CommandContext['io'] } {
  return { file: ctx.file, stateDir: ctx.stateDir, json: ctx.json, stages: o.stages, io: ctx.io };
}

export default defineCommand((program, io, setExit) => {
  program
    .command('plan')
    .option('--stages <list>', 'only these stages (comma-separated: preflight,bootstrap,cni,monitoring,backup,validate,drill)')
    .addHelpText('after', '\nExample:\n  $ groundwork plan -f examples/talos-ha.yaml --stages bootstrap')
    .action(async (o: { stages?: string }, cmd) => {
      const { printPlan } = await import('../setup.js');
      await printPlan(planOptions(o, commandContext(cmd, io)));
      setExit(0);
    });
});
