/**
 * The drill of a kubeadm control plane (`drill --kubeadm`) through a real sshd and the real ssh and scp clients,
 * as root and as a non-root user with passwordless sudo, on first contact; the source is a real etcd 3.6 and the
 * node's etcdctl is the real etcd 3.6 etcdctl behind a strict shim that insists on kubeadm's endpoint and client
 * certificates (present on the node, root's, 0600) and on running as root, then talks to the test etcd. The
 * snapshot is really saved on the node (/var/lib, an overlay in the temp dir), handed to the ssh user, copied
 * back, removed there, and restored here by the real etcdutl 3.6. Also: a wrong key and a silent listener.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { runDrill } from '../../src/drill/index.js';
import { KUBEADM_ETCD } from '../../src/drill/targets.js';
import type { SshEndpoint } from '../../src/net/ssh-argv.js';
import { kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { realTool, realToolsPath } from '../helpers/real-tools.js';
import { captureIo } from '../helpers/io.js';
import { startSilentListener, startSshd, TEST_USER, type TestSshd } from '../helpers/sshd.js';

let etcd: TestEtcd;
let sshd: TestSshd;
let tmp: string;
let localPath: string;
let shimLog: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gw-ssh-drill-'));
  chmodSync(tmp, 0o755);
  etcd = await startEtcd({ bin: realTool('etcd-3.6/etcd') });
  await putMany(etcd.url, kubernetesKeys(500));
  // The node's etcdctl: strict about the words groundwork sends, then the real 3.6 etcdctl against the test etcd.
  const remoteBin = path.join(tmp, 'remote-bin');
  mkdirSync(remoteBin, { mode: 0o755 });
  shimLog = path.join(tmp, 'etcdctl-calls.log');
  writeFileSync(shimLog, '', { mode: 0o666 });
  chmodSync(shimLog, 0o666);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    path.join(remoteBin, 'etcdctl'),
    [
      '#!/bin/sh',
      'fail() { echo "etcdctl shim: $*" >&2; exit 97; }',
      '[ "$(id -u)" = 0 ] || fail "not run as root (uid $(id -u))"',
      '[ "$ETCDCTL_API" = 3 ] || fail "ETCDCTL_API is not 3"',
      `[ "$1" = ${q(`--endpoints=${KUBEADM_ETCD.endpoint}`)} ] && [ "$2" = ${q(`--cacert=${KUBEADM_ETCD.cacert}`)} ] && [ "$3" = ${q(`--cert=${KUBEADM_ETCD.cert}`)} ] && [ "$4" = ${q(`--key=${KUBEADM_ETCD.key}`)} ] || fail "unexpected words: $*"`,
      `for f in ${KUBEADM_ETCD.cacert} ${KUBEADM_ETCD.cert} ${KUBEADM_ETCD.key}; do [ -r "$f" ] || fail "cannot read $f"; done`,
      'shift 4',
      `printf '%s\\n' "$*" >> ${q(shimLog)}`,
      `exec ${q(realTool('etcd-3.6/etcdctl'))} --endpoints=${etcd.url} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const pem = (what: string) => ({ content: `-----BEGIN ${what}-----\nstand-in\n-----END ${what}-----\n`, mode: 0o600 });
  sshd = await startSshd({
    remotePath: [remoteBin],
    nodeFiles: { [KUBEADM_ETCD.cacert]: pem('CERTIFICATE'), [KUBEADM_ETCD.cert]: pem('CERTIFICATE'), [KUBEADM_ETCD.key]: pem('PRIVATE KEY') },
  });
  // Here: the real etcd 3.6 programs for the restore and the throw-away member, and the real ssh and scp.
  localPath = realToolsPath(['etcd-3.6/etcd', 'etcd-3.6/etcdctl', 'etcd-3.6/etcdutl'], { ssh: '/usr/bin/ssh', scp: '/usr/bin/scp' });
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
  await etcd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (localPath) rmSync(localPath, { recursive: true, force: true });
});

function drill(ssh: SshEndpoint, name: string, sentinel = false) {
  return runDrill({
    drill: { target: { kind: 'kubeadm', ssh }, sentinel },
    stateDir: path.join(tmp, `state-${name}`),
    io: captureIo(process.cwd()),
    env: { PATH: localPath, HOME: tmp, LANG: 'C' },
    renderer: 'silent',
  });
}

describe.each(['root', TEST_USER])('drill --kubeadm over real ssh as %s', (user) => {
  it('snapshots on the node, copies the snapshot back, restores it with etcdutl 3.6 and finds every key', async () => {
    writeFileSync(shimLog, '');
    const knownHosts = sshd.knownHostsFile();
    const { exitCode, report } = await drill({ host: sshd.host, port: sshd.port, user, identityFile: sshd.clientKey, knownHostsFile: knownHosts }, user, true);
    // The one warning a bumped-revision restore gives (hashkv not compared); nothing failed.
    expect(report.reasons.filter((r) => !r.startsWith('verify (warning): '))).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.source?.total).toBe(501); // 500 keys and the sentinel
    expect(report.restored?.counts).toEqual(report.source?.counts);
    expect(report.phases.snapshot?.status).toBe('pass');
    // The node's etcdctl was called for the inventory and the snapshot, always with kubeadm's certs, as root.
    const calls = readFileSync(shimLog, 'utf8').split('\n').filter(Boolean);
    expect(calls.some((c) => /^snapshot save \/var\/lib\/etcd-drill-.+\.db$/.test(c))).toBe(true);
    expect(calls.some((c) => c.startsWith('endpoint status'))).toBe(true);
    // Nothing of the snapshot stays on the node.
    const varLib = path.dirname(sshd.nodeFile('/var/lib/x'));
    expect(readdirSync(varLib).filter((f) => f.startsWith('etcd-drill-'))).toEqual([]);
    expect(readFileSync(knownHosts, 'utf8')).not.toBe('');
  }, 120_000);

  it('a wrong key fails the drill naming the host and "Permission denied (publickey)"', async () => {
    const { exitCode, report } = await drill({ host: sshd.host, port: sshd.port, user, identityFile: sshd.wrongKey, knownHostsFile: sshd.knownHostsFile() }, `${user}-wrong`);
    expect(exitCode).toBe(1);
    expect(report.reasons[0]).toMatch(/^inventory: /);
    expect(report.reasons[0]).toContain(`kubeadm node ${user}@${sshd.host} did not answer (ssh exited with code 255): ${user}@${sshd.host}: Permission denied (publickey`);
    expect(report.phases.snapshot?.status).not.toBe('pass');
  }, 60_000);
});

describe('drill --kubeadm against a host that accepts TCP and never answers', () => {
  it('fails on the ssh connect timeout, not the 30-minute phase timeout', async () => {
    const silent = await startSilentListener();
    try {
      const { exitCode, report } = await drill({ host: silent.host, port: silent.port, user: 'root', identityFile: sshd.clientKey, knownHostsFile: sshd.knownHostsFile() }, 'silent');
      expect(exitCode).toBe(1);
      expect(report.reasons[0]).toMatch(/^inventory: /);
      // ssh's last word: the host and port that timed out (its ConnectTimeout covers the banner exchange).
      expect(report.reasons[0]).toBe(`inventory: kubeadm node root@${silent.host} did not answer (ssh exited with code 255): Connection to ${silent.host} port ${silent.port} timed out`);
    } finally {
      await silent.stop();
    }
  }, 60_000);
});

describe('groundwork drill --kubeadm (the CLI) through a real sshd', () => {
  it('takes the port, key and known_hosts from --ssh-port, --ssh-identity and --ssh-known-hosts, as a sudo user', async () => {
    writeFileSync(shimLog, '');
    const knownHosts = sshd.knownHostsFile();
    const io = captureIo(tmp, { NO_COLOR: '1', CI: 'true', PATH: localPath });
    // The drill runs its tools from this process's PATH: only the real etcd 3.6 programs, ssh and scp.
    const saved = process.env.PATH;
    process.env.PATH = localPath;
    let code: number;
    try {
      code = await main(
        ['drill', '--kubeadm', `${TEST_USER}@${sshd.host}`, '--ssh-port', String(sshd.port), '--ssh-identity', sshd.clientKey, '--ssh-known-hosts', knownHosts, '--json', '--state-dir', path.join(tmp, 'state-cli')],
        io,
      );
    } finally {
      process.env.PATH = saved;
    }
    const report = (JSON.parse(io.out()) as { drill: { status: string; source?: { total: number }; restored?: { total: number }; reasons: string[] } }).drill;
    expect(report.reasons.filter((r) => !r.startsWith('verify (warning): '))).toEqual([]);
    expect(code).toBe(0);
    expect(report.restored?.total).toBe(report.source?.total);
    expect(readFileSync(shimLog, 'utf8')).toMatch(/^snapshot save \/var\/lib\/etcd-drill-/m);
    expect(readFileSync(knownHosts, 'utf8')).not.toBe('');
  }, 120_000);

  it.each([
    [['--kubeadm', 'root@127.0.0.5', '--ssh-port', '0'], /--ssh-port "0" is not a port/],
    [['--snapshot', 'a.db', '--ssh-port', '22'], /--ssh-port, --ssh-identity and --ssh-known-hosts go with --kubeadm/],
  ])('drill %j is a usage error', async (args, want) => {
    const io = captureIo(tmp);
    const code = await main(['drill', ...args], io);
    expect(code).toBe(2);
    expect(io.err()).toMatch(want);
  });
});
