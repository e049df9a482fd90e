/**
 * Argument parsing, mode choice and the one global error handler (DESIGN: cli.ts).
 * Keep this file light: `groundwork --version` and `--help` must not load ink, react or client-node.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError, exitCodeFor, renderError } from './errors.js';
import { colorAllowed, processIo, mayPrompt, type Io } from './io.js';
import { COMMANDS, commandNamed } from './commands/index.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

const EXAMPLES = `
Examples:
  $ groundwork                                         the wizard (in a terminal)
  $ groundwork rehearse                                the whole flow on the lab, on this machine
  $ groundwork plan -f examples/talos-ha.yaml          show every step and its exact argv, run nothing
  $ groundwork setup --yes -f cluster.yaml             run all stages non-interactively
  $ groundwork setup --yes --resume                    continue an interrupted run
  $ groundwork setup --yes --stages preflight,validate run some stages only
  $ groundwork spec schema > groundwork.schema.json    JSON Schema for editors

Exit codes: 0 passed, 1 something failed, 2 usage or spec error, 130 interrupted.
Docs: README.md`;

/** `groundwork ... | head` closes stdout early: that is the reader's choice, not an error worth a stack trace. */
function quietOnClosedPipe(stream: Io['stdout']): void {
  if (stream !== process.stdout || stream.listenerCount('error') > 0) return;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
    process.stderr.write(`error: cannot write the output: ${e.message}\n`);
    process.exit(EXIT.failed);
  });
}

type CommanderCommand = import('commander').Command;

/**
 * A command that has both an action and subcommands (the program itself: the wizard; `drill`: `drill history`)
 * would read an unknown word as an extra argument ("too many arguments"). Such commands take the words, and a
 * word that is no subcommand is an unknown command with a suggestion, as kubectl and helm say it.
 * Set after the commands are registered, so subcommands keep commander's strict argument count.
 */
