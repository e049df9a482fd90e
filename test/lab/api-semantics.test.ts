/**
 * The embedded API's kube-apiserver semantics at the store, without a real server (test/conformance holds them
 * to the real one): server-side apply's field ownership, graceful pod deletion, the garbage collector and the
 * namespace controller as controllers beside the store, validation causes beyond the schema.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/lab/store/store.js';
import { ApiError, type KubeObject } from '../../src/lab/store/types.js';
import { startGarbageCollector } from '../../src/lab/controllers/garbage-collector.js';
import { startNamespaceController } from '../../src/lab/controllers/namespaces.js';

async function store() {
  const s = await createMemoryStore();
  await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  return s;
}
const cm = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data });
const managers = (o: KubeObject) => ((o.metadata.managedFields ?? []) as { manager: string; operation: string; fieldsV1: unknown }[]).map((m) => [m.manager, m.operation, m.fieldsV1]);
const until = async (f: () => boolean) => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('server-side apply', () => {
  it('records managers, removes a dropped field, refuses another manager\'s value unless forced', async () => {
    const s = await store();
    const apply = (data: Record<string, string>, manager: string, force = false) => s.patch('configmaps', 'default', 'c', 'apply', cm(data), { fieldManager: manager, force });
    expect(managers(await apply({ a: '1', b: '2' }, 'alice'))).toEqual([['alice', 'Apply', { 'f:data': { 'f:a': {}, 'f:b': {} } }]]);
    expect((await apply({ a: '1' }, 'alice')).data).toEqual({ a: '1' });
    await apply({ a: '1', c: '3' }, 'bob');
    const e = await apply({ a: '9' }, 'carol').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(409);
    expect((e as ApiError).details?.causes?.map((c) => c.field)).toEqual(['.data.a', '.data.a']);
    const forced = await apply({ a: '9' }, 'carol', true);
    expect(forced.data).toEqual({ a: '9', c: '3' });
    expect(managers(forced).map((m) => m[0])).toEqual(['bob', 'carol']);
    const updated = await s.patch('configmaps', 'default', 'c', 'merge', { data: { e: '5' } }, { fieldManager: 'editor' });
    expect(managers(updated).at(-1)).toEqual(['editor', 'Update', { 'f:data': { 'f:e': {} } }]);
    await s.close();
  });
});

describe('deletion', () => {
  const pod = (name: string, nodeName?: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'x:1' }] } });

  it('a pod on a node is Terminating until deleted with grace 0; an unscheduled one goes at once', async () => {
    const s = await store();
    await s.create(pod('bound', 'n1'));
    const marked = await s.delete('pods', 'default', 'bound');
    expect(marked.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(s.get('pods', 'default', 'bound')?.metadata.deletionTimestamp).toBeDefined();
    await s.delete('pods', 'default', 'bound', { gracePeriodSeconds: 0 });
    expect(s.get('pods', 'default', 'bound')).toBeUndefined();
    await s.create(pod('loose'));
    await s.delete('pods', 'default', 'loose');
    expect(s.get('pods', 'default', 'loose')).toBeUndefined();
    await s.close();
  });

  it('the garbage collector deletes dependents of a deleted owner; without it they stay', async () => {
    const s = await store();
    const owner = await s.create({ ...cm({}), metadata: { name: 'owner', namespace: 'default' } });
    await s.create({ ...cm({}), metadata: { name: 'dep', namespace: 'default', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid! }] } });
    await s.delete('configmaps', 'default', 'owner');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.get('configmaps', 'default', 'dep')).toBeDefined();
    const stop = startGarbageCollector(s);
    await until(() => s.get('configmaps', 'default', 'dep') === undefined);
    expect(s.get('configmaps', 'default', 'dep')).toBeUndefined();
    stop();
    await s.close();
  });

  it('the namespace controller empties a Terminating namespace, then it goes', async () => {
    const s = await store();
    const stop = startNamespaceController(s);
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
    await s.create({ ...cm({}), metadata: { name: 'x', namespace: 'doomed' } });
    const marked = await s.delete('namespaces', undefined, 'doomed');
    expect((marked.status as { phase: string }).phase).toBe('Terminating');
    await until(() => s.get('namespaces', undefined, 'doomed') === undefined);
    expect(s.get('namespaces', undefined, 'doomed')).toBeUndefined();
    expect(s.list('configmaps', 'doomed').items).toEqual([]);
    stop();
    await s.close();
  });
});

describe('validation beyond the schema', () => {
  it.each([
    ['a pod with no containers', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [] } }, [['FieldValueRequired', 'spec.containers']]],
    ['a container with no image', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c' }] } }, [['FieldValueRequired', 'spec.containers[0].image']]],
    ['an invalid label key', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', labels: { 'bad key': 'x' } } }, [['FieldValueInvalid', 'metadata.labels']]],
    ['a Job that restarts Always', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'default' }, spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'x' }] } } } }, [['FieldValueRequired', 'spec.template.spec.restartPolicy']]],
    ['a CronJob schedule that is not one', { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj', namespace: 'default' }, spec: { schedule: 'sometimes', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } } } }, [['FieldValueInvalid', 'spec.schedule']]],
    ['a Deployment whose selector does not match', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' }, spec: { selector: { matchLabels: { a: '1' } }, template: { metadata: { labels: { a: '2' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } }, [['FieldValueInvalid', 'spec.template.metadata.labels']]],
  ])('%s is 422 with its cause', async (_what, obj, causes) => {
    const s = await store();
    const e = await s.create(obj as KubeObject).catch((x: unknown) => x);
    expect((e as ApiError).code).toBe(422);
    expect((e as ApiError).details?.causes?.map((c) => [c.reason, c.field])).toEqual(causes);
    await s.close();
  });
});
