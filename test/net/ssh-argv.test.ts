/**
 * The one ssh/scp argv builder (src/net/ssh-argv.ts): tables of what each program gets, and properties that
 * every argv builder keeps hostile values as data: after `--`, or as the whole value of a fixed flag. The
 * real ssh client's own option parser (`ssh -G`, which prints the resolved configuration and connects to
 * nothing) confirms that no value became an option.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseSpec } from '../../src/spec/load.js';
import {
  endpointForNode,
  buildDownloadAsRootArgvs,
  buildScpDownloadArgv,
  buildScpUploadArgv,
  buildSshArgv,
  buildSshOptions,
  buildUploadAsRootArgvs,
  parseSshDestination,
  rawShell,
  scpOperand,
  shellQuote,
  type SshEndpoint,
} from '../../src/net/ssh-argv.js';
import { kubeadmSnapshotArgvs } from '../../src/drill/drill.js';
import { sourceEtcdctl } from '../../src/drill/targets.js';
import { buildHelmUpgradeArgv } from '../../src/addons/helm.js';
import { buildConfiguredProbeArgv, buildInsecureVersionArgv } from '../../src/bootstrap/talos.js';

const BASE = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3'];

describe('options, per program', () => {
  it.each<[string, 'ssh' | 'scp', SshEndpoint, Parameters<typeof buildSshOptions>[2], string[]]>([
    ['ssh takes its port as -p', 'ssh', { host: 'h', port: 2222 }, {}, [...BASE, '-p', '2222']],
    ['scp takes its port as -P (-p preserves times)', 'scp', { host: 'h', port: 2222 }, {}, [...BASE, '-P', '2222']],
    ['no port: ssh picks (22 or its config)', 'ssh', { host: 'h' }, {}, BASE],
    ['the identity file goes behind -i', 'scp', { host: 'h', identityFile: '~/.ssh/id_ed25519' }, {}, ['-i', '~/.ssh/id_ed25519', ...BASE]],
    ['a known_hosts file of the cluster (spec ssh.knownHostsFile)', 'ssh', { host: 'h', knownHostsFile: '/tmp/kh' }, {}, [...BASE, '-o', 'UserKnownHostsFile=/tmp/kh']],
    ['a shorter connect timeout and keepalive', 'ssh', { host: 'h' }, { connectTimeoutSeconds: 3, serverAliveIntervalSeconds: 2, serverAliveCountMax: 1 }, ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=3', '-o', 'ServerAliveInterval=2', '-o', 'ServerAliveCountMax=1']],
  ])('%s', (_what, program, ep, o, want) => {
    expect(buildSshOptions(program, ep, o)).toEqual(want);
  });

  it('every program always gets BatchMode, accept-new, ConnectTimeout and ServerAlive', () => {
    for (const argv of [buildSshArgv({ host: 'h' }, ['true']), buildScpUploadArgv({ host: 'h' }, '/a', '/b'), buildScpDownloadArgv({ host: 'h' }, '/a', '/b')]) {
      for (const o of ['BatchMode=yes', 'StrictHostKeyChecking=accept-new', 'ConnectTimeout=10', 'ServerAliveInterval=10', 'ServerAliveCountMax=3']) expect(argv[argv.indexOf(o) - 1]).toBe('-o');
    }
  });
});

describe('destinations and operands', () => {
  it.each<[SshEndpoint, string, string]>([
    [{ host: '127.0.0.5', user: 'root' }, '/etc/x', 'root@127.0.0.5:/etc/x'],
    [{ host: 'fd00::5', user: 'ops' }, '/etc/x', 'ops@[fd00::5]:/etc/x'],
    [{ host: '::1' }, 'rel', '[::1]:rel'],
    [{ host: 'cp-1.lab.test', user: 'ops' }, '/a b', 'ops@cp-1.lab.test:/a b'],
  ])('scp %j %s → %s (IPv6 in brackets)', (ep, p, want) => {
    expect(scpOperand(ep, p)).toBe(want);
  });

  it.each<[SshEndpoint, string[]]>([
    [{ host: 'fd00::5', user: 'ops', port: 22 }, ['-p', '22', '--', 'ops@fd00::5', 'sudo', '-n', '--', 'true']],
    [{ host: '127.0.0.5', user: 'root', port: 22 }, ['-p', '22', '--', 'root@127.0.0.5', 'true']],
    [{ host: '127.0.0.5', port: 22 }, ['-p', '22', '--', '127.0.0.5', 'sudo', '-n', '--', 'true']],
  ])('ssh as root on %j: sudo -n only when the user is not root (or unknown)', (ep, tail) => {
    const argv = buildSshArgv(ep, ['true'], { asRoot: true });
    expect(argv.slice(argv.indexOf('-p'))).toEqual(tail);
  });

  it.each<[string, SshEndpoint, string[][]]>([
    // scp alone would give a new file the local file's mode and keep an existing file's: install sets 0600.
    ['root: scp to its home, install into place with the mode, remove the staged copy', { host: '127.0.0.5', user: 'root' }, [
      ['scp', ...BASE, '--', '/local/j', 'root@127.0.0.5:.groundwork-staging-etc_groundwork_join.yaml'],
      ['ssh', ...BASE, '--', 'root@127.0.0.5', 'install', '-m', '0600', '--', '.groundwork-staging-etc_groundwork_join.yaml', '/etc/groundwork/join.yaml', '; r=$?;', 'rm', '-f', '--', '.groundwork-staging-etc_groundwork_join.yaml', '; exit $r'],
    ]],
    ['another user: scp to its home, sudo install into place, remove the staged copy even when install fails', { host: 'fd00::5', user: 'ops' }, [
      ['scp', ...BASE, '--', '/local/j', 'ops@[fd00::5]:.groundwork-staging-etc_groundwork_join.yaml'],
      ['ssh', ...BASE, '--', 'ops@fd00::5', 'sudo', '-n', '--', 'install', '-m', '0600', '--', '.groundwork-staging-etc_groundwork_join.yaml', '/etc/groundwork/join.yaml', '; r=$?;', 'rm', '-f', '--', '.groundwork-staging-etc_groundwork_join.yaml', '; exit $r'],
    ]],
  ])('upload as root, %s', (_what, ep, want) => {
    expect(buildUploadAsRootArgvs(ep, '/local/j', '/etc/groundwork/join.yaml')).toEqual(want);
  });

  it.each<[string, SshEndpoint, string[][]]>([
    ['root: one scp back', { host: '127.0.0.5', user: 'root' }, [['scp', ...BASE, '--', 'root@127.0.0.5:/etc/kubernetes/admin.conf', '/l/kubeconfig']]],
    ['another user: a copy it owns (0600) in its home, scp back, remove it', { host: '127.0.0.5', user: 'ops' }, [
      ['ssh', ...BASE, '--', 'ops@127.0.0.5', 'sudo', '-n', '--', 'install', '-m', '0600', '-o', 'ops', '--', '/etc/kubernetes/admin.conf', '.groundwork-staging-etc_kubernetes_admin.conf'],
      ['scp', ...BASE, '--', 'ops@127.0.0.5:.groundwork-staging-etc_kubernetes_admin.conf', '/l/kubeconfig'],
      ['ssh', ...BASE, '--', 'ops@127.0.0.5', 'rm', '-f', '--', '.groundwork-staging-etc_kubernetes_admin.conf'],
    ]],
  ])('download as root, %s', (_what, ep, want) => {
    expect(buildDownloadAsRootArgvs(ep, '/etc/kubernetes/admin.conf', '/l/kubeconfig')).toEqual(want);
  });

  it.each<[string, ReturnType<typeof parseSshDestination>]>([
    ['root@127.0.0.5', { user: 'root', host: '127.0.0.5' }],
    ['cp-1.lab.test', { host: 'cp-1.lab.test' }],
    ['ops@[fd00::1]', { user: 'ops', host: 'fd00::1' }],
    ['-oProxyCommand=touch /tmp/x', undefined],
    ['-oProxyCommand=x@127.0.0.5', undefined],
    ['root@-oProxyCommand=x', undefined],
    ['root@127.0.0.5 true', undefined],
    ['ro ot@127.0.0.5', undefined],
    ['', undefined],
  ])('--kubeadm %j', (v, want) => {
    expect(parseSshDestination(v)).toEqual(want);
  });
});

describe('endpointForNode: what the spec says about reaching a node', () => {
  const spec = (ssh: string, node = '') => parseSpec(`apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  endpoint: https://127.0.0.11:6443
  bootstrap:
    method: kubeadm
    kubeadm: { ssh: ${ssh} }
  nodes:
    - { name: cp-1, address: 127.0.0.11, role: control-plane${node} }
`, 'c.yaml').spec;
  it.each<[string, string, string, SshEndpoint]>([
    ['defaults', '{}', '', { host: '127.0.0.11', user: 'root', port: 22, identityFile: '~/.ssh/id_ed25519' }],
    ['spec-wide user, port, key and known_hosts', '{ user: ops, port: 2222, identityFile: /k/id, knownHostsFile: /k/known_hosts }', '', { host: '127.0.0.11', user: 'ops', port: 2222, identityFile: '/k/id', knownHostsFile: '/k/known_hosts' }],
    ['the node overrides user and port', '{ user: ops, port: 2222 }', ', ssh: { user: admin, port: 22 }', { host: '127.0.0.11', user: 'admin', port: 22, identityFile: '~/.ssh/id_ed25519' }],
  ])('%s', (_what, ssh, node, want) => {
    const s = spec(ssh, node);
    expect(endpointForNode(s, s.spec.nodes[0]!)).toEqual(want);
  });
});

// ---- properties ------------------------------------------------------------------------------------------

const HOSTILE = ['-', '--', '-oProxyCommand=touch /tmp/gw-pwned', '-F/dev/null', '=', '\n', '\r', ';', '$(id)', '`id`', '|', '&&', ' ', '@', ':', "'", '"', '\\', '*', '~', '#', ',', '[', ']', '%h'];
/** Anything an argv element can hold (no NUL), leaning on the characters that matter to ssh, scp and sh. */
const hostile = fc
  .oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: fc.constantFrom(...HOSTILE, 'a', 'root', '0', '.', '/'), minLength: 1, maxLength: 6 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }))
  .filter((s) => !s.includes('\0') && s.isWellFormed());
