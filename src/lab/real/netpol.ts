/**
 * NetworkPolicy enforcement for a lab of real nodes (src/lab/real/nodes.ts): kube-router's policy controller alone
 * (tools/real/netpol/main.go, built by tools/real/build-addons.sh as `kube-router-netpol`), one process per node in
 * that node's network and mount namespaces beside kube-proxy (tools/real/real-node.sh starts it). It programs the
 * node's filter table and ipsets for the pods on that node: what the bridge CNI alone never does.
 *
 * Its identity is a client certificate of its own (user `kube-router`, like kube-proxy's `system:kube-proxy`),
 * bound to the least of kube-router's ClusterRole the policy controller uses: it watches pods, namespaces and
 * NetworkPolicies, and reads its Node once (the InternalIP it compares with each pod's hostIP). None of the
 * routing or service-proxy rights upstream's role has (services, endpoints, node patches, leases).
 */
import type { KubeObject } from '../../kube/index.js';

/** `lab up --network-policy`: who enforces NetworkPolicy on the real nodes. */
export type RealNetworkPolicy = 'kube-router' | 'none';
export const REAL_NETWORK_POLICIES: readonly RealNetworkPolicy[] = ['kube-router', 'none'];
export const DEFAULT_REAL_NETWORK_POLICY: RealNetworkPolicy = 'kube-router';

/** The controller's user name (its client certificate's CN). */
export const NETPOL_USER = 'kube-router';
/** The program build-addons.sh puts in addons-current. */
export const NETPOL_PROGRAM = 'kube-router-netpol';

export function netpolRbacObjects(user = NETPOL_USER): KubeObject[] {
  const name = 'groundwork:kube-router-netpol';
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'groundwork' } },
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'groundwork' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  ];
}
