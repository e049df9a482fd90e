/**
 * A real OpenSSH server (Debian's openssh-server, /usr/sbin/sshd) for tests, on a 127.0.0.x address and a free
 * port, with everything in a temp dir: its own sshd_config, host key, authorized_keys per user, pid file and log.
 * It never reads or writes the machine's /etc/ssh or anyone's ~/.ssh.
 *
 * - Users: root and `gwtest` (a non-root user with passwordless sudo, created by .ci/ensure-tools).
 * - Keys: `clientKey` is authorized for every user; `wrongKey` for none.
 * - The remote PATH: `remotePath` dirs come first on the PATH every session gets (sshd's SetEnv, which overrides
 *   the default environment), so strict fakes placed there answer for kubeadm or etcdctl on "the node".
 * - `knownHostsFile()` hands out a new empty known_hosts file (first contact).
 * - The node's own files: sshd runs in a private mount namespace (unshare -m) where /etc and /var/lib are
 *   overlays whose upper dirs are in the temp dir, so what a session writes there (/etc/groundwork,
 *   /etc/kubernetes/admin.conf, a snapshot in /var/lib) lands in the temp dir (`nodeFile()` finds it) and the
 *   machine's own /etc and /var/lib stay untouched. Everything else (/tmp, /home) is the machine's.
 *
 * Needs root (sshd changes to the logged-in user); a missing sshd, ssh or gwtest fails the test, never skips it.
 */
import { findFreePort } from '../../src/exec/free-port.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';
export const TEST_USER = 'gwtest';

export interface TestSshd {
  host: string;
  port: number;
  dir: string;
  /** Private key authorized for root and gwtest. */
  clientKey: string;
  /** A private key no user authorizes. */
  wrongKey: string;
  pid: number;
  /** Where a file the node wrote under an overlaid dir (/etc, /var/lib) is, seen from the test. */
  nodeFile(file: string): string;
  /** A new, empty known_hosts file (readable by the test only). */
  knownHostsFile(): string;
  /** sshd's log so far (-e: to stderr). */
  log(): string;
  stop(): Promise<void>;
}

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function uidOf(user: string): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`user ${user} is missing: run .ci/ensure-tools (it creates ${TEST_USER} with passwordless sudo)`);
  return { uid: Number(r.stdout.trim()), gid: Number(must('id', ['-g', user]).trim()) };
}

const handedOut = new Set<number>();

/**
 * A random 127.0.0.x (x in 2..250), never the same twice in one test process: each server on its own address, as
 * nodes are (a spec refuses two nodes on one address).
 */
export function loopbackHost(): string {
  if (handedOut.size >= 249) throw new Error('loopbackHost: every 127.0.0.x (2..250) is in use');
  let x: number;
  do x = 2 + Math.floor(Math.random() * 249);
  while (handedOut.has(x));
  handedOut.add(x);
  return `127.0.0.${x}`;
}


