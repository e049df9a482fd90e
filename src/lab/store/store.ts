/**
 * The lab's store: an in-memory object cache (every read is served from it, like the apiserver's watch cache)
 * in front of a Backend that persists writes and hands out resourceVersions — memory (a counter) or etcd
 * (mod revisions, src/lab/store/etcd.ts). All apiserver semantics live here, once: uid/generation/timestamps,
 * optimistic concurrency, defaults + schema validation, admission hooks, watch fan-out with history for
 * resume (410 Expired when too old), managedFields, finalizers and graceful deletion. What a delete asks of
 * others — collecting dependents, emptying a Terminating namespace — is done by controllers, as in a cluster
 * (src/lab/controllers/garbage-collector.ts, namespaces.ts).
 * Writes are serialized so that watch events leave in resourceVersion order.
 */
import { readModifyWrite, sameJson } from './mutate.js';
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  type Admission,
  type DeleteOptions,
  type KubeObject,
  type LabStore,
  type ListOptions,
  type ListResult,
  type PatchType,
  type ResourceRegistry,
  type ResourceType,
  type WatchEvent,
  type WatchHandler,
  type WatchOptions,
  type WriteOptions,
} from './types.js';
import { createRegistry, groupOf } from './resources.js';
import { compileSelectors } from './selectors.js';
import { applyPatch } from './patch.js';
import { applyDefaults } from './defaults.js';
import { validateObject } from './validate.js';
import { recordApply, recordUpdate } from './managed.js';
import { findUnknownFields } from './fields.js';
import { WatchHistory } from './history.js';
import { OwnerIndex, objectKey } from './owner-index.js';
import { OrderedBucket, Snapshots, continueExpired, decodeContinue, encodeContinue, type View } from './ordered.js';
import { MAX_OBJECT_BYTES, checkObjectShape, isJsonMap, objectTooLarge, yieldToEventLoop } from './limits.js';

/** Where objects persist. Keys are `/registry/<resource>/<namespace>/<name>` (cluster-scoped: no namespace). */
export interface Backend {
  /** Loads every object at start: [key, object with resourceVersion set]; and the current revision. */
  load(): Promise<{ objects: KubeObject[]; revision: number }>;
  /** Writes `obj` at `key` if the key's current revision equals `expectRev` (0 = must not exist).
   *  Returns the new revision, or 'conflict'. */
  put(key: string, obj: KubeObject, expectRev: number): Promise<number | 'conflict'>;
  /** Deletes `key` if its revision equals `expectRev`; returns the new revision, or 'conflict'. */
  remove(key: string, expectRev: number): Promise<number | 'conflict'>;
  close(): Promise<void>;
}

export interface StoreOptions {
  registry?: ResourceRegistry;
  /** Watch history kept for resume, in events. Default 20,000. */
  historySize?: number;
  /** Bookmark interval for watches that ask for bookmarks. Default 5 s. */
  bookmarkIntervalMs?: number;
  now?: () => Date;
}

interface Watcher {
  resource: string;
  namespace: string | undefined;
  match: (o: KubeObject) => boolean;
  onEvent: WatchHandler;
}

interface HistoryEntry {
  rv: number;
  resource: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  old?: KubeObject;
}

export function registryKey(resource: string, namespace: string | undefined, name: string): string {
  return namespace ? `/registry/${resource}/${namespace}/${name}` : `/registry/${resource}/${name}`;
}

function rvOf(o: KubeObject): number {
  return Number(o.metadata.resourceVersion ?? '0');
}

function nsKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

const FOREGROUND = 'foregroundDeletion';
const ORPHAN = 'orphan';

export class Store implements LabStore {
  readonly resources: ResourceRegistry;
  private readonly backend: Backend;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  /** The same objects in key order, per resource (src/lab/store/ordered.ts). */
  private readonly ordered = new Map<string, OrderedBucket>();
  private readonly snapshots: Snapshots;
  private readonly owners = new OwnerIndex();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly admissions = new Map<string, Admission[]>();
  private readonly history: WatchHistory<HistoryEntry>;
  private rv = 0;
  private readonly historySize: number;
  private readonly bookmarkIntervalMs: number;
  private readonly now: () => Date;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(backend: Backend, opts: StoreOptions = {}) {
    this.backend = backend;
    this.resources = opts.registry ?? createRegistry();
    this.historySize = opts.historySize ?? 20_000;
    this.history = new WatchHistory<HistoryEntry>(this.historySize);
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 5000;
    this.now = opts.now ?? (() => new Date());
    this.snapshots = new Snapshots(() => this.now().getTime());
    for (const rt of this.resources.all()) {
      this.data.set(this.resources.nameOf(rt), new Map());
      this.ordered.set(this.resources.nameOf(rt), new OrderedBucket());
    }
  }

