/**
 * --talos and --kubeadm against strict fakes on a PATH built from scratch: talosctl and ssh/scp are fakes that
 * record every call; a call the test did not expect fails (exit 97) and is reported. The etcd behind them is real:
 * the fake ssh plays the control plane by running the remote etcdctl words against the test etcd.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../src/drill/index.js';
import { ETCDCTL_BIN, ETCD_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let work: string;
let bin: string;
let log: string;
let remoteDir: string;
let goodSnapshot: string;

// A non-root user: etcdctl, chown and rm go through sudo -n on the node.
const HOST = 'ops@127.0.0.5';
const SSH_OPTS = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3'];
const NODE = '127.0.0.6';

function fake(name: string, body: string): void {
  const file = path.join(bin, name);
  writeFileSync(file, `#!${process.execPath}\n'use strict';\n${body}`);
  chmodSync(file, 0o755);
}

const COMMON = `
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const args = process.argv.slice(2);
const log = (line) => fs.appendFileSync(process.env.FAKE_LOG, line + '\\n');
const unexpected = () => { log('UNEXPECTED ' + path.basename(process.argv[1]) + ' ' + JSON.stringify(args)); process.stderr.write('fake: unexpected call\\n'); process.exit(97); };
log(path.basename(process.argv[1]) + ' ' + JSON.stringify(args));
`;

beforeAll(async () => {
  etcd = await startEtcd();
  await putMany(etcd.url, kubernetesKeys(1200));
  work = mkdtempSync(path.join(tmpdir(), 'gw-remote-'));
  bin = path.join(work, 'bin');
  remoteDir = path.join(work, 'node-var-lib');
  mkdirSync(bin);
  mkdirSync(remoteDir);
  log = path.join(work, 'calls.log');
  writeFileSync(log, '');
  // Only what the drill may use: real etcd and etcdctl, fake talosctl, ssh and scp. No etcdutl, no shell tools.
  symlinkSync(ETCD_BIN, path.join(bin, 'etcd'));
  symlinkSync(ETCDCTL_BIN, path.join(bin, 'etcdctl'));
  goodSnapshot = path.join(work, 'talos.db');
  execFileSync(ETCDCTL_BIN, [`--endpoints=${etcd.url}`, 'snapshot', 'save', goodSnapshot], { stdio: 'ignore' });

  fake(
    'talosctl',
    `${COMMON}
if (args.length === 5 && args[0] === '-n' && args[1] === '${NODE}' && args[2] === 'etcd' && args[3] === 'snapshot' && path.isAbsolute(args[4])) {
  fs.copyFileSync(process.env.FAKE_SNAPSHOT, args[4]);
  process.stdout.write('etcd snapshot saved to ' + args[4] + '\\n');
  process.exit(0);
}
unexpected();
`,
  );

  fake(
    'ssh',
    `${COMMON}
const OPTS = ${JSON.stringify([...SSH_OPTS, '--', HOST])};
if (OPTS.some((o, i) => args[i] !== o)) unexpected();
const remote = args.slice(OPTS.length).join(' ');
const PREFIX = 'sudo -n -- env ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key ';
const onNode = (p) => path.join(process.env.FAKE_REMOTE, path.basename(p));
const etcdctl = (words) => {
  // The remote shell would undo the quoting: so does sh here. Only reads, the sentinel (put, and del at teardown) and snapshot save pass.
  if (!/^(endpoint status -w json|endpoint hashkv -w json --rev=\\d+ --command-timeout=\\d+s|get --keys-only -w json --from-key --rev=\\d+ --command-timeout=\\d+s -- \\S+|put -- \\/groundwork\\/drill-sentinel \\S+|del -- \\/groundwork\\/drill-sentinel)$/.test(words)) unexpected();
  const r = spawnSync('/bin/sh', ['-c', process.env.FAKE_ETCDCTL + ' --endpoints=' + process.env.FAKE_ETCD + ' ' + words], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
};
let m;
if ((m = /^snapshot save (\\/var\\/lib\\/etcd-drill-[\\w-]+\\.db)$/.exec(remote.slice(PREFIX.length))) && remote.startsWith(PREFIX)) {
  const r = spawnSync(process.env.FAKE_ETCDCTL, ['--endpoints=' + process.env.FAKE_ETCD, 'snapshot', 'save', onNode(m[1])], { stdio: 'ignore' });
  process.exit(r.status ?? 1);
}
if (/^sudo -n -- chown -- "\\$\\(id -u\\)" \\/var\\/lib\\/etcd-drill-[\\w-]+\\.db$/.test(remote)) process.exit(0);
if ((m = /^sudo -n -- rm -f -- (\\/var\\/lib\\/etcd-drill-[\\w-]+\\.db)$/.exec(remote))) {
  fs.rmSync(onNode(m[1]), { force: true });
  process.exit(0);
}
if (remote.startsWith(PREFIX)) etcdctl(remote.slice(PREFIX.length));
unexpected();
`,
  );

  fake(
    'scp',
    `${COMMON}
const OPTS = ${JSON.stringify([...SSH_OPTS, '--'])};
const n = OPTS.length;
const m = args.length === n + 2 && OPTS.every((o, i) => args[i] === o) ? /^${HOST.replace(/\./g, '\\.')}:(\\/var\\/lib\\/etcd-drill-[\\w-]+\\.db)$/.exec(args[n]) : null;
if (!m || !path.isAbsolute(args[n + 1])) unexpected();
fs.copyFileSync(path.join(process.env.FAKE_REMOTE, path.basename(m[1])), args[n + 1]);
`,
  );
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function fakeEnv(): Record<string, string> {
  return {
    PATH: bin,
    HOME: work,
    FAKE_LOG: log,
    FAKE_SNAPSHOT: goodSnapshot,
    FAKE_REMOTE: remoteDir,
    FAKE_ETCD: etcd.url,
    FAKE_ETCDCTL: ETCDCTL_BIN,
  };
}

function quietIo() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.resume();
  stderr.resume();
  return { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: work };
}

function calls(): string[] {
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

describe('drill --talos (strict fake talosctl)', () => {
  it('takes the snapshot with talosctl etcd snapshot, then restores and boots it locally', async () => {
    writeFileSync(log, '');
    const { exitCode, report } = await runDrill({ drill: { target: { kind: 'talos', node: NODE } }, stateDir: path.join(work, 'state-t'), io: quietIo(), env: fakeEnv(), renderer: 'silent' });
    expect(calls().filter((c) => c.startsWith('UNEXPECTED'))).toEqual([]);
    expect(calls().filter((c) => c.startsWith('talosctl'))).toHaveLength(1);
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.phases.inventory?.status).toBe('skip');
    expect(report.restored?.total).toBe(1200);
  });
});

describe('drill --kubeadm (strict fake ssh and scp)', () => {
  it("runs etcdctl on the node with the node's certs, copies the snapshot back, removes it from the node", async () => {
    writeFileSync(log, '');
    const { exitCode, report } = await runDrill({
      drill: { target: { kind: 'kubeadm', ssh: { user: 'ops', host: '127.0.0.5' } }, sentinel: true },
      stateDir: path.join(work, 'state-k'),
      io: quietIo(),
      env: fakeEnv(),
      renderer: 'silent',
    });
    const seen = calls();
    expect(seen.filter((c) => c.startsWith('UNEXPECTED'))).toEqual([]);
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.source?.total).toBe(1201); // 1,200 keys and the sentinel
    expect(report.restored?.counts).toEqual(report.source?.counts);
    expect(report.restored?.hash).toBe(report.source?.hash?.hash);
    expect(report.sentinel?.found).toBe(true);
    // Every expected kind of call came, in order: inventory, snapshot on the node, copy back, removal, and the
    // sentinel deleted from the source at teardown.
    const kinds = seen.map((c) => (c.includes('snapshot') && c.includes('save') ? 'save' : c.startsWith('scp') ? 'scp' : c.includes('"rm"') ? 'rm' : c.includes('"chown"') ? 'chown' : c.includes('"put"') ? 'put' : c.includes('"del"') ? 'del' : 'read'));
    expect(kinds.filter((k) => k !== 'read')).toEqual(['put', 'save', 'chown', 'scp', 'rm', 'del']);
    expect(readdirSync(remoteDir)).toEqual([]);
  });

  it('a failing ssh fails the inventory with the reason, the snapshot is not attempted, and nothing is left behind', async () => {
    writeFileSync(log, '');
    const scratch = path.join(work, 'scratch-bad');
    const { exitCode, report } = await runDrill({
      drill: { target: { kind: 'kubeadm', ssh: { user: 'root', host: '127.0.0.9' } }, scratch },
      stateDir: path.join(work, 'state-k2'),
      io: quietIo(),
      env: fakeEnv(),
      renderer: 'silent',
    });
    expect(exitCode).toBe(1);
    expect(report.reasons[0]).toMatch(/^inventory: .*ssh exited with code 97/);
    expect(report.phases.snapshot).toMatchObject({ status: 'skip', summary: 'not taken: the inventory of kubeadm node root@127.0.0.9 failed' });
    expect(existsSync(scratch)).toBe(false);
  });
});
