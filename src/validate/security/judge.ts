/**
 * Pure judgements of the security suite: what the API showed in, a finding out (STYLE 15: table-tested in
 * test/validate/security-judge.test.ts). Waivers are applied here too, so every report says the same about them.
 */
import type { KubeObject } from '../../kube/paths.js';
import type { SecurityCheckId, SecurityWaiver } from '../../spec/fields.js';
import { parseIsoDay } from '../../spec/fields.js';
import type { Check } from '../checks.js';
import { RUN_LABEL } from '../objects.js';
import { CIS_BENCHMARK, SECURITY_CHECKS, checkLabel, type Severity } from './catalog.js';

export interface Finding {
  id: SecurityCheckId;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  /** What was measured, in one line. */
  measured: string;
  /** More lines: the objects behind the finding. */
  detail?: string;
  /** Overrides the catalogue's fix (a fix naming the objects found). */
  fix?: string;
  /** Set when a waiver changed the outcome, or was meant to and lapsed. */
  waiver?: { reason: string; expires: string; state: 'applied' | 'expired' | 'unused' };
}

interface ReportedFinding extends Finding {
  name: string;
  severity: Severity;
  cis: string[];
  why: string;
  fix: string;
}

// ---- waivers --------------------------------------------------------------------------------------------------

/** Whether a waiver still holds on `now`: through the end of its day, UTC. */
export function waiverActive(w: SecurityWaiver, now: Date): boolean {
  const d = parseIsoDay(w.expires);
  if (typeof d === 'string') return false;
  return now.getTime() < d.getTime() + 24 * 3600_000;
}

/**
 * A failing or warning check with an active waiver becomes a warning that says so; an expired waiver changes
 * nothing but is named; a waiver for a passing check is named as unused (so it can be removed).
 */
export function applyWaivers(findings: Finding[], waivers: readonly SecurityWaiver[], now: Date): Finding[] {
  return findings.map((f) => {
    const w = waivers.find((x) => x.check === f.id);
    if (!w) return f;
    const active = waiverActive(w, now);
    if (f.status === 'pass' || f.status === 'skip') return { ...f, waiver: { reason: w.reason, expires: w.expires, state: 'unused' } };
    if (!active) return { ...f, measured: `${f.measured} (waiver expired ${w.expires}: no longer applies)`, waiver: { reason: w.reason, expires: w.expires, state: 'expired' } };
    return { ...f, status: 'warn', measured: `WAIVED until ${w.expires} (${w.reason}): ${f.measured}`, waiver: { reason: w.reason, expires: w.expires, state: 'applied' } };
  });
}

/** One line per waiver of the spec, for every report (also those whose check did not run). */
export function describeWaivers(waivers: readonly SecurityWaiver[], now: Date): string[] {
  return waivers.map((w) => `waiver ${checkLabel(w.check)}: ${waiverActive(w, now) ? `until ${w.expires}` : `EXPIRED ${w.expires}`}: ${w.reason}`);
}

export function reportFinding(f: Finding): ReportedFinding {
  const c = SECURITY_CHECKS[f.id];
  return { ...f, name: c.name, severity: c.severity, cis: c.cis, why: c.why, fix: f.fix ?? c.fix };
}

/** As the validate report's checks: name with severity and CIS IDs, the measurement as the summary. */
export function toCheck(f: ReportedFinding): Check {
  const cis = f.cis.length ? `; ${CIS_BENCHMARK.replace('Kubernetes Benchmark ', '')} ${f.cis.join(', ')}` : '';
  return {
    name: `${checkLabel(f.id)} [${f.severity}${cis}]`,
    status: f.status,
    summary: f.measured,
    ...(f.status === 'pass' || f.status === 'skip' ? {} : { why: f.why, fix: f.fix }),
    ...(f.detail ? { detail: f.detail.split('\n').join('\n       ') } : {}),
  };
}

// ---- RBAC -----------------------------------------------------------------------------------------------------

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

function subjectsOf(b: KubeObject): Subject[] {
  return (Array.isArray(b.subjects) ? b.subjects : []) as Subject[];
}

function roleRef(b: KubeObject): { kind: string; name: string } {
  return (b.roleRef ?? { kind: '', name: '' }) as { kind: string; name: string };
}

