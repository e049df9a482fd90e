/**
 * Security (issue 19): API-only checks an auditor can use, each with an ID (GW-SEC-00N), a severity, what was
 * measured, why it matters, the fix and the CIS Kubernetes Benchmark recommendations it covers
 * (src/validate/security/catalog.ts). Waivers from the spec turn a finding into a named warning until they
 * expire. What the API cannot show (the lab's embedded API has no RBAC, SubjectAccessReview or Pod Security
 * admission) is a skip with its reason, never a pass.
 */
import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pollUntil } from '../../run/sleep.js';
import { TALOS_AUDIT_LOG } from '../../bootstrap/security.js';
import { randomBytes } from 'node:crypto';
import type { StepContext, StepOutcome } from '../../run/types.js';
import type { KubeClient, KubeObject } from '../../kube/index.js';
import type { ValidateSession } from '../session.js';
import { summarizeChecks } from '../checks.js';
import { CIS_BENCHMARK, SECURITY_CHECKS } from '../security/catalog.js';
import { defaultPrivilegedNamespaces, type SecurityOptions } from '../security/expectations.js';
import {
  apiServerFlags,
  validateOwnNamespaces,
  type ApiServerFlags,
  applyWaivers,
  describeWaivers,
  judgeAuditFlags,
  judgeClusterAdmins,
  judgeDefaultDeny,
  judgeDefaultServiceAccounts,
  judgeEncryption,
  judgeHostAccessPods,
  reportFinding,
  storageTransformers,
  toCheck,
  type Finding,
} from '../security/judge.js';
import type { SecurityCheckId } from '../../spec/fields.js';

const PSA = 'pod-security.kubernetes.io/enforce';

/** Whether the API serves a resource of a group version (the lab's embedded API serves no RBAC and no SubjectAccessReview). */
async function serves(kube: KubeClient, apiPath: string, resource: string, signal: AbortSignal): Promise<boolean> {
  try {
    const list = JSON.parse(await kube.raw(apiPath, signal)) as { resources?: { name?: string }[] };
    return (list.resources ?? []).some((r) => r.name === resource);
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 404) return false;
    throw err;
  }
}

/** A check that could not measure is a failure naming what went wrong, not the end of the other checks. */
async function guarded(id: SecurityCheckId, run: () => Promise<Finding> | Finding): Promise<Finding> {
  try {
    return await run();
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    return { id, status: 'fail', measured: `could not measure: ${(err as Error).message.slice(0, 300)}` };
  }
}

function skip(id: SecurityCheckId, why: string): Finding {
  return { id, status: 'skip', measured: `not measured: ${why}` };
}

// ---- GW-SEC-001 -----------------------------------------------------------------------------------------------

