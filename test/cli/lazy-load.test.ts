/**
 * Issue 17: a run loads only what it uses. `--help` loads commander and the command table, no command module;
 * a command loads its own module and no other; the kube door loads client-node's KubeConfig from the bundle
 * `npm run build` writes, never the package's entry (the generated API clients). Runs bin/groundwork (dist/)
 * under a module hook that lists every module the process loads.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandNamed } from '../../src/commands/index.js';
import { addGlobalOptions } from '../../src/commands/flags.js';
import { processIo } from '../../src/io.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const register = path.join(root, 'test/fixtures/module-log/register.mjs');

function modulesLoaded(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-modlog-'));
  const log = path.join(dir, 'modules.log');
  writeFileSync(log, '');
  try {
    execFileSync(process.execPath, ['--import', pathToFileURL(register).href, path.join(root, 'bin/groundwork'), ...args], {
      cwd: dir,
      env: { PATH: '/nonexistent', NO_COLOR: '1', CI: 'true', GROUNDWORK_LOOPBACK_ONLY: '1', GW_MODULE_LOG: log, ...env },
      stdio: 'ignore',
    });
  } catch {
    // The exit code is not what this test is about (validate without a cluster fails); the modules are.
  }
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const commandModules = (mods: string[]) =>
  mods
    .map((u) => /\/dist\/commands\/([a-z-]+)\.js$/.exec(u)?.[1])
    .filter((n): n is string => n !== undefined && n !== 'index' && n !== 'types' && n !== 'flags' && n !== 'context');

describe('each run loads only its own modules', () => {
  it('--help loads commander and no command module, no client-node', () => {
    const mods = modulesLoaded(['--help']);
    expect(mods.some((u) => u.includes('/node_modules/commander/'))).toBe(true);
    expect(commandModules(mods)).toEqual([]);
    expect(mods.filter((u) => u.includes('@kubernetes'))).toEqual([]);
  });

  it('`validate --help` and `help drill` load that command module alone', () => {
    expect(commandModules(modulesLoaded(['validate', '--help']))).toEqual(['validate']);
    expect(commandModules(modulesLoaded(['-f', 'x.yaml', 'help', 'drill']))).toEqual(['drill']);
  });

  it('validate reaches the kube door through the KubeConfig bundle, not the package entry', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-kc-'));
    const kc = path.join(dir, 'kubeconfig');
    // A server nobody listens on (loopback, port 9): the door loads and the first request fails.
    writeFileSync(
      kc,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    const mods = modulesLoaded(['validate', '--kubeconfig', kc, '--only', 'control-plane', '--timeout', '1']);
    expect(commandModules(mods)).toEqual(['validate']);
    expect(mods.some((u) => u.endsWith('/dist/kube/client-node.bundle.js'))).toBe(true);
    expect(mods.filter((u) => u.includes('/node_modules/@kubernetes/client-node/'))).toEqual([]);
  });
});

describe('the command table (src/commands/index.ts)', () => {
  it('matches what each module registers: name, summary, whether it has options, in order', async () => {
    const program = new Command('groundwork');
    // As cli.ts does: the module registers the command, the table gives it its summary.
    for (const entry of COMMANDS) {
      (await entry.load()).default.register(program, processIo(), () => {});
      program.commands.at(-1)!.description(entry.summary);
    }
    expect(program.commands.map((c) => [c.name(), c.description(), c.options.length > 0])).toEqual(COMMANDS.map((e) => [e.name, e.summary, e.options]));
  });

  it('names the command commander will run', () => {
    const globals = addGlobalOptions(new Command()).options;
    expect(commandNamed(['--help'], globals)).toBeUndefined();
    expect(commandNamed([], globals)).toBeUndefined();
    expect(commandNamed(['-f', 'validate', 'plan'], globals)?.name).toBe('plan');
    expect(commandNamed(['--state-dir', 'lab', '--json', 'drill', 'history'], globals)?.name).toBe('drill');
    expect(commandNamed(['help', 'setup'], globals)?.name).toBe('setup');
    expect(commandNamed(['bogus', 'plan'], globals)).toBeUndefined();
    expect(commandNamed(['--file=x.yaml', 'spec', 'schema'], globals)?.name).toBe('spec');
  });
});