function formatSubject(s: Subject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? '?'}/${s.name}` : `${s.kind} ${s.name}`;
}

/** A ClusterRole that allows every verb on every resource of every group: cluster-admin by another name. */
function isAllPowerful(role: KubeObject): boolean {
  const rules = (Array.isArray(role.rules) ? role.rules : []) as { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[];
  return rules.some((r) => r.apiGroups?.includes('*') && r.resources?.includes('*') && r.verbs?.includes('*'));
}

/** Who is bound to cluster-admin (or an equally all-powerful ClusterRole) beyond the group system:masters. */
export function judgeClusterAdmins(bindings: KubeObject[], clusterRoles: KubeObject[], expectedGroups: readonly string[] = ['system:masters']): Finding {
  const powerful = new Set(clusterRoles.filter(isAllPowerful).map((r) => r.metadata.name));
  powerful.add('cluster-admin');
  const holders: string[] = [];
  const extra: string[] = [];
  for (const b of bindings) {
    const ref = roleRef(b);
    if (ref.kind !== 'ClusterRole' || !powerful.has(ref.name)) continue;
    for (const s of subjectsOf(b)) {
      const who = `${formatSubject(s)} (ClusterRoleBinding ${b.metadata.name} -> ${ref.name})`;
      holders.push(who);
      if (!(s.kind === 'Group' && expectedGroups.includes(s.name))) extra.push(who);
    }
  }
  if (extra.length === 0) return { id: 'GW-SEC-002', status: 'pass', measured: `cluster-admin held only by ${expectedGroups.map((g) => `group ${g}`).join(', ')} (${holders.length} binding subject${holders.length === 1 ? '' : 's'})` };
  const names = [...new Set(bindings.filter((b) => subjectsOf(b).some((s) => extra.some((e) => e.startsWith(formatSubject(s))))).map((b) => b.metadata.name))];
  return {
    id: 'GW-SEC-002',
    status: 'fail',
    measured: `${extra.length} holder${extra.length === 1 ? '' : 's'} of cluster-admin besides ${expectedGroups.join(', ')}: ${extra.slice(0, 5).join('; ')}${extra.length > 5 ? `; +${extra.length - 5} more` : ''}`,
    detail: extra.join('\n'),
    fix: `remove or narrow: kubectl delete clusterrolebinding ${names.join(' ')} (or waive GW-SEC-002 with a reason)`,
  };
}

/** A default ServiceAccount that automounts its token and is a subject of some binding (directly or by group). */
export function judgeDefaultServiceAccounts(serviceAccounts: KubeObject[], bindings: KubeObject[]): Finding {
  // The API server's own bootstrap policy (discovery for every account) is not a role anyone bound.
  const own = bindings.filter((b) => b.metadata.labels?.['kubernetes.io/bootstrapping'] !== 'rbac-defaults');
  const bound = (ns: string) =>
    own.filter((b) =>
      subjectsOf(b).some(
        (s) =>
          (s.kind === 'ServiceAccount' && s.name === 'default' && (s.namespace ?? b.metadata.namespace) === ns) ||
          (s.kind === 'Group' && (s.name === 'system:serviceaccounts' || s.name === `system:serviceaccounts:${ns}`)) ||
          (s.kind === 'User' && s.name === `system:serviceaccount:${ns}:default`),
      ),
    );
  const bad: string[] = [];
  const defaults = serviceAccounts.filter((sa) => sa.metadata.name === 'default');
  for (const sa of defaults) {
    const ns = sa.metadata.namespace ?? '';
    if (sa.automountServiceAccountToken === false) continue;
    const bs = bound(ns);
    if (bs.length) bad.push(`${ns}/default (automounts its token; bound by ${bs.map((b) => `${b.kind} ${b.metadata.namespace ? `${b.metadata.namespace}/` : ''}${b.metadata.name} -> ${roleRef(b).name}`).join(', ')})`);
  }
  if (bad.length === 0) return { id: 'GW-SEC-006', status: 'pass', measured: `${defaults.length} default ServiceAccounts: none is both bound to a role and automounting its token` };
  return {
    id: 'GW-SEC-006',
    status: 'fail',
    measured: `${bad.length} default ServiceAccount${bad.length === 1 ? '' : 's'} bound to roles with automounted tokens: ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? `; +${bad.length - 3} more` : ''}`,
    detail: bad.join('\n'),
  };
}

// ---- pods -----------------------------------------------------------------------------------------------------

interface PodSpecish {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  volumes?: { name?: string; hostPath?: { path?: string } }[];
  containers?: { name?: string; securityContext?: { privileged?: boolean } }[];
  initContainers?: { name?: string; securityContext?: { privileged?: boolean } }[];
  ephemeralContainers?: { name?: string; securityContext?: { privileged?: boolean } }[];
}

/** What host access a pod has, in words ([] for none). */
export function hostAccessOf(pod: KubeObject): string[] {
  const spec = (pod.spec ?? {}) as PodSpecish;
  const out: string[] = [];
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const c of containers) if (c.securityContext?.privileged) out.push(`privileged container ${c.name ?? '?'}`);
  if (spec.hostNetwork) out.push('hostNetwork');
  if (spec.hostPID) out.push('hostPID');
  if (spec.hostIPC) out.push('hostIPC');
  for (const v of spec.volumes ?? []) if (v.hostPath) out.push(`hostPath ${v.hostPath.path ?? '?'}`);
  return out;
}

export function judgeHostAccessPods(pods: KubeObject[], allowedNamespaces: ReadonlySet<string>): Finding {
  const bad = pods
    .filter((p) => !allowedNamespaces.has(p.metadata.namespace ?? ''))
    .map((p) => ({ p, what: hostAccessOf(p) }))
    .filter((x) => x.what.length > 0)
    .map((x) => `${x.p.metadata.namespace}/${x.p.metadata.name}: ${x.what.join(', ')}`);
  const allowed = [...allowedNamespaces].sort().join(', ');
  if (bad.length === 0) return { id: 'GW-SEC-005', status: 'pass', measured: `${pods.length} pods: host access only in the allowed namespaces (${allowed})` };
  return {
    id: 'GW-SEC-005',
    status: 'fail',
    measured: `${bad.length} pod${bad.length === 1 ? '' : 's'} with host access outside the allowed namespaces (${allowed}): ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? `; +${bad.length - 3} more` : ''}`,
    detail: bad.join('\n'),
  };
}

// ---- network policies -----------------------------------------------------------------------------------------

/** A policy that selects every pod of its namespace and allows no ingress. */
export function isDefaultDenyIngress(np: KubeObject): boolean {
  const spec = (np.spec ?? {}) as { podSelector?: { matchLabels?: object; matchExpressions?: unknown[] }; policyTypes?: string[]; ingress?: unknown[] };
  const all = !spec.podSelector || (Object.keys(spec.podSelector.matchLabels ?? {}).length === 0 && (spec.podSelector.matchExpressions ?? []).length === 0);
  const types = spec.policyTypes ?? ['Ingress'];
  return all && types.includes('Ingress') && (spec.ingress ?? []).length === 0;
}

export function judgeDefaultDeny(pods: KubeObject[], policies: KubeObject[], skipNamespaces: ReadonlySet<string>): Finding {
  const withPods = [...new Set(pods.map((p) => p.metadata.namespace ?? ''))].filter((ns) => ns && !skipNamespaces.has(ns)).sort();
  const denied = new Set(policies.filter(isDefaultDenyIngress).map((p) => p.metadata.namespace));
  const open = withPods.filter((ns) => !denied.has(ns));
  if (withPods.length === 0) return { id: 'GW-SEC-007', status: 'pass', measured: 'no namespace outside the system ones holds pods' };
  if (open.length === 0) return { id: 'GW-SEC-007', status: 'pass', measured: `${withPods.length} namespace${withPods.length === 1 ? '' : 's'} with pods, each with a default-deny ingress policy` };
  return {
    id: 'GW-SEC-007',
    status: 'warn',
    measured: `${open.length} of ${withPods.length} namespaces with pods have no default-deny ingress NetworkPolicy: ${open.slice(0, 8).join(', ')}${open.length > 8 ? `, +${open.length - 8} more` : ''}`,
    fix: `for each: kubectl -n NS apply -f - <<< '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"default-deny-ingress"},"spec":{"podSelector":{},"policyTypes":["Ingress"]}}' (namespaces: ${open.join(', ')})`,
  };
}

// ---- the API server's own flags -------------------------------------------------------------------------------

/**
 * kube-apiserver's flags from its mirror pods in kube-system (kubeadm and Talos run it as a static pod, which the
 * API shows), one map per control plane. `--flag=value` and `--flag value` both count.
 */
/** validate's own throw-away namespaces: labelled with its run, or (the suites run side by side, so one may be
 *  created after the namespace list was read) known by the run label of the pods in them. */
export function validateOwnNamespaces(namespaces: KubeObject[], pods: KubeObject[]): Set<string> {
  const ours = (o: KubeObject) => o.metadata.labels?.[RUN_LABEL] !== undefined;
  return new Set([...namespaces.filter(ours).map((n) => n.metadata.name!), ...pods.filter(ours).map((p) => p.metadata.namespace!)]);
}

export type ApiServerFlags = { pod: string; flags: Map<string, string> }[];

export function apiServerFlags(pods: KubeObject[]): ApiServerFlags {
  const isApiServer = (p: KubeObject) => {
    const l = p.metadata.labels ?? {};
    return l.component === 'kube-apiserver' || l['k8s-app'] === 'kube-apiserver';
  };
  return pods.filter(isApiServer).map((p) => {
    const spec = (p.spec ?? {}) as { containers?: { name?: string; command?: string[]; args?: string[] }[] };
    const c = (spec.containers ?? []).find((x) => x.name === 'kube-apiserver') ?? spec.containers?.[0];
    const words = [...(c?.command ?? []), ...(c?.args ?? [])];
    const flags = new Map<string, string>();
    for (let i = 0; i < words.length; i++) {
      const m = /^--([^=]+)(?:=(.*))?$/.exec(words[i]!);
      if (!m) continue;
      if (m[2] !== undefined) flags.set(m[1]!, m[2]);
      else if (words[i + 1] !== undefined && !words[i + 1]!.startsWith('--')) flags.set(m[1]!, words[++i]!);
      else flags.set(m[1]!, 'true');
    }
    return { pod: p.metadata.name ?? '?', flags };
  });
}

/** Audit flags of each API server: policy and path present, and rotation set. undefined when no API server pod is visible. */
export function judgeAuditFlags(servers: ApiServerFlags): Finding | undefined {
  if (servers.length === 0) return undefined;
  const problems: string[] = [];
  for (const s of servers) {
    const f = s.flags;
    const webhook = f.has('audit-webhook-config-file');
    if (!f.has('audit-policy-file')) problems.push(`${s.pod}: no --audit-policy-file (the API server records nothing)`);
    else if (!f.has('audit-log-path') && !webhook) problems.push(`${s.pod}: --audit-policy-file without --audit-log-path or a webhook`);
    else if (f.has('audit-log-path') && f.get('audit-log-path') !== '-') {
      const missing = ['audit-log-maxage', 'audit-log-maxbackup', 'audit-log-maxsize'].filter((k) => !f.has(k));
      if (missing.length) problems.push(`${s.pod}: no ${missing.map((m) => `--${m}`).join(', ')} (the log grows until the disk is full, or is never kept long enough)`);
    }
  }
  if (problems.length) return { id: 'GW-SEC-008', status: 'fail', measured: problems.join('; ') };
  const f = servers[0]!.flags;
  return { id: 'GW-SEC-008', status: 'pass', measured: `${servers.length} API server${servers.length === 1 ? '' : 's'} audit to ${f.get('audit-log-path') ?? 'a webhook'} (policy ${f.get('audit-policy-file')}; ${f.get('audit-log-maxage') ?? '?'} days, ${f.get('audit-log-maxbackup') ?? '?'} files, ${f.get('audit-log-maxsize') ?? '?'} MiB)` };
}

/**
 * What the API server's /metrics say about how Secrets are written to etcd: the transformer prefixes of
 * successful to_storage transformations (`k8s:enc:aescbc:v1:`, `k8s:enc:secretbox:v1:`, `k8s:enc:kms:v2:`, or
 * `identity` for plain text). [] when none was recorded (an API server without an encryption config records none).
 */
export function storageTransformers(metrics: string): string[] {
  const out = new Set<string>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('apiserver_storage_transformation_operations_total{')) continue;
    const labels = line.slice(line.indexOf('{') + 1, line.indexOf('}'));
    const get = (k: string) => new RegExp(`(?:^|,)${k}="([^"]*)"`).exec(labels)?.[1];
    const count = Number(line.slice(line.indexOf('}') + 1).trim());
    if (get('transformation_type') === 'to_storage' && (get('status') ?? 'OK') === 'OK' && count > 0) out.add(get('transformer_prefix') ?? '');
  }
  return [...out];
}