const ANONYMOUS_PROBES = ['/api/v1/namespaces', '/api/v1/pods', '/api/v1/secrets', '/api/v1/configmaps', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings'];

export async function checkAnonymous(kube: KubeClient, signal: AbortSignal): Promise<Finding> {
  const results = await Promise.all(ANONYMOUS_PROBES.map(async (p) => ({ path: p, ...(await kube.anonymousGet(p, signal)) })));
  if (results.every((r) => r.code === 0)) return skip('GW-SEC-001', 'no connection could be made without credentials');
  const open = results.filter((r) => r.code >= 200 && r.code < 300);
  const shown = results.map((r) => `${r.path} ${r.code}`).join(', ');
  if (open.length > 0) {
    return { id: 'GW-SEC-001', status: 'fail', measured: `anonymous requests are answered: ${open.map((r) => `GET ${r.path} -> ${r.code}`).join(', ')}`, detail: shown };
  }
  const off = results.every((r) => r.code === 401);
  return { id: 'GW-SEC-001', status: 'pass', measured: off ? `anonymous requests are refused as unauthenticated on all ${results.length} API paths tried (anonymous authentication is off)` : `anonymous requests are authenticated as system:anonymous and refused by authorization on all ${results.length} API paths tried` };
}

// ---- GW-SEC-003 -----------------------------------------------------------------------------------------------

interface Attr {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
}
const SENSITIVE: Attr[] = [
  { verb: '*', resource: '*', group: '*' },
  { verb: 'list', resource: 'secrets' },
  { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
  { verb: 'create', resource: 'pods', namespace: 'default' },
  { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'default' },
  { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system' },
  { verb: 'get', resource: 'nodes', subresource: 'proxy' },
  { verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
  { verb: 'bind', resource: 'clusterroles', group: 'rbac.authorization.k8s.io' },
  { verb: 'escalate', resource: 'clusterroles', group: 'rbac.authorization.k8s.io' },
  { verb: 'impersonate', resource: 'users' },
  { verb: 'update', resource: 'namespaces' },
];

function describeAttr(a: Attr): string {
  return `${a.verb} ${a.group && a.group !== '' ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.namespace ? ` in ${a.namespace}` : ' (cluster-wide)'}`;
}

export async function checkGroupRights(kube: KubeClient, signal: AbortSignal): Promise<Finding> {
  const subjects = [
    { label: 'system:unauthenticated', user: 'system:anonymous', groups: ['system:unauthenticated'] },
    { label: 'system:authenticated', user: 'groundwork:security-probe', groups: ['system:authenticated'] },
  ];
  const allowed: string[] = [];
  let asked = 0;
  for (const s of subjects) {
    const answers = await Promise.all(
      SENSITIVE.map(async (a) => {
        const review = await kube.request<{ status?: { allowed?: boolean; reason?: string } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: s.user, groups: s.groups, resourceAttributes: { verb: a.verb, resource: a.resource, group: a.group ?? '', subresource: a.subresource, namespace: a.namespace } } },
          signal,
          retryUnsafe: true,
        });
        return { a, allowed: review.status?.allowed === true, reason: review.status?.reason ?? '' };
      }),
    );
    asked += answers.length;
    for (const r of answers) if (r.allowed) allowed.push(`${s.label} may ${describeAttr(r.a)}${r.reason ? ` (${r.reason})` : ''}`);
  }
  if (allowed.length === 0) return { id: 'GW-SEC-003', status: 'pass', measured: `${asked} SubjectAccessReviews: neither system:authenticated nor system:unauthenticated may read Secrets, create pods, exec, bind, escalate or impersonate` };
  return { id: 'GW-SEC-003', status: 'fail', measured: `${allowed.length} sensitive right${allowed.length === 1 ? '' : 's'} granted to every caller: ${allowed.slice(0, 4).join('; ')}${allowed.length > 4 ? `; +${allowed.length - 4} more` : ''}`, detail: allowed.join('\n') };
}

// ---- GW-SEC-004 -----------------------------------------------------------------------------------------------

function probePod(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { automountServiceAccountToken: false, containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10', securityContext: { privileged: true } }] },
  };
}

/** Does the cluster's default Pod Security level admit a privileged pod? A server-side dry run in an unlabelled namespace says. */
async function defaultAdmitsPrivileged(kube: KubeClient, ns: string, signal: AbortSignal): Promise<{ admits?: boolean; said: string }> {
  const name = `groundwork-psa-probe-${randomBytes(3).toString('hex')}`;
  try {
    await kube.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods?dryRun=All`, { body: probePod(name), signal, retryUnsafe: true });
    return { admits: true, said: `a privileged pod was admitted (dry run) in ${ns}` };
  } catch (err) {
    const msg = (err as Error).message;
    if (/PodSecurity/i.test(msg)) return { admits: false, said: `a privileged pod is refused (dry run) in ${ns}: ${(/violates PodSecurity "[^"]*"/.exec(msg)?.[0] ?? msg.slice(0, 160))}` };
    return { said: `the dry run of a privileged pod in ${ns} failed for another reason: ${msg.slice(0, 200)}` };
  }
}

/** The pods a baseline enforce label would reject: the API server's warnings on a dry-run label change. */
async function wouldReject(kube: KubeClient, ns: string, signal: AbortSignal): Promise<string[]> {
  let warnings: string[] = [];
  await kube.request('PATCH', `/api/v1/namespaces/${encodeURIComponent(ns)}?dryRun=All`, {
    body: { metadata: { labels: { [PSA]: 'baseline', [`${PSA}-version`]: 'latest' } } },
    contentType: 'application/merge-patch+json',
    signal,
    retryUnsafe: true,
    onWarnings: (w) => (warnings = w),
  });
  // The first warning says "existing pods in namespace X violate ..."; the others name the pods and why.
  return warnings.filter((w) => !/^existing pods in namespace/.test(w));
}

export async function checkPodSecurity(kube: KubeClient, namespaces: KubeObject[], o: SecurityOptions, signal: AbortSignal): Promise<Finding> {
  const exempt = new Set(o.exemptNamespaces ?? ['kube-system']);
  const privilegedOk = new Set(o.privilegedNamespaces ?? defaultPrivilegedNamespaces());
  const candidates = namespaces.filter((n) => !exempt.has(n.metadata.name ?? '') && (n.status as { phase?: string } | undefined)?.phase !== 'Terminating');
  const unlabelled = candidates.filter((n) => !n.metadata.labels?.[PSA]);
  let defaultNote = 'every namespace sets its own level';
  let defaultPermissive = false;
  if (unlabelled.length > 0) {
    const probeNs = unlabelled.find((n) => n.metadata.name === 'default') ?? unlabelled[0]!;
    const d = await defaultAdmitsPrivileged(kube, probeNs.metadata.name!, signal);
    defaultNote = d.said;
    if (d.admits === undefined) return { id: 'GW-SEC-004', status: 'skip', measured: `not measured: ${d.said}` };
    defaultPermissive = d.admits;
  }
  const weak = [
    ...(defaultPermissive ? unlabelled.map((n) => ({ ns: n.metadata.name!, why: 'no enforce label, and the cluster default admits privileged pods' })) : []),
    ...candidates.filter((n) => n.metadata.labels?.[PSA] === 'privileged' && !privilegedOk.has(n.metadata.name!)).map((n) => ({ ns: n.metadata.name!, why: 'enforce=privileged, and the spec does not allow it' })),
  ];
  if (weak.length === 0) return { id: 'GW-SEC-004', status: 'pass', measured: `${candidates.length} namespaces (${[...exempt].join(', ')} exempt): each enforces at least baseline or is an allowed node-agent namespace; ${defaultNote}` };
  const lines: string[] = [];
  for (const w of weak.slice(0, 20)) {
    const pods = await wouldReject(kube, w.ns, signal).catch((e: Error) => [`(dry run of the label failed: ${e.message.slice(0, 120)})`]);
    lines.push(`${w.ns}: ${w.why}; a baseline label would reject ${pods.length === 0 ? 'no existing pod' : pods.join('; ')}`);
  }
  return {
    id: 'GW-SEC-004',
    status: 'fail',
    measured: `${weak.length} namespace${weak.length === 1 ? '' : 's'} without Pod Security enforcement: ${weak.slice(0, 6).map((w) => w.ns).join(', ')}${weak.length > 6 ? `, +${weak.length - 6} more` : ''} (${defaultNote})`,
    detail: lines.join('\n'),
    fix: `kubectl label namespace ${weak.map((w) => w.ns).join(' ')} ${PSA}=baseline --overwrite (after moving the pods listed in the detail), or configure the cluster default (spec.security.podSecurity)`,
  };
}

// ---- GW-SEC-008 -----------------------------------------------------------------------------------------------

async function sizeOf(file: string): Promise<number> {
  return (await stat(file).catch(() => undefined))?.size ?? 0;
}

/** The first line holding `marker` written after byte `from` (from 0 when the log was rotated), waiting up to 10 s. */
async function findInFile(file: string, marker: string, from: number, signal: AbortSignal, waitMs = 10_000): Promise<string | undefined> {
  const look = async (): Promise<{ line?: string }> => {
    const fh = await open(file, 'r').catch(() => undefined);
    if (!fh) return {};
    try {
      const { size } = await fh.stat();
      const start = size < from ? 0 : from;
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return { line: buf.toString('utf8').split('\n').find((l) => l.includes(marker)) };
    } finally {
      await fh.close();
    }
  };
  return (await pollUntil(look, (v) => v.line !== undefined, { timeoutMs: waitMs, intervalMs: 200, signal })).view.line;
}

export async function checkAuditLog(kube: KubeClient, flags: ApiServerFlags, o: SecurityOptions, signal: AbortSignal): Promise<Finding> {
  const fromFlags = judgeAuditFlags(flags);
  if (o.auditLog) {
    const marker = `groundwork-audit-probe-${randomBytes(4).toString('hex')}`;
    // Only what is written after our request is read: the log may hold 100 MiB before rotation.
    const from = await sizeOf(o.auditLog);
    // A read of a ConfigMap that does not exist: recorded at Metadata by groundwork's policy (403 or 404 alike).
    await kube.get('v1', 'ConfigMap', marker, 'kube-system', signal).catch(() => undefined);
    const line = await findInFile(o.auditLog, marker, from, signal);
    if (!line) {
      const why = existsSync(o.auditLog) ? `kube-apiserver wrote no event for our request (GET configmaps/${marker}) to ${o.auditLog} within 10 s` : `${o.auditLog} does not exist: kube-apiserver writes no audit log there`;
      return { id: 'GW-SEC-008', status: 'fail', measured: fromFlags?.status === 'fail' ? `${why}; ${fromFlags.measured}` : why };
    }
    let level = '?';
    try {
      level = String((JSON.parse(line) as { level?: string }).level ?? '?');
    } catch {
      /* a legacy-format line */
    }
    if (fromFlags?.status === 'fail') return fromFlags;
    return { id: 'GW-SEC-008', status: 'pass', measured: `our request (GET configmaps/${marker}) is in ${o.auditLog} at level ${level}${fromFlags ? `; ${fromFlags.measured}` : ''}` };
  }
  if (fromFlags) return fromFlags;
  if (o.method === 'talos') return skip('GW-SEC-008', `Talos keeps the audit log at ${TALOS_AUDIT_LOG} on each control plane, which the API does not show: read it with \`talosctl -n <control plane> read ${TALOS_AUDIT_LOG}\`, or pass --audit-log FILE where it is readable`);
  return skip('GW-SEC-008', 'no kube-apiserver pods in kube-system show its flags; pass --audit-log FILE (the log, where this machine can read it) to prove it writes');
}

// ---- GW-SEC-009 -----------------------------------------------------------------------------------------------

export async function checkEncryption(s: ValidateSession, ctx: StepContext, kube: KubeClient, flags: ApiServerFlags): Promise<Finding> {
  let transformers: string[] | undefined;
  if (flags.length === 0 || !flags.every((f) => f.flags.has('encryption-provider-config'))) {
    // Write a Secret of our own, then ask /metrics how the API server transformed it on its way to etcd.
    // (validate's printed role cannot create Secrets: then /metrics says what the cluster's own traffic did.)
    const ns = await s.namespace(ctx);
    const name = `groundwork-encryption-probe-${randomBytes(3).toString('hex')}`;
    let wrote = false;
    try {
      await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'Opaque', data: { probe: Buffer.from('not a secret').toString('base64') } }, ctx.signal);
      wrote = true;
    } catch (err) {
      if ((err as { code?: number }).code !== 403) throw err;
    }
    try {
      const metrics = await kube.raw('/metrics', ctx.signal).catch(() => undefined);
      transformers = metrics === undefined ? undefined : storageTransformers(metrics);
    } finally {
      if (wrote) await kube.delete('v1', 'Secret', name, ns, { signal: ctx.signal }).catch(() => undefined);
    }
    if (!wrote && transformers?.length === 0) return skip('GW-SEC-009', 'this account has no right to write a probe Secret, and /metrics holds no Secret written yet');
  }
  return judgeEncryption(flags, transformers);
}

