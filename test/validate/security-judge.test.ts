/**
 * The security suite's pure judgements (src/validate/security/judge.ts) and the spec's security fields: tables of
 * real-world objects in, findings out; waivers applied, lapsed and unused; every check in the catalogue.
 */
import { describe, expect, it } from 'vitest';
import {
  apiServerFlags,
  applyWaivers,
  describeWaivers,
  hostAccessOf,
  isDefaultDenyIngress,
  judgeAuditFlags,
  judgeClusterAdmins,
  judgeDefaultDeny,
  validateOwnNamespaces,
  judgeDefaultServiceAccounts,
  judgeEncryption,
  judgeHostAccessPods,
  storageTransformers,
  waiverActive,
  type Finding,
} from '../../src/validate/security/judge.js';
import { SECURITY_CHECKS } from '../../src/validate/security/catalog.js';
import { SECURITY_CHECK_IDS, parseIsoDay } from '../../src/spec/fields.js';
import { securityOptionsFromSpec } from '../../src/validate/security/expectations.js';
import { parseSpec } from '../../src/spec/load.js';
import { SpecError } from '../../src/errors.js';
import type { KubeObject } from '../../src/kube/paths.js';

const crb = (name: string, role: string, subjects: object[], labels?: Record<string, string>): KubeObject => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name, ...(labels ? { labels } : {}) }, roleRef: { kind: 'ClusterRole', name: role }, subjects });
const rb = (ns: string, name: string, role: string, subjects: object[]): KubeObject => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: ns }, roleRef: { kind: 'ClusterRole', name: role }, subjects });
const pod = (ns: string, name: string, spec: object): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { containers: [{ name: 'c' }], ...spec } });

describe('the catalogue', () => {
  it('describes every check ID the spec accepts, each with a severity, why and fix', () => {
    expect(Object.keys(SECURITY_CHECKS).sort()).toEqual([...SECURITY_CHECK_IDS]);
    for (const c of Object.values(SECURITY_CHECKS)) {
      expect(c.why.length).toBeGreaterThan(20);
      expect(c.fix.length).toBeGreaterThan(20);
      expect(['critical', 'high', 'medium', 'low']).toContain(c.severity);
      for (const id of c.cis) expect(id).toMatch(/^\d\.\d\.\d+$/);
    }
  });
});

describe('waivers', () => {
  const fail: Finding = { id: 'GW-SEC-002', status: 'fail', measured: '1 holder of cluster-admin' };
  const now = new Date('2027-03-31T23:00:00Z');
  it.each([
    ['2027-03-31', true],
    ['2027-04-01', true],
    ['2027-03-30', false],
  ])('expires %s: active on 2027-03-31 23:00 UTC = %s (through the end of its day)', (expires, active) => {
    expect(waiverActive({ check: 'GW-SEC-002', reason: 'break-glass account', expires }, now)).toBe(active);
  });
  it('an active waiver turns a failure into a named warning; an expired one changes nothing but says so; an unused one is named', () => {
    const [applied] = applyWaivers([fail], [{ check: 'GW-SEC-002', reason: 'break-glass account until the IdP lands', expires: '2027-06-30' }], now);
    expect(applied).toMatchObject({ status: 'warn', waiver: { state: 'applied' } });
    expect(applied!.measured).toBe('WAIVED until 2027-06-30 (break-glass account until the IdP lands): 1 holder of cluster-admin');
    const [expired] = applyWaivers([fail], [{ check: 'GW-SEC-002', reason: 'break-glass account', expires: '2027-01-31' }], now);
    expect(expired).toMatchObject({ status: 'fail', waiver: { state: 'expired' } });
    expect(expired!.measured).toContain('waiver expired 2027-01-31');
    const [unused] = applyWaivers([{ id: 'GW-SEC-002', status: 'pass', measured: 'ok' }], [{ check: 'GW-SEC-002', reason: 'break-glass account', expires: '2027-06-30' }], now);
    expect(unused).toMatchObject({ status: 'pass', waiver: { state: 'unused' } });
    expect(describeWaivers([{ check: 'GW-SEC-007', reason: 'flat network until Q3', expires: '2027-01-01' }], now)).toEqual(['waiver GW-SEC-007 default-deny-netpol: EXPIRED 2027-01-01: flat network until Q3']);
  });
});

