/**
 * Storage: a default StorageClass "standard" (WaitForFirstConsumer, like kind's local-path) and a
 * "standard-immediate" one, the DefaultStorageClass admission (fills storageClassName at create), and a
 * provisioner that makes a PersistentVolume per claim and binds them. Volume data lives in Runtime.volumes
 * under the PV's name, so it follows the volume from pod to pod and dies with the PV.
 */
import { ensure, iso, quietly, type Obj, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';
import { HOSTNAME_LABEL } from '../../kube/paths.js';

const PROVISIONER = 'lab.groundwork.dev/local-path';
const DEFAULT_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';

export async function ensureStorageClasses(rt: Runtime): Promise<void> {
  await ensure(rt.store, {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard', annotations: { [DEFAULT_ANNOTATION]: rt.faults.has('no-default-storageclass') ? 'false' : 'true' } },
    provisioner: PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    allowVolumeExpansion: true,
  });
  await ensure(rt.store, {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard-immediate' },
    provisioner: PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  });
}

/** Runs when faults change: the default annotation follows no-default-storageclass. */
export async function applyStorageFaults(rt: Runtime): Promise<void> {
  const want = rt.faults.has('no-default-storageclass') ? 'false' : 'true';
  await quietly(rt.store.mutate('storageclasses.storage.k8s.io', undefined, 'standard', (sc) => {
    const a = (sc.metadata.annotations ??= {});
    if (a[DEFAULT_ANNOTATION] === want) return undefined;
    a[DEFAULT_ANNOTATION] = want;
  }, { skipValidation: true }));
}

function defaultStorageClass(rt: Runtime): string | undefined {
  const classes = rt.store.list('storageclasses.storage.k8s.io').items.filter((sc) => sc.metadata.annotations?.[DEFAULT_ANNOTATION] === 'true');
  // Several defaults: the newest wins (kube-apiserver >= 1.28).
  classes.sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
  return classes[0]?.metadata.name;
}

export function createClaimAdmission(rt: Runtime) {
  return (obj: KubeObject, _old: KubeObject | undefined, op: 'create' | 'update'): KubeObject => {
    if (op !== 'create') return obj;
    const spec = ((obj.spec ??= {}) as Obj);
    if (spec.storageClassName === undefined || spec.storageClassName === null) {
      const def = defaultStorageClass(rt);
      if (def) spec.storageClassName = def;
    }
    return obj;
  };
}

export async function reconcileClaims(rt: Runtime): Promise<void> {
  if (rt.ctx.api === 'real') return provisionClaims(rt);
  const stuck = rt.faults.has('provisioner-stuck');
  for (const pvc of rt.store.list('persistentvolumeclaims').items) {
    if (pvc.metadata.deletionTimestamp) continue;
    const spec = pvc.spec as Obj;
    const ns = pvc.metadata.namespace!;
    if (spec.volumeName) {
      const pv = rt.store.get('persistentvolumes', undefined, spec.volumeName);
      if (pv && (pvc.status as Obj)?.phase !== 'Bound') await markClaimBound(rt, pvc, pv);
      continue;
    }
    const scName = spec.storageClassName as string | undefined;
    if (!scName) {
      await rt.event(pvc, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set', 'persistentvolume-controller');
      continue;
    }
    const sc = rt.store.get('storageclasses.storage.k8s.io', undefined, scName) as Obj | undefined;
    if (!sc) {
      await rt.event(pvc, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${scName}" not found`, 'persistentvolume-controller');
      continue;
    }
    if (sc.provisioner !== PROVISIONER) continue;
    const selectedNode = pvc.metadata.annotations?.['volume.kubernetes.io/selected-node'];
    if (sc.volumeBindingMode === 'WaitForFirstConsumer' && !selectedNode) {
      await rt.event(pvc, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding', 'persistentvolume-controller');
      continue;
    }
    await quietly(rt.store.mutate('persistentvolumeclaims', ns, pvc.metadata.name!, (c) => {
      const a = (c.metadata.annotations ??= {});
      if (a['volume.kubernetes.io/storage-provisioner'] === PROVISIONER) return undefined;
      a['volume.kubernetes.io/storage-provisioner'] = PROVISIONER;
      a['volume.beta.kubernetes.io/storage-provisioner'] = PROVISIONER;
    }, { skipValidation: true }));
    if (stuck) {
      await rt.event(pvc, 'Normal', 'ExternalProvisioning',
        `Waiting for a volume to be created either by the external provisioner '${PROVISIONER}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
        'persistentvolume-controller');
      continue;
    }
    await rt.event(pvc, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${ns}/${pvc.metadata.name}"`, `${PROVISIONER}_lab`);
    const pvName = `pvc-${pvc.metadata.uid}`;
    await ensure(rt.store, buildVolume(pvc, sc, selectedNode));
    const pv = rt.store.get('persistentvolumes', undefined, pvName);
    if (!pv) continue;
    await quietly(rt.store.mutate('persistentvolumeclaims', ns, pvc.metadata.name!, (c) => {
      (c.spec as Obj).volumeName = pvName;
      const a = (c.metadata.annotations ??= {});
      a['pv.kubernetes.io/bind-completed'] = 'yes';
      a['pv.kubernetes.io/bound-by-controller'] = 'yes';
    }, { skipValidation: true }));
    const bound = rt.store.get('persistentvolumeclaims', ns, pvc.metadata.name!);
    if (bound) await markClaimBound(rt, bound, pv);
    await rt.event(pvc, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`, `${PROVISIONER}_lab`);
  }
}

/** A PersistentVolume for a claim, bound to it by claimRef (the binding itself is the PV controller's). */
function buildVolume(pvc: KubeObject, sc: Obj, selectedNode: string | undefined): KubeObject {
  const spec = pvc.spec as Obj;
  const ns = pvc.metadata.namespace!;
  const pvName = `pvc-${pvc.metadata.uid}`;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: pvName, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER, ...(selectedNode ? { 'local.path.provisioner/selected-node': selectedNode } : {}) }, finalizers: ['kubernetes.io/pv-protection'] },
    spec: {
      capacity: { storage: spec.resources?.requests?.storage ?? '1Gi' },
      accessModes: spec.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
      storageClassName: sc.metadata.name,
      volumeMode: spec.volumeMode ?? 'Filesystem',
      hostPath: { path: `/var/lib/groundwork-lab/${pvName}_${ns}_${pvc.metadata.name}`, type: 'DirectoryOrCreate' },
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: pvc.metadata.name, uid: pvc.metadata.uid, resourceVersion: pvc.metadata.resourceVersion },
      ...(selectedNode
        ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [selectedNode] }] }] } } }
        : {}),
    },
  };
}

/**
 * On the real API the lab is only the external provisioner (a CSI driver's): kube-controller-manager's PV
 * controller names it on the claim (volume.kubernetes.io/storage-provisioner), the scheduler picks the node of a
 * WaitForFirstConsumer claim, the lab makes the volume, the PV controller binds the two and says all of it in events.
 */
async function provisionClaims(rt: Runtime): Promise<void> {
  if (rt.faults.has('provisioner-stuck')) return;
  for (const pvc of rt.store.list('persistentvolumeclaims').items) {
    const spec = pvc.spec as Obj;
    const a = pvc.metadata.annotations ?? {};
    if (pvc.metadata.deletionTimestamp || spec.volumeName || a['volume.kubernetes.io/storage-provisioner'] !== PROVISIONER) continue;
    const sc = rt.store.get('storageclasses.storage.k8s.io', undefined, spec.storageClassName) as Obj | undefined;
    if (!sc || sc.provisioner !== PROVISIONER) continue;
    const selectedNode = a['volume.kubernetes.io/selected-node'];
    if (sc.volumeBindingMode === 'WaitForFirstConsumer' && !selectedNode) continue;
    const pv = buildVolume(pvc, sc, selectedNode);
    if (rt.store.get('persistentvolumes', undefined, pv.metadata.name!)) continue;
    const ns = pvc.metadata.namespace!;
    await rt.event(pvc, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${ns}/${pvc.metadata.name}"`, `${PROVISIONER}_lab`);
    await ensure(rt.store, pv);
    await rt.event(pvc, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pv.metadata.name}`, `${PROVISIONER}_lab`);
  }
}

async function markClaimBound(rt: Runtime, pvc: KubeObject, pv: KubeObject): Promise<void> {
  const pvSpec = pv.spec as Obj;
  await quietly(rt.store.mutate('persistentvolumes', undefined, pv.metadata.name!, (v) => {
    const st = ((v.status ??= {}) as Obj);
    if (st.phase === 'Bound') return undefined;
    st.phase = 'Bound';
    st.lastPhaseTransitionTime = iso(rt.now());
  }, { subresource: 'status', skipValidation: true }));
  await quietly(rt.store.mutate('persistentvolumeclaims', pvc.metadata.namespace, pvc.metadata.name!, (c) => {
    const st = ((c.status ??= {}) as Obj);
    if (st.phase === 'Bound') return undefined;
    st.phase = 'Bound';
    st.accessModes = pvSpec.accessModes;
    st.capacity = pvSpec.capacity;
  }, { subresource: 'status', skipValidation: true }));
}

/** PVs whose claim is gone: Delete -> removed with their data; Retain -> Released. */
export async function reclaimVolumes(rt: Runtime): Promise<void> {
  if (rt.ctx.api === 'real') {
    // The PV controller marks a volume whose claim is gone Released; deleting it (Delete policy) is the provisioner's.
    for (const pv of rt.store.list('persistentvolumes').items) {
      const released = (pv.status as Obj)?.phase === 'Released' && (pv.spec as Obj)?.persistentVolumeReclaimPolicy === 'Delete';
      if (!released || pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER || pv.metadata.deletionTimestamp) continue;
      await quietly(rt.store.delete('persistentvolumes', undefined, pv.metadata.name!));
      rt.volumes.delete(`pv:${pv.metadata.name}`);
    }
    return;
  }
  for (const pv of rt.store.list('persistentvolumes').items) {
    const ref = (pv.spec as Obj)?.claimRef;
    if (!ref || (pv.status as Obj)?.phase === 'Released') continue;
    const pvc = rt.store.get('persistentvolumeclaims', ref.namespace, ref.name);
    if (pvc && pvc.metadata.uid === ref.uid) continue;
    if ((pv.status as Obj)?.phase !== 'Bound') continue;
    if ((pv.spec as Obj).persistentVolumeReclaimPolicy === 'Delete') {
      await quietly(rt.store.mutate('persistentvolumes', undefined, pv.metadata.name!, (v) => {
        v.metadata.finalizers = (v.metadata.finalizers ?? []).filter((f) => f !== 'kubernetes.io/pv-protection');
      }, { skipValidation: true }));
      await quietly(rt.store.delete('persistentvolumes', undefined, pv.metadata.name!));
      rt.volumes.delete(`pv:${pv.metadata.name}`);
    } else {
      await quietly(rt.store.mutate('persistentvolumes', undefined, pv.metadata.name!, (v) => {
        (v.status as Obj).phase = 'Released';
      }, { subresource: 'status', skipValidation: true }));
    }
  }
}
