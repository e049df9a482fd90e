/**
 * The namespace controller of kube-controller-manager, for the embedded API: a Namespace the store has marked
 * Terminating (deletionTimestamp, status.phase Terminating) is emptied — every namespaced object in it deleted —
 * and, once nothing is left (objects held by finalizers keep it Terminating, as in a cluster), finalized: its
 * `kubernetes` finalizer goes, and with it the namespace.
 */
import { ApiError, type KubeObject, type LabStore } from '../store/types.js';
import { ITEMS_PER_YIELD, yieldToEventLoop } from '../store/limits.js';

const RETRY_MS = 200;

/** Starts the namespace controller on a store; returns its stop function. */
export function startNamespaceController(store: LabStore): () => void {
  const terminating = new Set<string>();
  let stopped = false;
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const namespaced = () => store.resources.all().filter((rt) => rt.namespaced).map((rt) => store.resources.nameOf(rt));

  async function finish(ns: string): Promise<boolean> {
    let n = 0;
    let left = false;
    for (const resource of namespaced()) {
      for (const o of store.list(resource, ns).items) {
        left = true;
        if (o.metadata.deletionTimestamp) continue;
        if (++n % ITEMS_PER_YIELD === 0) await yieldToEventLoop();
        if (stopped) return false;
        await store.delete(resource, ns, o.metadata.name!, { propagationPolicy: 'Background' }).catch((e: unknown) => {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        });
      }
    }
    if (left && namespaced().some((r) => store.list(r, ns).items.length > 0)) return false;
    await store.mutate('namespaces', undefined, ns, (o: KubeObject) => {
      const spec = (o.spec ??= {}) as { finalizers?: string[] };
      spec.finalizers = (spec.finalizers ?? []).filter((f) => f !== 'kubernetes');
    }, { skipValidation: true }).catch((e: unknown) => {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    });
    return true;
  }

  async function pass(): Promise<void> {
    if (running) return void (again = true);
    running = true;
    try {
      for (const ns of [...terminating]) {
        if (stopped) return;
        if (!store.get('namespaces', undefined, ns)) {
          terminating.delete(ns);
          continue;
        }
        if (await finish(ns).catch(() => false)) terminating.delete(ns);
      }
    } finally {
      running = false;
    }
    // Objects held by finalizers: look again in a while.
    if (terminating.size > 0 && !stopped) {
      clearTimeout(timer);
      timer = setTimeout(() => void pass(), again ? 0 : RETRY_MS);
    }
    again = false;
  }

  for (const o of store.list('namespaces').items) if (o.metadata.deletionTimestamp) terminating.add(o.metadata.name!);
  const stop = store.watch('namespaces', undefined, {}, (e) => {
    if (e.type !== 'DELETED' && e.object.metadata.deletionTimestamp && !terminating.has(e.object.metadata.name!)) {
      terminating.add(e.object.metadata.name!);
      setImmediate(() => void pass());
    }
  });
  if (terminating.size > 0) setImmediate(() => void pass());
  return () => {
    stopped = true;
    clearTimeout(timer);
    stop();
  };
}
