/** The command end to end: the compiled CLI (dist/), a loopback spec, strict fake tools on a PATH from scratch. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync as mkdtempRaw, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileIfStale, roomSources } from '../helpers/dist.js';
import { createFakeTools } from '../helpers/fake-tools.js';

const dirs: string[] = [];
function mkdtempSync(prefix: string): string {
  const d = mkdtempRaw(prefix);
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/groundwork');

beforeAll(() => compileIfStale(['commands/preflight.ts', ...roomSources(['net', 'preflight'])]), 300_000);

function gw(args: string[], env: Record<string, string>, cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...env, NO_COLOR: '1', CI: 'true' }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SPEC = `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: loop }
spec:
  kubernetesVersion: "1.37.2"
  endpoint: https://127.0.88.10:6443
  bootstrap: { method: talos }
  nodes:
    - { name: cp-1, address: 127.0.88.11, role: control-plane }
  network: { podCIDR: 192.168.0.0/16, cni: cilium }
`;

describe('groundwork preflight', () => {
  it('--list prints the port catalog and the thresholds with sources', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    const r = gw(['preflight', '--list'], { PATH: '/nonexistent' }, dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Ports \(role x bootstrap method x CNI\):\nPORT\s+COMPONENT/);
    expect(r.stdout).toMatch(/^50000\/tcp\s+Talos apid .*talos\.dev/m);
    expect(r.stdout).toMatch(/^8472\/udp\s+Cilium VXLAN overlay/m);
    expect(r.stdout).toMatch(/^Thresholds:\nWHERE\s+CHECK\s+FAIL\s+WARN\s+SOURCE/m);
    expect(r.stdout).toMatch(/etcd-disk-fsync\s+p99 >= 10 ms/);
  });

  it('--help names --ignore, --role and --list', () => {
    const r = gw(['preflight', '--help'], { PATH: '/nonexistent' }, root);
    expect(r.code).toBe(0);
    for (const f of ['--ignore <check...>', '--role <role>', '--no-remote', '--list']) expect(r.stdout).toContain(f);
  });

  it('an unknown --ignore name is a usage error (exit 2) listing the valid names', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    writeFileSync(path.join(dir, 'cluster.yaml'), SPEC);
    const r = gw(['preflight', '--ignore', 'all', '--no-remote'], { PATH: '/nonexistent' }, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: unknown preflight check for --ignore: all');
    expect(r.stderr).toContain('there is no "ignore all"');
    expect(r.stderr).toMatch(/fix: valid names for this spec: .*classic-collisions.*reach-cp-1-50000/);
  });

  it('runs the checks: named [FAIL]/[WARN] lines with why and fix, --ignore recorded, JSON and JUnit in the run records', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    writeFileSync(path.join(dir, 'cluster.yaml'), SPEC);
    const fakes = createFakeTools(path.join(dir, 'fakes'), {
      talosctl: [{ match: ['version', '--client', '--short'], stdout: 'Client:\n\tTag:         v1.14.1\n' }],
      kubectl: [{ match: ['version', '--client', '-o', 'json'], stdout: '{"clientVersion":{"gitVersion":"v1.37.2"}}' }],
      helm: [{ match: ['version', '--short'], stdout: 'v3.7.2+g663a896\n' }],
      etcdctl: [{ match: ['version'], stdout: 'etcdctl version: 3.4.23\nAPI version: 3.4\n' }],
    });
    const text = gw(['preflight', '--no-remote', '--ignore', 'tool-helm'], fakes.env, dir);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('[WARN classic-collisions] podCIDR 192.168.0.0/16 overlaps 192.168.0.0/16');
    expect(text.stdout).toContain('[WARN tool-helm] helm 3.7.2 is older than 3.8 [ignored by --ignore tool-helm: failure downgraded to a warning]');
    expect(text.stdout).toMatch(/\[FAIL reach-cp-1-50000\] 127\.0\.88\.11:50000 refused the connection.*\n\s+why: .*\n\s+fix: boot cp-1 from the Talos ISO/);
    expect(text.stdout).toContain('[PASS tool-kubectl] kubectl 1.37.2 (>= 1.36)');
    expect(text.stdout).toContain('[SKIP reach-udp] 8472/udp (Cilium VXLAN overlay): not verifiable by connect');

    const json = gw(['preflight', '--no-remote', '--json', '--ignore', 'tool-helm'], fakes.env, dir);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { command: string; ignored: string[]; runDir: string; results: { id: string; status: string; evidence?: { ignoredBy?: string } }[] };
    expect(report.command).toBe('preflight');
    expect(report.ignored).toEqual(['tool-helm']);
    expect(report.results.find((r) => r.id === 'tool-helm')).toMatchObject({ status: 'warn', evidence: { ignoredBy: '--ignore tool-helm' } });
    expect(report.results.find((r) => r.id === 'reach-cp-1-50000')!.status).toBe('fail');
    const junit = readFileSync(path.join(report.runDir, 'junit.xml'), 'utf8');
    expect(junit).toContain('reach-cp-1-50000');
    expect(existsSync(path.join(report.runDir, 'report.json'))).toBe(true);
    fakes.verify();
  });
});

