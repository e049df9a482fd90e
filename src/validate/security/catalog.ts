/**
 * The security checks of `groundwork validate --only security` (issue 19), as data: an ID a waiver can name, a
 * severity, the CIS Kubernetes Benchmark (v1.9) recommendations each one covers, why it matters and the fix.
 * Pure; the suite (src/validate/suites/security.ts) measures, judge.ts decides.
 */
import type { SecurityCheckId } from '../../spec/fields.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';

interface SecurityCheckInfo {
  id: SecurityCheckId;
  /** Short kebab-case name, shown beside the ID. */
  name: string;
  title: string;
  severity: Severity;
  /** CIS Kubernetes Benchmark v1.9 recommendation numbers ([] when none covers it). */
  cis: string[];
  why: string;
  fix: string;
}

export const CIS_BENCHMARK = 'CIS Kubernetes Benchmark v1.9';

export const SECURITY_CHECKS: Record<SecurityCheckId, SecurityCheckInfo> = {
  'GW-SEC-001': {
    id: 'GW-SEC-001',
    name: 'anonymous-access',
    title: 'Anonymous requests reach no API resources',
    severity: 'high',
    cis: ['1.2.1'],
    why: 'anyone who can reach the API port can read or change what anonymous requests are allowed to, without any credential',
    fix: 'remove the bindings that grant system:anonymous or system:unauthenticated access (kubectl get clusterrolebindings,rolebindings -A -o wide | grep -E "system:(anonymous|unauthenticated)"), or start kube-apiserver with --anonymous-auth=false',
  },
  'GW-SEC-002': {
    id: 'GW-SEC-002',
    name: 'cluster-admin-holders',
    title: 'cluster-admin is held only by system:masters',
    severity: 'high',
    cis: ['5.1.1'],
    why: 'cluster-admin can read every Secret and run anything on every node; each extra holder is a path to the whole cluster',
    fix: 'delete the ClusterRoleBindings named here (kubectl delete clusterrolebinding NAME) and bind narrower roles; waive with a reason if a holder must stay',
  },
  'GW-SEC-003': {
    id: 'GW-SEC-003',
    name: 'broad-group-rights',
    title: 'system:authenticated and system:unauthenticated may do nothing sensitive',
    severity: 'critical',
    cis: ['5.1.2', '5.1.3', '5.1.4', '5.1.8'],
    why: 'every account (or every anonymous caller) gets these rights: one leaked token of any workload is enough to use them',
    fix: 'find the binding with `kubectl get clusterrolebindings,rolebindings -A -o json | jq \'.items[] | select(.subjects[]?.name | test("system:(authenticated|unauthenticated)"))\'` and remove it',
  },
  'GW-SEC-004': {
    id: 'GW-SEC-004',
    name: 'pod-security-enforced',
    title: 'Pod Security admission enforces at least baseline in every namespace',
    severity: 'high',
    cis: ['5.2.1'],
    why: 'without enforcement any workload (or anyone who may create pods) can start privileged pods that own the node',
    fix: 'configure the PodSecurity admission default (groundwork does at bootstrap: spec.security.podSecurity) or label the namespace: kubectl label namespace NAME pod-security.kubernetes.io/enforce=baseline (the detail lists the pods that label would reject)',
  },
  'GW-SEC-005': {
    id: 'GW-SEC-005',
    name: 'host-access-pods',
    title: 'Privileged, hostNetwork, hostPID, hostIPC and hostPath pods only where the spec allows them',
    severity: 'high',
    cis: ['5.2.2', '5.2.3', '5.2.4', '5.2.5', '5.2.12'],
    why: 'such a pod can read the node\'s files and processes and the traffic of other pods: a compromise of it is a compromise of the node',
    fix: 'run these workloads without host access, or declare their namespace privileged in spec.security.podSecurity.namespaces (node agents only)',
  },
  'GW-SEC-006': {
    id: 'GW-SEC-006',
    name: 'default-serviceaccount',
    title: 'No default ServiceAccount both automounts its token and is bound to a role',
    severity: 'medium',
    cis: ['5.1.5', '5.1.6'],
    why: 'every pod that names no ServiceAccount runs as `default`: its rights go to all of them, and an automounted token hands them to any process in the pod',
    fix: 'bind roles to a ServiceAccount of the workload\'s own, and set automountServiceAccountToken: false on the default one: kubectl patch serviceaccount default -n NS -p \'{"automountServiceAccountToken":false}\'',
  },
  'GW-SEC-007': {
    id: 'GW-SEC-007',
    name: 'default-deny-netpol',
    title: 'Namespaces with pods have a default-deny ingress NetworkPolicy',
    severity: 'low',
    cis: ['5.3.2'],
    why: 'without one, every pod in the cluster may connect to every pod in the namespace; policies then only ever add allowances',
    fix: 'apply a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] (no rules) in the namespace, then allow what it needs',
  },
  'GW-SEC-008': {
    id: 'GW-SEC-008',
    name: 'audit-logging',
    title: 'The API server writes an audit log with rotation',
    severity: 'high',
    cis: ['1.2.16', '1.2.17', '1.2.18', '1.2.19', '3.2.1'],
    why: 'without an audit log nobody can say who read a Secret, exec\'d into a pod or changed RBAC: there is no trail for an incident or an auditor',
    fix: 'start kube-apiserver with --audit-policy-file, --audit-log-path and --audit-log-maxage/maxbackup/maxsize (groundwork does at bootstrap: spec.security.audit)',
  },
  'GW-SEC-009': {
    id: 'GW-SEC-009',
    name: 'secret-encryption',
    title: 'Secrets are encrypted at rest in etcd',
    severity: 'high',
    cis: ['1.2.27', '1.2.28'],
    why: 'without encryption every Secret is plain text in etcd, its snapshots and backups: whoever gets a backup file gets every credential',
    fix: 'start kube-apiserver with --encryption-provider-config naming an aescbc, secretbox or kms provider first, then rewrite the Secrets: kubectl get secrets -A -o json | kubectl replace -f -',
  },
};

/** `GW-SEC-004 pod-security-enforced`: how a check is named in reports. */
export function checkLabel(id: SecurityCheckId): string {
  return `${id} ${SECURITY_CHECKS[id].name}`;
}
