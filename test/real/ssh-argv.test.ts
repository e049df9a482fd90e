/**
 * The one ssh/scp argv builder (src/net/ssh-argv.ts) against a real OpenSSH server and client: root and a
 * non-root user with passwordless sudo, first contact with an empty known_hosts, quoting through the remote
 * shell, the root-owned uploads and downloads (staged copies, sudo install), a wrong key, a listener that never
 * answers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDownloadAsRootArgvs, buildSshArgv, buildUploadAsRootArgvs, rawShell, type SshEndpoint } from '../../src/net/ssh-argv.js';
import { startSilentListener, startSshd, TEST_USER, type TestSshd } from '../helpers/sshd.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv with a PATH holding only the system's ssh and scp; never through a shell. */
function run(argv: string[], input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** stderr without the one line accept-new prints on first contact. */
const quiet = (stderr: string) => stderr.replace(/^Warning: Permanently added .* to the list of known hosts\.\r?\n/m, '');

async function runAll(argvs: string[][]): Promise<Ran> {
  let last: Ran = { code: 0, stdout: '', stderr: '' };
  for (const a of argvs) {
    last = await run(a);
    if (last.code !== 0) return last;
  }
  return last;
}

let sshd: TestSshd;
let tmp: string;
beforeAll(async () => {
  sshd = await startSshd();
  tmp = mkdtempSync(path.join(tmpdir(), 'gw-ssh-argv-'));
});
afterAll(async () => {
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const ep = (user: string, extra: Partial<SshEndpoint> = {}): SshEndpoint => ({ host: sshd.host, port: sshd.port, user, identityFile: sshd.clientKey, knownHostsFile: sshd.knownHostsFile(), ...extra });

describe.each(['root', TEST_USER])('ssh as %s', (user) => {
  it('logs in on first contact (empty known_hosts) and records the host key', async () => {
    const e = ep(user);
    expect(readFileSync(e.knownHostsFile!, 'utf8')).toBe('');
    const r = await run(buildSshArgv(e, ['id', '-un']));
    expect(r.stderr).not.toMatch(/Host key verification failed/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(user);
    const hostPub = readFileSync(path.join(sshd.dir, 'host_ed25519.pub'), 'utf8').split(' ')[1]!;
    expect(readFileSync(e.knownHostsFile!, 'utf8')).toContain(hostPub);
    // Second contact uses the recorded key.
    expect((await run(buildSshArgv(e, ['true']))).code).toBe(0);
  });

  it('runs asRoot commands as root (sudo -n for a non-root user)', async () => {
    const r = await run(buildSshArgv(ep(user), ['id', '-u'], { asRoot: true }));
    expect(quiet(r.stderr)).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('0');
  });

  it('hands each word to the remote command unchanged, whatever it holds', async () => {
    const words = ['a b', "it's", '$HOME', '`id`', 'x;y', '*', '"q"', '--', ''];
    const r = await run(buildSshArgv(ep(user), ['printf', '[%s]\\n', ...words], { asRoot: true }));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(words.map((w) => `[${w}]\n`).join(''));
  });

  it('uploads to a root-owned path and downloads a root-only file', async () => {
    const remoteDir = `/tmp/gw-ssh-argv-${user}-${process.pid}`;
    const remote = `${remoteDir}/kubeadm.yaml`;
    const local = path.join(tmp, `up-${user}`);
    writeFileSync(local, 'kind: InitConfiguration\n', { mode: 0o600 });
    try {
      expect((await run(buildSshArgv(ep(user), ['install', '-d', '-m', '0700', remoteDir], { asRoot: true }))).code).toBe(0);
      const up = await runAll(buildUploadAsRootArgvs(ep(user), local, remote));
      expect(quiet(up.stderr)).toBe('');
      expect(up.code).toBe(0);
      const st = statSync(remote);
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
      expect(readFileSync(remote, 'utf8')).toBe('kind: InitConfiguration\n');
      // No staged copy is left in the user's home.
      const home = (await run(buildSshArgv(ep(user), [rawShell('ls -A "$HOME"')]))).stdout;
      expect(home).not.toMatch(/groundwork-staging/);

      const back = path.join(tmp, `down-${user}`);
      const down = await runAll(buildDownloadAsRootArgvs(ep(user), remote, back));
      expect(down.code).toBe(0);
      expect(readFileSync(back, 'utf8')).toBe('kind: InitConfiguration\n');
      expect((await run(buildSshArgv(ep(user), [rawShell('ls -A "$HOME"')]))).stdout).not.toMatch(/groundwork-staging/);
    } finally {
      rmSync(remoteDir, { recursive: true, force: true });
    }
  });

  it('fails with a wrong key naming the host and "Permission denied (publickey)"', async () => {
    const r = await run(buildSshArgv(ep(user, { identityFile: sshd.wrongKey }), ['true']));
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(`${user}@${sshd.host}: Permission denied (publickey`);
  });
});

describe('a host that accepts TCP and never answers', () => {
  it('fails within ConnectTimeout, naming the banner exchange, for ssh and scp', async () => {
    const silent = await startSilentListener();
    try {
      const e: SshEndpoint = { host: silent.host, port: silent.port, user: 'root', identityFile: path.join(tmp, 'none'), knownHostsFile: path.join(tmp, 'kh-silent') };
      const ssh = await run(buildSshArgv(e, ['true'], { connectTimeoutSeconds: 2 }));
      expect(ssh.code).toBe(255);
      expect(ssh.stderr).toMatch(new RegExp(`Connection timed out during banner exchange|${silent.host.replace(/\./g, '\\.')} port ${silent.port}.*timed out`));
      writeFileSync(path.join(tmp, 'some'), 'x');
      const scp = await runAll(buildUploadAsRootArgvs(e, path.join(tmp, 'some'), '/tmp/x', { connectTimeoutSeconds: 2 }));
      expect(scp.code).not.toBe(0);
      expect(scp.stderr).toMatch(/timed out during banner exchange/);
      expect(existsSync(path.join(tmp, 'kh-silent')) ? readFileSync(path.join(tmp, 'kh-silent'), 'utf8') : '').toBe('');
    } finally {
      await silent.stop();
    }
  });
});

describe('an IPv6 node (::1)', () => {
  it('ssh takes the bare address, scp the bracketed one: upload and download as the sudo user', async () => {
    const v6 = await startSshd({ host: '::1' });
    try {
      const e: SshEndpoint = { host: '::1', port: v6.port, user: TEST_USER, identityFile: v6.clientKey, knownHostsFile: v6.knownHostsFile() };
      const r = await run(buildSshArgv(e, ['id', '-u'], { asRoot: true }));
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('0');
      const local = path.join(tmp, 'v6-up');
      writeFileSync(local, 'v6\n');
      const up = await runAll(buildUploadAsRootArgvs(e, local, '/etc/groundwork-v6.conf'));
      expect(up.code).toBe(0);
      expect(readFileSync(v6.nodeFile('/etc/groundwork-v6.conf'), 'utf8')).toBe('v6\n');
      const back = path.join(tmp, 'v6-down');
      expect((await runAll(buildDownloadAsRootArgvs(e, '/etc/groundwork-v6.conf', back))).code).toBe(0);
      expect(readFileSync(back, 'utf8')).toBe('v6\n');
    } finally {
      await v6.stop();
    }
  });
});