function adoptUnknownSubcommands(root: CommanderCommand): void {
  const walk = (cmd: CommanderCommand) => {
    const hasAction = (cmd as unknown as { _actionHandler?: unknown })._actionHandler !== undefined && (cmd as unknown as { _actionHandler?: unknown })._actionHandler !== null;
    if (cmd.commands.length > 0 && hasAction && cmd.registeredArguments.length === 0) {
      cmd.allowExcessArguments(true);
      cmd.hook('preAction', (self, actionCommand) => {
        // Hooks run for the ancestors of the command that acts too: only the acting command judges its words.
        if (actionCommand === self && self.args.length > 0) (self as unknown as { unknownCommand(): never }).unknownCommand();
      });
    }
    for (const sub of cmd.commands) walk(sub);
  };
  walk(root);
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  // Ctrl-C / SIGTERM abort the run, from the first instant (installed before any I/O): running processes get the
  // signal, every loop and wait sees the abort, cleanup hooks run, state is saved, exit 130. A second signal
  // leaves at once: directories and process groups of this run still go on exit, and what needs the cluster
  // (test namespaces) stays recorded in the state dir's leftovers.json for the next run to sweep.
  const abort = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      io.stderr.write('\ninterrupted: stopping the running step and cleaning up (Ctrl-C again to leave at once)\n');
      abort.abort();
    } else {
      io.stderr.write('interrupted again: leaving now; what cleanup did not finish is recorded and the next run removes it\n');
      process.exit(EXIT.interrupted);
    }
  };
  const installSignals = io.signal === undefined;
  if (installSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    io = { ...io, signal: abort.signal };
  }
  try {
    return await runMain(argv, io);
  } finally {
    if (installSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/**
 * Parses argv with the real program and its flags, running no action: what the acting command would get (its
 * name, its options with the globals), or the usage exit code. For callers that offer commands to type (the
 * wizard's next steps) and their tests.
 */
export async function parseArgv(argv: string[], io: Io): Promise<{ code: number; command?: { path: string[]; opts: Record<string, unknown> } }> {
  let command: { path: string[]; opts: Record<string, unknown> } | undefined;
  const code = await runMain(argv, io, (cmd) => {
    const path: string[] = [];
    for (let c: CommanderCommand | null = cmd; c?.parent; c = c.parent) path.unshift(c.name());
    command = { path, opts: cmd.optsWithGlobals() };
  });
  return { code, command };
}

/** `groundwork` alone, with no person at a terminal: it must not wait for one. */
function noTerminal(): UserError {
  return new UserError('no terminal to ask questions in (CI or no TTY), and no command given', {
    exitCode: EXIT.usage,
    fix: 'run `groundwork setup --yes -f cluster.yaml` (or `groundwork plan -f cluster.yaml` to see what it would do)',
  });
}

/**
 * The bare `groundwork`: the wizard with every default, without commander. Its first frame is painted before
 * the wizard's modules load (ui/wizard/first-paint.ts, bundled with yaml alone), then ink takes over.
 */
async function bareWizard(io: Io): Promise<number> {
  const color = colorAllowed(io.env, undefined);
  const file = 'cluster.yaml';
  const stdin = io.stdin as NodeJS.ReadStream;
  let painted: number | undefined;
  try {
    if (!mayPrompt(io, false)) throw noTerminal();
    painted = await (await import('./ui/wizard/first-paint.js')).paintFirstFrame({ file, color, stdout: io.stdout as NodeJS.WriteStream, stdin });
    const { runWizard } = await import('./wizard.js');
    return await runWizard({ file, color, io, painted });
  } catch (err) {
    if (painted !== undefined && stdin.isTTY) stdin.setRawMode(false);
    io.stderr.write(`${renderError(err)}\n`);
    return io.signal?.aborted ? EXIT.interrupted : exitCodeFor(err);
  }
}

async function runMain(argv: string[], io: Io, parseOnly?: (cmd: CommanderCommand) => void): Promise<number> {
  quietOnClosedPipe(io.stdout);
  // Fast paths: no commander, no command modules.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (argv.length === 0 && !parseOnly) return bareWizard(io);
  const { Command, CommanderError, Help } = await import('commander');
  const loaded = new Set<CommanderCommand>();
  let exitCode: number = EXIT.ok;
  const setExit = (code: number) => {
    exitCode = Math.max(exitCode, code);
  };

  const { addGlobalOptions } = await import('./commands/flags.js');
  const program = addGlobalOptions(new Command('groundwork').description('From bare machines to a Kubernetes cluster you can trust: preflight, bootstrap, add-ons, runtime tests, restore drills.').version(version(), '-V, --version'))
    .hook('preAction', (cmd) => {
      // colorette (listr2) reads NO_COLOR when first imported: decide before any command loads it.
      if (cmd.opts().color === false) process.env.NO_COLOR = '1';
    })
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    // Every command's --help lists the global flags too (-f, --json, --state-dir, ...), as kubectl's and helm's do.
    .configureHelp({
      showGlobalOptions: true,
      // A command not loaded for this run is a bare placeholder: list it as its module would be listed.
      subcommandTerm(cmd: CommanderCommand): string {
        const entry = cmd.parent && !cmd.parent.parent ? COMMANDS.find((c) => c.name === cmd.name()) : undefined;
        return entry && !loaded.has(cmd) ? `${entry.name}${entry.options ? ' [options]' : ''}` : new Help().subcommandTerm(cmd);
      },
    })
    .addHelpText('after', EXAMPLES)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .action(async (opts: { yes: boolean; file: string; json: boolean; stateDir?: string; color: boolean }) => {
      // `groundwork` alone is the wizard's door. Without a person at a terminal it must not wait for one.
      if (!mayPrompt(io, opts.yes)) throw noTerminal();
      const color = colorAllowed(io.env, opts.color);
      // With flags (-f, --state-dir) commander has run, but the first frame still comes before the wizard's modules.
      const stdin = io.stdin as NodeJS.ReadStream;
      const painted = await (await import('./ui/wizard/first-paint.js')).paintFirstFrame({ file: opts.file, stateDir: opts.stateDir, color, stdout: io.stdout as NodeJS.WriteStream, stdin });
      try {
        const { runWizard } = await import('./wizard.js');
        setExit(await runWizard({ file: opts.file, stateDir: opts.stateDir, color, io, painted }));
      } catch (e) {
        if (painted !== undefined && stdin.isTTY) stdin.setRawMode(false);
        throw e;
      }
    });

  // Only the module of the command these words run is loaded (none for --help or the wizard); the others are
  // placeholders with their name and summary, for the root help and for suggestions after an unknown word.
  const named = commandNamed(argv, program.options);
  for (const entry of COMMANDS) {
    if (entry === named) {
      (await entry.load()).default.register(program, io, setExit);
      loaded.add(program.commands.at(-1)!.description(entry.summary));
    } else {
      program.command(entry.name).description(entry.summary);
    }
  }
  adoptUnknownSubcommands(program);
  if (parseOnly) {
    const swap = (cmd: CommanderCommand) => {
      if ((cmd as unknown as { _actionHandler?: unknown })._actionHandler) cmd.action((...args: unknown[]) => parseOnly(args.at(-1) as CommanderCommand));
      cmd.commands.forEach(swap);
    };
    swap(program);
  }
  program.helpCommand('help [command]', 'show help for a command');

  try {
    await program.parseAsync(argv, { from: 'user' });
    return io.signal?.aborted ? EXIT.interrupted : exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    io.stderr.write(`${renderError(err)}\n`);
    return io.signal?.aborted ? EXIT.interrupted : exitCodeFor(err);
  }
}
