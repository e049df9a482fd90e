/**
 * Pod plumbing the suites share: create many objects at once, wait for pods to run or finish, and gather the
 * evidence of a failure (pod states, events, the logs of failed probes).
 */
import { mapLimit } from '../run/map-limit.js';
import type { KubeClient, KubeObject, EventSummary } from '../kube/index.js';
import { describePod, diagnosePod, isFinished, isRunning, isUnschedulable, nodeOf, statusOf, type PodDiagnosis } from './pod-state.js';
import { listSchedulableNodes } from './nodes.js';

/** Runs `fn` over items, `limit` at a time. */
export async function createAll(kube: KubeClient, objs: KubeObject[], signal: AbortSignal): Promise<KubeObject[]> {
  return mapLimit(objs, 16, (o) => kube.create(o, signal));
}

type PodGoal = 'running' | 'finished';

interface PodWaitResult {
  pods: Map<string, KubeObject>;
  /** Pods that did not reach the goal in time (empty on success). */
  stuck: KubeObject[];
  timedOut: boolean;
  /** Pods the scheduler refused (waiting stopped at once: they will not run by themselves). */
  unschedulable: KubeObject[];
}

/** Waits until every named pod reached the goal; on timeout returns what it saw instead of throwing. */
export async function waitPods(kube: KubeClient, namespace: string, names: string[], goal: PodGoal, opts: { labelSelector?: string; timeoutMs: number; signal: AbortSignal }): Promise<PodWaitResult> {
  const k = await import('../kube/index.js');
  const want = new Set(names);
  const reached = goal === 'running' ? isRunning : isFinished;
  const byName = (objs: Map<string, KubeObject>) => {
    const m = new Map<string, KubeObject>();
    for (const o of objs.values()) if (want.has(o.metadata.name!)) m.set(o.metadata.name!, o);
    return m;
  };
  try {
    const pods = await k.waitFor(kube, 'v1', 'Pod', { namespace, labelSelector: opts.labelSelector, timeoutMs: opts.timeoutMs, signal: opts.signal, what: `pods to be ${goal}` }, (objs) => {
      const m = byName(objs);
      // A pod that finished while we wait for it to run will never run: stop waiting, it is evidence.
      if (goal === 'running' && [...m.values()].some((p) => isFinished(p))) return m;
      // A pod the scheduler refused will not get anywhere by waiting either: report it in seconds, not at the timeout.
      if ([...m.values()].some(isUnschedulable)) return m;
      return m.size === want.size && [...m.values()].every(reached) ? m : undefined;
    });
    const stuck = [...pods.values()].filter((p) => !reached(p));
    for (const n of want) if (!pods.has(n)) stuck.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: n, namespace }, status: { phase: 'Missing' } });
    return { pods, stuck, timedOut: false, unschedulable: stuck.filter(isUnschedulable) };
  } catch (err) {
    if (err instanceof k.WaitTimeout) {
      const pods = byName(err.last);
      const stuck = [...pods.values()].filter((p) => !reached(p));
      for (const n of want) if (!pods.has(n)) stuck.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: n, namespace }, status: { phase: 'Missing' } });
      return { pods, stuck, timedOut: true, unschedulable: stuck.filter(isUnschedulable) };
    }
    throw err;
  }
}

export interface StuckEvidence {
  pods: string[];
  events: EventSummary[];
  diagnosis: PodDiagnosis;
  /** Names of stuck pods the scheduler refused. */
  unscheduled: string[];
}

/** Why pods are stuck: their states, the namespace's warning events about them, the first pod's likely cause. */
export async function explainStuck(kube: KubeClient, namespace: string, stuck: KubeObject[], signal: AbortSignal): Promise<StuckEvidence> {
  const k = await import('../kube/index.js');
  const events = await k.listEvents(kube, namespace, { kind: 'Pod', signal }).catch(() => [] as EventSummary[]);
  const names = new Set(stuck.map((p) => `Pod/${p.metadata.name}`));
  const relevant = events.filter((e) => names.has(e.object)).slice(-20);
  // Unscheduled pods first: the scheduler's refusal explains more than a pod that merely waits behind it.
  const first = stuck.find((p) => !nodeOf(p) && (statusOf(p).phase ?? 'Pending') === 'Pending') ?? stuck[0]!;
  const nodes = !nodeOf(first) ? await listSchedulableNodes(kube, signal).catch(() => undefined) : undefined;
  return { pods: stuck.slice(0, 10).map(describePod), events: relevant, diagnosis: diagnosePod(first, relevant, nodes), unscheduled: stuck.filter(isUnschedulable).map((p) => p.metadata.name!) };
}

/** The logs of up to `max` failed containers: "pod/container: last lines". */
export async function failedLogs(kube: KubeClient, namespace: string, failures: { pod: string; container: string }[], signal: AbortSignal, max = 5): Promise<string[]> {
  return mapLimit(failures.slice(0, max), 5, async (f) => {
    const log = await kube.podLogs(namespace, f.pod, f.container, { tailLines: 5, signal }).catch((e: Error) => `(no logs: ${e.message})`);
    return `${f.pod}/${f.container}: ${log.trim().split('\n').slice(-3).join(' | ')}`;
  });
}

export function podIP(pod: KubeObject): string | undefined {
  return statusOf(pod).podIP;
}


export function formatEvents(events: EventSummary[]): string[] {
  return events.map((e) => `${e.type} ${e.reason} ${e.object}: ${e.message}`);
}