// ---- the suite ------------------------------------------------------------------------------------------------

export async function runSecurity(s: ValidateSession, ctx: StepContext): Promise<StepOutcome> {
  const kube = await s.kube();
  const o: SecurityOptions = s.opts.security ?? {};
  const now = o.now?.() ?? new Date();
  const signal = ctx.signal;
  const [rbac, authz] = await Promise.all([serves(kube, '/apis/rbac.authorization.k8s.io/v1', 'clusterrolebindings', signal), serves(kube, '/apis/authorization.k8s.io/v1', 'subjectaccessreviews', signal)]);
  const noRbac = `the API serves no rbac.authorization.k8s.io/v1${o.rehearsal ? ' (the lab\'s embedded API has no RBAC)' : ''}`;

  const [namespaces, pods, policies] = await Promise.all([
    kube.list('v1', 'Namespace', { signal }).then((l) => l.items),
    kube.list('v1', 'Pod', { signal }).then((l) => l.items),
    kube.list('networking.k8s.io/v1', 'NetworkPolicy', { signal }).then((l) => l.items),
  ]);
  // kube-apiserver's flags, from its (mirror) pods in kube-system.
  const flags = apiServerFlags(pods.filter((p) => p.metadata.namespace === 'kube-system'));
  const [bindings, roleBindings, clusterRoles, serviceAccounts] = rbac
    ? await Promise.all([
        kube.list('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', { signal }).then((l) => l.items),
        kube.list('rbac.authorization.k8s.io/v1', 'RoleBinding', { signal }).then((l) => l.items),
        kube.list('rbac.authorization.k8s.io/v1', 'ClusterRole', { signal }).then((l) => l.items),
        kube.list('v1', 'ServiceAccount', { signal }).then((l) => l.items),
      ])
    : [[], [], [], []];

  // kubeadm's admin.conf is in kubeadm:cluster-admins; unknown methods are judged as kubeadm.
  const adminGroups = o.method === 'talos' ? ['system:masters'] : ['system:masters', 'kubeadm:cluster-admins'];
  const privileged = new Set(o.privilegedNamespaces ?? defaultPrivilegedNamespaces());
  const validateNamespaces = validateOwnNamespaces(namespaces, pods);
  const quiet = new Set(['kube-system', 'kube-public', 'kube-node-lease', ...validateNamespaces]);

  const findings: Finding[] = await Promise.all([
    guarded('GW-SEC-001', () => checkAnonymous(kube, signal)),
    guarded('GW-SEC-002', () => (rbac ? judgeClusterAdmins(bindings, clusterRoles, adminGroups) : skip('GW-SEC-002', noRbac))),
    guarded('GW-SEC-003', () => (authz ? checkGroupRights(kube, signal) : skip('GW-SEC-003', `the API serves no SubjectAccessReview (authorization.k8s.io/v1)${o.rehearsal ? ': the lab\'s embedded API has none' : ''}`))),
    guarded('GW-SEC-004', () => checkPodSecurity(kube, namespaces.filter((n) => !validateNamespaces.has(n.metadata.name!)), o, signal)),
    guarded('GW-SEC-005', () => judgeHostAccessPods(pods, privileged)),
    guarded('GW-SEC-006', () => (rbac ? judgeDefaultServiceAccounts(serviceAccounts, [...bindings, ...roleBindings]) : skip('GW-SEC-006', noRbac))),
    guarded('GW-SEC-007', () => judgeDefaultDeny(pods, policies, quiet)),
    guarded('GW-SEC-008', () => checkAuditLog(kube, flags, o, signal)),
    guarded('GW-SEC-009', () => checkEncryption(s, ctx, kube, flags)),
  ]);

  // An API without RBAC and SubjectAccessReview is not a full Kubernetes API (the lab's embedded one): it has no
  // Pod Security admission either, so what that check found is about the simulator, not a cluster.
  const embedded = !rbac && !authz;
  const located = findings.map((f): Finding => (embedded && f.id === 'GW-SEC-004' && f.status === 'fail' ? skip('GW-SEC-004', `the API serves neither RBAC nor SubjectAccessReview (the lab's embedded API), so it has no Pod Security admission to check (${f.measured})`) : f));
  // The lab is not the operator's cluster: what it lacks is said, never failed (the rehearsal's job stays green).
  const judged = o.rehearsal
    ? located.map((f): Finding => (f.status === 'fail' ? { ...f, status: 'warn', measured: `rehearsal (the lab, not your cluster): ${f.measured}` } : f))
    : located;
  const waivers = o.waivers ?? [];
  const reported = applyWaivers(judged, waivers, now).map(reportFinding);
  const outcome = summarizeChecks('security', reported.map(toCheck), {
    benchmark: CIS_BENCHMARK,
    findings: reported,
    waivers: waivers.map((w) => ({ ...w, active: reported.find((f) => f.id === w.check)?.waiver?.state ?? 'unused', label: SECURITY_CHECKS[w.check].name })),
  });
  const waiverLines = describeWaivers(waivers, now);
  const header = `${CIS_BENCHMARK} IDs in brackets${waiverLines.length ? `\n${waiverLines.join('\n')}` : '\nno waivers'}`;
  const passed = reported.filter((f) => f.status === 'pass').length;
  const summary = outcome.status === 'pass' ? `security: ${passed} of ${reported.length} checks pass${reported.some((f) => f.status === 'skip') ? `, ${reported.filter((f) => f.status === 'skip').length} not measurable here` : ''}${waivers.length ? `; ${waivers.length} waiver${waivers.length === 1 ? '' : 's'}` : ''}` : outcome.summary;
  return { ...outcome, summary, detail: `${header}\n${outcome.detail ?? ''}` };
}