  /** Loads the backend's objects into the cache. Call once before use. */
  async init(): Promise<void> {
    const { objects, revision } = await this.backend.load();
    for (const o of objects) {
      // Whatever else a backend holds under /registry (a real apiserver's protobuf, a broken write) is not served.
      if (!isJsonMap(o) || !isJsonMap(o.metadata) || typeof o.metadata.name !== 'string') continue;
      let name: string;
      try {
        name = this.resources.nameForObject(o);
      } catch {
        continue;
      }
      this.cacheSet(name, o, revision);
    }
    this.rv = revision;
    this.history.reset(revision);
  }

  // ---- reads ----

  private typeOf(resource: string): ResourceType {
    const rt = this.resources.byName(resource);
    if (!rt) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${resource})`);
    return rt;
  }

  private bucket(resource: string): Map<string, KubeObject> {
    this.typeOf(resource);
    return this.data.get(resource)!;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const rt = this.typeOf(resource);
    return this.bucket(resource).get(nsKey(rt.namespaced ? namespace : undefined, name));
  }

  list(resource: string, namespace?: string, opts: ListOptions = {}): ListResult {
    const rt = this.typeOf(resource);
    const ns = rt.namespaced ? namespace || undefined : undefined;
    const bucket = this.ordered.get(resource)!;
    checkListOptions(opts);
    const limit = opts.limit && opts.limit > 0 ? Math.floor(opts.limit) : undefined;
    // The range of keys: one namespace [`ns/`, `ns0`), a cluster-scoped resource [`/`, `0`), or all.
    const prefix = ns ? `${ns}/` : rt.namespaced ? '' : '/';
    const end = ns ? `${ns}0` : rt.namespaced ? undefined : '0';
    let view: View;
    let from = prefix;
    let before = 0;
    let consistent = true;
    if (opts.continue) {
      const tok = decodeContinue(opts.continue);
      from = prefix + tok.start;
      before = tok.n ?? 0;
      if (tok.rv === -1) {
        view = bucket.live(this.rv);
        consistent = false;
      } else {
        const found = bucket.lastWrite <= tok.rv && tok.rv <= this.rv ? bucket.live(tok.rv) : this.snapshots.find(resource, tok.rv);
        if (!found) throw continueExpired(tok.start, tok.n);
        view = found;
      }
    } else {
      view = this.viewFor(resource, bucket, opts, limit);
    }
    const match = opts.labelSelector || opts.fieldSelector ? compileSelectors(opts.labelSelector, opts.fieldSelector) : undefined;
    const items: KubeObject[] = [];
    let scanned = 0;
    let lastKey: string | undefined;
    let more = false;
    for (const [k, o] of view.tree.entries(from)) {
      if (end !== undefined && k >= end) break;
      if (!k.startsWith(prefix)) break;
      if (limit !== undefined && items.length >= limit) {
        more = true;
        break;
      }
      lastKey = k;
      scanned++;
      if (!match || match(o)) items.push(o);
    }
    const resourceVersion = String(view.rv);
    if (!more || lastKey === undefined) return { items, resourceVersion };
    // The first page of a paged list: later pages read the same state, whatever is written meanwhile.
    if (!opts.continue && view.tree === bucket.tree) this.snapshots.keep(resource, bucket, view.rv);
    const read = before + scanned;
    const total = ns ? (view.counts.get(ns) ?? 0) : view.tree.size;
    return {
      items,
      resourceVersion,
      continue: encodeContinue({ rv: consistent ? view.rv : -1, start: `${lastKey.slice(prefix.length)}\0`, n: read }),
      // Like the apiserver: a count only for lists without selectors (and not for an inconsistent rest).
      ...(match || !consistent ? {} : { remainingItemCount: Math.max(0, total - read) }),
    };
  }

  /** The view a list without a continue token reads, per its resourceVersion and resourceVersionMatch. */
  private viewFor(resource: string, bucket: OrderedBucket, opts: ListOptions, limit: number | undefined): View {
    const rv = opts.resourceVersion;
    if (rv === undefined || rv === '' || rv === '0') return bucket.live(this.rv);
    const n = Number(rv);
    if (!/^[0-9]+$/.test(rv) || !Number.isSafeInteger(n)) throw new ApiError(400, 'BadRequest', `invalid resource version: ${rv}`);
    if (n > this.rv) {
      throw new ApiError(504, 'Timeout', `Too large resource version: ${n}, current: ${this.rv}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      });
    }
    const exact = opts.resourceVersionMatch === 'Exact' || (!opts.resourceVersionMatch && limit !== undefined);
    if (!exact) return bucket.live(this.rv);
    if (bucket.lastWrite <= n) return bucket.live(n);
    const kept = this.snapshots.find(resource, n);
    if (!kept) throw new ApiError(410, 'Expired', 'The resourceVersion for the provided list is too old.');
    return { ...kept, rv: n };
  }

  currentResourceVersion(): string {
    return String(this.rv);
  }

  addAdmission(resource: string, fn: Admission): () => void {
    const list = this.admissions.get(resource) ?? [];
    list.push(fn);
    this.admissions.set(resource, list);
    return () => {
      const l = this.admissions.get(resource) ?? [];
      const i = l.indexOf(fn);
      if (i >= 0) l.splice(i, 1);
    };
  }

  // ---- writes ----

  /** Serializes writes so that revisions and watch events stay in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Every write goes through here: the object must be one, and small enough for etcd. */
  private async put(key: string, obj: KubeObject, expectRev: number): Promise<number | 'conflict'> {
    checkObjectShape(obj);
    checkSize(obj);
    return this.backend.put(key, obj, expectRev);
  }

  private notFound(rt: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${this.resources.nameOf(rt)} "${name}" not found`, {
      name,
      group: rt.group,
      kind: rt.resource,
    });
  }

  private checkNamespace(rt: ResourceType, obj: KubeObject): void {
    if (!rt.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    const ns = obj.metadata.namespace ?? 'default';
    obj.metadata.namespace = ns;
    const nsObj = this.get('namespaces', undefined, ns);
    if (!nsObj) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (nsObj.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `${rt.kind.toLowerCase()} "${obj.metadata.name ?? ''}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, {
        name: obj.metadata.name,
        kind: rt.resource,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  private async admit(resource: string, obj: KubeObject, old: KubeObject | undefined, op: 'create' | 'update'): Promise<KubeObject> {
    let cur = obj;
    for (const fn of this.admissions.get(resource) ?? []) {
      const r = await fn(cur, old, op);
      if (r) cur = r;
    }
    return cur;
  }

  private typeForObject(obj: KubeObject): ResourceType {
    // The last line of defence: whatever a caller hands in, only JSON objects with object metadata are stored.
    checkObjectShape(obj);
    if (typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') {
      throw new ApiError(400, 'BadRequest', 'Object \'Kind\' is missing in the request body');
    }
    const rt = this.resources.byKind(obj.kind, obj.apiVersion);
    if (!rt) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${obj.kind} ${obj.apiVersion})`);
    obj.metadata ??= {};
    return rt;
  }

  create(input: KubeObject, opts: WriteOptions = {}): Promise<KubeObject> {
    return this.createAs(input, opts, 'Update');
  }

  /** A create by an Update (POST) or by an Apply (a server-side apply of an object that does not exist). */
  private createAs(input: KubeObject, opts: WriteOptions, operation: 'Apply' | 'Update'): Promise<KubeObject> {
    return this.serial(async () => {
      const rt = this.typeForObject(input);
      const resource = this.resources.nameOf(rt);
      let obj = structuredClone(input);
      checkSize(obj);
      const m = obj.metadata;
      if (!m.name && m.generateName) m.name = `${m.generateName}${randomSuffix()}`;
      this.checkNamespace(rt, obj);
      if (m.name && this.get(resource, m.namespace, m.name)) {
        throw new ApiError(409, 'AlreadyExists', `${this.resources.nameOf(rt)} "${m.name}" already exists`, { name: m.name, group: rt.group, kind: rt.resource });
      }
      obj = await this.admit(resource, obj, undefined, 'create');
      const meta = obj.metadata;
      meta.uid = randomUUID();
      meta.creationTimestamp = isoSeconds(this.now());
      delete meta.resourceVersion;
      delete meta.deletionTimestamp;
      delete meta.managedFields;
      dropEmptyMaps(meta);
      if (obj.spec !== undefined || rt.subresources.includes('scale')) meta.generation = 1;
      applyDefaults(obj);
      if (opts.fieldManager) {
        const m = { manager: opts.fieldManager, operation, force: opts.force };
        const hasStatus = rt.subresources.includes('status');
        if (operation === 'Apply') recordApply(undefined, input, obj, m, hasStatus, meta.creationTimestamp);
        else recordUpdate(undefined, obj, m, hasStatus, meta.creationTimestamp);
      }
      await checkFields(obj, opts);
      if (!opts.skipValidation) await validateObject(obj);
      if (opts.dryRun) return obj;
      const rev = await this.put(registryKey(resource, meta.namespace, meta.name!), obj, 0);
      if (rev === 'conflict') throw new ApiError(409, 'AlreadyExists', `${resource} "${meta.name}" already exists`, { name: meta.name, group: rt.group, kind: rt.resource });
      return this.commit(resource, 'ADDED', obj, undefined, rev);
    });
  }

  update(input: KubeObject, opts: WriteOptions = {}): Promise<KubeObject> {
    return this.serial(() => this.updateLocked(input, opts));
  }

  /** `owned`: the caller built `input` for this call (a patch result), so it need not be copied again. */
  private async updateLocked(input: KubeObject, opts: WriteOptions, owned = false, applied = false): Promise<KubeObject> {
    const rt = this.typeForObject(input);
    const resource = this.resources.nameOf(rt);
    const ns = rt.namespaced ? (input.metadata.namespace ?? 'default') : undefined;
    const name = input.metadata.name;
    if (!name) throw new ApiError(422, 'Invalid', `${rt.kind} "" is invalid: metadata.name: Required value: name is required`, { kind: rt.kind, causes: [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value' }] });
    const old = this.get(resource, ns, name);
    if (!old) throw this.notFound(rt, name);
    if (input.metadata.resourceVersion && input.metadata.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(rt, name, this.resources.nameOf(rt));
    }
    if (input.metadata.uid && input.metadata.uid !== old.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${input.metadata.uid}, UID in object meta: ${old.metadata.uid}`, { name, group: rt.group, kind: rt.resource });
    }
    let obj = owned ? input : structuredClone(input);
    // Immutable metadata the client cannot change.
    obj.metadata.uid = old.metadata.uid;
    obj.metadata.creationTimestamp = old.metadata.creationTimestamp;
    obj.metadata.namespace = old.metadata.namespace;
    if (old.metadata.deletionTimestamp) obj.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    else delete obj.metadata.deletionTimestamp;
    // managedFields are the server's: a write keeps them, and a client's write records what it changed (below).
    if (!applied) {
      if (old.metadata.managedFields) obj.metadata.managedFields = old.metadata.managedFields;
      else delete obj.metadata.managedFields;
    }
    dropEmptyMaps(obj.metadata);
    if (!rt.namespaced) delete obj.metadata.namespace;
    const hasStatus = rt.subresources.includes('status');
    if (opts.subresource === 'status') {
      // Status writes change status only (and metadata, which the apiserver also lets through on status).
      const next = structuredClone(old);
      next.status = obj.status;
      next.metadata = { ...old.metadata, labels: obj.metadata.labels ?? old.metadata.labels, annotations: obj.metadata.annotations ?? old.metadata.annotations, finalizers: obj.metadata.finalizers ?? old.metadata.finalizers, ownerReferences: obj.metadata.ownerReferences ?? old.metadata.ownerReferences };
      obj = next;
    } else if (hasStatus) {
      if (old.status === undefined) delete obj.status;
      else obj.status = structuredClone(old.status);
    }
    // Too large to store: say so before defaults and schema validation spend time on it.
    checkSize(obj);
    obj = await this.admit(resource, obj, old, 'update');
    if (old.metadata.generation !== undefined) {
      obj.metadata.generation = old.metadata.generation + (sameJson(obj.spec, old.spec) ? 0 : 1);
    }
    applyDefaults(obj);
    if (opts.fieldManager && !applied) {
      // A client's write: let waiting requests in before the managedFields diff (long lists make it heavy).
      await yieldToEventLoop();
      recordUpdate(old, obj, { manager: opts.fieldManager, operation: 'Update', subresource: opts.subresource }, hasStatus, isoSeconds(this.now()));
    }
    await checkFields(obj, opts);
    if (!opts.skipValidation) await validateObject(obj);
    if (opts.dryRun) return obj;
    // A deleting object whose last finalizer went away is removed now.
    if (obj.metadata.deletionTimestamp && finalizersOf(obj).length === 0) {
      return this.removeLocked(rt, resource, old);
    }
    const rev = await this.put(registryKey(resource, old.metadata.namespace, name), obj, rvOf(old));
    if (rev === 'conflict') throw conflict(rt, name, resource);
    return this.commit(resource, 'MODIFIED', obj, old, rev);
  }

  async patch(resource: string, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts: WriteOptions = {}): Promise<KubeObject> {
    const rt = this.typeOf(resource);
    for (let attempt = 0; ; attempt++) {
      const cur = this.get(resource, namespace, name);
      if (!cur && type === 'apply') {
        // Server-side apply of an object that does not exist creates it.
        checkObjectShape(patch);
        const obj = structuredClone(patch) as KubeObject;
        obj.metadata = { ...(obj.metadata ?? {}), name, ...(rt.namespaced ? { namespace } : {}) };
        try {
          return await this.createAs(obj, opts, 'Apply');
        } catch (e) {
          if (e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists' && attempt < 5) continue;
          throw e;
        }
      }
      if (!cur) throw this.notFound(rt, name);
      // applyPatch answers a patch of the wrong shape, or one whose result is not an object, with the apiserver's 4xx.
      const patched = applyPatch(type, structuredClone(cur), patch) as KubeObject;
      // A patch carrying a resourceVersion is a precondition; otherwise the patch applies to the latest.
      const explicitRv = (patch as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
      patched.metadata ??= {};
      patched.metadata.resourceVersion = type !== 'json' && explicitRv ? explicitRv : cur.metadata.resourceVersion;
      patched.metadata.name = name;
      if (rt.namespaced) patched.metadata.namespace = namespace;
      patched.kind = cur.kind;
      patched.apiVersion = cur.apiVersion;
      const apply = type === 'apply' && opts.fieldManager !== undefined;
      if (apply) {
        patched.metadata.managedFields = cur.metadata.managedFields;
        // Conflicts (409 unless forced), fields this manager no longer applies removed, managedFields recorded.
        recordApply(cur, patch as KubeObject, patched, { manager: opts.fieldManager!, operation: 'Apply', force: opts.force, subresource: opts.subresource }, rt.subresources.includes('status'), isoSeconds(this.now()));
      }
      try {
        return await this.serial(() => this.updateLocked(patched, opts, true, apply));
      } catch (e) {
        if (e instanceof ApiError && e.code === 409 && e.reason === 'Conflict' && !explicitRv && attempt < 5) continue;
        throw e;
      }
    }
  }

  async mutate(resource: string, namespace: string | undefined, name: string, fn: (obj: KubeObject) => KubeObject | undefined | void, opts: WriteOptions = {}): Promise<KubeObject> {
    const rt = this.typeOf(resource);
    const read = () => {
      const cur = this.get(resource, namespace, name);
      if (!cur) throw this.notFound(rt, name);
      return cur;
    };
    return readModifyWrite(read, (next) => this.update(next, opts), fn, 10);
  }

  delete(resource: string, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<KubeObject> {
    return this.serial(() => this.deleteLocked(resource, namespace, name, opts));
  }

  private async deleteLocked(resource: string, namespace: string | undefined, name: string, opts: DeleteOptions): Promise<KubeObject> {
    const rt = this.typeOf(resource);
    const old = this.get(resource, namespace, name);
    if (!old) throw this.notFound(rt, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${rt.kind} "${name}": the UID in the precondition (${pre.uid}) does not match the UID in record (${old.metadata.uid}). The object might have been deleted and then recreated`, { name, group: rt.group, kind: rt.kind });
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${rt.kind} "${name}": the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${old.metadata.resourceVersion}). The object might have been modified`, { name, group: rt.group, kind: rt.kind });
    }
    if (opts.dryRun) return old;
    const policy = opts.propagationPolicy ?? 'Background';
    const finalizers = [...(old.metadata.finalizers ?? [])];
    const hasDependents = this.owners.hasDependents(old.metadata.uid!);
    if (rt.kind === 'Namespace' && rt.group === '') {
      if (old.metadata.deletionTimestamp) return old;
      const next = structuredClone(old);
      next.metadata.deletionTimestamp = isoSeconds(this.now());
      next.status = { ...(next.status as object), phase: 'Terminating' };
      const rev = await this.put(registryKey(resource, undefined, name), next, rvOf(old));
      if (rev === 'conflict') throw conflict(rt, name, resource);
      // The namespace controller (src/lab/controllers/namespaces.ts) empties and finalizes it.
      return this.commit(resource, 'MODIFIED', next, old, rev);
    }
    const grace = podGracePeriod(old, opts.gracePeriodSeconds);
    if (grace > 0) {
      // A pod on a node is deleted gracefully: Terminating until its kubelet has stopped it and confirms with a
      // grace period of 0. A shorter grace period shortens the wait; the same or a longer one changes nothing.
      const cur = old.metadata.deletionGracePeriodSeconds;
      if (old.metadata.deletionTimestamp && cur !== undefined && cur <= grace) return old;
      const next = structuredClone(old);
      next.metadata.deletionTimestamp = isoSeconds(new Date(this.now().getTime() + grace * 1000));
      next.metadata.deletionGracePeriodSeconds = grace;
      if (policy === 'Foreground' && hasDependents && !finalizers.includes(FOREGROUND)) next.metadata.finalizers = [...finalizers, FOREGROUND];
      const rev = await this.put(registryKey(resource, old.metadata.namespace, name), next, rvOf(old));
      if (rev === 'conflict') throw conflict(rt, name, resource);
      return this.commit(resource, 'MODIFIED', next, old, rev);
    }
    if (policy === 'Foreground' && hasDependents && !finalizers.includes(FOREGROUND)) finalizers.push(FOREGROUND);
    if (policy === 'Orphan' && hasDependents && !finalizers.includes(ORPHAN)) finalizers.push(ORPHAN);
    if (finalizers.length > 0) {
      if (old.metadata.deletionTimestamp && finalizers.length === (old.metadata.finalizers ?? []).length) return old;
      const next = structuredClone(old);
      next.metadata.deletionTimestamp ??= isoSeconds(this.now());
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.finalizers = finalizers;
      const rev = await this.put(registryKey(resource, old.metadata.namespace, name), next, rvOf(old));
      if (rev === 'conflict') throw conflict(rt, name, resource);
      // The garbage collector (src/lab/controllers/garbage-collector.ts) acts on foregroundDeletion and orphan.
      return this.commit(resource, 'MODIFIED', next, old, rev);
    }
    return this.removeLocked(rt, resource, old);
  }

  /** Removes an object for good, then lets the garbage collector look at its dependents and owners. */
  private async removeLocked(rt: ResourceType, resource: string, old: KubeObject): Promise<KubeObject> {
    const rev = await this.backend.remove(registryKey(resource, old.metadata.namespace, old.metadata.name!), rvOf(old));
    if (rev === 'conflict') throw conflict(rt, old.metadata.name!, resource);
    const gone = structuredClone(old);
    return this.commit(resource, 'DELETED', gone, old, rev);
  }

  // ---- cache, history, watch ----

  private cacheSet(resource: string, obj: KubeObject, rev: number): void {
    const k = nsKey(obj.metadata.namespace, obj.metadata.name!);
    this.data.get(resource)!.set(k, obj);
    this.ordered.get(resource)!.set(obj, rev);
    this.owners.set(objectKey(resource, obj.metadata.namespace, obj.metadata.name!), (obj.metadata.ownerReferences ?? []).map((o) => o.uid));
  }

  private cacheDelete(resource: string, obj: KubeObject, rev: number): void {
    this.owners.remove(objectKey(resource, obj.metadata.namespace, obj.metadata.name!));
    this.data.get(resource)!.delete(nsKey(obj.metadata.namespace, obj.metadata.name!));
    this.ordered.get(resource)!.delete(obj, rev);
  }

  private commit(resource: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject, old: KubeObject | undefined, rev: number): KubeObject {
    obj.metadata.resourceVersion = String(rev);
    // Stored objects are immutable: readers share them and the server caches their JSON by identity.
    deepFreeze(obj);
    this.rv = Math.max(this.rv, rev);
    if (type === 'DELETED') this.cacheDelete(resource, obj, rev);
    else this.cacheSet(resource, obj, rev);
    const entry: HistoryEntry = { rv: rev, resource, type, object: obj, old };
    this.history.push(entry);
    this.dispatch(entry);
    return obj;
  }

  private dispatch(e: HistoryEntry): void {
    const ws = this.watchers.get(e.resource);
    if (!ws) return;
    for (const w of ws) deliver(w, e);
  }

  watch(resource: string, namespace: string | undefined, opts: WatchOptions, onEvent: WatchHandler): () => void {
    const rt = this.typeOf(resource);
    const ns = rt.namespaced ? namespace : undefined;
    const sel = compileSelectors(opts.labelSelector, opts.fieldSelector);
    const w: Watcher = { resource, namespace: ns, match: (o) => (!ns || o.metadata.namespace === ns) && sel(o), onEvent };
    const from = opts.resourceVersion && opts.resourceVersion !== '0' ? Number(opts.resourceVersion) : undefined;
    if (from !== undefined && !Number.isFinite(from)) throw new ApiError(400, 'BadRequest', `invalid resource version: ${opts.resourceVersion}`);
    if (from !== undefined && from < this.history.start) {
      throw new ApiError(410, 'Expired', `too old resource version: ${from} (${this.history.start + 1})`);
    }
    if (from !== undefined) {
      for (const e of this.history.since(from)) if (e.resource === resource) deliver(w, e);
    }
    let set = this.watchers.get(resource);
    if (!set) this.watchers.set(resource, (set = new Set()));
    set.add(w);
    let timer: NodeJS.Timeout | undefined;
    if (opts.bookmarks) {
      const { group, version } = rt;
      const apiVersion = group === '' ? version : `${group}/${version}`;
      timer = setInterval(() => {
        onEvent({ type: 'BOOKMARK', object: { kind: rt.kind, apiVersion, metadata: { resourceVersion: String(this.rv) } } });
      }, this.bookmarkIntervalMs);
      this.timers.add(timer);
    }
    return () => {
      set!.delete(w);
      if (timer) {
        clearInterval(timer);
        this.timers.delete(timer);
      }
    };
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.watchers.clear();
    await this.queue.catch(() => undefined);
    await this.backend.close();
  }
}

/** Sends an event to a watcher, translating it for selector watches (object left the selection → DELETED). */
function deliver(w: Watcher, e: HistoryEntry): void {
  const now = w.match(e.object);
  let ev: WatchEvent | undefined;
  if (e.type === 'MODIFIED') {
    const before = e.old ? w.match(e.old) : false;
    if (now && before) ev = { type: 'MODIFIED', object: e.object };
    else if (now) ev = { type: 'ADDED', object: e.object };
    else if (before) ev = { type: 'DELETED', object: e.object };
  } else if (now) ev = { type: e.type, object: e.object };
  if (!ev) return;
  try {
    w.onEvent(ev);
  } catch {
    // A watcher's failure must not stop the others.
  }
}

/** apimachinery's ValidateListOptions (422 on ListOptions) and the storage layer's continue rule (400). */
function checkListOptions(opts: ListOptions): void {
  const errs: string[] = [];
  const m = opts.resourceVersionMatch;
  if (m) {
    if (!opts.resourceVersion) errs.push('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (opts.continue) errs.push('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided');
    if (m !== 'Exact' && m !== 'NotOlderThan') errs.push(`resourceVersionMatch: Unsupported value: "${m}": supported values: "Exact", "NotOlderThan", ""`);
    if (m === 'Exact' && opts.resourceVersion === '0') errs.push('resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
  }
  if (errs.length > 0) {
    throw new ApiError(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: ${errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`}`, {
      kind: 'ListOptions',
      group: 'meta.k8s.io',
      causes: errs.map((e) => ({ reason: e.includes('Unsupported') ? 'FieldValueNotSupported' : 'FieldValueForbidden', message: e.slice(e.indexOf(': ') + 2), field: 'resourceVersionMatch' })),
    });
  }
  if (opts.continue && opts.resourceVersion && opts.resourceVersion !== '0') {
    throw new ApiError(400, 'BadRequest', 'specifying resource version is not allowed when using continue');
  }
}

/**
 * The grace period a pod's deletion gets, as the pod strategy decides it: 0 (removed at once) for pods no node
 * runs (unscheduled, or finished), else the request's gracePeriodSeconds or the pod's
 * terminationGracePeriodSeconds (default 30). Every other kind: 0.
 */
function podGracePeriod(obj: KubeObject, requested: number | undefined): number {
  if (obj.kind !== 'Pod' || obj.apiVersion !== 'v1') return 0;
  const spec = (obj.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = (obj.status as { phase?: string } | undefined)?.phase;
  if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
  const g = requested ?? spec.terminationGracePeriodSeconds ?? 30;
  return Number.isFinite(g) && g > 0 ? g : 0;
}

/** What holds a deleted object: its finalizers, and for a Namespace its spec.finalizers (`kubernetes`). */
function finalizersOf(o: KubeObject): string[] {
  const spec = o.kind === 'Namespace' ? ((o.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []) : [];
  return [...(o.metadata.finalizers ?? []), ...spec];
}

/** etcd's request limit, measured on the object's JSON: 413 beyond it. */
function checkSize(obj: KubeObject): void {
  const bytes = Buffer.byteLength(JSON.stringify(obj));
  if (bytes > MAX_OBJECT_BYTES) throw objectTooLarge(bytes);
}

/** Strict field validation: unknown fields are a 400 with the apiserver's strict-decoding message. */
async function checkFields(obj: KubeObject, opts: WriteOptions): Promise<void> {
  if (opts.fieldValidation !== 'Strict' || opts.skipValidation) return;
  const unknown = await findUnknownFields(obj);
  if (unknown.length === 0) return;
  const { version } = groupOf(obj.apiVersion);
  throw new ApiError(400, 'BadRequest', `${obj.kind} in version "${version}" cannot be handled as a ${obj.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
}

/** Go's ObjectMeta omits empty label and annotation maps (omitempty); clients diff against that. */
function dropEmptyMaps(meta: KubeObject['metadata']): void {
  for (const k of ['labels', 'annotations'] as const) {
    const m = meta[k];
    if (m !== undefined && (m === null || Object.keys(m).length === 0)) delete meta[k];
  }
}

function conflict(rt: ResourceType, name: string, resource: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
    name,
    group: rt.group,
    kind: rt.resource,
  });
}

function isoSeconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';
function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
  return s;
}

/** The memory backend: a revision counter; the cache is the data. */
export class MemoryBackend implements Backend {
  private rev = 0;
  private readonly revs = new Map<string, number>();
  async load(): Promise<{ objects: KubeObject[]; revision: number }> {
    return { objects: [], revision: this.rev };
  }
  async put(key: string, obj: KubeObject, expectRev: number): Promise<number | 'conflict'> {
    checkObjectShape(obj);
    if ((this.revs.get(key) ?? 0) !== expectRev) return 'conflict';
    this.revs.set(key, ++this.rev);
    return this.rev;
  }
  async remove(key: string, expectRev: number): Promise<number | 'conflict'> {
    if ((this.revs.get(key) ?? 0) !== expectRev) return 'conflict';
    this.revs.delete(key);
    return ++this.rev;
  }
  async close(): Promise<void> {}
}

export async function createMemoryStore(opts: StoreOptions = {}): Promise<Store> {
  const s = new Store(new MemoryBackend(), opts);
  await s.init();
  return s;
}

export { groupOf };

/** Freezes a stored object; an in-place change by a caller then throws instead of corrupting the cache. */
function deepFreeze(o: unknown): void {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
}
