/**
 * The store's lists in key order and its paging as an etcd-backed kube-apiserver pages: a continue token
 * carries the last key and the list's resourceVersion, later pages read that same state (no skips, no repeats
 * while objects come and go between pages), an expired token is 410 with a token for the rest, and
 * resourceVersion / resourceVersionMatch mean what the API says. Both store variants share this code
 * (the etcd one persists writes, reads come from the same index); the etcd run below pins that.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMemoryStore, type Store } from '../../src/lab/store/store.js';
import { createEtcdStore } from '../../src/lab/store/etcd.js';
import { ApiError, type KubeObject } from '../../src/lab/store/types.js';
import { LIST_SNAPSHOT_TTL_MS } from '../../src/lab/store/limits.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';

const NAMESPACES = ['a', 'a-b', 'b'];
const NAMES = ['x', 'x-1', 'x.2', 'y', 'z', 'z0', 'm-n', 'q'];

const cm = (namespace: string, name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: {} });
const id = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

async function storeWith(now: () => Date = () => new Date()): Promise<Store> {
  const s = await createMemoryStore({ now });
  for (const ns of NAMESPACES) await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  return s;
}

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

describe('store lists in key order', () => {
  it('lists in etcd key order (namespace, then name; "a-b/..." before "a/..." as the bytes sort) and a namespace is its own range', async () => {
    const s = await storeWith();
    for (const ns of [...NAMESPACES].reverse()) for (const n of [...NAMES].reverse()) await s.create(cm(ns, n));
    const keys = s.list('configmaps').items.map(id);
    expect(keys).toEqual([...keys].sort((p, q) => Buffer.compare(Buffer.from(`/registry/configmaps/${p}`), Buffer.from(`/registry/configmaps/${q}`))));
    expect(keys[0].startsWith('a-b/')).toBe(true);
    expect(s.list('configmaps', 'a').items.map(id)).toEqual([...NAMES].sort().map((n) => `a/${n}`));
    expect(s.list('namespaces').items.map((o) => o.metadata.name)).toEqual(['a', 'a-b', 'b']);
    await s.close();
  });
});

/** One step between pages: create or delete one object (those present from the start and never deleted are "throughout"). */
const step = fc.record({ op: fc.constantFrom('create', 'delete'), ns: fc.constantFrom(...NAMESPACES), name: fc.constantFrom(...NAMES, 'late-1', 'late-2', 'a0') });

