import { Option } from 'commander';
import { wholeNumber } from './flags.js';
import { defineCommand } from './types.js';
import { commandContext, type CommandContext } from './context.js';
import type { RunPreflightOptions } from '../preflight/run.js';

export interface PreflightFlags {
  ignore?: string[];
  role?: 'control-plane' | 'worker' | 'operator';
  remote: boolean;
  list: boolean;
  fsyncBytes?: number;
}

/** preflight's flags as the preflight service's options. */
export function preflightOptions(o: PreflightFlags, ctx: CommandContext): RunPreflightOptions {
  return {
    file: ctx.file,
    stateDir: ctx.stateDir,
    json: ctx.json,
    // As the progress on stderr is drawn.
    color: ctx.colorOn(ctx.io.stderr),
    ignore: o.ignore,
    role: o.role,
    remote: o.remote,
    fsyncBytes: o.fsyncBytes,
    io: ctx.io,
    signal: ctx.signal,
  };
}

export default defineCommand((program, io, setExit) => {
  program
    .command('preflight')
    .option('--ignore <check...>', 'downgrade the named check to a warning, recorded in the report (repeatable; there is no "all")')
    .addOption(new Option('--role <role>', 'what this machine is (default: the spec node with this machine\'s address, else the operator machine)').choices(['control-plane', 'worker', 'operator']))
    .option('--no-remote', 'do not query the nodes (talosctl --insecure / ssh); check this machine, subnets and reachability only')
    .option('--list', 'print the port catalog and the thresholds with their sources, and run nothing', false)
    .addOption(new Option('--fsync-bytes <n>', 'bytes the etcd disk benchmark writes (default 23068672 = 22 MiB, as etcd guidance)').argParser(wholeNumber(1, 1024 ** 3, 'bytes')).hideHelp())
    .addHelpText(
      'after',
      [
        '',
        'Checks are named ([FAIL etcd-disk-fsync]); pass a name to --ignore to accept that one risk.',
        'Run `groundwork preflight --list` for the port catalog and thresholds with their sources.',
        '',
        'Examples:',
        '  $ groundwork preflight -f cluster.yaml',
        '  $ groundwork preflight -f cluster.yaml --json > preflight.json',
        '  $ groundwork preflight -f cluster.yaml --role control-plane --ignore etcd-disk-fsync',
        '  $ groundwork preflight --list',
      ].join('\n'),
    )
    .action(async (o: PreflightFlags, cmd) => {
      if (o.list) {
        const { formatPreflightCatalog } = await import('../preflight/run.js');
        io.stdout.write(formatPreflightCatalog());
        setExit(0);
        return;
      }
      const { runPreflight } = await import('../preflight/run.js');
      const { exitCodeForSummary } = await import('../run/types.js');
      setExit(exitCodeForSummary(await runPreflight(preflightOptions(o, commandContext(cmd, io)))));
    });
});
