/**
 * The store's key order, as etcd keeps it: one B+ tree per resource keyed `<namespace>/<name>` (cluster-scoped:
 * `/<name>`), so that every list walks keys in order from where it starts — a namespace is the range
 * [`ns/`, `ns0`) — and a page costs O(log n + page), never a scan and sort of the whole resource.
 *
 * Paging works as an etcd-backed kube-apiserver pages: the continue token carries the last key read and the
 * list's resourceVersion, and every later page is read at that resourceVersion. etcd reads an old revision
 * from MVCC; here a paged list keeps a copy-on-write clone of the tree (O(1) to take: the first write after it
 * copies the nodes it touches) for LIST_SNAPSHOT_TTL_MS, the lab's compaction window. A token whose snapshot
 * is gone is 410 Expired with an inconsistent continue token (rv -1: the rest at the latest state), as
 * kube-apiserver answers a token compacted away. Objects present throughout a paged list are therefore listed
 * exactly once, whatever is created or deleted between pages.
 */
import btree from 'sorted-btree';
import { ApiError, type KubeObject } from './types.js';
import { LIST_SNAPSHOT_TTL_MS, MAX_LIST_SNAPSHOTS } from './limits.js';

// A CommonJS package: Node's ESM loader hands over module.exports (the class is its `default`), bundlers and
// vitest the class itself.
const BTree: typeof btree.default = (btree as { default?: typeof btree.default }).default ?? (btree as unknown as typeof btree.default);
type Tree = InstanceType<typeof BTree<string, KubeObject>>;

/** The key of an object within its resource, in etcd's order: `<namespace>/<name>`, `/<name>` when cluster-scoped. */
function orderKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** One resource's objects as of some resourceVersion: the tree and the objects per namespace. */
export interface View {
  tree: Tree;
  counts: ReadonlyMap<string, number>;
  /** The resourceVersion of the last write to this resource that the view holds. */
  lastWrite: number;
  /** The resourceVersion the view was taken at: it holds the resource's state for every rv in [lastWrite, rv]. */
  rv: number;
}

/** The live index of one resource. */
export class OrderedBucket {
  readonly tree: Tree = new BTree<string, KubeObject>();
  readonly counts = new Map<string, number>();
  lastWrite = 0;

  set(obj: KubeObject, rv: number): void {
    const ns = obj.metadata.namespace ?? '';
    if (this.tree.set(orderKey(obj.metadata.namespace, obj.metadata.name!), obj, true)) {
      this.counts.set(ns, (this.counts.get(ns) ?? 0) + 1);
    }
    this.lastWrite = Math.max(this.lastWrite, rv);
  }

  delete(obj: KubeObject, rv: number): void {
    const ns = obj.metadata.namespace ?? '';
    if (this.tree.delete(orderKey(obj.metadata.namespace, obj.metadata.name!))) {
      const n = (this.counts.get(ns) ?? 1) - 1;
      if (n > 0) this.counts.set(ns, n);
      else this.counts.delete(ns);
    }
    this.lastWrite = Math.max(this.lastWrite, rv);
  }

  /** The live state as a view at `rv` (the store's current resourceVersion). */
  live(rv: number): View {
    return { tree: this.tree, counts: this.counts, lastWrite: this.lastWrite, rv };
  }

  /** A copy-on-write snapshot at `rv`. */
  snapshot(rv: number): View {
    return { tree: this.tree.clone(), counts: new Map(this.counts), lastWrite: this.lastWrite, rv };
  }
}

interface Kept {
  view: View;
  at: number;
}

/** The snapshots paged lists read from, by resource and resourceVersion; the oldest go first. */
export class Snapshots {
  private readonly kept = new Map<string, Kept>();
  constructor(private readonly nowMs: () => number) {}

  /** Keeps (or refreshes) the snapshot of `bucket` at `rv`. */
  keep(resource: string, bucket: OrderedBucket, rv: number): void {
    this.expire();
    const k = `${resource}@${rv}`;
    const had = this.kept.get(k);
    this.kept.delete(k);
    this.kept.set(k, { view: had?.view ?? bucket.snapshot(rv), at: this.nowMs() });
    while (this.kept.size > MAX_LIST_SNAPSHOTS) this.kept.delete(this.kept.keys().next().value!);
  }

  /** A kept view that holds `resource` as of `rv`, if any. */
  find(resource: string, rv: number): View | undefined {
    this.expire();
    const exact = this.kept.get(`${resource}@${rv}`);
    if (exact) return exact.view;
    for (const [k, { view }] of this.kept) {
      if (k.startsWith(`${resource}@`) && view.lastWrite <= rv && rv <= view.rv) return view;
    }
    return undefined;
  }

  private expire(): void {
    const cutoff = this.nowMs() - LIST_SNAPSHOT_TTL_MS;
    for (const [k, s] of this.kept) {
      if (s.at >= cutoff) break;
      this.kept.delete(k);
    }
  }

  get size(): number {
    return this.kept.size;
  }
}

// ---- continue tokens (k8s.io/apiserver/pkg/storage: EncodeContinue / DecodeContinue) ----

interface ContinueToken {
  /** The list's resourceVersion; -1: continue at the latest state (the token a 410 hands back). */
  rv: number;
  /** The key to start from, relative to the list's prefix (the last key read + "\0"). */
  start: string;
  /** Keys of the range read before this page (for remainingItemCount). */
  n?: number;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start, ...(t.n !== undefined ? { n: t.n } : {}) })).toString('base64url');
}

export function decodeContinue(token: string): ContinueToken {
  const bad = (why: string) => new ApiError(400, 'BadRequest', `invalid continue token: continue key is not valid: ${why}`);
  let c: { v?: unknown; rv?: unknown; start?: unknown; n?: unknown };
  try {
    c = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as typeof c;
  } catch {
    throw bad('incorrect encoding');
  }
  if (c === null || typeof c !== 'object' || c.v !== 'meta.k8s.io/v1') throw bad('server does not recognize this encoded version');
  if (typeof c.rv !== 'number' || !Number.isInteger(c.rv) || c.rv === 0 || c.rv < -1) throw bad('incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof c.start !== 'string' || c.start.length === 0) throw bad('encoded start key empty (version meta.k8s.io/v1)');
  // The start key is a name (or namespace/name) past which to read: nothing that climbs out of the prefix.
  if (c.start.startsWith('/') || c.start.split('/').some((p) => p === '..' || p === '.')) throw bad('path traversal attempt');
  return { rv: c.rv, start: c.start, ...(typeof c.n === 'number' && c.n >= 0 ? { n: c.n } : {}) };
}

/** The 410 for a continue token whose snapshot is gone, carrying a token for the rest at the latest state. */
export function continueExpired(start: string, n?: number): ApiError {
  const e = new ApiError(
    410,
    'Expired',
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
  );
  e.continueToken = encodeContinue({ rv: -1, start, ...(n !== undefined ? { n } : {}) });
  return e;
}
