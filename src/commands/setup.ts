import type { CommandModule, GlobalOptions } from './types.js';
import { mayPrompt } from '../io.js';

const mod: CommandModule = {
  register(program, io, setExit) {
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
      .action(async (o: { dryRun: boolean; resume: boolean; stages?: string; ignore?: string[] }, cmd) => {
        const g = cmd.optsWithGlobals() as GlobalOptions & { yes: boolean };
        const { UserError, EXIT } = await import('../errors.js');
        if (!g.yes && (o.dryRun || o.resume || o.stages || o.ignore)) {
          throw new UserError('--dry-run, --resume, --stages and --ignore are for headless runs', {
            exitCode: EXIT.usage,
            fix: 'add --yes to run headless with them, or run `groundwork setup` alone for the wizard',
          });
        }
        if (!g.yes) {
          // In a terminal, setup without --yes is the wizard; without a person it must not wait for one.
          if (!mayPrompt(io, false)) {
            throw new UserError('no terminal to ask questions in (CI or no TTY)', {
              exitCode: EXIT.usage,
              fix: `run \`groundwork setup --yes -f ${g.file}\` (see \`groundwork plan -f ${g.file}\` first)`,
            });
          }
          const { runWizard } = await import('../wizard.js');
          setExit(await runWizard({ file: g.file, stateDir: g.stateDir, color: g.color && !io.env.NO_COLOR, io }));
          return;
        }
        const { runSetup, parseStages } = await import('../setup.js');
        const { exitCodeForSummary } = await import('../run/engine.js');
        const summary = await runSetup({
          file: g.file,
          stateDir: g.stateDir,
          json: g.json,
          color: g.color,
          dryRun: o.dryRun,
          resume: o.resume,
          stages: parseStages(o.stages),
          ignore: o.ignore,
          io,
          signal: io.signal,
        });
        setExit(exitCodeForSummary(summary));
      });
  },
};
export default mod;