describe('spec.security', () => {
  const base = (extra: string) => `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: s }
spec:
  endpoint: https://127.0.0.1:6443
  bootstrap: { method: talos }
  nodes: [{ name: cp-1, address: 127.0.0.1, role: control-plane }]
${extra}`;
  it('defaults: enforce baseline, audit and warn restricted, kube-system exempt, audit on with rotation, no waivers', () => {
    expect(parseSpec(base(''), 'c.yaml').spec.spec.security).toEqual({
      podSecurity: { enforce: 'baseline', audit: 'restricted', warn: 'restricted', exemptNamespaces: ['kube-system'], namespaces: {} },
      audit: { maxAge: 30, maxBackups: 10, maxSize: 100 },
      waivers: [],
    });
  });
  it('errors name the line and the field: an unknown check, a day that does not exist, a level that is not one', () => {
    let err: unknown;
    try {
      parseSpec(base(`  security:
    podSecurity: { namespaces: { ingress: root } }
    waivers:
      - { check: GW-SEC-042, reason: "because the vendor said so", expires: 2027-02-30 }
`), 'c.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    const text = (err as SpecError).message;
    expect(text).toContain('c.yaml:9:43 spec.security.podSecurity.namespaces.ingress: "root" is not one of privileged, baseline, restricted');
    expect(text).toContain('c.yaml:11:18 spec.security.waivers[0].check: "GW-SEC-042" is not a security check ID: one of GW-SEC-001,');
    expect(text).toContain('c.yaml:11:77 spec.security.waivers[0].expires: "2027-02-30" is not a day of the calendar');
  });
  it('the spec says which namespaces may be privileged: node-agent namespaces, exemptions and the ones it lists', () => {
    const o = securityOptionsFromSpec(parseSpec(base('  security:\n    podSecurity: { namespaces: { ingress: privileged, monitoring: baseline } }\n'), 'c.yaml').spec);
    expect(o.privilegedNamespaces).toEqual(expect.arrayContaining(['kube-system', 'logging', 'ingress', 'tigera-operator', 'calico-system']));
    expect(o.privilegedNamespaces).not.toContain('monitoring');
    expect(o.method).toBe('talos');
  });
  it.each([['2027-02-28', true], ['2028-02-29', true], ['2027-02-29', false], ['27-02-28', false]])('parseIsoDay(%s) is a day: %s', (t, ok) => {
    expect(typeof parseIsoDay(t) !== 'string').toBe(ok);
  });
});

describe('RBAC judgements', () => {
  const masters = crb('cluster-admin', 'cluster-admin', [{ kind: 'Group', name: 'system:masters' }], { 'kubernetes.io/bootstrapping': 'rbac-defaults' });
  it.each([
    ['only system:masters', [masters], [], 'pass', undefined],
    ["kubeadm's admin group is expected on kubeadm", [masters, crb('kubeadm:cluster-admins', 'cluster-admin', [{ kind: 'Group', name: 'kubeadm:cluster-admins' }])], ['system:masters', 'kubeadm:cluster-admins'], 'pass', undefined],
    ['a ServiceAccount bound to cluster-admin', [masters, crb('ci', 'cluster-admin', [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' }])], [], 'fail', 'ServiceAccount ci/deployer (ClusterRoleBinding ci -> cluster-admin)'],
    ['a role with * on * on * is cluster-admin by another name', [masters, crb('god', 'god-mode', [{ kind: 'User', name: 'bob' }])], [], 'fail', 'User bob (ClusterRoleBinding god -> god-mode)'],
  ] as const)('%s', (_n, bindings, groups, status, names) => {
    const roles = [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'god-mode' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }];
    const f = judgeClusterAdmins([...bindings], roles, groups.length ? groups : undefined);
    expect(f.status).toBe(status);
    if (names) expect(f.measured).toContain(names);
  });

  it.each([
    ['no binding', [], 'pass'],
    ["the API server's own discovery binding (rbac-defaults) does not count", [crb('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [{ kind: 'Group', name: 'system:serviceaccounts' }], { 'kubernetes.io/bootstrapping': 'rbac-defaults' })], 'pass'],
    ['a RoleBinding to the default ServiceAccount', [rb('apps', 'default-edit', 'edit', [{ kind: 'ServiceAccount', name: 'default', namespace: 'apps' }])], 'fail'],
    ['a binding to every ServiceAccount of the namespace (group)', [rb('apps', 'all', 'view', [{ kind: 'Group', name: 'system:serviceaccounts:apps' }])], 'fail'],
  ] as const)('default ServiceAccount: %s', (_n, bindings, status) => {
    const sas = [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'apps' } }, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'off' }, automountServiceAccountToken: false }];
    expect(judgeDefaultServiceAccounts(sas, [...bindings]).status).toBe(status);
  });
  it('a bound default ServiceAccount that does not automount its token is fine', () => {
    const sas = [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'apps' }, automountServiceAccountToken: false }];
    expect(judgeDefaultServiceAccounts(sas, [rb('apps', 'x', 'edit', [{ kind: 'ServiceAccount', name: 'default' }])]).status).toBe('pass');
  });
});

describe('pods and policies', () => {
  it.each([
    [{}, []],
    [{ hostNetwork: true, hostPID: true, hostIPC: true }, ['hostNetwork', 'hostPID', 'hostIPC']],
    [{ volumes: [{ name: 'r', hostPath: { path: '/' } }, { name: 'e', emptyDir: {} }] }, ['hostPath /']],
    [{ initContainers: [{ name: 'init', securityContext: { privileged: true } }] }, ['privileged container init']],
  ])('host access of %j: %j', (spec, want) => {
    expect(hostAccessOf(pod('x', 'p', spec))).toEqual(want);
  });
  it('host access is allowed in the allowed namespaces only', () => {
    const pods = [pod('monitoring', 'node-exporter', { hostPID: true }), pod('apps', 'debug', { hostNetwork: true })];
    expect(judgeHostAccessPods(pods, new Set(['kube-system', 'monitoring']))).toMatchObject({ status: 'fail', detail: 'apps/debug: hostNetwork' });
    expect(judgeHostAccessPods(pods, new Set(['kube-system', 'monitoring', 'apps'])).status).toBe('pass');
  });
  it.each([
    [{ podSelector: {}, policyTypes: ['Ingress'] }, true],
    [{ podSelector: {} }, true],
    [{ podSelector: {}, policyTypes: ['Egress'] }, false],
    [{ podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'] }, false],
    [{ podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] }, false],
  ])('default-deny ingress: %j -> %s', (spec, want) => {
    expect(isDefaultDenyIngress({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n', namespace: 'a' }, spec })).toBe(want);
  });
  it('only namespaces with pods need a default deny, and a missing one is a warning', () => {
    const f = judgeDefaultDeny([pod('a', 'p', {}), pod('b', 'p', {}), pod('kube-system', 'x', {})], [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'd', namespace: 'a' }, spec: { podSelector: {} } }], new Set(['kube-system']));
    expect(f.status).toBe('warn');
    expect(f.measured).toBe('1 of 2 namespaces with pods have no default-deny ingress NetworkPolicy: b');
  });
  it("validate's own probe pods (another suite's, running beside it) are not the cluster's namespaces", () => {
    const probe = { ...pod('groundwork-validate-x-netpol', 'p', {}), metadata: { name: 'p', namespace: 'groundwork-validate-x-netpol', labels: { 'groundwork.dev/validate-run': 'x' } } };
    // Created after the namespace list was read: known by its pod's run label.
    const skip = new Set(['kube-system', ...validateOwnNamespaces([], [probe])]);
    expect(judgeDefaultDeny([probe], [], skip)).toMatchObject({ status: 'pass' });
    expect(judgeDefaultDeny([probe, pod('b', 'p', {})], [], skip).measured).toBe('1 of 1 namespaces with pods have no default-deny ingress NetworkPolicy: b');
  });
});

describe('the API server as its mirror pods show it', () => {
  const apiserver = (command: string[]): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kube-apiserver-cp-1', namespace: 'kube-system', labels: { component: 'kube-apiserver', tier: 'control-plane' } }, spec: { containers: [{ name: 'kube-apiserver', command }] } });
  it('kubeadm as groundwork configures it: audit with rotation, encryption on', () => {
    const flags = apiServerFlags([apiserver(['kube-apiserver', '--audit-policy-file=/etc/kubernetes/groundwork/audit-policy.yaml', '--audit-log-path=/var/log/kubernetes/audit/audit.log', '--audit-log-maxage=30', '--audit-log-maxbackup=10', '--audit-log-maxsize=100', '--encryption-provider-config', '/etc/kubernetes/groundwork/encryption.yaml'])]);
    expect(judgeAuditFlags(flags)).toMatchObject({ status: 'pass' });
    expect(judgeEncryption(flags, undefined)).toMatchObject({ status: 'pass' });
  });
  it('a default kubeadm API server: no audit, no encryption', () => {
    const flags = apiServerFlags([apiserver(['kube-apiserver', '--authorization-mode=Node,RBAC'])]);
    expect(judgeAuditFlags(flags)!.measured).toBe('kube-apiserver-cp-1: no --audit-policy-file (the API server records nothing)');
    expect(judgeEncryption(flags, undefined).status).toBe('fail');
  });
  it('audit without rotation fails', () => {
    expect(judgeAuditFlags(apiServerFlags([apiserver(['kube-apiserver', '--audit-policy-file=/p', '--audit-log-path=/l'])]))!.measured).toMatch(/no --audit-log-maxage, --audit-log-maxbackup, --audit-log-maxsize/);
  });
  it('no API server pods: nothing to judge from flags', () => expect(judgeAuditFlags([])).toBeUndefined());
  it.each([
    ['apiserver_storage_transformation_operations_total{status="OK",transformation_type="to_storage",transformer_prefix="k8s:enc:secretbox:v1:"} 3', ['k8s:enc:secretbox:v1:'], 'pass'],
    ['apiserver_storage_transformation_operations_total{status="OK",transformation_type="to_storage",transformer_prefix="identity"} 3', ['identity'], 'fail'],
    ['# HELP nothing', [], 'fail'],
  ] as const)('/metrics %s', (metrics, transformers, status) => {
    expect(storageTransformers(metrics)).toEqual(transformers);
    expect(judgeEncryption([], storageTransformers(metrics)).status).toBe(status);
  });
});
