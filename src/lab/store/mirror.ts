/**
 * The mirror store: a LabStore backed by a real Kubernetes API server, so the lab's node side (kubelets, the
 * network model, DNS, the volume provisioner) runs unchanged as a client of any cluster's API.
 *
 * Like a client-go informer, each mirrored resource is listed, then watched from the list's resourceVersion into a
 * local cache (resumed when the server ends a watch; listed again on 410 Expired, with the differences delivered
 * as events). Reads (`get`, `list`) stay synchronous, from the cache. Writes go to the API server through the kube
 * door (src/kube) and their answers enter the cache at once, so a controller reads its own writes; the watch event
 * of the same resourceVersion that follows is not delivered twice. `mutate` is read-modify-write with the server's
 * optimistic concurrency: a 409 Conflict reads the object fresh and tries again.
 *
 * What the real API server does itself is not done here: admission (`addAdmission` is a no-op), validation,
 * defaults, finalizers and garbage collection.
 */
import { readModifyWrite } from './mutate.js';
import { setMaxListeners } from 'node:events';
import type { KubeClient } from '../../kube/index.js';
import { KubeApiError } from '../../kube/index.js';
import { compileSelectors } from './selectors.js';
import { OrderedBucket } from './ordered.js';
import { POD_WORLD_RESOURCES, apiVersionOf, createRegistry } from './resources.js';
import { ApiError, type DeleteOptions, type KubeObject, type LabStore, type ListOptions, type ListResult, type PatchType, type ResourceType, type WatchEvent, type WatchHandler, type WatchOptions, type WriteOptions } from './types.js';

/** What the lab's node side reads: the kubelet, the network model, DNS, storage, node registration and leases. */
export const NODE_SIDE_RESOURCES: readonly string[] = [...POD_WORLD_RESOURCES, 'endpoints', 'endpointslices.discovery.k8s.io', 'leases.coordination.k8s.io'];

export interface MirrorStoreOptions {
  kube: KubeClient;
  /** Store names of the resources to mirror (default NODE_SIDE_RESOURCES). Others read as absent. */
  resources?: readonly string[];
  /** Field manager for server-side apply patches. */
  fieldManager?: string;
  /** A watch that could not be resumed, or a relist that failed (it is tried again). */
  onError?: (e: unknown) => void;
}

export interface MirrorStore extends LabStore {
  /** Resolves when every mirrored resource has been listed once. */
  readonly synced: Promise<void>;
}

interface Watcher {
  namespace?: string;
  match: (o: KubeObject) => boolean;
  handler: WatchHandler;
}

interface Mirror {
  type: ResourceType;
  apiVersion: string;
  cache: Map<string, KubeObject>;
  /** The same objects in key order (the memory store's index): a list walks its range, never sorts. */
  ordered: OrderedBucket;
  watchers: Set<Watcher>;
  rv: string;
}

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** resourceVersions of one kube-apiserver are etcd revisions: integers that only grow. */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return a !== b;
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** A kube door error as the store's ApiError, so controllers' race handling (404/409) works the same. */
function toApiError(e: unknown): unknown {
  if (!(e instanceof KubeApiError)) return e;
  const st = e.status;
  return new ApiError(e.code, e.reason, st.message ?? e.message, st.details as ApiError['details']);
}

