/**
 * Discovery documents as kube-apiserver serves them: /version, /api, /api/v1, /apis, /apis/<g>/<v>.
 * Legacy (unaggregated) discovery only: clients asking for the aggregated v2 form get application/json and
 * fall back to the legacy walk, as client-go does against older servers.
 */
import type { ResourceType } from '../store/types.js';
import { LAB_KUBERNETES_VERSION } from '../version.js';

/** The lab's one version (src/lab/version.ts): the embedded API says it is the release the real control plane is. */
export const KUBE_VERSION = { major: LAB_KUBERNETES_VERSION.split('.')[0]!.replace(/^v/, ''), minor: LAB_KUBERNETES_VERSION.split('.')[1]!, gitVersion: LAB_KUBERNETES_VERSION };

export function versionInfo(now: Date = new Date()): Record<string, string> {
  return {
    major: KUBE_VERSION.major,
    minor: KUBE_VERSION.minor,
    gitVersion: KUBE_VERSION.gitVersion,
    gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
    gitTreeState: 'clean',
    buildDate: '2025-04-22T16:02:27Z',
    goVersion: 'go1.23.6',
    compiler: 'gc',
    platform: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`,
    ...(now ? {} : {}),
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function subresourceVerbs(sub: string): string[] {
  if (sub === 'log') return ['get'];
  if (sub === 'binding' || sub === 'eviction') return ['create'];
  return ['get', 'patch', 'update'];
}

export function apiResourceList(types: ResourceType[], group: string, version: string): Record<string, unknown> {
  const resources: Record<string, unknown>[] = [];
  for (const rt of types.filter((t) => t.group === group && t.version === version)) {
    resources.push({
      name: rt.resource,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: rt.verbs,
      ...(rt.shortNames ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories ? { categories: rt.categories } : {}),
    });
    for (const sub of rt.subresources) {
      resources.push({
        name: `${rt.resource}/${sub}`,
        singularName: '',
        namespaced: rt.namespaced,
        kind: sub === 'scale' ? 'Scale' : sub === 'binding' ? 'Binding' : sub === 'eviction' ? 'Eviction' : rt.kind,
        ...(sub === 'scale' ? { group: 'autoscaling', version: 'v1' } : {}),
        ...(sub === 'eviction' ? { group: 'policy', version: 'v1' } : {}),
        verbs: subresourceVerbs(sub),
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? version : `${group}/${version}`, resources };
}

export function apiGroupList(types: ResourceType[]): Record<string, unknown> {
  const groups = new Map<string, string[]>();
  for (const rt of types) {
    if (rt.group === '') continue;
    const vs = groups.get(rt.group) ?? [];
    if (!vs.includes(rt.version)) vs.push(rt.version);
    groups.set(rt.group, vs);
  }
  groups.set(AUTHZ_GROUP, ['v1']);
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => apiGroup(name, versions)),
  };
}

/** authorization.k8s.io: only self reviews, answered (not stored) — the lab's one credential is cluster-admin,
 *  so `kubectl auth can-i` says yes, as it would for a kubeadm admin.conf. */
export const AUTHZ_GROUP = 'authorization.k8s.io';

export function authzResourceList(): Record<string, unknown> {
  const r = (name: string, kind: string) => ({ name, singularName: kind.toLowerCase(), namespaced: false, kind, verbs: ['create'] });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${AUTHZ_GROUP}/v1`,
    resources: [r('selfsubjectaccessreviews', 'SelfSubjectAccessReview'), r('selfsubjectrulesreviews', 'SelfSubjectRulesReview')],
  };
}

export function answerSelfReview(kind: string, body: Record<string, unknown> | undefined): Record<string, unknown> {
  const base = { ...(body ?? {}), apiVersion: `${AUTHZ_GROUP}/v1`, kind, metadata: { creationTimestamp: null } };
  if (kind === 'SelfSubjectAccessReview') return { ...base, status: { allowed: true, reason: 'the lab credential is cluster-admin' } };
  return {
    ...base,
    status: {
      resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
      nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
      incomplete: false,
    },
  };
}

export function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: vs, preferredVersion: vs[0] };
}
