/**
 * NetworkPolicy enforcement, in a namespace of its own (its default-deny must not touch the other suites):
 * servers app=postgres (5432, and 3306 as a trap), app=mysql (3306), app=redis (6379), app=memcached (11211). A
 * baseline client proves everything connects without policies; then default-deny plus the common two-rule egress
 * policy (and a third rule to memcached) go in, with an ingress policy admitting the client to postgres, mysql and
 * redis, and a second client must reach exactly what the policies allow. Each direction is proven on its own:
 * postgres:3306 and redis:6379 only the client's Egress rules deny (their ingress admits the client);
 * memcached:11211 only the default-deny's Ingress isolation denies (the client's egress allows it). What "allowed" means comes from the same evaluator
 * the lab uses (src/net/netpol.ts), so the expectation is derived from the policies, not hand-written.
 * All pods share one node: cross-node trouble is the connectivity suite's to report.
 *
 * A real enforcer programs a new pod's rules only once it knows the pod's IP, which the kubelet reports a second
 * or so after the pod's containers start (kube-router's policy controller: the servers' ingress ipsets lack the
 * new client, whose own egress chain does not exist yet; Calico's Felix and Cilium's agent also act on the pod's
 * endpoint). A client probing at once saw allowed traffic refused on a real kube-router cluster. So the client
 * under policy first waits, in an init container, until one connection the policies allow works (up to
 * GATE_ATTEMPTS tries a second apart): then the enforcer has the pod, and the probes that follow judge the policies.
 * A policy-blind CNI passes the gate at once; one that never lets the allowed connection through fails it, and that
 * is the verdict.
 */
import type { StepContext, StepOutcome } from '../../run/types.js';
import { verdictsByDirection, type NetworkPolicy } from '../../net/netpol.js';
import { explainPolicy } from '../../net/netpol-explain.js';
import type { KubeObject } from '../../kube/index.js';
import { buildNetpolObjects, buildProbePod, ROLE_LABEL } from '../objects.js';
import { containerResults, initResults } from '../pod-state.js';
import { createAll, explainStuck, failedLogs, formatEvents, podIP, waitPods } from '../pods.js';
import type { ValidateSession } from '../session.js';

export interface NetpolTarget {
  container: string;
  app: string;
  port: number;
}

/** How many times the client under policy tries an allowed connection before it probes (1 s apart). */
export const GATE_ATTEMPTS = 20;

export const NETPOL_TARGETS: NetpolTarget[] = [
  { container: 'postgres-5432', app: 'postgres', port: 5432 },
  { container: 'mysql-3306', app: 'mysql', port: 3306 },
  { container: 'postgres-3306', app: 'postgres', port: 3306 },
  { container: 'redis-6379', app: 'redis', port: 6379 },
  { container: 'memcached-11211', app: 'memcached', port: 11211 },
];

export interface NetpolRow {
  target: string;
  expected: 'allowed' | 'denied';
  observed: 'connected' | 'blocked' | 'unknown';
  reason: string;
  /** Which directions' rules deny it (from the evaluator): a leak of an ingress-only row means ingress is not enforced. */
  deniedBy?: ('ingress' | 'egress')[];
}

/** Expected verdicts for the enforced client from the evaluator, given the policies and pod labels. */
export function expectVerdicts(namespace: string, policies: NetworkPolicy[], clientLabels: Record<string, string>, serverLabels: Record<string, Record<string, string>>): Map<string, { allowed: boolean; reasons: string[]; deniedBy: ('ingress' | 'egress')[] }> {
  const nsLabels = { 'kubernetes.io/metadata.name': namespace };
  const out = new Map<string, { allowed: boolean; reasons: string[]; deniedBy: ('ingress' | 'egress')[] }>();
  for (const t of NETPOL_TARGETS) {
    const v = verdictsByDirection(
      {
        from: { ip: '10.0.0.1', podLabels: clientLabels, namespace, namespaceLabels: nsLabels, name: 'client' },
        to: { ip: '10.0.0.2', podLabels: serverLabels[t.app]!, namespace, namespaceLabels: nsLabels, name: t.app, port: t.port, protocol: 'TCP' },
      },
      policies,
    );
    const deniedBy = [...(v.egress.allowed ? [] : ['egress' as const]), ...(v.ingress.allowed ? [] : ['ingress' as const])];
    out.set(t.container, { allowed: deniedBy.length === 0, reasons: [v.egress.reason, v.ingress.reason], deniedBy });
  }
  return out;
}

