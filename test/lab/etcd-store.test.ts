/**
 * The lab on a real etcd (Debian's 3.4, loopback ports, temp data dir): objects live under /registry/...,
 * resourceVersion is the etcd mod revision, a lab restarted on the same etcd serves the same objects, and
 * compare-and-swap makes a write that raced with another writer a 409 Conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEtcd, ETCDCTL_BIN, type TestEtcd } from '../helpers/etcd.js';
import { startLab } from '../../src/lab/index.js';
import { createEtcdStore } from '../../src/lab/store/etcd.js';
import { ApiError } from '../../src/lab/store/types.js';
import { createKubectl } from './kubectl-helper.js';

let etcd: TestEtcd;

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

function etcdctl(...args: string[]): string {
  return execFileSync(ETCDCTL_BIN, [`--endpoints=${etcd.url}`, ...args], { env: { ETCDCTL_API: '3', PATH: '/nonexistent' } }).toString();
}

describe('lab store on etcd', () => {
  it('keeps objects under /registry/<resource>/<namespace>/<name> and serves them again after a restart', async () => {
    const lab = await startLab({ nodes: 2, etcd: etcd.url });
    const k = createKubectl(lab.kubeconfigPath);
    const apply = await k.run(['apply', '-f', '-'], {
      input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: keep, namespace: default }\ndata: { colour: blue }\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec: { containers: [{ name: web, image: "nginx:1.27" }] }\n',
    });
    expect(apply.stderr).toBe('');
    const cm = lab.store.get('configmaps', 'default', 'keep')!;
    await lab.stop();

    const keys = etcdctl('get', '/registry/', '--prefix', '--keys-only').split('\n').filter((l) => l !== '');
    expect(keys).toContain('/registry/configmaps/default/keep');
    expect(keys).toContain('/registry/deployments.apps/default/web');
    expect(keys).toContain('/registry/nodes/w-1');
    expect(keys).toContain('/registry/namespaces/kube-system');
    const raw = JSON.parse(etcdctl('get', '/registry/configmaps/default/keep', '--print-value-only')) as { data: unknown; metadata: { uid: string } };
    expect(raw.data).toEqual({ colour: 'blue' });
    const rev = JSON.parse(etcdctl('get', '/registry/configmaps/default/keep', '-w', 'json')) as { kvs: { mod_revision: number }[] };
    expect(String(rev.kvs[0].mod_revision)).toBe(cm.metadata.resourceVersion);

    const again = await startLab({ nodes: 2, etcd: etcd.url });
    try {
      const k2 = createKubectl(again.kubeconfigPath);
      const r = await k2.run(['get', 'configmap', 'keep', '-o', 'jsonpath={.metadata.uid} {.metadata.resourceVersion} {.data.colour}']);
      expect(r.stdout).toBe(`${cm.metadata.uid} ${cm.metadata.resourceVersion} blue`);
      expect((await k2.run(['get', 'deployments'])).stdout).toMatch(/^web\s/m);
      // Nodes were not created twice.
      expect(again.store.list('nodes').items.map((n) => n.metadata.name)).toEqual(['cp-1', 'w-1']);
    } finally {
      await again.stop();
    }
  });

  it('an update that raced with another writer of the same etcd is a 409 Conflict', async () => {
    const a = await createEtcdStore(etcd.url);
    try {
      const created = await a.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'race', namespace: 'default' }, data: { v: '1' } });
      const b2 = await createEtcdStore(etcd.url);
      // b2 saw the object; a changes it behind b2's back; b2's cached copy is now stale in etcd's eyes.
      await a.update({ ...created, data: { v: '2' } });
      const stale = b2.get('configmaps', 'default', 'race')!;
      const err = await b2.update({ ...stale, data: { v: '3' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe(409);
      expect(etcdctl('get', '/registry/configmaps/default/race', '--print-value-only')).toContain('"v":"2"');
      await b2.close();
    } finally {
      await a.close();
    }
  });

  it('a lab on a restored snapshot serves the objects as they were at the snapshot, later changes gone', async () => {
    const lab = await startLab({ nodes: 1, etcd: etcd.url });
    const before = await lab.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'before-snapshot', namespace: 'default' }, data: { v: '1' } });
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-lab-snap-'));
    const snap = path.join(dir, 'db.snapshot');
    etcdctl('snapshot', 'save', snap);
    await lab.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-snapshot', namespace: 'default' } });
    await lab.store.delete('configmaps', 'default', 'before-snapshot');
    await lab.stop();
    const restoredDir = path.join(dir, 'restored');
    execFileSync(ETCDCTL_BIN, ['snapshot', 'restore', snap, `--data-dir=${restoredDir}`], { env: { ETCDCTL_API: '3', PATH: '/nonexistent' }, stdio: 'ignore' });
    const restored = await startEtcd({ dataDir: restoredDir });
    try {
      const back = await startLab({ nodes: 1, etcd: restored.url });
      try {
        const cm = back.store.get('configmaps', 'default', 'before-snapshot');
        expect(cm?.metadata.uid).toBe(before.metadata.uid);
        expect(cm?.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
        expect(back.store.get('configmaps', 'default', 'after-snapshot')).toBeUndefined();
      } finally {
        await back.stop();
      }
    } finally {
      await restored.stop();
    }
  });
});

describe('lab store on etcd refuses what is not an object (issue 20)', () => {
  it('a patch body or result that is not an object never reaches etcd; a non-object found in etcd is not served', async () => {
    const store = await createEtcdStore(etcd.url);
    try {
      await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shape' } });
      await expect(store.patch('namespaces', undefined, 'shape', 'merge', [1, 2, 3])).rejects.toMatchObject({ code: 422 });
      await expect(store.patch('namespaces', undefined, 'shape', 'strategic', [1, 2, 3])).rejects.toMatchObject({ code: 400 });
      await expect(store.create([1, 2, 3] as never)).rejects.toBeInstanceOf(ApiError);
      const raw = JSON.parse(etcdctl('get', '/registry/namespaces/shape', '--print-value-only')) as unknown;
      expect(raw).toMatchObject({ kind: 'Namespace', metadata: { name: 'shape' } });
    } finally {
      await store.close();
    }
    // Something else wrote an array under /registry: a lab on this etcd skips it instead of serving it.
    etcdctl('put', '/registry/configmaps/default/not-an-object', '[1,2,3]');
    const again = await createEtcdStore(etcd.url);
    try {
      expect(again.get('configmaps', 'default', 'not-an-object')).toBeUndefined();
      expect(again.get('namespaces', undefined, 'shape')?.kind).toBe('Namespace');
    } finally {
      await again.close();
    }
  });

  it("etcd's own request limit comes back as 413 RequestEntityTooLarge, not a 500", async () => {
    const small = await startEtcd({ maxRequestBytes: 64 * 1024 });
    const store = await createEtcdStore(small.url);
    try {
      await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
      const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', namespace: 'default' }, data: { big: 'x'.repeat(100_000) } };
      await expect(store.create(cm)).rejects.toMatchObject({ code: 413, reason: 'RequestEntityTooLarge', message: 'etcdserver: request is too large' });
    } finally {
      await store.close();
      await small.stop();
    }
  });
});
