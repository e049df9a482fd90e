import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Lab } from '../../src/lab/index.js';
import { startTestLab, TEST_LAB_API } from '../helpers/lab-api.js';
import {
  createNamespace,
  deleteNamespace,
  KubeApiError,
  KubeUnreachableError,
  listEvents,
  loadKubeConfig,
  resolveKubeconfigPath,
  toKubeError,
  waitFor,
  WaitTimeout,
  type KubeClient,
} from '../../src/kube/index.js';
import { describeRequest, formatRbacRequest } from '../../src/kube/errors.js';
import { UserError } from '../../src/errors.js';

describe(`kube client against the lab API server (${TEST_LAB_API} API)`, () => {
  let lab: Lab;
  let kube: KubeClient;
  beforeAll(async () => {
    lab = await startTestLab({ nodes: 3 });
    kube = await loadKubeConfig(lab.kubeconfigPath);
  });
  afterAll(async () => {
    kube?.close();
    await lab?.stop();
  });

  it('lists nodes and reads /readyz and /version', async () => {
    const nodes = await kube.list('v1', 'Node');
    expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(['cp-1', 'w-1', 'w-2']);
    expect(nodes.items[0]!.kind).toBe('Node');
    expect((await kube.raw('/readyz')).trim()).toBe('ok');
    expect(JSON.parse(await kube.raw('/version')).gitVersion).toMatch(/^v1\./);
  });

  it('creates, gets, patches and deletes; 404 is undefined/false, 409 a KubeApiError', async () => {
    await createNamespace(kube, 'kt-a', { a: 'b' });
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'kt-a' }, data: { x: '1' } };
    await kube.create(cm);
    const err = await kube.create(cm).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(409);
    expect((err as KubeApiError).reason).toBe('AlreadyExists');
    await kube.patchMerge('v1', 'ConfigMap', 'c', 'kt-a', { data: { x: '2' } });
    expect((await kube.get('v1', 'ConfigMap', 'c', 'kt-a'))?.data).toEqual({ x: '2' });
    expect(await kube.get('v1', 'ConfigMap', 'nope', 'kt-a')).toBeUndefined();
    expect(await kube.delete('v1', 'ConfigMap', 'c', 'kt-a')).toBe(true);
    expect(await kube.delete('v1', 'ConfigMap', 'c', 'kt-a')).toBe(false);
    expect(await deleteNamespace(kube, 'kt-a', { wait: true, timeoutMs: 20_000 })).toBe(true);
    expect(await kube.get('v1', 'Namespace', 'kt-a')).toBeUndefined();
  });

  it('waitFor sees objects created after it started (watch), and times out with the last state', async () => {
    await createNamespace(kube, 'kt-b', {});
    // Selected by label: on the real API the controller manager also publishes kube-root-ca.crt into the namespace.
    const sel = { namespace: 'kt-b', labelSelector: 'kt=b' };
    const labels = { kt: 'b' };
    const waiting = waitFor(kube, 'v1', 'ConfigMap', { ...sel, timeoutMs: 10_000 }, (m) => (m.size >= 2 ? [...m.keys()].sort() : undefined));
    await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one', namespace: 'kt-b', labels } });
    await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'two', namespace: 'kt-b', labels } });
    expect(await waiting).toEqual(['kt-b/one', 'kt-b/two']);
    const t = await waitFor(kube, 'v1', 'ConfigMap', { ...sel, timeoutMs: 300 }, (m) => (m.size > 5 ? true : undefined)).catch((e: unknown) => e);
    expect(t).toBeInstanceOf(WaitTimeout);
    expect([...(t as WaitTimeout).last.keys()].sort()).toEqual(['kt-b/one', 'kt-b/two']);
  });

  it('waitFor stops at once when the run is aborted', async () => {
    const ac = new AbortController();
    const p = waitFor(kube, 'v1', 'Node', { timeoutMs: 60_000, signal: ac.signal }, () => undefined);
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ name: 'Cancelled' });
  });

  it('reads events about one object', async () => {
    await kube.create({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'p1', namespace: 'default' }, reason: 'FailedScheduling', message: '0/3 nodes are available', type: 'Warning', count: 1 });
    const ev = await listEvents(kube, 'default', { name: 'p1' });
    expect(ev).toEqual([expect.objectContaining({ reason: 'FailedScheduling', object: 'Pod/p1', type: 'Warning' })]);
  });

  it('a wrong token is a 401 with a fix; an unknown context a usage error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-kube-'));
    const { readFileSync } = await import('node:fs');
    // The lab's user with a token the server does not know (the embedded lab's user has a token, the real one's a
    // client certificate: either way replaced).
    const kc = parseYaml(readFileSync(lab.kubeconfigPath, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    for (const u of kc.users) u.user = { token: 'wrong-token' };
    writeFileSync(path.join(dir, 'kc'), stringifyYaml(kc), { mode: 0o600 });
    const k2 = await loadKubeConfig(path.join(dir, 'kc'));
    const e = await k2.list('v1', 'Node').catch((x: unknown) => x);
    k2.close();
    expect(e).toBeInstanceOf(KubeApiError);
    expect((e as KubeApiError).code).toBe(401);
    expect((e as KubeApiError).fix).toMatch(/kubeconfig/);
    await expect(loadKubeConfig(lab.kubeconfigPath, 'nope')).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('context "nope"') });
  });
});

