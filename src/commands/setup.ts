import { defineCommand } from './types.js';
import { commandContext, type CommandContext } from './context.js';
import { mayPrompt } from '../io.js';
import { EXIT, UserError } from '../errors.js';
import { parseStages, type SetupOptions } from '../setup.js';
import type { WizardOptions } from '../wizard.js';

export interface SetupFlags {
  dryRun: boolean;
  resume: boolean;
  stages?: string;
  ignore?: string[];
}

/** setup's flags as what runs: the wizard (a terminal, no --yes) or a headless run; usage errors say which flag. */
export function setupOptions(o: SetupFlags, ctx: CommandContext): { wizard: WizardOptions } | { setup: SetupOptions } {
  const { io } = ctx;
  if (!ctx.yes && (o.dryRun || o.resume || o.stages || o.ignore)) {
    throw new UserError('--dry-run, --resume, --stages and --ignore are for headless runs', {
      exitCode: EXIT.usage,
      fix: 'add --yes to run headless with them, or run `groundwork setup` alone for the wizard',
    });
  }
  if (!ctx.yes) {
    // In a terminal, setup without --yes is the wizard; without a person it must not wait for one.
    if (!mayPrompt(io, false)) {
      throw new UserError('no terminal to ask questions in (CI or no TTY)', {
        exitCode: EXIT.usage,
        fix: `run \`groundwork setup --yes -f ${ctx.file}\` (see \`groundwork plan -f ${ctx.file}\` first)`,
      });
    }
    return { wizard: { file: ctx.file, stateDir: ctx.stateDir, color: ctx.color, io } };
  }
  return {
    setup: { file: ctx.file, stateDir: ctx.stateDir, json: ctx.json, color: ctx.colorFlag, dryRun: o.dryRun, resume: o.resume, stages: parseStages(o.stages), ignore: o.ignore, io, signal: ctx.signal },
  };
}

export default defineCommand((program, io, setExit) => {
  program
    .command('setup')
    .option('--dry-run', 'write generated files into the run directory and run nothing', false)
    .option('--resume', 'continue the newest unfinished run; finished and once-only steps are never repeated', false)
    .option('--stages <list>', 'only these stages (comma-separated)')
    .option('--ignore <check...>', 'downgrade the named preflight check to a warning (repeatable; there is no "all")')
    .addHelpText(
      'after',
      '\nExamples:\n  $ groundwork setup --yes -f cluster.yaml\n  $ groundwork setup --yes --dry-run -f examples/talos-ha.yaml\n  $ groundwork setup --yes --resume\n  $ groundwork setup --yes --stages preflight --ignore etcd-disk-fsync',
    )
    .action(async (o: SetupFlags, cmd) => {
      const run = setupOptions(o, commandContext(cmd, io));
      if ('wizard' in run) {
        const { runWizard } = await import('../wizard.js');
        setExit(await runWizard(run.wizard));
        return;
      }
      const { runSetup } = await import('../setup.js');
      const { exitCodeForSummary } = await import('../run/types.js');
      setExit(exitCodeForSummary(await runSetup(run.setup)));
    });
});
