/**
 * The ServiceAccount controller of kube-controller-manager, for the embedded API: every namespace that is not
 * Terminating gets a `default` ServiceAccount, re-created if deleted (as in a cluster, where a client waiting for
 * it after creating a namespace sees it appear within moments).
 */
import { ApiError, type LabStore } from '../store/types.js';

/** Starts the controller on a store; returns its stop function. */
export function startServiceAccountController(store: LabStore): () => void {
  let stopped = false;
  const ensure = (ns: string): void => {
    if (stopped) return;
    const o = store.get('namespaces', undefined, ns);
    if (!o || o.metadata.deletionTimestamp || store.get('serviceaccounts', ns, 'default')) return;
    void store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }).catch((e: unknown) => {
      // 409: already there; 403/404: the namespace went Terminating or away meanwhile.
      if (!(e instanceof ApiError)) throw e;
    });
  };
  const stopNs = store.watch('namespaces', undefined, {}, (e) => {
    if (e.type !== 'DELETED') setImmediate(() => ensure(e.object.metadata.name!));
  });
  const stopSa = store.watch('serviceaccounts', undefined, {}, (e) => {
    if (e.type === 'DELETED' && e.object.metadata.name === 'default') setImmediate(() => ensure(e.object.metadata.namespace!));
  });
  for (const o of store.list('namespaces').items) ensure(o.metadata.name!);
  return () => {
    stopped = true;
    stopNs();
    stopSa();
  };
}
