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

export async function listSchedulableNodes(kube: KubeClient, signal?: AbortSignal): Promise<NodeInfo[]> {
  const l = await kube.list('v1', 'Node', { signal });
  return l.items.map(readNode).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
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
