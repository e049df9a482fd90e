/**
 * Issue 19 against the real kube-apiserver (test/helpers/control-plane.ts):
 * - configured as groundwork configures a control plane (its generated AdmissionConfiguration and audit policy,
 *   audit rotation flags, Secrets encrypted with the secretbox config groundwork writes), every security check
 *   passes, and the audit log holds a Secret read at Metadata level and never the Secret's data;
 * - configured as an unhardened kubeadm cluster (Pod Security privileged everywhere, no audit log, no encryption)
 *   with the usual mistakes on top, each check fails with its cause.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { captureIo } from '../helpers/io.js';
import { auditRetentionArgs, buildAdmissionConfiguration, buildAuditPolicy, buildEncryptionConfiguration } from '../../src/bootstrap/security.js';
import { parseSpec } from '../../src/spec/load.js';
import { runValidate } from '../../src/validate/index.js';
import { securityOptionsFromSpec, type SecurityOptions } from '../../src/validate/security/expectations.js';

const SPEC = parseSpec(
  `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: sec }
spec:
  endpoint: https://127.0.0.1:6443
  bootstrap: { method: kubeadm }
  nodes: [{ name: cp-1, address: 127.0.0.1, role: control-plane }]
`,
  'cluster.yaml',
).spec;

type Finding = { id: string; status: string; measured: string; detail?: string; severity: string; cis: string[]; why: string; fix: string };
type Report = { status: string; results: Array<{ id: string; status: string; summary: string; detail?: string; evidence?: { findings: Finding[]; benchmark: string } }> };

async function security(cp: ControlPlane, o: SecurityOptions): Promise<{ code: number; findings: Record<string, Finding>; result: Report['results'][number] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-sec-'));
  const io = captureIo(dir);
  const code = await runValidate({ io, kubeconfig: cp.kubeconfig, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS: 30, only: ['security'], security: o });
  const report = JSON.parse(io.out()) as Report;
  const result = report.results.find((r) => r.id === 'security')!;
  return { code, result, findings: Object.fromEntries((result.evidence?.findings ?? []).map((f) => [f.id, f])) };
}

const NETPOL_DENY = (ns: string) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: ns }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
const pod = (ns: string, name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }], ...spec },
});

/** The audit log's complete lines, parsed: kube-apiserver may be writing the last one (no trailing newline yet). */
function auditEvents(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').slice(0, -1).filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

describe('a control plane configured as groundwork configures it', () => {
  let cp: ControlPlane;
  const secretValue = `gw-${randomBytes(12).toString('hex')}`;
  beforeAll(async () => {
    const key = randomBytes(32).toString('base64');
    cp = await startControlPlane({
      podSecurity: 'talos',
      admissionConfiguration: buildAdmissionConfiguration(SPEC.spec.security),
      auditPolicy: buildAuditPolicy(),
      files: { 'encryption.yaml': YAML.stringify(buildEncryptionConfiguration(key)) },
      extraApiServerArgs: ['--encryption-provider-config={dir}/encryption.yaml', ...Object.entries(auditRetentionArgs(SPEC.spec.security)).map(([k, v]) => `--${k}=${v}`)],
    });
    // What a groundwork cluster holds: node agents in their privileged namespace, apps behind a default deny.
    const r = await cp.applyServerSide([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } },
    ]);
    expect(r.code, r.stderr).toBe(0);
    await cp.waitForDefaultServiceAccount('monitoring');
    await cp.waitForDefaultServiceAccount('apps');
    const objs = await cp.applyServerSide([
      pod('monitoring', 'node-exporter', { hostNetwork: true, hostPID: true, volumes: [{ name: 'root', hostPath: { path: '/' } }] }),
      pod('apps', 'web', { securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } } }),
      NETPOL_DENY('monitoring'),
      NETPOL_DENY('apps'),
    ]);
    expect(objs.code, objs.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('every security check passes, each with its ID, severity and CIS IDs', async () => {
    const { code, findings, result } = await security(cp, { ...securityOptionsFromSpec(SPEC), auditLog: cp.auditLog });
    const bad = Object.values(findings).filter((f) => f.status !== 'pass');
    expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
    expect(Object.keys(findings).sort()).toEqual(['GW-SEC-001', 'GW-SEC-002', 'GW-SEC-003', 'GW-SEC-004', 'GW-SEC-005', 'GW-SEC-006', 'GW-SEC-007', 'GW-SEC-008', 'GW-SEC-009']);
    expect(code).toBe(0);
    expect(findings['GW-SEC-009']!.measured).toMatch(/encrypted \(k8s:enc:secretbox:v1:/);
    expect(findings['GW-SEC-008']!.measured).toMatch(/is in .*audit\.log at level Metadata/);
    expect(findings['GW-SEC-004']!.measured).toMatch(/a privileged pod is refused \(dry run\) in default: violates PodSecurity "baseline:latest"/);
    expect(findings['GW-SEC-001']!.cis).toEqual(['1.2.1']);
    expect(result.detail).toContain('CIS Kubernetes Benchmark v1.9');
    expect(result.detail).toMatch(/ok {3}GW-SEC-005 host-access-pods \[high; CIS v1\.9 5\.2\.2, 5\.2\.3/);
  }, 120_000);

  it('the generated audit policy records a Secret read at Metadata level and never its data', async () => {
    const name = `gw-audit-${randomBytes(3).toString('hex')}`;
    expect((await cp.kubectl(['-n', 'apps', 'create', 'secret', 'generic', name, `--from-literal=password=${secretValue}`])).code).toBe(0);
    const read = await cp.kubectl(['-n', 'apps', 'get', 'secret', name, '-o', 'json']);
    expect(read.code).toBe(0);
    const b64 = Buffer.from(secretValue).toString('base64');
    expect(read.stdout).toContain(b64);
    let events: Array<Record<string, any>> = [];
    for (let i = 0; i < 50; i++) {
      events = auditEvents(cp.auditLog!);
      if (events.some((e) => e.verb === 'get' && e.objectRef?.name === name)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const get = events.find((e) => e.verb === 'get' && e.objectRef?.resource === 'secrets' && e.objectRef?.name === name);
    expect(get, 'an audit event for the Secret read').toBeDefined();
    expect(get!.level).toBe('Metadata');
    expect(get!.stage).toBe('ResponseComplete');
    expect(get!.requestObject).toBeUndefined();
    expect(get!.responseObject).toBeUndefined();
    // No stage RequestReceived, and the value never lands in the log in any form.
    expect(events.some((e) => e.stage === 'RequestReceived')).toBe(false);
    const text = readFileSync(cp.auditLog!, 'utf8');
    expect(text).not.toContain(secretValue);
    expect(text).not.toContain(b64);
  }, 60_000);

  it('RBAC changes are recorded with their request and response (RequestResponse)', async () => {
    const name = `gw-audit-role-${randomBytes(3).toString('hex')}`;
    expect((await cp.kubectl(['-n', 'apps', 'create', 'role', name, '--verb=get', '--resource=pods'])).code).toBe(0);
    let ev: Record<string, any> | undefined;
    for (let i = 0; i < 50 && !ev; i++) {
      ev = auditEvents(cp.auditLog!).find((e) => e.verb === 'create' && e.objectRef?.resource === 'roles' && e.objectRef?.name === name);
      if (!ev) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ev?.level).toBe('RequestResponse');
    expect(ev?.requestObject?.rules?.[0]?.verbs).toEqual(['get']);
  }, 60_000);
});

describe('an unhardened kubeadm control plane: each check fails with its cause', () => {
  let cp: ControlPlane;
  let findings: Record<string, Finding>;
  let code: number;
  beforeAll(async () => {
    cp = await startControlPlane({ podSecurity: 'kubeadm' });
    const ns = await cp.applyServerSide([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } }]);
    expect(ns.code, ns.stderr).toBe(0);
    await cp.waitForDefaultServiceAccount('apps');
    const rbac = (kind: string, name: string, role: string, subject: Record<string, string>, namespace?: string) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind,
      metadata: { name, ...(namespace ? { namespace } : {}) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [subject],
    });
    const r = await cp.applyServerSide([
      rbac('ClusterRoleBinding', 'anonymous-view', 'view', { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }),
      rbac('ClusterRoleBinding', 'everyone-edit', 'edit', { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }),
      rbac('ClusterRoleBinding', 'alice-admin', 'cluster-admin', { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }),
      rbac('RoleBinding', 'default-edit', 'edit', { kind: 'ServiceAccount', name: 'default', namespace: 'apps' }, 'apps'),
      pod('apps', 'sniffer', { hostNetwork: true }),
      pod('apps', 'root-shell', { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', securityContext: { privileged: true } }] }),
    ]);
    expect(r.code, r.stderr).toBe(0);
    ({ code, findings } = await security(cp, { ...securityOptionsFromSpec(SPEC), auditLog: path.join(cp.dir, 'logs', 'audit.log') }));
  }, 180_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('the run fails', () => expect(code).toBe(1));
  it('GW-SEC-001: anonymous requests are answered (a binding of system:unauthenticated)', () => {
    expect(findings['GW-SEC-001']).toMatchObject({ status: 'fail', severity: 'high' });
    expect(findings['GW-SEC-001']!.measured).toMatch(/anonymous requests are answered: GET \/api\/v1\/namespaces -> 200/);
  });
  it('GW-SEC-002: a user holds cluster-admin', () => {
    expect(findings['GW-SEC-002']).toMatchObject({ status: 'fail', cis: ['5.1.1'] });
    expect(findings['GW-SEC-002']!.measured).toContain('User alice (ClusterRoleBinding alice-admin -> cluster-admin)');
    expect(findings['GW-SEC-002']!.fix).toContain('kubectl delete clusterrolebinding alice-admin');
  });
  it('GW-SEC-003: system:authenticated may read Secrets and create pods', () => {
    expect(findings['GW-SEC-003']).toMatchObject({ status: 'fail', severity: 'critical' });
    expect(findings['GW-SEC-003']!.detail).toMatch(/system:authenticated may list secrets \(cluster-wide\)/);
    expect(findings['GW-SEC-003']!.detail).toMatch(/system:authenticated may create pods in default/);
  });
  it('GW-SEC-004: no Pod Security enforcement, and the pods a baseline label would reject (dry run)', () => {
    const f = findings['GW-SEC-004']!;
    expect(f.status).toBe('fail');
    expect(f.measured).toMatch(/a privileged pod was admitted \(dry run\)/);
    expect(f.detail).toMatch(/apps: no enforce label, and the cluster default admits privileged pods; a baseline label would reject .*root-shell: privileged/);
    expect(f.detail).toMatch(/sniffer: host namespaces/);
  });
  it('GW-SEC-005: host-access pods outside the allowed namespaces', () => {
    expect(findings['GW-SEC-005']!.status).toBe('fail');
    expect(findings['GW-SEC-005']!.detail).toContain('apps/sniffer: hostNetwork');
    expect(findings['GW-SEC-005']!.detail).toContain('apps/root-shell: privileged container c');
  });
  it('GW-SEC-006: the default ServiceAccount of apps is bound to edit and automounts its token', () => {
    expect(findings['GW-SEC-006']!.status).toBe('fail');
    expect(findings['GW-SEC-006']!.measured).toContain('apps/default (automounts its token; bound by RoleBinding apps/default-edit -> edit)');
  });
  it('GW-SEC-007: namespaces with pods but no default deny are a warning', () => {
    expect(findings['GW-SEC-007']).toMatchObject({ status: 'warn', severity: 'low', cis: ['5.3.2'] });
    expect(findings['GW-SEC-007']!.measured).toMatch(/have no default-deny ingress NetworkPolicy: apps/);
  });
  it('GW-SEC-008: no audit log where it should be', () => {
    expect(findings['GW-SEC-008']!.status).toBe('fail');
    expect(findings['GW-SEC-008']!.measured).toMatch(/audit\.log does not exist: kube-apiserver writes no audit log there/);
  });
  it('GW-SEC-009: Secrets are stored in plain text', () => {
    expect(findings['GW-SEC-009']!.status).toBe('fail');
    expect(findings['GW-SEC-009']!.measured).toMatch(/plain text/);
  });
});