describe('paging: no skips, no repeats while objects change between pages', () => {
  it('every page reads the first page\'s state (consistent) — and after the snapshot expires, the rest still has no skips or repeats', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom(...NAMES)), { selector: ([ns, n]) => `${ns}/${n}`, maxLength: 24 }),
        fc.array(fc.array(step, { maxLength: 4 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom<string | undefined>(undefined, 'a', 'a-b'),
        fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
        async (initial, between, limit, namespace, expireAfterPage) => {
          let clock = Date.parse('2026-12-01T00:00:00Z');
          const s = await storeWith(() => new Date(clock));
          try {
            for (const [ns, n] of initial) await s.create(cm(ns, n));
            const atStart = s.list('configmaps', namespace).items.map(id);
            const deleted = new Set<string>();
            const seen: string[] = [];
            let page = s.list('configmaps', namespace, { limit });
            const listRv = page.resourceVersion;
            let consistent = true;
            for (let i = 0; ; i++) {
              seen.push(...page.items.map(id));
              if (consistent) expect(page.resourceVersion).toBe(listRv);
              if (!page.continue) break;
              for (const st of between[i % Math.max(1, between.length)] ?? []) {
                const exists = s.get('configmaps', st.ns, st.name);
                if (st.op === 'create' && !exists) await s.create(cm(st.ns, st.name));
                if (st.op === 'delete' && exists) {
                  await s.delete('configmaps', st.ns, st.name);
                  deleted.add(`${st.ns}/${st.name}`);
                }
              }
              if (expireAfterPage === i) clock += LIST_SNAPSHOT_TTL_MS + 1;
              let token = page.continue;
              try {
                page = s.list('configmaps', namespace, { limit, continue: token });
              } catch (e) {
                // Only a snapshot that is gone: 410 with a token for the rest at the latest state.
                expect(e).toBeInstanceOf(ApiError);
                expect((e as ApiError).code).toBe(410);
                token = (e as ApiError).continueToken!;
                expect(token).toBeTruthy();
                consistent = false;
                page = s.list('configmaps', namespace, { limit, continue: token });
              }
            }
            // No repeats, ever.
            expect(new Set(seen).size).toBe(seen.length);
            // Pages come in key order.
            expect(seen).toEqual([...seen].sort());
            if (consistent) {
              // Read at one resourceVersion: exactly the objects of the first page's moment.
              expect(seen).toEqual(atStart);
            } else {
              // No skips: everything present throughout is there.
              for (const k of atStart) if (!deleted.has(k)) expect(seen).toContain(k);
            }
          } finally {
            await s.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('remainingItemCount counts the keys after the page (lists without selectors only), and the last page has no token', async () => {
    const s = await storeWith();
    for (const n of NAMES) await s.create(cm('a', n));
    const p1 = s.list('configmaps', 'a', { limit: 3 });
    expect(p1.items).toHaveLength(3);
    expect(p1.remainingItemCount).toBe(NAMES.length - 3);
    await s.create(cm('a', 'zz-late'));
    const p2 = s.list('configmaps', 'a', { limit: 3, continue: p1.continue });
    expect(p2.remainingItemCount).toBe(NAMES.length - 6);
    const p3 = s.list('configmaps', 'a', { limit: 3, continue: p2.continue });
    expect(p3.items.map((o) => o.metadata.name)).not.toContain('zz-late');
    expect(p3.continue).toBeUndefined();
    expect(s.list('configmaps', 'a', { limit: 3, labelSelector: '!nope' }).remainingItemCount).toBeUndefined();
    await s.close();
  });
});

describe('list resourceVersion semantics (the API\'s ListOptions)', () => {
  it('Exact reads an older state while a paged list keeps it, NotOlderThan reads the latest, a future version is 504, a forgotten one 410', async () => {
    const s = await storeWith();
    await s.create(cm('a', 'one'));
    await s.create(cm('a', 'three'));
    const first = s.list('configmaps', 'a', { limit: 1 });
    await s.create(cm('a', 'two'));
    const rv = first.resourceVersion;
    expect(s.list('configmaps', 'a', { resourceVersion: rv, resourceVersionMatch: 'Exact' }).items.map((o) => o.metadata.name)).toEqual(['one', 'three']);
    expect(s.list('configmaps', 'a', { resourceVersion: rv, resourceVersionMatch: 'Exact' }).resourceVersion).toBe(rv);
    // The legacy rule: a resourceVersion with a limit and no match is Exact.
    expect(s.list('configmaps', 'a', { resourceVersion: rv, limit: 10 }).items).toHaveLength(2);
    expect(s.list('configmaps', 'a', { resourceVersion: rv, resourceVersionMatch: 'NotOlderThan' }).items).toHaveLength(3);
    expect(s.list('configmaps', 'a', { resourceVersion: rv }).items).toHaveLength(3);
    expect(s.list('configmaps', 'a', { resourceVersion: '0' }).items).toHaveLength(3);
    const future = apiError(() => s.list('configmaps', 'a', { resourceVersion: String(Number(s.currentResourceVersion()) + 5) }));
    expect(future).toMatchObject({ code: 504, reason: 'Timeout' });
    expect(future.message).toMatch(/^Too large resource version: \d+, current: \d+$/);
    const old = apiError(() => s.list('configmaps', 'a', { resourceVersion: '2', resourceVersionMatch: 'Exact' }));
    expect(old).toMatchObject({ code: 410, reason: 'Expired', message: 'The resourceVersion for the provided list is too old.' });
    await s.close();
  });

  it('refuses what ValidateListOptions refuses (422) and a resourceVersion with a continue token (400); a broken token is 400', async () => {
    const s = await storeWith();
    await s.create(cm('a', 'one'));
    await s.create(cm('a', 'two'));
    const tok = s.list('configmaps', 'a', { limit: 1 }).continue!;
    expect(apiError(() => s.list('configmaps', 'a', { resourceVersionMatch: 'Exact' }))).toMatchObject({
      code: 422,
      message: 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    });
    expect(apiError(() => s.list('configmaps', 'a', { resourceVersionMatch: 'Nope' })).message).toBe(
      'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, resourceVersionMatch: Unsupported value: "Nope": supported values: "Exact", "NotOlderThan", ""]',
    );
    expect(apiError(() => s.list('configmaps', 'a', { resourceVersion: '0', resourceVersionMatch: 'Exact' })).code).toBe(422);
    expect(apiError(() => s.list('configmaps', 'a', { continue: tok, resourceVersion: '5' }))).toMatchObject({ code: 400, message: 'specifying resource version is not allowed when using continue' });
    expect(apiError(() => s.list('configmaps', 'a', { continue: 'not-a-token' }))).toMatchObject({ code: 400 });
    const climbing = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: 3, start: '../secrets/x' })).toString('base64url');
    expect(apiError(() => s.list('configmaps', 'a', { continue: climbing })).message).toMatch(/^invalid continue token: /);
    await s.close();
  });

  it('an expired token is 410 Expired whose Status carries a continue token for the rest', async () => {
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const s = await storeWith(() => new Date(clock));
    for (const n of ['p', 'q', 'r']) await s.create(cm('a', n));
    const p1 = s.list('configmaps', 'a', { limit: 1 });
    await s.create(cm('a', 'o'));
    clock += LIST_SNAPSHOT_TTL_MS + 1;
    const e = apiError(() => s.list('configmaps', 'a', { limit: 1, continue: p1.continue }));
    expect(e).toMatchObject({ code: 410, reason: 'Expired' });
    const status = e.toStatus() as { metadata: { continue?: string } };
    expect(status.metadata.continue).toBe(e.continueToken);
    const rest = s.list('configmaps', 'a', { continue: e.continueToken });
    expect(rest.items.map((o) => o.metadata.name)).toEqual(['q', 'r']);
    await s.close();
  });
});

describe('paging on the etcd-backed store', () => {
  let etcd: TestEtcd | undefined;
  afterAll(async () => {
    await etcd?.stop();
  });

  it('pages at one resourceVersion while pods are created and deleted between pages, and after a reload', async () => {
    etcd = await startEtcd();
    const s = await createEtcdStore(etcd.url);
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
    for (let i = 0; i < 12; i++) await s.create(cm('a', `c-${String(i).padStart(2, '0')}`));
    const seen: string[] = [];
    let page = s.list('configmaps', 'a', { limit: 5 });
    const rv = page.resourceVersion;
    seen.push(...page.items.map(id));
    await s.delete('configmaps', 'a', 'c-07');
    await s.create(cm('a', 'c-06a'));
    page = s.list('configmaps', 'a', { limit: 5, continue: page.continue });
    expect(page.resourceVersion).toBe(rv);
    seen.push(...page.items.map(id));
    page = s.list('configmaps', 'a', { limit: 5, continue: page.continue });
    seen.push(...page.items.map(id));
    expect(page.continue).toBeUndefined();
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `a/c-${String(i).padStart(2, '0')}`));
    await s.close();
    const again = await createEtcdStore(etcd.url);
    const names = again.list('configmaps', 'a', { limit: 100 }).items.map((o) => o.metadata.name);
    expect(names).toContain('c-06a');
    expect(names).not.toContain('c-07');
    expect(names).toEqual([...names].sort());
    await again.close();
  });
});