export function judgeEncryption(flags: ApiServerFlags, transformers: string[] | undefined): Finding {
  const withFlag = flags.filter((s) => s.flags.has('encryption-provider-config'));
  if (flags.length > 0 && withFlag.length < flags.length) {
    return { id: 'GW-SEC-009', status: 'fail', measured: `${flags.length - withFlag.length} of ${flags.length} API servers have no --encryption-provider-config: ${flags.filter((s) => !withFlag.includes(s)).map((s) => s.pod).join(', ')}` };
  }
  const encrypting = (transformers ?? []).filter((t) => t.startsWith('k8s:enc:') && !t.includes('identity'));
  if (transformers && transformers.length > 0 && encrypting.length === 0) {
    return { id: 'GW-SEC-009', status: 'fail', measured: `Secrets are written to etcd in plain text (transformer ${transformers.join(', ')})` };
  }
  if (encrypting.length > 0) return { id: 'GW-SEC-009', status: 'pass', measured: `Secrets are written to etcd encrypted (${encrypting.join(', ')}${withFlag.length ? `; --encryption-provider-config on ${withFlag.length} API servers` : ''})` };
  if (withFlag.length > 0) return { id: 'GW-SEC-009', status: 'pass', measured: `--encryption-provider-config on ${withFlag.length} API server${withFlag.length === 1 ? '' : 's'} (${withFlag[0]!.flags.get('encryption-provider-config')})` };
  if (transformers !== undefined) return { id: 'GW-SEC-009', status: 'fail', measured: 'Secrets are written to etcd in plain text: writing one recorded no encrypting transformation in the API server\'s /metrics (no encryption provider configured)' };
  return { id: 'GW-SEC-009', status: 'skip', measured: 'not measurable here: no kube-apiserver pods in kube-system and no /metrics' };
}
