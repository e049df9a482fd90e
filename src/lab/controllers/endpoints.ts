/**
 * The endpoints and endpointslice controllers: for every Service with a selector, the matching pods with an
 * IP, ready ones as addresses and the rest as notReadyAddresses (Endpoints) / ready=false (EndpointSlice).
 */
import { namedPort, selectorMatches as selects } from './network.js';
import { ensure, isPodReady, isTerminal, ownerRef, quietly, shortHash, type Obj, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';

function targetPortFor(sp: Obj, pods: KubeObject[]): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const p of pods) {
    const n = namedPort(p, tp);
    if (n !== undefined) return n;
  }
  return undefined;
}

/**
 * What a Service's endpoints were last computed from: its resourceVersion, its namespace's pods (a count of pod
 * events there) and the Endpoints and EndpointSlice as they were left. All the same: nothing to do (a pass no longer
 * re-reads, sorts and compares every Service's pods while nothing about them changed).
 */
interface Done {
  svcRv?: string;
  pods: number;
  epRv?: string;
  sliceRv?: string;
}
const state = new WeakMap<Runtime, { podEvents: Map<string, number>; done: Map<string, Done> }>();

function stateOf(rt: Runtime): { podEvents: Map<string, number>; done: Map<string, Done> } {
  let st = state.get(rt);
  if (!st) {
    const podEvents = new Map<string, number>();
    // Synchronous with each write: a count that is never a moment late.
    const stop = rt.store.watch('pods', undefined, {}, (e) => {
      const ns = e.object.metadata.namespace ?? '';
      podEvents.set(ns, (podEvents.get(ns) ?? 0) + 1);
    });
    rt.ctx.signal.addEventListener('abort', stop, { once: true });
    state.set(rt, (st = { podEvents, done: new Map() }));
  }
  return st;
}

export async function reconcileEndpoints(rt: Runtime): Promise<void> {
  const st = stateOf(rt);
  const seen = new Set<string>();
  for (const svc of rt.store.list('services').items) {
    const spec = svc.spec as Obj;
    if (!spec?.selector || Object.keys(spec.selector).length === 0 || spec.type === 'ExternalName') continue;
    const ns = svc.metadata.namespace!;
    const sliceName = `${svc.metadata.name}-${shortHash(svc.metadata.uid, 5)}`;
    const svcKey = `${ns}/${svc.metadata.name}`;
    seen.add(svcKey);
    const podEvents = st.podEvents.get(ns) ?? 0;
    const last = st.done.get(svcKey);
    const epRv = () => rt.store.get('endpoints', ns, svc.metadata.name!)?.metadata.resourceVersion;
    const sliceRv = () => rt.store.get('endpointslices.discovery.k8s.io', ns, sliceName)?.metadata.resourceVersion;
    if (last && last.svcRv === svc.metadata.resourceVersion && last.pods === podEvents && last.epRv !== undefined && last.epRv === epRv() && last.sliceRv !== undefined && last.sliceRv === sliceRv()) continue;
    // The namespace's pods only (a key range of the store's index), not every pod for every Service.
    const pods = rt.store
      .list('pods', ns)
      .items.filter((p) => selects(spec.selector, p.metadata.labels) && (p.status as Obj)?.podIP && !isTerminal(p) && !p.metadata.deletionTimestamp)
      .sort((a, b) => String((a.status as Obj).podIP).localeCompare(String((b.status as Obj).podIP)));
    const addr = (p: KubeObject) => ({
      ip: (p.status as Obj).podIP,
      nodeName: (p.spec as Obj).nodeName,
      targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
    });
    const ready = pods.filter(isPodReady).map(addr);
    const notReady = pods.filter((p) => !isPodReady(p)).map(addr);
    const ports = ((spec.ports ?? []) as Obj[])
      .map((sp) => ({ ...(sp.name ? { name: sp.name } : {}), port: targetPortFor(sp, pods), protocol: sp.protocol ?? 'TCP' }))
      .filter((p) => p.port !== undefined);
    const subsets = pods.length === 0 ? undefined : [{ ...(ready.length ? { addresses: ready } : {}), ...(notReady.length ? { notReadyAddresses: notReady } : {}), ports }];
    const existing = rt.store.get('endpoints', ns, svc.metadata.name!);
    const labels = { ...(svc.metadata.labels ?? {}), 'endpoints.kubernetes.io/managed-by': 'endpoint-controller' };
    if (!existing) {
      await ensure(rt.store, { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: svc.metadata.name, namespace: ns, labels }, ...(subsets ? { subsets } : {}) });
    } else if (JSON.stringify(existing.subsets) !== JSON.stringify(subsets)) {
      await quietly(rt.store.mutate('endpoints', ns, svc.metadata.name!, (e) => {
        if (subsets) e.subsets = subsets;
        else delete e.subsets;
      }, { skipValidation: true }));
    }
    // EndpointSlice (one per Service; the real controller splits at 100 endpoints).
    const endpoints = pods.map((p) => ({
      addresses: [(p.status as Obj).podIP],
      conditions: { ready: isPodReady(p), serving: isPodReady(p), terminating: false },
      nodeName: (p.spec as Obj).nodeName,
      targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
    }));
    const slice = rt.store.get('endpointslices.discovery.k8s.io', ns, sliceName);
    if (!slice) {
      await ensure(rt.store, {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: sliceName,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': svc.metadata.name!, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
          ownerReferences: [ownerRef(svc)],
        },
        addressType: 'IPv4',
        endpoints,
        ports,
      });
    } else if (JSON.stringify(slice.endpoints) !== JSON.stringify(endpoints) || JSON.stringify(slice.ports) !== JSON.stringify(ports)) {
      await quietly(rt.store.mutate('endpointslices.discovery.k8s.io', ns, sliceName, (s) => {
        s.endpoints = endpoints;
        s.ports = ports;
      }, { skipValidation: true }));
    }
    st.done.set(svcKey, { svcRv: svc.metadata.resourceVersion, pods: podEvents, epRv: epRv(), sliceRv: sliceRv() });
  }
  for (const k of st.done.keys()) if (!seen.has(k)) st.done.delete(k);
}