const CNI_PATTERNS: [RegExp, string][] = [
  [/flannel/i, 'flannel'],
  [/^canal/i, 'canal'],
  [/cilium/i, 'cilium'],
  [/calico/i, 'calico'],
  [/weave/i, 'weave'],
  [/antrea/i, 'antrea'],
  [/kube-router/i, 'kube-router'],
];

/** The CNI(s) a cluster runs, from its DaemonSet names (kube-flannel-ds, cilium, calico-node...). */
export function detectCni(daemonSetNames: string[]): string[] {
  const found = new Set<string>();
  for (const n of daemonSetNames) for (const [re, name] of CNI_PATTERNS) if (re.test(n)) found.add(name);
  return [...found];
}

/** The verdict on what was observed: enforcement missing, over-blocking, or all as expected. */
export function diagnoseNetpol(rows: NetpolRow[], cni: string[] = []): { status: 'pass' | 'fail'; summary: string; why?: string; fix?: string } {
  const leaked = rows.filter((r) => r.expected === 'denied' && r.observed === 'connected');
  const blocked = rows.filter((r) => r.expected === 'allowed' && r.observed !== 'connected');
  if (leaked.length === rows.filter((r) => r.expected === 'denied').length && leaked.length > 0 && blocked.length === 0) {
    return {
      status: 'fail',
      summary: `NetworkPolicies are not enforced: traffic they deny got through (${leaked.map((r) => r.target).join(', ')})`,
      why: cni.includes('flannel') && !cni.some((c) => c === 'canal' || c === 'calico')
        ? 'the CNI (flannel) ignores NetworkPolicy objects: every policy in this cluster is decoration'
        : `the CNI${cni.length ? ` (${cni.join(', ')})` : ''} ignores NetworkPolicy objects (Flannel does; Cilium or Calico with policy enforcement disabled do too): every policy in this cluster is decoration`,
      fix: 'use a CNI that enforces NetworkPolicy (spec.network.cni: cilium or calico), or enable its policy enforcement',
    };
  }
  const onlyBy = (d: 'ingress' | 'egress') => rows.filter((r) => r.expected === 'denied' && r.deniedBy?.length === 1 && r.deniedBy[0] === d);
  const ignored = (d: 'ingress' | 'egress') => onlyBy(d).length > 0 && onlyBy(d).every((r) => r.observed === 'connected');
  const held = (d: 'ingress' | 'egress') => onlyBy(d).length > 0 && onlyBy(d).every((r) => r.observed === 'blocked');
  for (const [dir, other] of [['ingress', 'egress'], ['egress', 'ingress']] as const) {
    if (leaked.length > 0 && blocked.length === 0 && ignored(dir) && held(other) && leaked.every((r) => r.deniedBy?.includes(dir))) {
      const Dir = dir === 'ingress' ? 'Ingress' : 'Egress';
      const Other = other === 'ingress' ? 'Ingress' : 'Egress';
      return {
        status: 'fail',
        summary: `${Dir} rules are not enforced: traffic only an ${Dir} rule denies got through (${onlyBy(dir).map((r) => r.target).join(', ')}); ${Other} rules are (${onlyBy(other).map((r) => r.target).join(', ')} blocked)`,
        why: dir === 'ingress'
          ? `the CNI${cni.length ? ` (${cni.join(', ')})` : ''} applies egress policy but not ingress: a pod's own ingress policy (and the namespace default-deny) does not protect it from other pods`
          : `the CNI${cni.length ? ` (${cni.join(', ')})` : ''} applies ingress policy but not egress: pods reach anything their egress policy forbids unless the destination refuses it`,
        fix: `check the CNI's ${dir} policy enforcement (Cilium: enable-policy and the ${dir} datapath, cilium monitor --type drop; Calico: felix logs) and its version`,
      };
    }
  }
  if (leaked.length > 0) {
    return {
      status: 'fail',
      summary: `some denied traffic got through: ${leaked.map((r) => r.target).join(', ')}`,
      why: 'the CNI enforces NetworkPolicy only partly (port-level rules or multi-rule policies mishandled)',
      fix: 'check the CNI\'s policy logs (cilium monitor --type drop / calico felix logs) and its version',
    };
  }
  if (blocked.length > 0) {
    return {
      status: 'fail',
      summary: `traffic the policies allow was blocked: ${blocked.map((r) => r.target).join(', ')}`,
      why: 'the CNI blocks more than the policies say (policies not applied to new pods yet, or a cluster-wide policy also applies)',
      fix: 'check cluster-wide policies (CiliumClusterwideNetworkPolicy, GlobalNetworkPolicy) and the CNI agent logs',
    };
  }
  const dirs = (['egress', 'ingress'] as const).filter(held);
  return {
    status: 'pass',
    summary: `NetworkPolicy enforced: ${rows.filter((r) => r.expected === 'allowed').length} allowed connections passed, ${rows.filter((r) => r.expected === 'denied').length} denied ones were blocked${dirs.length === 2 ? ' (ingress and egress each proven, default-deny in force)' : ''}`,
  };
}

