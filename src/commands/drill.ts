import path from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { parseSshDestination } from '../net/ssh-argv.js';
import type { DrillTarget } from '../drill/targets.js';
import type { RunDrillOptions } from '../drill/index.js';
import { wholeNumber } from './flags.js';
import { commandContext, type CommandContext } from './context.js';
import { defineCommand } from './types.js';

export interface DrillFlags {
  endpoints?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  kubeadm?: string;
  sshPort?: string;
  sshIdentity?: string;
  sshKnownHosts?: string;
  talos?: string;
  talosconfig?: string;
  snapshot?: string;
  lab?: boolean;
  labEtcd?: string;
  scratch?: string;
  sentinel?: boolean;
  bumpRevision: boolean;
  junit?: string;
}

const TARGET_FLAGS = '--endpoints, --kubeadm, --talos, --snapshot or --lab';

/** The drill's options, with the lab's target still to resolve (it reads the lab's kubeconfig). */
type DrillRun = Omit<RunDrillOptions, 'drill'> & { drill: Omit<RunDrillOptions['drill'], 'target'> & { target: DrillTarget | { lab: { etcd?: string } } } };

/** drill's flags as the drill's options: exactly one target, each flag only with the target it belongs to. */
export function drillOptions(flags: DrillFlags, ctx: CommandContext): DrillRun {
  const given = [flags.endpoints, flags.kubeadm, flags.talos, flags.snapshot, flags.lab ? 'lab' : undefined].filter((v) => v !== undefined);
  if (given.length !== 1) {
    throw new UserError(given.length === 0 ? 'what should the drill restore?' : 'give one drill target, not several', {
      exitCode: EXIT.usage,
      fix: `pass exactly one of ${TARGET_FLAGS}`,
    });
  }
  if ((flags.sshPort !== undefined || flags.sshIdentity !== undefined || flags.sshKnownHosts !== undefined) && !flags.kubeadm) {
    throw new UserError('--ssh-port, --ssh-identity and --ssh-known-hosts go with --kubeadm', { exitCode: EXIT.usage, fix: 'add --kubeadm [user@]HOST, or drop the ssh flags' });
  }
  if ((flags.cacert || flags.cert || flags.key) && !flags.endpoints) {
    throw new UserError('--cacert, --cert and --key go with --endpoints', { exitCode: EXIT.usage, fix: 'add --endpoints, or drop the TLS flags' });
  }
  const { io } = ctx;
  const abs = (f: string | undefined) => (f === undefined ? undefined : path.resolve(io.cwd, f));
  let target: DrillRun['drill']['target'];
  if (flags.endpoints) {
    const endpoints = flags.endpoints.split(',').map((s) => s.trim()).filter(Boolean);
    target = { kind: 'endpoints', endpoints, cacert: abs(flags.cacert), cert: abs(flags.cert), key: abs(flags.key) };
  } else if (flags.kubeadm) {
    const ssh = parseSshDestination(flags.kubeadm);
    if (!ssh) throw new UserError(`--kubeadm ${JSON.stringify(flags.kubeadm)} is not [user@]HOST`, { exitCode: EXIT.usage, fix: 'pass --kubeadm [user@]HOST: a login name and an IP address or DNS name (port and key: --ssh-port, --ssh-identity, or your ssh config)' });
    const port = flags.sshPort === undefined ? undefined : Number(flags.sshPort);
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new UserError(`--ssh-port ${JSON.stringify(flags.sshPort)} is not a port`, { exitCode: EXIT.usage, fix: 'pass --ssh-port with a number from 1 to 65535' });
    }
    target = {
      kind: 'kubeadm',
      ssh: {
        ...ssh,
        ...(port !== undefined ? { port } : {}),
        // A quoted ~/… stays for ssh to expand; anything else is made absolute.
        ...(flags.sshIdentity !== undefined ? { identityFile: flags.sshIdentity.startsWith('~/') ? flags.sshIdentity : abs(flags.sshIdentity) } : {}),
        ...(flags.sshKnownHosts !== undefined ? { knownHostsFile: flags.sshKnownHosts.startsWith('~/') ? flags.sshKnownHosts : abs(flags.sshKnownHosts) } : {}),
      },
    };
  } else if (flags.talos) target = { kind: 'talos', node: flags.talos, talosconfig: abs(flags.talosconfig) };
  else if (flags.snapshot) target = { kind: 'snapshot', file: abs(flags.snapshot)! };
  else target = { lab: { etcd: flags.labEtcd } };
  return {
    drill: { target, scratch: abs(flags.scratch), sentinel: flags.sentinel, bumpRevision: flags.bumpRevision },
    stateDir: ctx.stateDir,
    io,
    json: ctx.json,
    junit: flags.junit,
    // The drill report goes to stdout.
    color: ctx.colorOn(io.stdout),
    signal: ctx.signal,
  };
}

