/**
 * `groundwork validate --print-rbac` is the least validate needs: bound to a ServiceAccount token on a real API
 * server, validate gets as far as a cluster without nodes lets it (no 403); a role missing one verb gets an error
 * that names the verb and the resource.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { pollUntil } from '../../src/run/sleep.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/groundwork');

function groundwork(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', NO_COLOR: '1', GROUNDWORK_LOOPBACK_ONLY: '1' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('validate with the ClusterRole it prints, as a ServiceAccount', () => {
  let cp: ControlPlane;
  let role: { rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }> } & Record<string, unknown>;
  beforeAll(async () => {
    cp = await startControlPlane({ podSecurity: 'talos' });
    const printed = await groundwork(['validate', '--print-rbac']);
    expect(printed.code).toBe(0);
    role = YAML.parse(printed.stdout);
    expect((await cp.kubectl(['create', 'namespace', 'gw-rbac'])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  async function kubeconfigFor(name: string, rules: unknown[]): Promise<string> {
    const r = await cp.applyServerSide([
      { ...role, metadata: { name }, rules },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'gw-rbac' } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name, namespace: 'gw-rbac' }] },
    ]);
    expect(r.stderr).toBe('');
    const kubeconfig = await cp.serviceAccountKubeconfig('gw-rbac', name);
    // The API server's RBAC authorizer reads roles and bindings from its informers: a binding just written may not
    // be in force for a moment (a 403 under a busy CI). Every role here may create namespaces, so once the account
    // may, its role and binding are both in force.
    const { view, done } = await pollUntil(() => cp.kubectl(['auth', 'can-i', 'create', 'namespaces'], { kubeconfig }), (can) => can.stdout.trim() === 'yes', { timeoutMs: 10_000, intervalMs: 100 });
    if (!done) throw new Error(`the binding of ${name} never came into force: ${view.stdout}${view.stderr}`);
    return kubeconfig;
  }

  type Report = { status: string; results: Array<{ id: string; summary: string; detail?: string; why?: string }>; cleanup?: { deleted: string[]; leftovers: string[] } };

  async function validateAs(kubeconfig: string): Promise<{ code: number; report: Report; text: string }> {
    const r = await groundwork(['validate', '--kubeconfig', kubeconfig, '--json', '--timeout', '5', '--state-dir', mkdtempSync(path.join(tmpdir(), 'gw-rbac-'))]);
    return { code: r.code, report: JSON.parse(r.stdout) as Report, text: r.stdout + r.stderr };
  }

  it('the printed role: no 403, only what a cluster without nodes cannot do', async () => {
    const { code, report, text } = await validateAs(await kubeconfigFor('gw-validate', role.rules));
    expect(code).toBe(1);
    expect(text).not.toMatch(/403|forbidden|may not/i);
    const byId = Object.fromEntries(report.results.map((r) => [r.id, r]));
    expect(byId['control-plane']!.detail).toContain('ok   readyz: /readyz: ok');
    expect(byId['control-plane']!.summary).toContain('no nodes registered');
    // With no node to run a probe pod, DNS says so and leaves the cause to control-plane (which owns it).
    expect(byId.dns!.detail).toContain('not tested: no node takes the test pod: the cluster has no nodes');
    expect(byId.storage!.summary).toBe('no default StorageClass and no StorageClass at all');
    expect(report.cleanup!.deleted).toHaveLength(1);
    expect(report.cleanup!.leftovers).toEqual([]);
  }, 120_000);

  it.each([
    ['create', 'pods', /may not create pods in namespace groundwork-validate-/],
    ['list', 'nodes', /may not list nodes: GET \/api\/v1\/nodes/],
    ['list', 'storageclasses', /may not list storageclasses \(API group storage\.k8s\.io\)/],
    ['delete', 'namespaces', /namespace groundwork-validate-\S+ \(may not delete namespaces: DELETE/],
  ] as const)('a role without %s %s: an error naming the verb and the resource', async (verb, resource, want) => {
    const rules = role.rules.flatMap((rule) => {
      if (!rule.resources?.includes(resource) || !rule.verbs.includes(verb)) return [rule];
      const others = rule.resources.filter((x) => x !== resource);
      return [...(others.length ? [{ ...rule, resources: others }] : []), { ...rule, resources: [resource], verbs: rule.verbs.filter((v) => v !== verb) }];
    });
    expect(rules).not.toEqual(role.rules);
    const { code, report } = await validateAs(await kubeconfigFor(`gw-no-${verb}-${resource}`, rules));
    expect(code).toBe(1);
    const said = [...report.results.flatMap((r) => [r.summary, r.why ?? '']), ...(report.cleanup?.leftovers ?? [])];
    expect(said.some((line) => want.test(line)), said.join('\n')).toBe(true);
  }, 120_000);
});
