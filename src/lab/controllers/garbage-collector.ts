/**
 * The garbage collector of kube-controller-manager, for the embedded API: the store only records what a
 * delete asks for (deletionTimestamp, the `foregroundDeletion` or `orphan` finalizer); this controller acts on it.
 *
 * - An object whose owners are all gone is deleted (in the background, or in the foreground when an owner
 *   waits for it); owners that are gone are dropped from the references of an object that still has others.
 * - An owner deleted in the foreground (`foregroundDeletion`) has its dependents deleted, and loses the
 *   finalizer (and so goes) once none is left.
 * - An owner deleted with `orphan` has its dependents' references to it removed, then loses the finalizer.
 *
 * It keeps its own uid → object map and owner index (src/lab/store/owner-index.ts) from the store's watch events, and works in
 * passes coalesced after bursts of events, a few items at a time so that requests get in between.
 */
import type { KubeObject, LabStore } from '../store/types.js';
import { quietly } from './runtime.js';
import { ITEMS_PER_YIELD, yieldToEventLoop } from '../store/limits.js';
import { OwnerIndex, objectKey } from '../store/owner-index.js';

const FOREGROUND = 'foregroundDeletion';
const ORPHAN = 'orphan';

interface Ref {
  resource: string;
  namespace?: string;
  name: string;
}

const refOf = (k: string): Ref => {
  const [resource, namespace, name] = k.split('|') as [string, string, string];
  return { resource, namespace: namespace || undefined, name };
};

/** Ignores the races every controller meets: the object went away, or changed under us (the next pass sees it). */
function dropOwner(o: KubeObject, uid: string): void {
  const refs = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
  if (refs.length > 0) o.metadata.ownerReferences = refs;
  else delete o.metadata.ownerReferences;
}

/** Starts the garbage collector on a store; returns its stop function. */
export function startGarbageCollector(store: LabStore): () => void {
  const uids = new Map<string, string>();
  const owners = new OwnerIndex();
  /** Objects to look at in the next pass: dependents whose owner changed, owners being deleted. */
  const dirty = new Set<string>();
  let stopped = false;
  let scheduled = false;
  let running: Promise<void> | undefined;

  const index = (resource: string, o: KubeObject, gone: boolean) => {
    const k = objectKey(resource, o.metadata.namespace, o.metadata.name!);
    if (gone) {
      owners.remove(k);
      uids.delete(o.metadata.uid!);
      // Its dependents may now be orphans.
      for (const d of owners.dependentsOf(o.metadata.uid!)) dirty.add(d);
      return;
    }
    uids.set(o.metadata.uid!, k);
    const ownerUids = (o.metadata.ownerReferences ?? []).map((r) => r.uid);
    owners.set(k, ownerUids);
    if (ownerUids.length > 0) dirty.add(k);
    if (o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).some((f) => f === FOREGROUND || f === ORPHAN)) dirty.add(k);
  };

  const schedule = () => {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (running) return void running.then(schedule);
      running = pass().catch(() => undefined).finally(() => {
        running = undefined;
        if (dirty.size > 0) schedule();
      });
    });
  };

  const get = (k: string) => {
    const r = refOf(k);
    return store.get(r.resource, r.namespace, r.name);
  };
  const dependentsOf = (uid: string) => owners.dependentsOf(uid);

  async function pass(): Promise<void> {
    const work = [...dirty];
    dirty.clear();
    for (const [i, k] of work.entries()) {
      if (i > 0 && i % ITEMS_PER_YIELD === 0) await yieldToEventLoop();
      if (stopped) return;
      const o = get(k);
      if (!o) continue;
      await settleOwner(k, o);
      await settleDependent(k, o);
    }
  }

  /** An owner being deleted in the foreground or with orphan. */
  async function settleOwner(k: string, o: KubeObject): Promise<void> {
    if (!o.metadata.deletionTimestamp) return;
    const fins = o.metadata.finalizers ?? [];
    const uid = o.metadata.uid!;
    const r = refOf(k);
    if (fins.includes(ORPHAN)) {
      for (const d of dependentsOf(uid)) {
        const dr = refOf(d);
        await quietly(store.mutate(dr.resource, dr.namespace, dr.name, (x) => dropOwner(x, uid), { skipValidation: true }));
      }
      await quietly(store.mutate(r.resource, r.namespace, r.name, (x) => {
        x.metadata.finalizers = (x.metadata.finalizers ?? []).filter((f) => f !== ORPHAN);
      }, { skipValidation: true }));
      return;
    }
    if (!fins.includes(FOREGROUND)) return;
    const deps = dependentsOf(uid).filter((d) => get(d) !== undefined);
    for (const d of deps) {
      const x = get(d)!;
      if (x.metadata.deletionTimestamp) continue;
      const dr = refOf(d);
      await quietly(store.delete(dr.resource, dr.namespace, dr.name, { propagationPolicy: 'Foreground' }));
    }
    if (deps.length === 0) {
      await quietly(store.mutate(r.resource, r.namespace, r.name, (x) => {
        x.metadata.finalizers = (x.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND);
      }, { skipValidation: true }));
    }
  }

  /** A dependent whose owners may be gone. */
  async function settleDependent(k: string, o: KubeObject): Promise<void> {
    const refs = o.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const r = refOf(k);
    const present = refs.filter((ref) => uids.has(ref.uid));
    if (present.length === refs.length) return;
    if (present.length > 0) {
      const gone = refs.filter((ref) => !uids.has(ref.uid)).map((ref) => ref.uid);
      await quietly(store.mutate(r.resource, r.namespace, r.name, (x) => {
        for (const uid of gone) dropOwner(x, uid);
      }, { skipValidation: true }));
      return;
    }
    if (o.metadata.deletionTimestamp) return;
    // The owner went in the foreground (it is gone only once its dependents are): this one goes the same way.
    await quietly(store.delete(r.resource, r.namespace, r.name, { propagationPolicy: 'Background' }));
  }

  const stops: (() => void)[] = [];
  for (const rt of store.resources.all()) {
    const resource = store.resources.nameOf(rt);
    for (const o of store.list(resource).items) index(resource, o, false);
    stops.push(
      store.watch(resource, undefined, {}, (e) => {
        if (e.type === 'BOOKMARK' || e.type === 'ERROR') return;
        index(resource, e.object, e.type === 'DELETED');
        // A foreground owner waits on this one: look at the owner again.
        if (e.type === 'DELETED') for (const ref of e.object.metadata.ownerReferences ?? []) {
          const ok = uids.get(ref.uid);
          if (ok) dirty.add(ok);
        }
        if (dirty.size > 0) schedule();
      }),
    );
  }
  schedule();
  return () => {
    stopped = true;
    for (const s of stops) s();
  };
}