export default defineCommand((program, io, setExit) => {
  const drill = program
    .command('drill')
    .option('--endpoints <urls>', 'etcd client URL(s), comma-separated; the first one is drilled (e.g. through an ssh tunnel)')
    .option('--cacert <file>', 'CA bundle for --endpoints')
    .option('--cert <file>', 'client certificate for --endpoints')
    .option('--key <file>', 'client key for --endpoints (the path is passed on; its contents are never printed)')
    .option('--kubeadm <[user@]host>', 'a kubeadm control plane: etcdctl runs there over ssh with its etcd client certs (as root: sudo -n for another user)')
    .option('--ssh-port <port>', 'ssh port for --kubeadm (default: your ssh config, else 22)')
    .option('--ssh-identity <file>', 'private key for --kubeadm (default: your ssh config and agent)')
    .option('--ssh-known-hosts <file>', 'known_hosts file for --kubeadm; a new host is trusted on first contact, a changed key fails (default: ~/.ssh/known_hosts)')
    .option('--talos <node>', 'a Talos control-plane node: the snapshot comes from talosctl etcd snapshot')
    .option('--talosconfig <file>', 'talosconfig for --talos')
    .option('--snapshot <file>', 'restore-test an existing snapshot file (e.g. one a backup job wrote)')
    .option('--lab', "drill the lab cluster's etcd", false)
    .option('--lab-etcd <url>', "the lab's etcd client URL (the --etcd given to `groundwork lab up`; required with --lab)")
    .option('--scratch <dir>', 'an empty or new directory for the snapshot and the restored data (default: a temp dir)')
    .option('--sentinel', 'write a sentinel key to the source before the snapshot and read it back after the restore (default with --lab)')
    .option('--no-bump-revision', 'do not bump the revision on restore (etcdutl 3.5.10+ bumps it by 1e9 and marks it compacted, as a real Kubernetes restore does)')
    .option('--junit <file>', 'also write the results as JUnit XML')
    .addHelpText(
      'after',
      `
Examples:
$ groundwork drill --endpoints https://127.0.0.1:2379 --cacert ca.crt --cert client.crt --key client.key
$ groundwork drill --snapshot /backups/etcd-2026-11-25.db --json
$ groundwork drill --kubeadm root@cp-1 --sentinel
$ groundwork drill --kubeadm ops@10.0.0.11 --ssh-port 2222 --ssh-identity ~/.ssh/cluster_ed25519
$ groundwork drill history`,
    )
    .action(async (flags: DrillFlags, cmd) => {
      const ctx = commandContext(cmd, io);
      const o = drillOptions(flags, ctx);
      if ('lab' in o.drill.target) {
        const { resolveLabTarget } = await import('../drill/lab.js');
        const lab = resolveLabTarget({ etcd: o.drill.target.lab.etcd });
        o.drill = { ...o.drill, target: lab.target, labCheck: lab.check };
      }
      const { runDrill } = await import('../drill/index.js');
      const { exitCode } = await runDrill(o as import('../drill/index.js').RunDrillOptions);
      setExit(exitCode);
    });

  drill
    .command('history')
    .description('past drills from <state-dir>/drills.jsonl: RTO over time, last success')
    .option('--limit <n>', 'show the last n drills (1-10000)', wholeNumber(1, 10_000, 'drills'), 20)
    .action(async (o: { limit: number }, cmd) => {
      const ctx = commandContext(cmd, io);
      const { showDrillHistory } = await import('../drill/index.js');
      setExit(await showDrillHistory({ stateDir: ctx.stateDir, io, json: ctx.json, limit: o.limit }));
    });
});
