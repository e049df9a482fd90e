/**
 * The one place that builds ssh and scp argv (pure). Every caller (kubeadm bootstrap, preflight's remote facts,
 * the drill) goes through it, so options, port flags, sudo and quoting are the same everywhere.
 *
 * Placement rules, so that no operator-written value can become an option of ssh or scp:
 * - options first, each value behind a fixed flag (`-i FILE`, `-p PORT`, `-o Key=value` with our own keys);
 * - then `--`, then the destination `user@host` (ssh) or the operands `LOCAL user@[host]:PATH` (scp);
 * - the remote command is one shell word per element, quoted for the remote shell (ssh joins its arguments
 *   with spaces and hands them to the login shell), except words made with `rawShell()`, which are ours.
 * The spec edge (src/spec/schema.ts) also refuses user names, hosts and paths that are not what they claim to
 * be; this module does not rely on it.
 *
 * Facts behind the options (REFERENCE.md): scp's port flag is -P (-p preserves times), ssh's is -p;
 * BatchMode=yes never waits for a prompt nobody can answer; StrictHostKeyChecking=accept-new trusts a host
 * on first contact only (a changed key still fails); ConnectTimeout bounds the TCP connect and the banner
 * exchange; ServerAliveInterval × ServerAliveCountMax bounds a session whose peer stops answering.
 */
import ipaddr from 'ipaddr.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { SSH_USER, isDnsName } from '../spec/names.js';

// SSH_USER: the drill's --kubeadm flag and the spec share one rule.
export { SSH_USER };

export interface SshEndpoint {
  /** IP address or DNS name (no brackets). */
  host: string;
  /** Login name; undefined lets ssh pick (its config, then the local user). */
  user?: string;
  /** undefined: ssh's default (22 or its config). */
  port?: number;
  /** Private key file, passed as it is (ssh expands a leading ~ itself). */
  identityFile?: string;
  /** A known_hosts file of this cluster's (or a test's); default: the user's own. */
  knownHostsFile?: string;
}

/** How groundwork reaches a kubeadm node: its address with the spec's (or the node's own) user and port, and the spec's key. */
export function endpointForNode(spec: Spec, node: NodeSpec): SshEndpoint {
  const ssh = spec.spec.bootstrap.kubeadm.ssh;
  return { host: node.ssh?.host ?? node.address, user: node.ssh?.user ?? ssh.user, port: node.ssh?.port ?? ssh.port, identityFile: ssh.identityFile, ...(ssh.knownHostsFile !== undefined ? { knownHostsFile: ssh.knownHostsFile } : {}) };
}

/** `~/x` → `<home>/x`, for callers that show or check the path themselves (ssh expands it on its own). */
export function expandHome(file: string, home: string): string {
  return file.replace(/^~(?=\/|$)/, home);
}

interface SshClientOptions {
  /** Seconds for the TCP connect and the SSH banner. Default 10. */
  connectTimeoutSeconds?: number;
  /** Keepalive probe every N seconds once connected. Default 10. */
  serverAliveIntervalSeconds?: number;
  /** Missed keepalives before ssh gives up. Default 3 (so a silent peer fails after ~30 s). */
  serverAliveCountMax?: number;
}

type SshProgram = 'ssh' | 'scp';

/** A piece of remote shell syntax we wrote ourselves (`&&`, `"$(id -u)"`): never quoted, never user text. */
interface RawShell {
  raw: string;
}
type RemoteWord = string | RawShell;

export function rawShell(raw: string): RawShell {
  return { raw };
}

const DEFAULT_SSH_CLIENT: Required<SshClientOptions> = {
  connectTimeoutSeconds: 10,
  serverAliveIntervalSeconds: 10,
  serverAliveCountMax: 3,
};

/** The options both programs take, with the port flag each one spells its own way. */
export function buildSshOptions(program: SshProgram, ep: SshEndpoint, o: SshClientOptions = {}): string[] {
  const c = { ...DEFAULT_SSH_CLIENT, ...o };
  return [
    ...(ep.identityFile !== undefined ? ['-i', ep.identityFile] : []),
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=accept-new',
    '-o', `ConnectTimeout=${c.connectTimeoutSeconds}`,
    '-o', `ServerAliveInterval=${c.serverAliveIntervalSeconds}`,
    '-o', `ServerAliveCountMax=${c.serverAliveCountMax}`,
    ...(ep.knownHostsFile !== undefined ? ['-o', `UserKnownHostsFile=${ep.knownHostsFile}`] : []),
    ...(ep.port !== undefined ? [program === 'scp' ? '-P' : '-p', String(ep.port)] : []),
  ];
}

/** `user@host` for ssh (ssh takes an IPv6 address bare). */
export function sshDestination(ep: SshEndpoint): string {
  return ep.user !== undefined ? `${ep.user}@${ep.host}` : ep.host;
}