const PATCH_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export async function createMirrorStore(o: MirrorStoreOptions): Promise<MirrorStore> {
  const { kube } = o;
  const registry = createRegistry();
  const abort = new AbortController();
  // One watch per mirrored resource listens on it (more than the default warning threshold of 10).
  setMaxListeners(0, abort.signal);
  const fieldManager = o.fieldManager ?? 'groundwork-lab';
  const mirrors = new Map<string, Mirror>();
  let latest = '0';
  const noteRv = (rv: string | undefined) => {
    if (newer(rv, latest)) latest = rv!;
  };
  for (const name of o.resources ?? NODE_SIDE_RESOURCES) {
    const type = registry.byName(name);
    if (!type) throw new Error(`the mirror store does not know resource ${name}`);
    mirrors.set(name, { type, apiVersion: apiVersionOf(type), cache: new Map(), ordered: new OrderedBucket(), watchers: new Set(), rv: '' });
  }

  const typeOf = (resource: string): ResourceType => {
    const t = registry.byName(resource);
    if (!t) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${resource})`);
    return t;
  };
  const pathOf = (resource: string, namespace: string | undefined, name?: string, sub?: string): string => {
    const t = typeOf(resource);
    const prefix = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
    const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${prefix}${ns}/${t.resource}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
  };

  const emit = (m: Mirror, ev: WatchEvent) => {
    for (const w of m.watchers) {
      if (w.namespace && ev.object.metadata.namespace !== w.namespace) continue;
      if (!w.match(ev.object)) continue;
      try {
        w.handler(ev);
      } catch (e) {
        o.onError?.(e);
      }
    }
  };

  /** Takes an object the server sent (a write's answer, a watch event, a list item) into the cache. */
  const absorb = (m: Mirror, raw: KubeObject, type: 'ADDED' | 'MODIFIED' | 'DELETED'): void => {
    const obj = deepFreeze({ ...raw, apiVersion: raw.apiVersion ?? m.apiVersion, kind: raw.kind ?? m.type.kind });
    const key = keyOf(obj.metadata.namespace, obj.metadata.name!);
    const old = m.cache.get(key);
    noteRv(obj.metadata.resourceVersion);
    if (type === 'DELETED') {
      if (!old) return;
      m.cache.delete(key);
      m.ordered.delete(old, 0);
      emit(m, { type, object: obj });
      return;
    }
    if (old && old.metadata.uid === obj.metadata.uid && !newer(obj.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    m.cache.set(key, obj);
    m.ordered.set(obj, 0);
    emit(m, { type: old ? 'MODIFIED' : 'ADDED', object: obj });
  };

  const listInto = async (m: Mirror): Promise<void> => {
    const l = await kube.list(m.apiVersion, m.type.kind, { signal: abort.signal });
    const seen = new Set<string>();
    for (const it of l.items) {
      seen.add(keyOf(it.metadata.namespace, it.metadata.name!));
      absorb(m, it as KubeObject, 'ADDED');
    }
    for (const [k, old] of [...m.cache]) if (!seen.has(k)) absorb(m, old, 'DELETED');
    m.rv = l.resourceVersion;
    noteRv(m.rv);
  };

  const run = async (m: Mirror): Promise<void> => {
    await listInto(m);
    const watchFrom = async (): Promise<void> => {
      if (abort.signal.aborted) return;
      await kube.watch(m.apiVersion, m.type.kind, {
        resourceVersion: m.rv,
        signal: abort.signal,
        onGone: () => void relist(),
        onError: (e) => {
          o.onError?.(e);
          void relist();
        },
      }, (type, obj) => {
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') absorb(m, obj as KubeObject, type);
        const rv = obj.metadata?.resourceVersion;
        if (rv) m.rv = rv;
      });
    };
    // 410 Expired (or a watch that could not be resumed): list again, deliver the differences, watch from there.
    const relist = async (): Promise<void> => {
      for (let attempt = 0; !abort.signal.aborted; attempt++) {
        try {
          await listInto(m);
          await watchFrom();
          return;
        } catch (e) {
          if (abort.signal.aborted) return;
          o.onError?.(e);
          await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
        }
      }
    };
    await watchFrom();
  };

  const synced = Promise.all([...mirrors.values()].map(run)).then(() => undefined);

  const mirrorFor = (resource: string) => mirrors.get(resource);
  const absorbAnswer = (resource: string, obj: KubeObject) => {
    const m = mirrorFor(resource);
    if (m && obj?.metadata?.name) absorb(m, obj, 'MODIFIED');
    return obj;
  };
  const send = async (method: string, p: string, body: unknown, contentType?: string): Promise<KubeObject> => {
    try {
      return await kube.request<KubeObject>(method, p, { body, contentType, signal: abort.signal, retryUnsafe: method === 'POST' });
    } catch (e) {
      throw toApiError(e);
    }
  };
  const q = (opts: WriteOptions | undefined, extra: Record<string, string> = {}) => {
    const p = new URLSearchParams(extra);
    if (opts?.dryRun) p.set('dryRun', 'All');
    if (opts?.fieldValidation) p.set('fieldValidation', opts.fieldValidation);
    const s = p.toString();
    return s ? `?${s}` : '';
  };

  const store: MirrorStore = {
    resources: registry,
    synced,
    get(resource, namespace, name) {
      return mirrorFor(resource)?.cache.get(keyOf(typeOf(resource).namespaced ? namespace : undefined, name));
    },
    list(resource, namespace, opts: ListOptions = {}): ListResult {
      const m = mirrorFor(resource);
      if (!m) return { items: [], resourceVersion: latest };
      const match = opts.labelSelector || opts.fieldSelector ? compileSelectors(opts.labelSelector, opts.fieldSelector) : undefined;
      // One namespace is the key range [`ns/`, `ns0`) of the ordered index; all namespaces the whole tree.
      const ns = m.type.namespaced && namespace ? namespace : undefined;
      const prefix = ns ? `${ns}/` : '';
      const items: KubeObject[] = [];
      for (const [k, x] of m.ordered.tree.entries(prefix)) {
        if (ns && !k.startsWith(prefix)) break;
        if (!match || match(x)) items.push(x);
      }
      return { items, resourceVersion: m.rv || latest };
    },
    async create(obj, opts) {
      const resource = registry.nameForObject(obj);
      const made = await send('POST', pathOf(resource, obj.metadata.namespace) + q(opts), obj);
      return opts?.dryRun ? made : absorbAnswer(resource, made);
    },
    async update(obj, opts) {
      const resource = registry.nameForObject(obj);
      const done = await send('PUT', pathOf(resource, obj.metadata.namespace, obj.metadata.name!, opts?.subresource) + q(opts), obj);
      return opts?.dryRun ? done : absorbAnswer(resource, done);
    },
    async patch(resource, namespace, name, type, patch, opts) {
      const extra: Record<string, string> = type === 'apply' ? { fieldManager, force: 'true' } : {};
      const done = await send('PATCH', pathOf(resource, namespace, name, opts?.subresource) + q(opts, extra), patch, PATCH_TYPES[type]);
      return opts?.dryRun ? done : absorbAnswer(resource, done);
    },
    async mutate(resource, namespace, name, fn, opts) {
      // After a conflict, read it fresh from the server, not from a cache that may lag.
      const read = async (attempt: number) => (attempt === 0 ? store.get(resource, namespace, name) : undefined) ?? absorbAnswer(resource, await send('GET', pathOf(resource, namespace, name), undefined));
      return readModifyWrite(read, (obj) => store.update(obj, opts), fn, 8);
    },
    async delete(resource, namespace, name, opts: DeleteOptions = {}) {
      const body = {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
        ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
        ...(opts.preconditions ? { preconditions: opts.preconditions } : {}),
        ...(opts.dryRun ? { dryRun: ['All'] } : {}),
      };
      const answer = await send('DELETE', pathOf(resource, namespace, name), body);
      // Still there (finalizers, a grace period): the answer is the object marked for deletion. Gone: the watch says so.
      if (!opts.dryRun && answer?.metadata?.deletionTimestamp) absorbAnswer(resource, answer);
      return answer;
    },
    watch(resource, namespace, wopts: WatchOptions, onEvent) {
      const m = mirrorFor(resource);
      if (!m) return () => undefined;
      const w: Watcher = { namespace, match: compileSelectors(wopts.labelSelector, wopts.fieldSelector), handler: onEvent };
      m.watchers.add(w);
      return () => void m.watchers.delete(w);
    },
    currentResourceVersion: () => latest,
    // The real API server runs its own admission (Service ClusterIPs, the default StorageClass).
    addAdmission: () => () => undefined,
    async close() {
      abort.abort();
      kube.close();
    },
  };
  return store;
}