const endpoint = fc.record({
  host: hostile,
  user: fc.option(hostile, { nil: undefined }),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  identityFile: fc.option(hostile, { nil: undefined }),
  knownHostsFile: fc.option(hostile, { nil: undefined }),
});

/** Flags that take a value, and the `-o` keys we set: everything before `--` must be one of them or their value. */
const VALUE_FLAGS = new Set(['-i', '-p', '-P', '-o']);
const OUR_KEYS = /^(BatchMode|StrictHostKeyChecking|ConnectTimeout|ServerAliveInterval|ServerAliveCountMax|UserKnownHostsFile)=/;

/** Checks one ssh/scp argv: the options are ours with operator values only as whole flag values, then `--`. */
function expectOptionsThenDashDash(argv: string[], ep: SshEndpoint): number {
  expect(['ssh', 'scp']).toContain(argv[0]);
  let i = 1;
  for (; i < argv.length && argv[i] !== '--'; i += 2) {
    const flag = argv[i]!;
    expect(VALUE_FLAGS.has(flag), `${flag} in ${JSON.stringify(argv)}`).toBe(true);
    const value = argv[i + 1]!;
    if (flag === '-o') expect(value).toMatch(OUR_KEYS);
    if (value.startsWith('UserKnownHostsFile=')) expect(value).toBe(`UserKnownHostsFile=${ep.knownHostsFile}`);
    if (flag === '-i') expect(value).toBe(ep.identityFile);
    if (flag === '-p' || flag === '-P') {
      expect(value).toBe(String(ep.port));
      expect(flag).toBe(argv[0] === 'scp' ? '-P' : '-p');
    }
  }
  expect(argv[i]).toBe('--');
  return i;
}

