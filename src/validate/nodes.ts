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
