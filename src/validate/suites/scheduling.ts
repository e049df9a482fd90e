/**
 * Scheduling, through the real scheduler (no nodeName here): one pod per schedulable node with a hostname
 * topologySpread must land one per node; a pod pinned by nodeAffinity lands on its node; a request no node can
 * satisfy stays Pending with FailedScheduling; a pod that may only go to a tainted node without tolerating it
 * stays Pending too.
 */
import type { StepContext, StepOutcome } from '../../run/types.js';
import type { KubeObject } from '../../kube/index.js';
import { buildProbePod, requireNode } from '../objects.js';
import { HOSTNAME_LABEL } from '../../kube/paths.js';
import { condition, describePod, nodeOf } from '../pod-state.js';
import { createAll, explainStuck, waitPods } from '../pods.js';
import { summarizeChecks, type Check } from '../checks.js';
import { hasLifecycleTaint, listSchedulableNodes, type NodeInfo } from '../nodes.js';
import type { ValidateSession } from '../session.js';

const SPREAD_LABEL = 'groundwork.dev/spread';

/**
 * Where the spread pods went versus where they should: one on every schedulable node, none elsewhere. `after` is
 * the nodes re-read once the pods ran: when the schedulable nodes changed meanwhile (a controller still taking
 * taints off nodes that just joined), a pod on a node schedulable in either view is placed right, and with more
 * nodes than pods some node has none by design; stacking beyond what the spread allows and pods on nodes that took
 * no pods in both views stay failures.
 */
export function checkSpread(nodes: NodeInfo[], placed: Map<string, string | undefined>, after: NodeInfo[] = nodes): Check {
  const schedulable = nodes.filter((n) => n.schedulable).map((n) => n.name);
  const later = after.filter((n) => n.schedulable).map((n) => n.name);
  const joined = later.filter((n) => !schedulable.includes(n));
  const left = schedulable.filter((n) => !later.includes(n));
  const steady = schedulable.filter((n) => later.includes(n));
  const count = new Map<string, number>();
  for (const node of placed.values()) if (node) count.set(node, (count.get(node) ?? 0) + 1);
  // maxSkew 1 over the nodes that take pods throughout: no node has more than its share.
  const share = Math.max(1, Math.ceil(placed.size / Math.max(1, steady.length)));
  const changed = joined.length > 0 || left.length > 0;
  const missing = changed ? [] : schedulable.filter((n) => !count.has(n));
  const doubled = [...count.entries()].filter(([, c]) => c > share).map(([n, c]) => `${n} x${c}`);
  const wrong = [...count.keys()].filter((n) => !schedulable.includes(n) && !later.includes(n));
  const unplaced = [...placed.values()].filter((n) => !n).length;
  const settling = changed
    ? ` (the schedulable nodes changed meanwhile:${joined.length ? ` ${joined.length} began taking pods${joined.length <= 10 ? ` (${joined.join(', ')})` : ''}` : ''}${joined.length && left.length ? ',' : ''}${left.length ? ` ${left.length} stopped (${left.slice(0, 10).join(', ')})` : ''})`
    : '';
  if (missing.length === 0 && doubled.length === 0 && wrong.length === 0 && unplaced === 0) {
    return { name: 'spread', status: 'pass', summary: changed ? `${placed.size} pods spread one per node${settling}` : `${placed.size} pods spread one per schedulable node` };
  }
  const parts = [
    unplaced ? `${unplaced} pods not scheduled` : '',
    missing.length ? `no pod on ${missing.slice(0, 10).join(', ')}` : '',
    doubled.length ? `stacked on ${doubled.slice(0, 10).join(', ')}` : '',
    wrong.length ? `placed on tainted/cordoned ${wrong.join(', ')}` : '',
  ].filter(Boolean);
  return {
    name: 'spread',
    status: 'fail',
    summary: `topologySpread not honoured: ${parts.join('; ')}${settling}`,
    why: wrong.length ? 'the scheduler ignores taints or cordons' : 'the scheduler does not spread pods as asked (or some nodes cannot take pods)',
    fix: 'kubectl describe nodes (capacity, taints) and kube-scheduler logs',
  };
}