describe('property: every ssh/scp builder keeps any value as data', () => {
  it('ssh: options are ours, then --, then exactly one destination element, then the remote words quoted', () => {
    fc.assert(
      fc.property(endpoint, fc.array(hostile, { maxLength: 4 }), fc.boolean(), (ep, words, asRoot) => {
        const argv = buildSshArgv(ep, words, { asRoot });
        const dd = expectOptionsThenDashDash(argv, ep);
        expect(argv[dd + 1]).toBe(ep.user !== undefined ? `${ep.user}@${ep.host}` : ep.host);
        const remote = argv.slice(dd + 2);
        const sudo = asRoot && ep.user !== 'root' ? ['sudo', '-n', '--'] : [];
        expect(remote).toEqual([...sudo, ...words].map(shellQuote));
      }),
      { numRuns: 300 },
    );
  });

  it('scp: options are ours, then --, then exactly two operands', () => {
    fc.assert(
      fc.property(endpoint, hostile, hostile, (ep, local, remote) => {
        for (const argv of [buildScpUploadArgv(ep, local, remote), buildScpDownloadArgv(ep, remote, local)]) {
          const dd = expectOptionsThenDashDash(argv, ep);
          expect(argv.length).toBe(dd + 3);
          expect(argv.slice(dd + 1)).toContain(local);
          expect(argv.slice(dd + 1)).toContain(scpOperand(ep, remote));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the staged copies, the drill snapshot and the drill etcdctl keep the same shape', () => {
    fc.assert(
      fc.property(endpoint, hostile, hostile, (ep, local, remote) => {
        const all = [
          ...buildUploadAsRootArgvs(ep, local, remote),
          ...buildDownloadAsRootArgvs(ep, remote, local),
          ...kubeadmSnapshotArgvs(ep, remote, local),
          sourceEtcdctl({ kind: 'kubeadm', ssh: ep })!(['get', '--', remote]),
        ];
        for (const argv of all) {
          const dd = expectOptionsThenDashDash(argv, ep);
          if (argv[0] === 'ssh') expect(argv[dd + 1]).toBe(ep.user !== undefined ? `${ep.user}@${ep.host}` : ep.host);
          else expect(argv.length).toBe(dd + 3);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('remote words survive the remote shell: sh reads back exactly the words (real /bin/sh)', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 4 }), (words) => {
        const argv = buildSshArgv({ host: 'h', user: 'root' }, ['printf', '%s\\0', ...words]);
        // ssh joins the words after the destination with spaces and hands them to the login shell: so do we.
        const line = argv.slice(argv.indexOf('--') + 2).join(' ');
        const out = execFileSync('/bin/sh', ['-c', line]).toString();
        expect(out.split('\0').slice(0, -1)).toEqual(words);
      }),
      { numRuns: 60 },
    );
  });

  it('our own shell syntax (rawShell) is the only unquoted text', () => {
    const argv = buildSshArgv({ host: 'h' }, ['a b', rawShell('&&'), 'c']);
    expect(argv.slice(-3)).toEqual(["'a b'", '&&', 'c']);
  });

  it('other programs: helm takes a chart archive path that starts with "-" as a path; talosctl nodes are --nodes values', () => {
    fc.assert(
      fc.property(hostile, hostile, (archive, address) => {
        const chart = { chart: 'cilium', repo: 'https://helm.cilium.io', version: '1.17.6', release: 'cilium', namespace: 'kube-system', podSecurity: 'privileged' as const };
        const helm = buildHelmUpgradeArgv(chart, '/v.yaml', '/k', { archives: { cilium: archive } });
        expect(helm.slice(0, 4)).toEqual(['helm', 'upgrade', '--install', 'cilium']);
        expect(helm[4]!.startsWith('-')).toBe(false);
        expect(helm[4]!.endsWith(archive)).toBe(true);
        const node = { name: 'cp-1', address, role: 'control-plane' as const };
        const v = buildInsecureVersionArgv(node);
        expect(v[v.indexOf('--nodes') + 1]).toBe(address);
        const p = buildConfiguredProbeArgv({ talosconfig: '/tc' } as Parameters<typeof buildConfiguredProbeArgv>[0], node);
        expect(p[p.indexOf('--nodes') + 1]).toBe(address);
        expect(p[p.indexOf('--endpoints') + 1]).toBe(address);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the real ssh client parses our argv as we mean it (ssh -G: print the configuration, connect to nothing)', () => {
  const ssh = '/usr/bin/ssh';
  const home = mkdtempSync(path.join(tmpdir(), 'gw-ssh-g-'));
  const marker = path.join(home, 'pwned');
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const g = (argv: string[]) => {
    const r = spawnSync(ssh, ['-G', ...argv.slice(1)], { env: { HOME: home, PATH: '/nonexistent' }, encoding: 'utf8', timeout: 10_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('is there (a test that needs a program says so instead of skipping)', () => {
    expect(existsSync(ssh)).toBe(true);
  });

  it('our options are in effect, the destination is the one we gave', () => {
    const r = g(buildSshArgv({ host: '127.0.0.5', user: 'ops', port: 2222, identityFile: path.join(home, 'id'), knownHostsFile: path.join(home, 'kh') }, ['true']));
    expect(r.code, r.err).toBe(0);
    for (const line of ['user ops', 'hostname 127.0.0.5', 'port 2222', 'batchmode yes', 'stricthostkeychecking accept-new', 'connecttimeout 10', 'serveraliveinterval 10', 'serveralivecountmax 3', `userknownhostsfile ${path.join(home, 'kh')}`]) {
      expect(r.out.split('\n')).toContain(line);
    }
  });

  it('a host that accepts TCP and never says a word: ssh gives up by itself (ConnectTimeout covers the banner), exit 255', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const argv = buildSshArgv({ host: '127.0.0.1', user: 'root', port, knownHostsFile: path.join(home, 'kh') }, ['true'], { connectTimeoutSeconds: 1 });
      const child = spawn(ssh, argv.slice(1), { env: { HOME: home, PATH: '/nonexistent' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(255);
      expect(err).toMatch(/banner exchange|timed out/i);
    } finally {
      silent.close();
    }
  }, 30_000);

  it('property: with any user, host or key file, no value becomes an option (no ProxyCommand, no LocalCommand), and no marker appears', () => {
    fc.assert(
      fc.property(endpoint, (ep) => {
        const r = g(buildSshArgv({ ...ep, user: ep.user ?? `-oProxyCommand=touch ${marker}` }, ['true']));
        // Refused by ssh itself (invalid user or host characters) or parsed: either way our options stand.
        if (r.code === 0) {
          const lines = r.out.split('\n');
          expect(lines.filter((l) => /^(proxycommand|localcommand|permitlocalcommand yes|remotecommand)/.test(l))).toEqual([]);
          expect(lines).toContain('batchmode yes');
          expect(lines).toContain('stricthostkeychecking accept-new');
        } else expect(r.code).toBe(255);
        expect(existsSync(marker)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});
