/**
 * Nodes as validation sees them: Ready or not, and whether a pod without tolerations may land there.
 */
import type { KubeClient, KubeObject } from '../kube/index.js';

export interface NodeInfo {
  name: string;
  ready: boolean;
  /** Why not Ready (condition reason/message), for evidence. */
  readyReason?: string;
  unschedulable: boolean;
  taints: { key: string; value?: string; effect: string }[];
  /** Ready, not cordoned and no NoSchedule/NoExecute taint: pods without tolerations can run here. */
  schedulable: boolean;
  labels: Record<string, string>;
}

export function readNode(n: KubeObject): NodeInfo {
  const spec = (n.spec ?? {}) as { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
  const status = (n.status ?? {}) as { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  const taints = spec.taints ?? [];
  const isReady = ready?.status === 'True';
  const unschedulable = spec.unschedulable === true;
  return {
    name: n.metadata.name!,
    ready: isReady,
    readyReason: isReady ? undefined : ready ? `${ready.status}: ${ready.reason ?? ''} ${ready.message ?? ''}`.trim() : 'no Ready condition',
    unschedulable,
    taints,
    schedulable: isReady && !unschedulable && !taints.some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute'),
    labels: n.metadata.labels ?? {},
  };
}

function readNodes(items: Iterable<KubeObject>): NodeInfo[] {
  return [...items].map(readNode).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

export async function listSchedulableNodes(kube: KubeClient, signal?: AbortSignal): Promise<NodeInfo[]> {
  return readNodes((await kube.list('v1', 'Node', { signal })).items);
}

/**
 * The taints kube-controller-manager's node lifecycle controller keeps in step with a node's Ready condition: on
 * while it is not Ready (a kubelet also registers its node with not-ready:NoSchedule), off once it is.
 */
const LIFECYCLE_TAINT_KEYS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

/** How long validate waits for Ready nodes to lose their lifecycle taints before judging the nodes as they are. */
export const SETTLE_WAIT_MS = 30_000;

/**
 * Ready nodes still carrying a lifecycle taint: the controller has not caught up with them yet (nodes that just
 * joined; a controller manager working through a few hundred nodes at its API rate limit, about 10 a second).
 */
export function settlingNodes(nodes: NodeInfo[]): NodeInfo[] {
  return nodes.filter((n) => n.ready && hasLifecycleTaint(n));
}

/** A taint the node lifecycle controller owns, and may take off at any moment. */
export function hasLifecycleTaint(n: NodeInfo): boolean {
  return n.taints.some((t) => LIFECYCLE_TAINT_KEYS.includes(t.key));
}

/** The lifecycle taints of the settling nodes, for a message: "node.kubernetes.io/not-ready:NoSchedule". */
export function describeSettling(nodes: NodeInfo[]): string {
  const names = nodes.map((n) => n.name);
  const taints = [...new Set(nodes.flatMap((n) => n.taints.filter((t) => LIFECYCLE_TAINT_KEYS.includes(t.key)).map(describeTaintOf)))];
  return `${names.length} Ready node${names.length === 1 ? '' : 's'} (${names.slice(0, 10).join(', ')}${names.length > 10 ? `, +${names.length - 10} more` : ''}) still tainted ${taints.join(', ')}`;
}

/**
 * The nodes once no Ready node carries a lifecycle taint: which nodes take pods is judged on a settled view, not
 * on one the controller is still rewriting. After `timeoutMs` the nodes as they are: a taint that stays is then a
 * finding (control-plane names it), not a moment of settling. One list when nothing is settling.
 */
export async function listSettledNodes(kube: KubeClient, o: { timeoutMs: number; signal?: AbortSignal; log?: (line: string) => void }): Promise<NodeInfo[]> {
  const first = await listSchedulableNodes(kube, o.signal);
  const settling = settlingNodes(first);
  if (settling.length === 0) return first;
  o.log?.(`waiting up to ${Math.round(o.timeoutMs / 1000)} s for the node lifecycle controller: ${describeSettling(settling)}`);
  const { waitFor, WaitTimeout } = await import('../kube/index.js');
  try {
    const nodes = await waitFor(kube, 'v1', 'Node', { timeoutMs: o.timeoutMs, signal: o.signal, what: 'Ready nodes to lose their lifecycle taints', resyncMs: 2000 }, (objs) => {
      const now = readNodes(objs.values());
      return settlingNodes(now).length === 0 ? now : undefined;
    });
    o.log?.('the node lifecycle controller took the taints off; judging the nodes as they are now');
    return nodes;
  } catch (err) {
    if (!(err instanceof WaitTimeout)) throw err;
    // A wait whose lists all failed saw nothing newer than the first list.
    const nodes = err.last.size ? readNodes(err.last.values()) : first;
    o.log?.(`still after ${Math.round(o.timeoutMs / 1000)} s: ${describeSettling(settlingNodes(nodes))}; judging the nodes as they are`);
    return nodes;
  }
}

type Exclusion = { kind: 'cordoned' | 'NotReady' | 'tainted'; text: string };

function describeTaintOf(t: { key: string; value?: string; effect: string }): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

/** Why a pod without tolerations cannot run on the node, in kube-scheduler's order (cordon, then taints); undefined when it can. */
function exclusionOf(n: NodeInfo): Exclusion | undefined {
  if (n.unschedulable) return { kind: 'cordoned', text: 'cordoned' };
  if (!n.ready) return { kind: 'NotReady', text: `NotReady${n.readyReason ? ` (${n.readyReason.length > 90 ? `${n.readyReason.slice(0, 89)}…` : n.readyReason})` : ''}` };
  const taints = n.taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  if (taints.length) return { kind: 'tainted', text: `tainted ${taints.map(describeTaintOf).join(', ')}` };
  return undefined;
}

/**
 * Nodes grouped by why they take no pods: "w-1, w-2 cordoned; cp-1 tainted node-role.kubernetes.io/control-plane:NoSchedule".
 * Groups go cordoned, NotReady, tainted; nodes in a group share the same words.
 */
export function describeExclusions(nodes: NodeInfo[]): string {
  const groups = new Map<string, { kind: Exclusion['kind']; names: string[] }>();
  for (const n of nodes) {
    const e = exclusionOf(n);
    if (!e) continue;
    const g = groups.get(e.text) ?? { kind: e.kind, names: [] };
    g.names.push(n.name);
    groups.set(e.text, g);
  }
  const order = { cordoned: 0, NotReady: 1, tainted: 2 } as const;
  return [...groups.entries()]
    .sort((a, b) => order[a[1].kind] - order[b[1].kind])
    .map(([text, g]) => `${g.names.join(', ')} ${text}`)
    .join('; ');
}

/** "no node takes the test pod: ..." when no node can take a pod without tolerations; undefined when one can. */
export function explainNoNode(nodes: NodeInfo[]): string | undefined {
  if (nodes.some((n) => n.schedulable)) return undefined;
  if (nodes.length === 0) return 'no node takes the test pod: the cluster has no nodes';
  return `no node takes the test pod: ${describeExclusions(nodes)}`;
}

/** The taints kubeadm and Talos put on control planes on purpose (NoSchedule: pods that tolerate it run there). */
export const CONTROL_PLANE_TAINT_KEYS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

export function isControlPlaneNode(n: NodeInfo): boolean {
  return CONTROL_PLANE_TAINT_KEYS.some((k) => k in n.labels);
}

/**
 * Nodes a test pod pinned with nodeName can run on, with the tolerations that takes: schedulable nodes, and control
 * planes whose only hard taint is their own NoSchedule one (CNI agents, kube-proxy and webhooks run there too).
 * The others with why, for "not in the matrix: ...".
 */
export function podNodes(nodes: NodeInfo[]): { nodes: NodeInfo[]; tolerations: { key: string; operator: 'Exists'; effect: 'NoSchedule' }[]; excluded: string[] } {
  const ok: NodeInfo[] = [];
  const excluded: string[] = [];
  let needsCp = false;
  for (const n of nodes) {
    if (n.schedulable) {
      ok.push(n);
      continue;
    }
    const hard = n.taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    if (n.ready && !n.unschedulable && isControlPlaneNode(n) && hard.every((t) => CONTROL_PLANE_TAINT_KEYS.includes(t.key) && t.effect === 'NoSchedule')) {
      ok.push(n);
      needsCp = true;
      continue;
    }
    excluded.push(`${n.name} (${exclusionOf(n)?.text ?? 'takes no pods'})`);
  }
  const tolerations = needsCp ? CONTROL_PLANE_TAINT_KEYS.map((key) => ({ key, operator: 'Exists' as const, effect: 'NoSchedule' as const })) : [];
  return { nodes: ok, tolerations, excluded };
}
