/**
 * The store's apiserver semantics, in process: selectors, patches, optimistic concurrency, defaults,
 * admission, watch delivery/resume, finalizers and garbage collection.
 */
import { describe, expect, it } from 'vitest';
import { startGarbageCollector } from '../../src/lab/controllers/garbage-collector.js';
import fc from 'fast-check';
import { createMemoryStore } from '../../src/lab/store/store.js';
import { ApiError, type KubeObject, type WatchEvent } from '../../src/lab/store/types.js';
import { compileSelectors, parseLabelSelector } from '../../src/lab/store/selectors.js';
import { matchLabels } from '../../src/net/labels.js';
import { applyMergePatch, applyStrategicPatch } from '../../src/lab/store/patch.js';

const pod = (name: string, labels: Record<string, string> = {}, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
  ...extra,
});

async function storeWithDefaultNs() {
  const s = await createMemoryStore({ bookmarkIntervalMs: 50 });
  await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  return s;
}

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', env: 'prod' };
  it.each([
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=db', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['env in (prod,staging)', true],
    ['env notin (prod)', false],
    ['env notin (dev)', true],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['missing!=x', true],
    ['app in (web), !legacy, env', true],
    ['', true],
  ])('%s → %s', (sel, want) => {
    expect(matchLabels(parseLabelSelector(sel), labels)).toBe(want);
  });

  it('rejects garbage with 400 BadRequest', () => {
    expect(() => parseLabelSelector('app=(web')).toThrow(ApiError);
  });

  it('property: `k=v` matches exactly the label sets holding k=v, and `k!=v` the others', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
    fc.assert(
      fc.property(key, key, fc.dictionary(key, key), (k, v, ls) => {
        const eq = matchLabels(parseLabelSelector(`${k}=${v}`), ls);
        const ne = matchLabels(parseLabelSelector(`${k}!=${v}`), ls);
        return eq === (ls[k] === v) && ne === !eq;
      }),
    );
  });
});

describe('field selectors', () => {
  const p = pod('a', {}, { spec: { nodeName: 'w-1', containers: [] }, status: { phase: 'Running' } });
  it.each([
    ['metadata.name=a', true],
    ['metadata.namespace=default', true],
    ['spec.nodeName=w-1', true],
    ['spec.nodeName!=w-1', false],
    ['status.phase=Running,spec.nodeName=w-2', false],
    ['spec.nodeName=', false],
  ])('%s → %s', (sel, want) => {
    expect(compileSelectors(undefined, sel)(p)).toBe(want);
  });
});

describe('patches', () => {
  it('merge patch: null deletes, maps merge, lists replace', () => {
    expect(applyMergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { a: null, b: { c: 9 }, l: [3] })).toEqual({ b: { c: 9, d: 3 }, l: [3] });
  });

  it.each([
    [
      'containers merge by name, env by name',
      { containers: [{ name: 'a', image: 'x', env: [{ name: 'A', value: '1' }] }, { name: 'b', image: 'y' }] },
      { containers: [{ name: 'a', env: [{ name: 'B', value: '2' }] }] },
      // As kube-apiserver orders them: the patch's elements first, then those only the server had.
      { containers: [{ name: 'a', image: 'x', env: [{ name: 'B', value: '2' }, { name: 'A', value: '1' }] }, { name: 'b', image: 'y' }] },
    ],
    [
      '$patch: delete removes a list element by key',
      { volumes: [{ name: 'v1' }, { name: 'v2' }] },
      { volumes: [{ name: 'v1', $patch: 'delete' }] },
      { volumes: [{ name: 'v2' }] },
    ],
    [
      'container ports merge by containerPort, Service ports by port',
      { containers: [{ name: 'a', ports: [{ containerPort: 80 }] }], ports: [{ port: 443, targetPort: 8443 }] },
      { containers: [{ name: 'a', ports: [{ containerPort: 81 }] }], ports: [{ port: 443, name: 'https' }] },
      { containers: [{ name: 'a', ports: [{ containerPort: 81 }, { containerPort: 80 }] }], ports: [{ port: 443, targetPort: 8443, name: 'https' }] },
    ],
    [
      'lists without a patch strategy (tolerations, taints, args) are replaced',
      { tolerations: [{ key: 'a' }], taints: [{ key: 'x', effect: 'NoSchedule' }], args: ['1'] },
      { tolerations: [{ key: 'b' }], taints: [{ key: 'y', effect: 'NoExecute' }], args: ['2'] },
      { tolerations: [{ key: 'b' }], taints: [{ key: 'y', effect: 'NoExecute' }], args: ['2'] },
    ],
    [
      'finalizers merge as a set; $deleteFromPrimitiveList removes',
      { finalizers: ['a', 'b'] },
      { finalizers: ['c'], '$deleteFromPrimitiveList/finalizers': ['a'] },
      { finalizers: ['c', 'b'] },
    ],
    [
      '$setElementOrder reorders; $retainKeys drops the other keys',
      { containers: [{ name: 'a' }, { name: 'b' }], strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } },
      { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }], strategy: { $retainKeys: ['type'], type: 'Recreate' } },
      { containers: [{ name: 'b' }, { name: 'a' }], strategy: { type: 'Recreate' } },
    ],
  ])('strategic merge: %s', (_what, target, patch, want) => {
    expect(applyStrategicPatch(target, patch)).toEqual(want);
  });
});

