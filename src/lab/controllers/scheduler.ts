/**
 * kube-scheduler, in-process: binds Pending pods without spec.nodeName to a node that passes every filter
 * (scheduling.ts), or records FailedScheduling with the real message and PodScheduled=False.
 */
import {
  describeTaint,
  formatFailedScheduling,
  matchesNodeSelection,
  resourceReasons,
  tolerates,
  untoleratedTaint,
  violatesAffinity,
  violatesAntiAffinity,
  SpreadCounts,
  type NodeUsage,
} from './scheduling.js';
import { podRequests } from './quantity.js';
import { isTerminal, quietly, setCondition, type Obj, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';
import { HOSTNAME_LABEL } from '../../kube/paths.js';

interface Placed {
  pod: Obj;
  node: Obj;
}

function claimsOf(pod: KubeObject): string[] {
  return (((pod.spec as Obj)?.volumes ?? []) as Obj[]).filter((v) => v.persistentVolumeClaim).map((v) => v.persistentVolumeClaim.claimName as string);
}

/** Pod-level checks before nodes: claims that must exist and (Immediate) be bound. */
function volumePreFilter(rt: Runtime, pod: KubeObject): { reason?: string; pinnedNode?: string; waitClaims: string[] } {
  const ns = pod.metadata.namespace!;
  let pinnedNode: string | undefined;
  const waitClaims: string[] = [];
  for (const name of claimsOf(pod)) {
    const pvc = rt.store.get('persistentvolumeclaims', ns, name);
    if (!pvc) return { reason: `persistentvolumeclaim "${name}" not found`, waitClaims };
    const volumeName = (pvc.spec as Obj)?.volumeName as string | undefined;
    if (volumeName) {
      const pv = rt.store.get('persistentvolumes', undefined, volumeName);
      const terms = (pv?.spec as Obj)?.nodeAffinity?.required?.nodeSelectorTerms as Obj[] | undefined;
      const host = terms?.[0]?.matchExpressions?.find((e: Obj) => e.key === HOSTNAME_LABEL)?.values?.[0];
      if (host) pinnedNode = host;
      continue;
    }
    const scName = (pvc.spec as Obj)?.storageClassName as string | undefined;
    const sc = scName ? rt.store.get('storageclasses.storage.k8s.io', undefined, scName) : undefined;
    if (sc && (sc as Obj).volumeBindingMode === 'WaitForFirstConsumer') waitClaims.push(name);
    else return { reason: 'pod has unbound immediate PersistentVolumeClaims', waitClaims };
  }
  return { pinnedNode, waitClaims };
}

const UNSCHEDULABLE_TAINT = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** Every reason `node` cannot take `pod`, in kube-scheduler's filter order (first failing plugin wins). */
function filterNode(pod: Obj, node: Obj, usage: NodeUsage, placed: Placed[], antiPlaced: Placed[], violatesSpread: (n: Obj) => boolean, pinnedNode: string | undefined, req: Record<string, number>): string[] {
  if (node.spec?.unschedulable && !tolerates(pod.spec?.tolerations, UNSCHEDULABLE_TAINT)) return ['node(s) were unschedulable'];
  const taint = untoleratedTaint(pod, node);
  if (taint) return [describeTaint(taint)];
  if (!matchesNodeSelection(pod, node)) return ["node(s) didn't match Pod's node affinity/selector"];
  const res = resourceReasons(pod, node, usage, req);
  if (res.length > 0) return res;
  if (pinnedNode !== undefined && pinnedNode !== node.metadata.name) return ['node(s) had volume node affinity conflict'];
  if (violatesSpread(node)) return ["node(s) didn't match pod topology spread constraints"];
  if (violatesAffinity(pod, node, placed)) return ["node(s) didn't match pod affinity rules"];
  if (violatesAntiAffinity(pod, node, placed, antiPlaced)) return ["node(s) didn't match pod anti-affinity rules"];
  return [];
}

function ownerUid(p: Obj): string | undefined {
  return (p.metadata.ownerReferences ?? []).find((r: Obj) => r.controller)?.uid;
}

export async function runScheduler(rt: Runtime): Promise<void> {
  const pods = rt.store.list('pods').items;
  const pending = pods.filter(
    (p) => !(p.spec as Obj)?.nodeName && !p.metadata.deletionTimestamp && !isTerminal(p) && ((p.spec as Obj)?.schedulerName ?? 'default-scheduler') === 'default-scheduler',
  );
  if (pending.length === 0) return;
  const nodes = rt.store.list('nodes').items as Obj[];
  const byName = new Map(nodes.map((n) => [n.metadata.name as string, n]));
  const usage = new Map<string, NodeUsage>(nodes.map((n) => [n.metadata.name as string, { requests: {}, pods: 0 }]));
  const placed: Placed[] = [];
  const antiPlaced: Placed[] = [];
  const siblings = new Map<string, Map<string, number>>();
  // Spread counts per (namespace, constraints, node selection), shared by the pods that have the same.
  const spreadCounts = new Map<string, SpreadCounts>();
  const addUsage = (p: Obj, nodeName: string) => {
    const u = usage.get(nodeName);
    const n = byName.get(nodeName);
    if (!u || !n) return;
    u.pods++;
    for (const sc of spreadCounts.values()) sc.add(p, n);
    const o = ownerUid(p);
    if (o) {
      let m = siblings.get(o);
      if (!m) siblings.set(o, (m = new Map()));
      m.set(nodeName, (m.get(nodeName) ?? 0) + 1);
    }
    for (const [r, v] of Object.entries(podRequests(p.spec))) u.requests[r] = (u.requests[r] ?? 0) + v;
    placed.push({ pod: p, node: n });
    if (p.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length) antiPlaced.push({ pod: p, node: n });
  };
  for (const p of pods) {
    const nn = (p.spec as Obj)?.nodeName;
    if (nn && !isTerminal(p)) addUsage(p, nn);
  }
  // Oldest first, like the scheduling queue's FIFO for equal priority.
  pending.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || a.metadata.name!.localeCompare(b.metadata.name!));
  for (const pod of pending) {
    const pre = volumePreFilter(rt, pod);
    let message: string | undefined;
    let chosen: Obj | undefined;
    if (pre.reason) {
      message = formatFailedScheduling(nodes.length, [], pre.reason);
    } else if (nodes.length === 0) {
      message = 'no nodes available to schedule pods';
    } else {
      // Spread domains: nodes matching the pod's node selection; tainted ones count too unless
      // nodeTaintsPolicy is Honor (the default Ignore is why a tainted control plane can block spreading).
      const spec = pod.spec as Obj;
      const honorTaints = ((spec?.topologySpreadConstraints ?? []) as Obj[]).some((c) => c.nodeTaintsPolicy === 'Honor');
      const spreads = (spec?.topologySpreadConstraints ?? []).length > 0;
      let violatesSpread: (n: Obj) => boolean = () => false;
      if (spreads) {
        const key = JSON.stringify([pod.metadata.namespace, spec.topologySpreadConstraints, spec.nodeSelector ?? null, spec.affinity?.nodeAffinity ?? null, honorTaints ? (spec.tolerations ?? null) : null]);
        let sc = spreadCounts.get(key);
        if (!sc) {
          const eligible = nodes.filter((n) => matchesNodeSelection(pod, n) && !(honorTaints && untoleratedTaint(pod as Obj, n)));
          spreadCounts.set(key, (sc = new SpreadCounts(pod as Obj, eligible, placed)));
        }
        violatesSpread = sc.filter();
      }
      const req = podRequests(spec);
      const perNode: string[][] = [];
      const feasible: Obj[] = [];
      for (const n of nodes) {
        const reasons = filterNode(pod as Obj, n, usage.get(n.metadata.name)!, placed, antiPlaced, violatesSpread, pre.pinnedNode, req);
        if (reasons.length === 0) feasible.push(n);
        else perNode.push(reasons);
      }
      if (feasible.length === 0) message = formatFailedScheduling(nodes.length, perNode);
      else {
        // Spread siblings first (the default PodTopologySpread/SelectorSpread scoring), then least loaded.
        const owner = ownerUid(pod as Obj);
        const score = (n: Obj) => {
          const sib = owner ? (siblings.get(owner)?.get(n.metadata.name) ?? 0) : 0;
          const u = usage.get(n.metadata.name)!;
          return [sib, u.pods, u.requests.cpu ?? 0];
        };
        // The best node in one scan (a sort per pod was O(nodes log nodes) of score arrays).
        const better = (a: Obj, b: Obj) => {
          const sa = score(a);
          const sb = score(b);
          for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return sa[i]! < sb[i]!;
          return String(a.metadata.name).localeCompare(String(b.metadata.name)) < 0;
        };
        chosen = feasible.reduce((best, n) => (better(n, best) ? n : best));
      }
    }
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name!;
    if (chosen) {
      const nodeName = chosen.metadata.name as string;
      for (const claim of pre.waitClaims) {
        await quietly(rt.store.mutate('persistentvolumeclaims', ns, claim, (c) => {
          const a = (c.metadata.annotations ??= {});
          if (a['volume.kubernetes.io/selected-node']) return undefined;
          a['volume.kubernetes.io/selected-node'] = nodeName;
        }, { skipValidation: true }));
      }
      const bound = await quietly(rt.store.mutate('pods', ns, name, (o) => {
        if ((o.spec as Obj).nodeName) return undefined;
        (o.spec as Obj).nodeName = nodeName;
      }, { skipValidation: true }));
      if (!bound) continue;
      addUsage(bound as Obj, nodeName);
      // PodScheduled=True comes with the kubelet's first status write in this same pass (one write fewer
      // per pod; the real binding sets both at once).
      await rt.event(bound, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${nodeName}`, 'default-scheduler');
    } else if (message) {
      const cur = ((pod.status as Obj)?.conditions ?? []).find((c: Obj) => c.type === 'PodScheduled');
      if (cur?.status === 'False' && cur.message === message) continue;
      await quietly(rt.store.mutate('pods', ns, name, (o) => {
        const st = ((o.status ??= {}) as Obj);
        st.phase = 'Pending';
        setCondition((st.conditions ??= []), 'PodScheduled', 'False', rt.now(), 'Unschedulable', message, { lastProbeTime: null });
      }, { subresource: 'status', skipValidation: true }));
      await rt.event(pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
    }
  }
}
