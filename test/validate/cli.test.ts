/**
 * The built CLI (node bin/groundwork, after `npx tsc -p .`): Ctrl-C in the middle of a run cleans up (exit 130,
 * the real kubectl finds nothing left), --print-rbac, usage errors, explain netpol.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { Lab } from '../../src/lab/index.js';
import { startTestLab, TEST_LAB_API } from '../helpers/lab-api.js';
import { createControllers } from '../../src/lab/controllers/index.js';

const BIN = path.resolve('bin/groundwork');
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1', CI: 'true', HOME: mkdtempSync(path.join(tmpdir(), 'gw-home-')) };

async function kubectl(kubeconfig: string, ...args: string[]): Promise<string> {
  const home = mkdtempSync(path.join(tmpdir(), 'gw-kubectl-home-'));
  return (await promisify(execFile)('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args], { env: { HOME: home, PATH: '/usr/bin:/bin' }, encoding: 'utf8' })).stdout;
}

function run(args: string[], opts: { input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: ENV, cwd: mkdtempSync(path.join(tmpdir(), 'gw-cwd-')) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe(`groundwork validate (CLI, ${TEST_LAB_API} API)`, () => {
  let lab: Lab;
  beforeAll(async () => {
    // A stuck provisioner keeps the storage suite waiting: a run that is surely still going when Ctrl-C comes.
    lab = await startTestLab({ nodes: 3, faults: ['provisioner-stuck'], controllers: createControllers({ timeScale: 0.1 }) });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('Ctrl-C mid-run: exit 130, and no test namespace or volume remains (checked with kubectl)', async () => {
    const state = mkdtempSync(path.join(tmpdir(), 'gw-state-'));
    const child = spawn(process.execPath, [BIN, 'validate', '--kubeconfig', lab.kubeconfigPath, '--state-dir', state, '--timeout', '60'], { env: ENV });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Interrupt once the run has created its objects (pods exist in a test namespace).
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const ours = lab.store.list('pods').items.filter((p) => p.metadata.namespace?.startsWith('groundwork-validate-'));
      if (ours.length >= 4 && lab.store.list('persistentvolumeclaims').items.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(lab.store.list('namespaces').items.some((n) => n.metadata.name!.startsWith('groundwork-validate-'))).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('interrupted');
    const ns = await kubectl(lab.kubeconfigPath, 'get', 'namespaces', '-o', 'name');
    expect(ns).toContain('namespace/default');
    expect(ns).not.toContain('groundwork-validate');
    expect((await kubectl(lab.kubeconfigPath, 'get', 'pv', '-o', 'name')).trim()).toBe('');
  }, 120_000);

  it('--keep leaves the namespace, labelled; the matrix is printed and goes into --junit', async () => {
    const state = mkdtempSync(path.join(tmpdir(), 'gw-state-'));
    const junit = path.join(state, 'validate.xml');
    const r = await run(['validate', '--kubeconfig', lab.kubeconfigPath, '--state-dir', state, '--only', 'dns,connectivity', '--keep', '--junit', junit]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[PASS connectivity]');
    expect(r.stdout).toMatch(/connectivity matrix:\n\s+1  2  3   svc dns\n 1 cp-1 +✓  ✓  ✓     ✓   ✓\n 2 w-1 +✓  ✓  ✓     ✓   ✓\n 3 w-2 +✓  ✓  ✓     ✓   ✓/);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase name="connectivity"[^>]*>\n\s+<system-out>[^<]*w-1 +✓  ✓[^<]*<\/system-out>\n\s+<\/testcase>/);
    expect(xml).toContain('<testcase name="dns"');
    expect(r.stderr).toMatch(/--keep: kept groundwork-validate-\S+/);
    const ns = await kubectl(lab.kubeconfigPath, 'get', 'namespaces', '-l', 'app.kubernetes.io/managed-by=groundwork', '-o', 'name');
    expect(ns).toMatch(/namespace\/groundwork-validate-/);
    await kubectl(lab.kubeconfigPath, 'delete', 'namespace', '-l', 'app.kubernetes.io/managed-by=groundwork', '--wait=false');
  }, 120_000);
});

describe('groundwork validate / explain (CLI, no cluster)', () => {
  it('--print-rbac prints a ClusterRole that covers what validate does', async () => {
    const r = await run(['validate', '--print-rbac']);
    expect(r.code).toBe(0);
    const role = parse(r.stdout) as { kind: string; rules: { apiGroups?: string[]; resources?: string[]; verbs: string[] }[] };
    expect(role.kind).toBe('ClusterRole');
    const can = (group: string, resource: string, verb: string) => role.rules.some((x) => x.apiGroups?.includes(group) && x.resources?.includes(resource) && x.verbs.includes(verb));
    expect(can('', 'namespaces', 'create')).toBe(true);
    expect(can('', 'pods', 'create')).toBe(true);
    expect(can('', 'pods/log', 'get')).toBe(true);
    expect(can('networking.k8s.io', 'networkpolicies', 'create')).toBe(true);
    expect(can('', 'nodes', 'create')).toBe(false);
    expect(can('', 'secrets', 'get')).toBe(false);
  });

  it('an unknown suite is a usage error naming the suites', async () => {
    const r = await run(['validate', '--only', 'connectivity,bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown suite "bogus"');
    expect(r.stderr).toContain('control-plane, connectivity, dns, netpol, scheduling, storage');
  });

  it('a missing kubeconfig is a usage error naming --kubeconfig', async () => {
    const r = await run(['validate', '--kubeconfig', '/nonexistent/kubeconfig', '--only', 'control-plane']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--kubeconfig');
  });

  it('explain netpol prints plain logic from a file and from stdin', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-np-'));
    const f = path.join(dir, 'np.yaml');
    const doc = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: postgres}}}]
    ports: [{protocol: TCP, port: 5432}]
  - to: [{podSelector: {matchLabels: {app: mysql}}}]
    ports: [{protocol: TCP, port: 3306}]
`;
    writeFileSync(f, doc);
    const r = await run(['explain', 'netpol', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('egress allowed to (pods app=postgres in namespace prod AND port 5432/TCP) OR (pods app=mysql in namespace prod AND port 3306/TCP)');
    expect(r.stdout).toContain('warning: egress is isolated and no rule allows DNS');
    const j = await run(['--json', 'explain', 'netpol', '-'], { input: doc });
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual([expect.objectContaining({ name: 'api-egress', namespace: 'prod', line: 1 })]);
  });
});