export async function runScheduling(s: ValidateSession, ctx: StepContext): Promise<StepOutcome> {
  const kube = await s.kube();
  const nodes = await s.nodes(ctx);
  const schedulable = nodes.filter((n) => n.schedulable);
  if (schedulable.length === 0) return s.noTestNode('scheduling', nodes, 'scheduling', 'pods without tolerations (most workloads) stay Pending');
  // A taint that stays: not one the node lifecycle controller may take off while the test pod waits.
  const tainted = nodes.find((n) => n.ready && !n.unschedulable && n.taints.some((t) => t.effect === 'NoSchedule') && !hasLifecycleTaint(n));
  const ns = await s.namespace(ctx);
  const b = s.buildContext(ctx, ns);
  const sleep = [{ name: 'pause', probe: { kind: 'sleep' as const } }];
  const small = { requests: { cpu: '1m', memory: '4Mi' } };

  const spread = schedulable.map((_, i) =>
    buildProbePod(b, `spread-${i}`, 'scheduling', sleep, {
      labels: { [SPREAD_LABEL]: 'yes' },
      resources: small,
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: HOSTNAME_LABEL, whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: { [SPREAD_LABEL]: 'yes' } } }],
    }),
  );
  const target = schedulable[schedulable.length - 1]!.name;
  const affinity = buildProbePod(b, 'affinity', 'scheduling', sleep, { affinity: requireNode(target), resources: small });
  const impossible = buildProbePod(b, 'impossible', 'scheduling', sleep, { resources: { requests: { cpu: '100000', memory: '64Ti' } } });
  const repel = tainted ? buildProbePod(b, 'taint-repel', 'scheduling', sleep, { affinity: requireNode(tainted.name), resources: small }) : undefined;
  const all: KubeObject[] = [...spread, affinity, impossible, ...(repel ? [repel] : [])];
  await createAll(kube, all, ctx.signal);

  const checks: Check[] = [];
  const running = await waitPods(kube, ns, [...spread, affinity].map((p) => p.metadata.name!), 'running', { labelSelector: 'groundwork.dev/suite=scheduling', timeoutMs: s.timeoutMs, signal: ctx.signal });
  const placed = new Map(spread.map((p) => [p.metadata.name!, (() => { const x = running.pods.get(p.metadata.name!); return x ? nodeOf(x) : undefined; })()]));
  // Judged against the nodes as they are now too: the pods were placed on whatever the scheduler saw meanwhile.
  checks.push(checkSpread(nodes, placed, await listSchedulableNodes(kube, ctx.signal)));
  const aff = running.pods.get('affinity');
  checks.push(
    aff && nodeOf(aff) === target
      ? { name: 'nodeAffinity', status: 'pass', summary: `nodeAffinity honoured (on ${target})` }
      : { name: 'nodeAffinity', status: 'fail', summary: `the pod required on ${target} ${aff && nodeOf(aff) ? `went to ${nodeOf(aff)}` : 'was not scheduled'}`, fix: 'kubectl describe pod; kube-scheduler logs' },
  );
  let stuckEvidence: unknown;
  if (running.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, running.stuck, ctx.signal);
    stuckEvidence = ev;
    checks[0] = { ...checks[0]!, summary: `${checks[0]!.summary}: ${ev.diagnosis.cause}`, fix: ev.diagnosis.fix };
  }

  // Pending pods: wait (briefly) for the scheduler to say no. A pod that got a node is the failure.
  const pendingNames = ['impossible', ...(repel ? ['taint-repel'] : [])];
  const k = await import('../../kube/index.js');
  let pending = new Map<string, KubeObject>();
  try {
    pending = await k.waitFor(kube, 'v1', 'Pod', { namespace: ns, labelSelector: 'groundwork.dev/suite=scheduling', timeoutMs: Math.min(s.timeoutMs, 30_000), signal: ctx.signal, what: 'the scheduler to refuse' }, (objs) => {
      const m = new Map([...objs.values()].filter((o) => pendingNames.includes(o.metadata.name!)).map((o) => [o.metadata.name!, o]));
      const decided = pendingNames.every((n) => {
        const p = m.get(n);
        return p && (nodeOf(p) || condition(p, 'PodScheduled')?.status === 'False');
      });
      return decided ? m : undefined;
    });
  } catch (err) {
    if (!(err instanceof k.WaitTimeout)) throw err;
    for (const o of err.last.values()) if (pendingNames.includes(o.metadata.name!)) pending.set(o.metadata.name!, o);
  }
  const events = await k.listEvents(kube, ns, { kind: 'Pod', signal: ctx.signal }).catch(() => []);
  const refused = (name: string, label: string, expectWords: RegExp, subject: string): Check => {
    const p = pending.get(name);
    const ev = events.filter((e) => e.object === `Pod/${name}` && e.reason === 'FailedScheduling').pop();
    if (p && nodeOf(p)) return { name: label, status: 'fail', summary: `${subject} was scheduled onto ${nodeOf(p)}`, why: 'the scheduler ignores resource requests or taints', fix: 'kube-scheduler configuration and logs' };
    const cond = p ? condition(p, 'PodScheduled') : undefined;
    if (!ev && cond?.status !== 'False') return { name: label, status: 'fail', summary: `${subject} stayed Pending but no FailedScheduling event or Unschedulable condition says why`, fix: 'check that kube-scheduler runs and records events' };
    const msg = ev?.message ?? cond?.message ?? '';
    // The scheduler's words should name the reason we built the pod to hit; other words still mean "refused".
    const note = expectWords.test(msg) ? '' : ' for another reason';
    return { name: label, status: 'pass', summary: `${subject} stays Pending (FailedScheduling${note})`, detail: msg.slice(0, 300) };
  };
  checks.push(refused('impossible', 'unsatisfiable', /Insufficient|cpu|memory/i, 'an unsatisfiable request'));
  if (repel) checks.push(refused('taint-repel', 'taints', /taint/i, `a pod only allowed on tainted ${tainted!.name}`));
  else checks.push({ name: 'taints', status: 'skip', summary: 'no Ready node with a lasting NoSchedule taint: taint repulsion not tested' });

  return summarizeChecks('scheduling', checks, {
    placements: Object.fromEntries(placed),
    pending: [...pending.values()].map(describePod),
    ...(stuckEvidence ? { stuck: stuckEvidence } : {}),
  });
}