describe('kube errors and paths', () => {
  it('a closed loopback port is KubeUnreachableError naming the server', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-kube-'));
    const f = path.join(dir, 'kc');
    writeFileSync(
      f,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const k = await loadKubeConfig(f);
    const e = await k.list('v1', 'Node').catch((x: unknown) => x);
    k.close();
    expect(e).toBeInstanceOf(KubeUnreachableError);
    expect((e as Error).message).toContain('https://127.0.0.1:9');
  });

  it('a missing kubeconfig is a usage error naming the flag', async () => {
    await expect(loadKubeConfig('/nonexistent/kc')).rejects.toMatchObject({ exitCode: 2, fix: expect.stringContaining('--kubeconfig') });
  });

  it.each([
    [undefined, { KUBECONFIG: `/a/kc${path.delimiter}/b/kc` }, '/a/kc'],
    ['/x/kc', { KUBECONFIG: '/a/kc' }, '/x/kc'],
    [undefined, { HOME: '/home/op' }, '/home/op/.kube/config'],
  ])('resolveKubeconfigPath(%s, %j) = %s', (file, env, want) => {
    expect(resolveKubeconfigPath(file, env)).toBe(want);
  });

  it('a KUBECONFIG list is merged as kubectl merges it: first definition and first current-context win, missing files skipped', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-kc-merge-'));
    const kc = (o: { cluster: string; server: string; context: string; current?: string }) =>
      `apiVersion: v1\nkind: Config\nclusters: [{name: ${o.cluster}, cluster: {server: "${o.server}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: ${o.context}, context: {cluster: ${o.cluster}, user: u}}]\n${o.current ? `current-context: ${o.current}\n` : ''}`;
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    writeFileSync(a, kc({ cluster: 'shared', server: 'https://127.0.0.1:9', context: 'ctx-a' }));
    writeFileSync(b, kc({ cluster: 'shared', server: 'https://127.0.0.2:9', context: 'ctx-b', current: 'ctx-b' }));
    const env = { KUBECONFIG: [a, path.join(dir, 'missing'), b].join(path.delimiter) };
    // current-context comes from b (a sets none); cluster "shared" is a's (the first file to define it wins).
    const k = await loadKubeConfig(undefined, undefined, { env });
    expect(k.server).toBe('https://127.0.0.1:9');
    k.close();
    // a context only the second file defines is there too.
    const kb = await loadKubeConfig(undefined, 'ctx-a', { env });
    expect(kb.server).toBe('https://127.0.0.1:9');
    kb.close();
    await expect(loadKubeConfig(undefined, 'nope', { env })).rejects.toMatchObject({ fix: expect.stringMatching(/ctx-a.*ctx-b|ctx-b.*ctx-a/) });
  });

  it('turns client-node ApiException (code + JSON string body) into KubeApiError with the Status', () => {
    const e = toKubeError({ code: 403, body: JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'pods is forbidden: User "x" cannot list' }) }, 'GET', '/api/v1/pods');
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e).toBeInstanceOf(UserError);
    expect((e as KubeApiError).reason).toBe('Forbidden');
    expect((e as KubeApiError).fix).toMatch(/--print-rbac/);
    expect(e.message).toContain('pods is forbidden');
    const net = toKubeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'GET', '/', 'https://127.0.0.1:6443');
    expect(net).toBeInstanceOf(KubeUnreachableError);
  });
});

describe('describeRequest: a REST call in RBAC words', () => {
  it.each([
    ['GET', '/api/v1/nodes?limit=500', 'list nodes'],
    ['GET', '/api/v1/nodes/cp-1', 'get nodes'],
    ['GET', '/api/v1/namespaces/x/pods?watch=true&resourceVersion=5', 'watch pods in namespace x'],
    ['GET', '/api/v1/namespaces/x/pods?watch=false', 'list pods in namespace x'],
    ['POST', '/api/v1/namespaces/x/pods', 'create pods in namespace x'],
    ['GET', '/api/v1/namespaces/x/pods/p/log?tailLines=5', 'get pods/log in namespace x'],
    ['DELETE', '/api/v1/namespaces/groundwork-validate-1', 'delete namespaces'],
    ['POST', '/api/v1/namespaces', 'create namespaces'],
    ['PATCH', '/apis/apps/v1/namespaces/m/deployments/d', 'patch deployments (API group apps) in namespace m'],
    ['DELETE', '/apis/networking.k8s.io/v1/namespaces/n/networkpolicies', 'deletecollection networkpolicies (API group networking.k8s.io) in namespace n'],
    ['GET', '/apis/storage.k8s.io/v1/storageclasses', 'list storageclasses (API group storage.k8s.io)'],
    ['GET', '/readyz?verbose', 'get /readyz'],
    ['GET', '/version', 'get /version'],
  ])('%s %s: %s', (method, apiPath, want) => {
    expect(formatRbacRequest(describeRequest(method, apiPath))).toBe(want);
  });

  it('a 403 leads with what was refused and says how to check it', () => {
    const e = toKubeError({ code: 403, body: JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'denied by the webhook' }) }, 'POST', '/api/v1/namespaces/x/pods') as KubeApiError;
    expect(e.message).toBe('may not create pods in namespace x: POST /api/v1/namespaces/x/pods: 403 Forbidden: denied by the webhook');
    expect(e.fix).toContain('kubectl auth can-i create pods -n x');
  });
});