/** `user@[addr]:path` for scp: an IPv6 address needs brackets, or its colons would end the host. */
export function scpOperand(ep: SshEndpoint, remotePath: string): string {
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  return `${ep.user !== undefined ? `${ep.user}@` : ''}${host}:${remotePath}`;
}

/** Quotes one word for the remote shell; plain words (paths, flags) stay as they are. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\-=.\/:@%+,]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function remoteText(words: readonly RemoteWord[]): string[] {
  return words.map((w) => (typeof w === 'string' ? shellQuote(w) : w.raw));
}

/** Root is root; anyone else (or a user ssh picks) gets `sudo -n`: never a password prompt, a clear failure instead. */
export function needsSudo(ep: SshEndpoint): boolean {
  return ep.user !== 'root';
}

function sudoPrefix(ep: SshEndpoint): string[] {
  return needsSudo(ep) ? ['sudo', '-n', '--'] : [];
}

interface RemoteCommandOptions extends SshClientOptions {
  /** Run the command as root: `sudo -n --` in front when the ssh user is not root. */
  asRoot?: boolean;
}

/** `ssh OPTIONS -- user@host WORD...`: the remote words quoted for the remote shell. */
export function buildSshArgv(ep: SshEndpoint, remote: readonly RemoteWord[], o: RemoteCommandOptions = {}): string[] {
  const words = o.asRoot ? [...sudoPrefix(ep), ...remote] : remote;
  return ['ssh', ...buildSshOptions('ssh', ep, o), '--', sshDestination(ep), ...remoteText(words)];
}

/** `scp OPTIONS -- LOCAL user@[host]:PATH` */
export function buildScpUploadArgv(ep: SshEndpoint, local: string, remotePath: string, o: SshClientOptions = {}): string[] {
  return ['scp', ...buildSshOptions('scp', ep, o), '--', local, scpOperand(ep, remotePath)];
}

/** `scp OPTIONS -- user@[host]:PATH LOCAL` */
export function buildScpDownloadArgv(ep: SshEndpoint, remotePath: string, local: string, o: SshClientOptions = {}): string[] {
  return ['scp', ...buildSshOptions('scp', ep, o), '--', scpOperand(ep, remotePath), local];
}

/**
 * Where a non-root upload or download waits on the node: a file in the ssh user's home (scp's relative paths
 * are relative to it), which only that user can write, unlike a fixed name in /tmp.
 */
function stagingPath(remotePath: string): string {
  return `.groundwork-staging-${remotePath.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/**
 * Copy a local file to a root-owned path on the node: scp into the ssh user's home, then `install -m MODE`
 * (through `sudo -n` for a non-root user) into place, and remove the staged copy (also when install fails).
 * Root too: scp alone creates a new file with the local file's mode (less the remote umask) and leaves an
 * existing file's mode as it was, so the mode the caller asks for (default 0600) is only certain after install;
 * and the file appears at its path complete, never half-copied.
 */
export function buildUploadAsRootArgvs(ep: SshEndpoint, local: string, remotePath: string, o: SshClientOptions & { mode?: string } = {}): string[][] {
  const staged = stagingPath(remotePath);
  const install = [...sudoPrefix(ep), 'install', '-m', o.mode ?? '0600', '--', staged, remotePath];
  return [buildScpUploadArgv(ep, local, staged, o), buildSshArgv(ep, [...install, rawShell('; r=$?;'), 'rm', '-f', '--', staged, rawShell('; exit $r')], o)];
}

/**
 * Copy a root-owned file from the node. Root: one scp. Anyone else: `sudo install` a copy owned by the ssh
 * user (0600) into its home, scp it back, remove it.
 */
export function buildDownloadAsRootArgvs(ep: SshEndpoint, remotePath: string, local: string, o: SshClientOptions = {}): string[][] {
  if (!needsSudo(ep)) return [buildScpDownloadArgv(ep, remotePath, local, o)];
  const staged = stagingPath(remotePath);
  const owner = ep.user !== undefined ? ['-o', ep.user] : [];
  return [
    buildSshArgv(ep, ['sudo', '-n', '--', 'install', '-m', '0600', ...owner, '--', remotePath, staged], o),
    buildScpDownloadArgv(ep, staged, local, o),
    buildSshArgv(ep, ['rm', '-f', '--', staged], o),
  ];
}

// ---- what the spec edge and the drill's --kubeadm flag accept -------------------------------------------

/**
 * `[user@]host` as the drill's --kubeadm flag takes it. undefined when either part is not a valid user name,
 * IP address or DNS name (so a value starting with `-` never gets near ssh).
 */
export function parseSshDestination(v: string): { user?: string; host: string } | undefined {
  const at = v.lastIndexOf('@');
  const user = at >= 0 ? v.slice(0, at) : undefined;
  const host = (at >= 0 ? v.slice(at + 1) : v).replace(/^\[(.*)\]$/, '$1');
  if (user !== undefined && !SSH_USER.test(user)) return undefined;
  if (!ipaddr.isValid(host) && !isDnsName(host)) return undefined;
  return { ...(user !== undefined ? { user } : {}), host };
}
