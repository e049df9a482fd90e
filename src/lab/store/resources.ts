/**
 * The resource types the lab serves: names, kinds, scopes, short names and verbs as kube-apiserver 1.32
 * advertises them in discovery (kubectl's RESTMapper, short names and `get all` depend on these).
 */
import type { KubeObject, ResourceRegistry, ResourceType, Verb } from './types.js';

const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function t(group: string, version: string, resource: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType {
  return {
    group,
    version,
    resource,
    kind,
    singular: kind.toLowerCase(),
    namespaced,
    subresources: [],
    verbs: ALL_VERBS,
    ...extra,
  };
}

const RESOURCE_TYPES: readonly ResourceType[] = [
  t('', 'v1', 'namespaces', 'Namespace', false, { shortNames: ['ns'], subresources: ['status', 'finalize'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }),
  t('', 'v1', 'nodes', 'Node', false, { shortNames: ['no'], subresources: ['status'] }),
  t('', 'v1', 'pods', 'Pod', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'log', 'binding', 'eviction'] }),
  t('', 'v1', 'services', 'Service', true, { shortNames: ['svc'], categories: ['all'], subresources: ['status'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] }),
  t('', 'v1', 'endpoints', 'Endpoints', true, { shortNames: ['ep'], singular: 'endpoints' }),
  t('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  t('', 'v1', 'secrets', 'Secret', true),
  t('', 'v1', 'serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  t('', 'v1', 'persistentvolumes', 'PersistentVolume', false, { shortNames: ['pv'], subresources: ['status'] }),
  t('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, { shortNames: ['pvc'], subresources: ['status'] }),
  t('', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
  t('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  t('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false, { shortNames: ['sc'] }),
  t('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, { shortNames: ['netpol'] }),
  t('apps', 'v1', 'daemonsets', 'DaemonSet', true, { shortNames: ['ds'], categories: ['all'], subresources: ['status'] }),
  t('apps', 'v1', 'deployments', 'Deployment', true, { shortNames: ['deploy'], categories: ['all'], subresources: ['status', 'scale'] }),
  t('apps', 'v1', 'replicasets', 'ReplicaSet', true, { shortNames: ['rs'], categories: ['all'], subresources: ['status', 'scale'] }),
  t('batch', 'v1', 'jobs', 'Job', true, { categories: ['all'], subresources: ['status'] }),
  t('batch', 'v1', 'cronjobs', 'CronJob', true, { shortNames: ['cj'], categories: ['all'], subresources: ['status'] }),
  t('events.k8s.io', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
  t('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
];

/**
 * What both halves of the lab react to (the controllers and the node side): pods and what they run with — nodes,
 * namespaces, services, configuration, storage, network policy, and the workloads that own pods on every node.
 * Each half adds its own: the controllers the workloads they expand, the node side endpoints and leases.
 */
export const POD_WORLD_RESOURCES = [
  'pods',
  'nodes',
  'services',
  'namespaces',
  'configmaps',
  'secrets',
  'persistentvolumeclaims',
  'persistentvolumes',
  'storageclasses.storage.k8s.io',
  'networkpolicies.networking.k8s.io',
  'deployments.apps',
  'daemonsets.apps',
] as const;

function nameOfType(rt: Pick<ResourceType, 'group' | 'resource'>): string {
  return rt.group === '' ? rt.resource : `${rt.resource}.${rt.group}`;
}

export function groupOf(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export function apiVersionOf(rt: Pick<ResourceType, 'group' | 'version'>): string {
  return rt.group === '' ? rt.version : `${rt.group}/${rt.version}`;
}

export function createRegistry(types: readonly ResourceType[] = RESOURCE_TYPES): ResourceRegistry {
  const byName = new Map(types.map((rt) => [nameOfType(rt), rt]));
  const byKind = new Map(types.map((rt) => [`${rt.kind}|${apiVersionOf(rt)}`, rt]));
  return {
    all: () => [...types],
    byName: (r) => byName.get(r),
    byKind: (kind, apiVersion) => byKind.get(`${kind}|${apiVersion}`),
    nameOf: nameOfType,
    nameForObject(obj: Pick<KubeObject, 'kind' | 'apiVersion'>) {
      const rt = byKind.get(`${obj.kind}|${obj.apiVersion}`);
      if (!rt) throw new Error(`the lab does not serve ${obj.kind} ${obj.apiVersion}`);
      return nameOfType(rt);
    },
  };
}
