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

export async function reconcileEndpoints(rt: Runtime): Promise<void> {
  for (const svc of rt.store.list('services').items) {
    const spec = svc.spec as Obj;
    if (!spec?.selector || Object.keys(spec.selector).length === 0 || spec.type === 'ExternalName') continue;
    const ns = svc.metadata.namespace!;
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
    const sliceName = `${svc.metadata.name}-${shortHash(svc.metadata.uid, 5)}`;
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
  }
}
