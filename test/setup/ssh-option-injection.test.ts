/**
 * Issue 20, first bullet: an ssh user "-oProxyCommand=..." in cluster.yaml ran the command on the operator's
 * machine (`setup --yes --stages bootstrap` with the real ssh made the marker file). Now the spec is refused at
 * load, naming file:line:col and the field, and nothing is started: checked with a strict fake ssh/scp (no call
 * at all) and with the real OpenSSH client on a PATH built from scratch, against a 127.0.0.x address.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeTools } from '../helpers/fake-tools.js';
import { compileIfStale, roomSources } from '../helpers/dist.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/groundwork');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

beforeAll(() => compileIfStale(roomSources(['spec', 'net', 'bootstrap', 'preflight', 'drill', 'commands', 'playbook'])), 300_000);

function gw(args: string[], dir: string, PATH: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env: { PATH, HOME: dir, NO_COLOR: '1', CI: 'true', GROUNDWORK_LOOPBACK_ONLY: '1' }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A kubeadm spec whose ssh user (spec-wide, or of the node) is an ssh option that would touch the marker. */
function writeSpec(dir: string, where: 'spec-wide' | 'per-node'): { marker: string; markerDir: string } {
  const markerDir = path.join(dir, 'markers');
  mkdirSync(markerDir);
  const marker = path.join(markerDir, 'pwned');
  // ssh appends "@<address>" to the last word, so the file it would make is "pwned@127.0.77.11": the test
  // checks that the directory stays empty.
  const hostile = JSON.stringify(`-oProxyCommand=/usr/bin/touch ${marker}`);
  const wide = where === 'spec-wide' ? `\n      ssh: { user: ${hostile}, identityFile: ${JSON.stringify(path.join(dir, 'id'))}, port: 2222 }` : '';
  const node = where === 'per-node' ? `, ssh: { user: ${hostile} }` : '';
  writeFileSync(
    path.join(dir, 'cluster.yaml'),
    `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: hostile }
spec:
  kubernetesVersion: "1.37.2"
  endpoint: https://127.0.77.11:6443
  bootstrap:
    method: kubeadm
    kubeadm:${wide || ' {}'}
  nodes:
    - { name: cp-1, address: 127.0.77.11, role: control-plane${node} }
  network: { podCIDR: 192.168.0.0/16, cni: cilium }
`,
  );
  return { marker, markerDir };
}

const WHERE = {
  'spec-wide': /cluster\.yaml:10:20 spec\.bootstrap\.kubeadm\.ssh\.user: "-oProxyCommand=\/usr\/bin\/touch .*" is not a user name/m,
  'per-node': /cluster\.yaml:11:77 spec\.nodes\[0\]\.ssh\.user: "-oProxyCommand=\/usr\/bin\/touch .*" is not a user name/m,
} as const;

const COMMANDS = [['setup', '--yes', '--stages', 'bootstrap'], ['setup', '--yes'], ['preflight'], ['plan']].map((c) => [c.join(' '), c] as const);

describe('an ssh user that is an ssh option is refused at the spec edge; nothing runs', () => {
  describe.each(['spec-wide', 'per-node'] as const)('%s ssh.user', (where) => {
    it.each(COMMANDS)('strict fake ssh and scp: groundwork %s calls neither', (_name, args) => {
      const dir = tmp('gw-inject-fake-');
      const { markerDir } = writeSpec(dir, where);
      // No rules: any call to ssh or scp would be an unexpected call.
      const fakes = createFakeTools(path.join(dir, 'fakes'), { ssh: [], scp: [], kubectl: [] });
      const r = gw([...args], dir, fakes.path);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(WHERE[where]);
      expect(fakes.calls()).toEqual([]);
      expect(readdirSync(markerDir)).toEqual([]);
    });

    it.each(COMMANDS)('real ssh (/usr/bin/ssh) on a PATH of its own: groundwork %s makes no marker', (_name, args) => {
      const dir = tmp('gw-inject-real-');
      const { markerDir } = writeSpec(dir, where);
      const pathDir = path.join(dir, 'path');
      mkdirSync(pathDir);
      for (const p of ['ssh', 'scp']) symlinkSync(`/usr/bin/${p}`, path.join(pathDir, p));
      const r = gw([...args], dir, pathDir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(WHERE[where]);
      expect(readdirSync(markerDir)).toEqual([]);
    });
  });

  it('the real ssh would have run it: the same user handed to ssh as an option makes the marker (the hole this closes)', () => {
    // The old argv put `user@address` before `--`; proving the test can see the effect it guards against.
    const dir = tmp('gw-inject-proof-');
    const markerDir = path.join(dir, 'markers');
    mkdirSync(markerDir);
    const r = spawnSync('/usr/bin/ssh', ['-o', 'BatchMode=yes', '-p', '2222', `-oProxyCommand=/usr/bin/touch ${path.join(markerDir, 'pwned')}@127.0.77.11`, '--', 'true'], { env: { HOME: dir, PATH: '/nonexistent' }, timeout: 20_000 });
    expect(r.status).toBe(255);
    expect(readdirSync(markerDir)).toEqual(['pwned@127.0.77.11']);
  });

  it('drill --kubeadm with a user that is an ssh option: a usage error, no marker, with the real ssh', () => {
    const dir = tmp('gw-inject-drill-');
    const markerDir = path.join(dir, 'markers');
    mkdirSync(markerDir);
    const pathDir = path.join(dir, 'path');
    mkdirSync(pathDir);
    for (const p of ['ssh', 'scp']) symlinkSync(`/usr/bin/${p}`, path.join(pathDir, p));
    const r = gw(['drill', '--kubeadm', `-oProxyCommand=/usr/bin/touch ${path.join(markerDir, 'pwned')}@127.0.77.11`], dir, pathDir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('is not [user@]HOST');
    expect(readdirSync(markerDir)).toEqual([]);
  });
});