/** Resolves once the port sends an SSH banner. */
async function waitForBanner(host: string, port: number, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s: Socket = createConnection({ host, port });
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1000, () => done(false));
      s.once('data', (d) => done(d.toString().startsWith('SSH-')));
      s.once('error', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd on ${host}:${port} sent no banner within ${timeoutMs} ms:\n${log()}`);
}

export const OVERLAID = ['/etc', '/var/lib'];

/**
 * `host`: the address to listen on (default a random 127.0.0.x; `::1` for IPv6).
 * `clientKey`: authorize this existing private key (its .pub beside it) instead of a new one, so that several
 * "nodes" take the one key of a spec. `nodeFiles`: files the node has from the start (root's, under /etc or
 * /var/lib), e.g. kubeadm's etcd client certificates.
 */
export async function startSshd(opts: { remotePath?: string[]; users?: string[]; clientKey?: string; nodeFiles?: Record<string, { content: string; mode: number }>; host?: string } = {}): Promise<TestSshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: run .ci/ensure-tools (apt-get install openssh-server)`);
  if (process.getuid?.() !== 0) throw new Error('the real-sshd tests run sshd, which must start as root');
  const users = opts.users ?? ['root', TEST_USER];
  const ids = Object.fromEntries(users.map((u) => [u, uidOf(u)]));
  // sshd's privilege-separation directory (Debian's package makes it at boot through systemd-tmpfiles).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = mkdtempSync(path.join(tmpdir(), 'gw-sshd-'));
  chmodSync(dir, 0o755); // gwtest's session reads its authorized_keys and the fakes under here
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = opts.clientKey ?? path.join(dir, 'client_ed25519');
  const wrongKey = path.join(dir, 'wrong_ed25519');
  for (const k of opts.clientKey ? [hostKey, wrongKey] : [hostKey, clientKey, wrongKey]) must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(k), '-f', k]);
  const pub = readFileSync(`${clientKey}.pub`, 'utf8');
  for (const u of users) {
    const d = path.join(dir, 'keys', u);
    mkdirSync(d, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(d, 'authorized_keys'), pub, { mode: 0o644 });
    chownSync(d, ids[u]!.uid, ids[u]!.gid);
    chownSync(path.join(d, 'authorized_keys'), ids[u]!.uid, ids[u]!.gid);
  }

  const host = opts.host ?? loopbackHost();
  const port = await findFreePort(host);
  const remotePath = [...(opts.remotePath ?? []), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${host.includes(':') ? `[${host}]` : host}:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'keys', '%u', 'authorized_keys')}`,
      // The key dirs live in a temp dir, not in the users' homes.
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${users.join(' ')}`,
      `SetEnv PATH=${remotePath}`,
      // scp speaks SFTP since OpenSSH 9.0.
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  must(SSHD, ['-t', '-f', config]);

  const overlays = OVERLAID.map((d) => {
    const base = path.join(dir, 'node', d.slice(1).replace(/\//g, '_'));
    mkdirSync(path.join(base, 'up'), { recursive: true });
    mkdirSync(path.join(base, 'work'), { recursive: true });
    return { dir: d, upper: path.join(base, 'up'), work: path.join(base, 'work') };
  });
  for (const [file, f] of Object.entries(opts.nodeFiles ?? {})) {
    const o = overlays.find((x) => file.startsWith(`${x.dir}/`));
    if (!o) throw new Error(`node file ${file} is not under ${OVERLAID.join(' or ')}`);
    const at = path.join(o.upper, file.slice(o.dir.length + 1));
    mkdirSync(path.dirname(at), { recursive: true, mode: 0o755 });
    writeFileSync(at, f.content, { mode: f.mode });
    chmodSync(at, f.mode);
  }
  // unshare execs sh, which execs sshd: the child's pid is sshd's, and the namespace dies with it and its sessions.
  const mounts = overlays.map((o) => `mount -t overlay overlay -o lowerdir=${o.dir},upperdir=${o.upper},workdir=${o.work} ${o.dir}`).join(' && ');
  const child = spawn('/usr/bin/unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', `${mounts} && exec ${SSHD} -D -e -f ${config}`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  child.stderr?.on('data', (c: Buffer) => {
    log = (log + c.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitForBanner(host, port, child, 15_000, () => log);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  let n = 0;
  return {
    host,
    port,
    dir,
    clientKey,
    wrongKey,
    pid: child.pid!,
    nodeFile(file: string) {
      const o = overlays.find((x) => file.startsWith(`${x.dir}/`));
      if (!o) throw new Error(`${file} is not under an overlaid dir (${OVERLAID.join(', ')})`);
      return path.join(o.upper, file.slice(o.dir.length + 1));
    },
    knownHostsFile() {
      const f = path.join(dir, `known_hosts-${++n}`);
      writeFileSync(f, '', { mode: 0o600 });
      return f;
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // sshd -D stays in the foreground as the listener's pid; its sessions are its children.
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP listener that accepts and never says a word: a host whose sshd hangs (or a firewall's tarpit). */
export async function startSilentListener(): Promise<{ host: string; port: number; stop(): Promise<void> }> {
  const host = loopbackHost();
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const a = srv.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    host,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}
