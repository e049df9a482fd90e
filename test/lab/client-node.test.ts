/**
 * @kubernetes/client-node 1.4 against an in-process lab: typed CRUD, a watch resumed from a resourceVersion
 * (events in between are replayed, a too-old one is 410 Gone), bookmarks, and 409 Conflict on a stale update.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { startLab, type Lab } from '../../src/lab/index.js';

let lab: Lab;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  lab = await startLab({ nodes: 2, bookmarkIntervalMs: 200 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(lab.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
});
afterAll(async () => {
  await lab?.stop();
});

const cm = (name: string, data: Record<string, string> = { a: '1' }): k8s.V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });

interface Seen {
  type: string;
  name?: string;
  rv?: string;
}

function watchConfigMaps(params: Record<string, string | boolean>, seen: Seen[], done: (err: unknown) => void): Promise<AbortController> {
  return new k8s.Watch(kc).watch('/api/v1/namespaces/default/configmaps', params, (type, obj: k8s.KubernetesObject) => {
    seen.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion });
  }, done);
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('client-node against the lab', () => {
  it('lists nodes and does typed CRUD', async () => {
    const nodes = await core.listNode();
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(['cp-1', 'w-1']);
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('crud') });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    const read = await core.readNamespacedConfigMap({ name: 'crud', namespace: 'default' });
    expect(read.data).toEqual({ a: '1' });
    await core.deleteNamespacedConfigMap({ name: 'crud', namespace: 'default' });
    await expect(core.readNamespacedConfigMap({ name: 'crud', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
  });

  it('lists by label and field selector, pages with limit/continue, and deletes a collection by label', async () => {
    for (const [name, tier] of [['s-1', 'web'], ['s-2', 'web'], ['s-3', 'db']]) {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { ...cm(name), metadata: { name, labels: { tier } } } });
    }
    const web = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'tier=web' });
    expect(web.items.map((i) => i.metadata?.name)).toEqual(['s-1', 's-2']);
    const one = await core.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'metadata.name=s-3' });
    expect(one.items.map((i) => i.metadata?.name)).toEqual(['s-3']);
    const page1 = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'tier', limit: 2 });
    expect(page1.items).toHaveLength(2);
    // As kube-apiserver: no count with a selector (the keys left include objects that do not match) ...
    expect(page1.metadata?.remainingItemCount).toBeUndefined();
    // ... and an exact one without.
    const all = await core.listNamespacedConfigMap({ namespace: 'default' });
    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 1 });
    expect(first.metadata?.remainingItemCount).toBe(all.items.length - 1);
    const page2 = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'tier', limit: 2, _continue: page1.metadata!._continue! });
    expect(page2.items.map((i) => i.metadata?.name)).toEqual(['s-3']);
    await core.deleteCollectionNamespacedConfigMap({ namespace: 'default', labelSelector: 'tier=web' });
    const left = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'tier' });
    expect(left.items.map((i) => i.metadata?.name)).toEqual(['s-3']);
  });

  it('a stale update is 409 Conflict with the apiserver\'s message; a fresh one succeeds', async () => {
    const v1 = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('race') });
    const a = structuredClone(v1);
    const b = structuredClone(v1);
    a.data = { a: '2' };
    await core.replaceNamespacedConfigMap({ name: 'race', namespace: 'default', body: a });
    b.data = { a: '3' };
    const err = await core.replaceNamespacedConfigMap({ name: 'race', namespace: 'default', body: b }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(k8s.ApiException);
    const ex = err as k8s.ApiException<string>;
    expect(ex.code).toBe(409);
    const status = JSON.parse(ex.body) as { reason: string; message: string };
    expect(status.reason).toBe('Conflict');
    expect(status.message).toBe('Operation cannot be fulfilled on configmaps "race": the object has been modified; please apply your changes to the latest version and try again');
    const fresh = await core.readNamespacedConfigMap({ name: 'race', namespace: 'default' });
    fresh.data = { a: '3' };
    const ok = await core.replaceNamespacedConfigMap({ name: 'race', namespace: 'default', body: fresh });
    expect(ok.data).toEqual({ a: '3' });
    expect(Number(ok.metadata!.resourceVersion)).toBeGreaterThan(Number(fresh.metadata!.resourceVersion));
  });

  it('a watch resumed from a resourceVersion replays exactly the events after it', async () => {
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: cm('w-1') });
    const seen: Seen[] = [];
    const ctl = await watchConfigMaps({ resourceVersion: first.metadata!.resourceVersion!, allowWatchBookmarks: true }, seen, () => undefined);
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('w-2') });
    await until(() => seen.some((s) => s.name === 'w-2'), 'w-2 ADDED');
    ctl.abort();
    const lastSeen = seen.filter((s) => s.type !== 'BOOKMARK').at(-1)!.rv!;
    // While nobody watches: one change, one addition, one deletion.
    await core.patchNamespacedConfigMap({ name: 'w-1', namespace: 'default', body: { data: { a: 'changed' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('w-3') });
    await core.deleteNamespacedConfigMap({ name: 'w-2', namespace: 'default' });
    const resumed: Seen[] = [];
    const ctl2 = await watchConfigMaps({ resourceVersion: lastSeen, allowWatchBookmarks: true }, resumed, () => undefined);
    await until(() => resumed.filter((s) => s.type !== 'BOOKMARK').length >= 3, 'three replayed events');
    // A bookmark arrives too (the lab sends them every 200 ms here), carrying the latest resourceVersion.
    await until(() => resumed.some((s) => s.type === 'BOOKMARK'), 'a bookmark');
    ctl2.abort();
    expect(resumed.filter((s) => s.type !== 'BOOKMARK').map((s) => `${s.type} ${s.name}`)).toEqual(['MODIFIED w-1', 'ADDED w-3', 'DELETED w-2']);
    const rvs = resumed.filter((s) => s.type !== 'BOOKMARK').map((s) => Number(s.rv));
    expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
    expect(rvs[0]).toBeGreaterThan(Number(lastSeen));
    // The first watch started after w-1: it never saw w-1's creation.
    expect(seen.filter((x) => x.type !== 'BOOKMARK').map((x) => `${x.type} ${x.name}`)).toEqual(['ADDED w-2']);
  });

  it('a watch from a compacted resourceVersion gets 410 Gone (Expired), so clients re-list', async () => {
    const small = await startLab({ nodes: 1, watchHistorySize: 10 });
    try {
      const kc2 = new k8s.KubeConfig();
      kc2.loadFromFile(small.kubeconfigPath);
      // Push the history past its window (10 events here) by writing more events than it keeps.
      const c2 = kc2.makeApiClient(k8s.CoreV1Api);
      const old = (await c2.listNamespacedConfigMap({ namespace: 'default' })).metadata!.resourceVersion!;
      for (let i = 0; i < 15; i++) await c2.createNamespacedConfigMap({ namespace: 'default', body: cm(`fill-${i}`) });
      const events: { type: string; obj: { code?: number; reason?: string } }[] = [];
      await new Promise<void>((resolve) => {
        void new k8s.Watch(kc2).watch('/api/v1/namespaces/default/configmaps', { resourceVersion: old }, (type, obj: { code?: number; reason?: string }) => events.push({ type, obj }), () => resolve());
      });
      expect(events).toHaveLength(1);
      expect(events[0].type).toBe('ERROR');
      expect(events[0].obj).toMatchObject({ code: 410, reason: 'Expired' });
    } finally {
      await small.stop();
    }
  });
});