describe('store semantics', () => {
  it('create assigns uid, resourceVersion, timestamps, defaults and a generated name; 409 on a duplicate', async () => {
    const s = await storeWithDefaultNs();
    const p = await s.create({ ...pod(''), metadata: { generateName: 'web-', namespace: 'default' } });
    expect(p.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(p.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(p.metadata.resourceVersion)).toBeGreaterThan(0);
    expect((p.spec as { restartPolicy: string }).restartPolicy).toBe('Always');
    expect((p.status as { phase: string }).phase).toBe('Pending');
    await expect(s.create(pod(p.metadata.name!))).rejects.toMatchObject({ code: 409, reason: 'AlreadyExists' });
    await expect(s.create({ ...pod('x'), metadata: { name: 'x', namespace: 'nope' } })).rejects.toMatchObject({ code: 404 });
    await s.close();
  });

  it('update with a stale resourceVersion is 409 Conflict; status writes keep the spec and vice versa', async () => {
    const s = await storeWithDefaultNs();
    const v1 = await s.create(pod('a'));
    const v2 = await s.update({ ...structuredClone(v1), metadata: { ...v1.metadata, labels: { x: '1' } } });
    await expect(s.update({ ...structuredClone(v1), metadata: { ...v1.metadata, labels: { x: '2' } } })).rejects.toMatchObject({ code: 409, reason: 'Conflict' });
    const st = await s.update({ ...structuredClone(v2), spec: { containers: [] }, status: { phase: 'Running' } }, { subresource: 'status' });
    expect((st.status as { phase: string }).phase).toBe('Running');
    expect((st.spec as { containers: unknown[] }).containers).toHaveLength(1);
    const sp = await s.update({ ...structuredClone(st), status: { phase: 'Failed' } });
    expect((sp.status as { phase: string }).phase).toBe('Running');
    await s.close();
  });

  it('validates against the Kubernetes schema: 422 Invalid with one cause per field', async () => {
    const s = await storeWithDefaultNs();
    const err = (await s.create({ ...pod('bad'), spec: { containers: [{ name: 'c', image: 1 }] } }).catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe(422);
    expect(err.details?.causes).toEqual([{ reason: 'FieldValueInvalid', field: 'spec.containers[0].image', message: 'Invalid value: 1: must be string' }]);
    const noName = (await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'default' } }).catch((e: unknown) => e)) as ApiError;
    expect(noName.details?.causes?.[0]).toMatchObject({ reason: 'FieldValueRequired', field: 'metadata.name' });
    const badName = (await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_OK', namespace: 'default' } }).catch((e: unknown) => e)) as ApiError;
    expect(badName.code).toBe(422);
    await s.close();
  });

  it('admission hooks can mutate and reject', async () => {
    const s = await storeWithDefaultNs();
    s.addAdmission('services', (o) => {
      (o.spec as { clusterIP?: string }).clusterIP ??= '10.96.0.10';
    });
    const svc = await s.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns', namespace: 'default' }, spec: { ports: [{ port: 53 }] } });
    expect((svc.spec as { clusterIP: string }).clusterIP).toBe('10.96.0.10');
    await s.close();
  });

  it('watchers get events in order; selector watches see objects leave as DELETED; resume replays', async () => {
    const s = await storeWithDefaultNs();
    const seen: string[] = [];
    const stop = s.watch('pods', 'default', { labelSelector: 'app=web' }, (e: WatchEvent) => seen.push(`${e.type} ${e.object.metadata.name}`));
    const a = await s.create(pod('a', { app: 'web' }));
    await s.create(pod('b', { app: 'db' }));
    await s.update({ ...structuredClone(a), metadata: { ...a.metadata, labels: { app: 'db' } } });
    await s.delete('pods', 'default', 'b');
    stop();
    expect(seen).toEqual(['ADDED a', 'DELETED a']);
    const replay: string[] = [];
    s.watch('pods', undefined, { resourceVersion: a.metadata.resourceVersion }, (e) => replay.push(`${e.type} ${e.object.metadata.name}`))();
    expect(replay).toEqual(['ADDED b', 'MODIFIED a', 'DELETED b']);
    await s.close();
  });

  it('finalizers hold a deleted object until they are removed', async () => {
    const s = await storeWithDefaultNs();
    await s.create({ ...pod('held'), metadata: { name: 'held', namespace: 'default', finalizers: ['example.com/hold'] } });
    const marked = await s.delete('pods', 'default', 'held');
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect(s.get('pods', 'default', 'held')).toBeDefined();
    await s.mutate('pods', 'default', 'held', (o) => {
      o.metadata.finalizers = [];
    });
    expect(s.get('pods', 'default', 'held')).toBeUndefined();
    await s.close();
  });

  it('Orphan deletion keeps dependents and drops their ownerReference (with the garbage collector running)', async () => {
    const s = await storeWithDefaultNs();
    // The store records the orphan finalizer; the garbage collector (a controller, as in a cluster) acts on it.
    const stopGc = startGarbageCollector(s);
    const owner = await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: 'default' } });
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid! };
    await s.create({ ...pod('dep'), metadata: { name: 'dep', namespace: 'default', ownerReferences: [ref] } });
    await s.delete('configmaps', 'default', 'owner', { propagationPolicy: 'Orphan' });
    for (let i = 0; i < 100 && s.get('configmaps', 'default', 'owner'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.get('configmaps', 'default', 'owner')).toBeUndefined();
    expect(s.get('pods', 'default', 'dep')?.metadata.ownerReferences).toBeUndefined();
    stopGc();
    await s.close();
  });
});

describe('NetworkPolicy defaulting (kube-apiserver SetDefaults_NetworkPolicy)', () => {
  const np = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'default' }, spec: { podSelector: {}, ...spec } });
  it.each([
    ['no rules', {}, ['Ingress']],
    ['ingress rules only', { ingress: [{}] }, ['Ingress']],
    ['an empty egress list is not egress isolation', { egress: [] }, ['Ingress']],
    ['egress rules add Egress', { egress: [{ to: [{ podSelector: {} }] }] }, ['Ingress', 'Egress']],
    ['an empty policyTypes list is defaulted too', { policyTypes: [], egress: [{}] }, ['Ingress', 'Egress']],
    ['explicit policyTypes are kept', { policyTypes: ['Egress'], egress: [] }, ['Egress']],
  ])('%s', async (_what, spec, want) => {
    const s = await storeWithDefaultNs();
    const created = await s.create(np(spec));
    expect((created.spec as { policyTypes: string[] }).policyTypes).toEqual(want);
    await s.close();
  });
});
