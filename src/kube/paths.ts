/**
 * REST paths for Kubernetes objects. Pure. Kinds we know are mapped statically (no discovery round trip);
 * others are resolved by the client through discovery.
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The well-known node label each kubelet sets to its node's name: what node affinity and topology spread key on. */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
  [k: string]: unknown;
}

/** Any Kubernetes object as JSON. Kind-specific fields (spec, status, data, ...) are untyped here. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

/** What a kind is served as: its plural resource name and whether it lives in a namespace. */
export interface KindInfo {
  resource: string;
  namespaced: boolean;
}

const KNOWN: Record<string, KindInfo> = {
  'v1/Namespace': { resource: 'namespaces', namespaced: false },
  'v1/Node': { resource: 'nodes', namespaced: false },
  'v1/Pod': { resource: 'pods', namespaced: true },
  'v1/Service': { resource: 'services', namespaced: true },
  'v1/Endpoints': { resource: 'endpoints', namespaced: true },
  'v1/ConfigMap': { resource: 'configmaps', namespaced: true },
  'v1/Secret': { resource: 'secrets', namespaced: true },
  'v1/ServiceAccount': { resource: 'serviceaccounts', namespaced: true },
  'v1/PersistentVolume': { resource: 'persistentvolumes', namespaced: false },
  'v1/PersistentVolumeClaim': { resource: 'persistentvolumeclaims', namespaced: true },
  'v1/Event': { resource: 'events', namespaced: true },
  'discovery.k8s.io/v1/EndpointSlice': { resource: 'endpointslices', namespaced: true },
  'storage.k8s.io/v1/StorageClass': { resource: 'storageclasses', namespaced: false },
  'storage.k8s.io/v1/VolumeAttachment': { resource: 'volumeattachments', namespaced: false },
  'networking.k8s.io/v1/NetworkPolicy': { resource: 'networkpolicies', namespaced: true },
  'apps/v1/DaemonSet': { resource: 'daemonsets', namespaced: true },
  'apps/v1/Deployment': { resource: 'deployments', namespaced: true },
  'apps/v1/ReplicaSet': { resource: 'replicasets', namespaced: true },
  'apps/v1/StatefulSet': { resource: 'statefulsets', namespaced: true },
  'batch/v1/Job': { resource: 'jobs', namespaced: true },
  'batch/v1/CronJob': { resource: 'cronjobs', namespaced: true },
  'events.k8s.io/v1/Event': { resource: 'events', namespaced: true },
  'coordination.k8s.io/v1/Lease': { resource: 'leases', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { resource: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { resource: 'clusterrolebindings', namespaced: false },
  'rbac.authorization.k8s.io/v1/Role': { resource: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { resource: 'rolebindings', namespaced: true },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': { resource: 'customresourcedefinitions', namespaced: false },
};

export function knownKind(apiVersion: string, kind: string): KindInfo | undefined {
  return KNOWN[`${apiVersion}/${kind}`];
}

/** `/api/v1` or `/apis/<group>/<version>`. */
function apiPrefix(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection (name undefined) or object path. A namespaced kind without a namespace lists all namespaces. */
export function objectPath(apiVersion: string, info: KindInfo, namespace?: string, name?: string): string {
  const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const n = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${apiPrefix(apiVersion)}${ns}/${info.resource}${n}`;
}

/** Query string from defined values only. */
export function queryString(q: Record<string, string | number | boolean | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}