export async function runNetpol(s: ValidateSession, ctx: StepContext): Promise<StepOutcome> {
  const kube = await s.kube();
  const allNodes = await s.nodes(ctx);
  const node = allNodes.find((n) => n.schedulable);
  if (!node) return s.noTestNode('netpol', allNodes, 'NetworkPolicy enforcement');
  const ns = await s.namespace(ctx, 'netpol');
  const b = s.buildContext(ctx, ns);
  const serverLabels: Record<string, Record<string, string>> = { postgres: { app: 'postgres' }, mysql: { app: 'mysql' }, redis: { app: 'redis' }, memcached: { app: 'memcached' } };
  const servers = [
    buildProbePod(b, 'postgres', 'netpol', [{ name: 'pg', probe: { kind: 'serve', port: 5432 } }, { name: 'trap', probe: { kind: 'serve', port: 3306 } }], { nodeName: node.name, labels: serverLabels.postgres, restartPolicy: 'Always' }),
    buildProbePod(b, 'mysql', 'netpol', [{ name: 'mysql', probe: { kind: 'serve', port: 3306 } }], { nodeName: node.name, labels: serverLabels.mysql, restartPolicy: 'Always' }),
    buildProbePod(b, 'redis', 'netpol', [{ name: 'redis', probe: { kind: 'serve', port: 6379 } }], { nodeName: node.name, labels: serverLabels.redis, restartPolicy: 'Always' }),
    buildProbePod(b, 'memcached', 'netpol', [{ name: 'memcached', probe: { kind: 'serve', port: 11211 } }], { nodeName: node.name, labels: serverLabels.memcached, restartPolicy: 'Always' }),
  ];
  await createAll(kube, servers, ctx.signal);
  const up = await waitPods(kube, ns, servers.map((p) => p.metadata.name!), 'running', { timeoutMs: s.timeoutMs, signal: ctx.signal });
  if (up.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, up.stuck, ctx.signal);
    return { status: 'fail', summary: `the NetworkPolicy test servers did not start: ${ev.diagnosis.cause}`, detail: [...ev.pods, ...formatEvents(ev.events)].join('\n'), fix: ev.diagnosis.fix, evidence: { stuck: ev.pods, events: ev.events } };
  }
  const ip = (app: string) => podIP(up.pods.get(app)!)!;
  const clientLabels = { [ROLE_LABEL]: 'client' };
  const client = (name: string, gate?: NetpolTarget): KubeObject =>
    buildProbePod(b, name, 'netpol', NETPOL_TARGETS.map((t) => ({ name: t.container, probe: { kind: 'connect' as const, host: ip(t.app), port: t.port, timeoutS: 2 } })), {
      nodeName: node.name,
      labels: clientLabels,
      ...(gate ? { init: [{ name: 'gate', probe: { kind: 'connect' as const, host: ip(gate.app), port: gate.port, timeoutS: 2, attempts: GATE_ATTEMPTS } }] } : {}),
    });

  const probe = async (name: string, gate?: NetpolTarget) => {
    await kube.create(client(name, gate), ctx.signal);
    const r = await waitPods(kube, ns, [name], 'finished', { timeoutMs: s.timeoutMs, signal: ctx.signal });
    return r;
  };

  // 1. Baseline: without policies everything must connect, or a "blocked" later would prove nothing.
  const base = await probe('baseline');
  if (base.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, base.stuck, ctx.signal);
    return { status: 'fail', summary: `the baseline client did not finish: ${ev.diagnosis.cause}`, fix: ev.diagnosis.fix, evidence: { stuck: ev.pods, events: ev.events } };
  }
  const baseResults = containerResults(base.pods.get('baseline')!);
  const baseBad = NETPOL_TARGETS.filter((t) => baseResults.get(t.container) !== true);
  if (baseBad.length > 0) {
    const logs = await failedLogs(kube, ns, baseBad.map((t) => ({ pod: 'baseline', container: t.container })), ctx.signal);
    return {
      status: 'fail',
      summary: `inconclusive: even without policies the client could not reach ${baseBad.map((t) => t.container).join(', ')}`,
      detail: logs.join('\n'),
      why: 'pods on the same node cannot talk; enforcement cannot be judged',
      fix: 'see the connectivity result',
      evidence: { baseline: Object.fromEntries(baseResults), logs },
    };
  }

  // 2. Policies in, then a fresh client (a new pod gets the policies from its first packet).
  const policies = buildNetpolObjects(ns, s.runId(ctx));
  const expected = expectVerdicts(ns, policies as unknown as NetworkPolicy[], clientLabels, serverLabels);
  const gate = NETPOL_TARGETS.find((t) => expected.get(t.container)?.allowed);
  for (const p of policies) await kube.create(p, ctx.signal);
  const enforced = await probe('enforced', gate);
  if (enforced.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, enforced.stuck, ctx.signal);
    return { status: 'fail', summary: `the client under policy did not finish: ${ev.diagnosis.cause}`, fix: ev.diagnosis.fix, evidence: { stuck: ev.pods, events: ev.events } };
  }
  const enforcedPod = enforced.pods.get('enforced')!;
  if (gate && initResults(enforcedPod).get('gate') === false) {
    const target = `${gate.app}:${gate.port}`;
    const logs = await failedLogs(kube, ns, [{ pod: 'enforced', container: 'gate' }], ctx.signal);
    return {
      status: 'fail',
      summary: `traffic the policies allow was blocked: ${target} (the client under policy could not reach it in ${GATE_ATTEMPTS} tries a second apart; nothing else was probed)`,
      detail: logs.join('\n'),
      why: 'the CNI blocks more than the policies say (policies not applied to new pods, or a cluster-wide policy also applies)',
      fix: 'check cluster-wide policies (CiliumClusterwideNetworkPolicy, GlobalNetworkPolicy) and the CNI agent logs',
      evidence: { node: node.name, gate: target, logs },
    };
  }
  const results = containerResults(enforcedPod);
  const rows: NetpolRow[] = NETPOL_TARGETS.map((t) => {
    const e = expected.get(t.container)!;
    const r = results.get(t.container);
    return { target: `${t.app}:${t.port}`, expected: e.allowed ? 'allowed' : 'denied', observed: r === undefined ? 'unknown' : r ? 'connected' : 'blocked', reason: e.reasons.join('; '), deniedBy: e.deniedBy };
  });
  const daemonSets = await kube.list('apps/v1', 'DaemonSet', { signal: ctx.signal }).then((l) => l.items.map((d) => d.metadata.name!)).catch(() => [] as string[]);
  const diag = diagnoseNetpol(rows, detectCni(daemonSets));
  const table = rows.map((r) => `${r.target.padEnd(16)} expected ${r.expected.padEnd(7)} observed ${r.observed.padEnd(9)}${r.deniedBy?.length ? ` (denied by ${r.deniedBy.join(' and ')})` : ''}`);
  const explained = policies.flatMap((p) => explainPolicy(p as unknown as NetworkPolicy));
  const egressRule = explainPolicy(policies[1] as unknown as NetworkPolicy).find((l) => l.startsWith('egress allowed'));
  return {
    status: diag.status,
    summary: diag.summary,
    detail: [...table, `client policy: ${egressRule ?? ''}; default-deny (ingress and egress) for everything else`].join('\n'),
    why: diag.why,
    fix: diag.fix,
    evidence: { node: node.name, rows, policies: explained },
  };
}
