/**
 * Reading pods, pure: are they running, finished, what each container's probe said (exit codes), and why a pod
 * is stuck, in the operator's words, from its status and events.
 */
import type { KubeObject } from '../kube/paths.js';
import type { EventSummary } from '../kube/index.js';
import { explainNoNode, type NodeInfo } from './nodes.js';

interface ContainerStatus {
  name: string;
  ready?: boolean;
  state?: { waiting?: { reason?: string; message?: string }; running?: { startedAt?: string }; terminated?: { exitCode?: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string } };
}
interface PodStatus {
  phase?: string;
  podIP?: string;
  startTime?: string;
  reason?: string;
  message?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
}

export function statusOf(pod: KubeObject): PodStatus {
  return (pod.status ?? {}) as PodStatus;
}

export function nodeOf(pod: KubeObject): string | undefined {
  return (pod.spec as { nodeName?: string } | undefined)?.nodeName;
}

function containerNames(pod: KubeObject): string[] {
  return ((pod.spec as { containers?: { name: string }[] } | undefined)?.containers ?? []).map((c) => c.name);
}

/** Running with an IP and every container running (serve pods have no readiness probe). */
export function isRunning(pod: KubeObject): boolean {
  const s = statusOf(pod);
  if (s.phase !== 'Running' || !s.podIP) return false;
  const names = containerNames(pod);
  const cs = s.containerStatuses ?? [];
  return names.every((n) => cs.find((c) => c.name === n)?.state?.running !== undefined);
}

export function isFinished(pod: KubeObject): boolean {
  const p = statusOf(pod).phase;
  return p === 'Succeeded' || p === 'Failed';
}

/** name → exit code 0? for every terminated container. */
export function containerResults(pod: KubeObject): Map<string, boolean> {
  return terminated(statusOf(pod).containerStatuses);
}

/** The init containers that ended: name → exit 0. */
export function initResults(pod: KubeObject): Map<string, boolean> {
  return terminated(statusOf(pod).initContainerStatuses);
}

function terminated(statuses: ContainerStatus[] | undefined): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const c of statuses ?? []) {
    const t = c.state?.terminated;
    if (t && t.exitCode !== undefined) out.set(c.name, t.exitCode === 0);
  }
  return out;
}

export function condition(pod: KubeObject, type: string): { status: string; reason?: string; message?: string; lastTransitionTime?: string } | undefined {
  return statusOf(pod).conditions?.find((c) => c.type === type);
}

/** One line describing where a pod is, for evidence. */
export function describePod(pod: KubeObject): string {
  const s = statusOf(pod);
  const node = nodeOf(pod);
  const parts = [`pod ${pod.metadata.name}: ${s.phase ?? 'Unknown'}${node ? ` on ${node}` : ''}`];
  const sched = condition(pod, 'PodScheduled');
  if (sched && sched.status === 'False') parts.push(`not scheduled (${sched.reason ?? ''}: ${sched.message ?? ''})`);
  for (const c of s.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason) parts.push(`${c.name} waiting: ${w.reason}${w.message ? ` (${w.message})` : ''}`);
    const t = c.state?.terminated;
    if (t && t.exitCode !== 0) parts.push(`${c.name} exited ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`);
  }
  return parts.join('; ');
}

/** The scheduler's words while a pod waits for its claims to bind: storage's to judge, not a scheduling verdict. */
const VOLUME_WAIT = /unbound immediate PersistentVolumeClaims|persistentvolumeclaim "?[^"]*"? not found|waiting for first consumer|didn't find available persistent volumes|volume binding/i;

/**
 * The scheduler has said no (PodScheduled=False, Unschedulable) for a reason that waiting will not change: not
 * a claim still binding. A test pod in this state is a scheduling finding now, not after a timeout.
 */
export function isUnschedulable(pod: KubeObject): boolean {
  const c = condition(pod, 'PodScheduled');
  return !nodeOf(pod) && c?.status === 'False' && c.reason === 'Unschedulable' && !VOLUME_WAIT.test(c.message ?? '');
}

export interface PodDiagnosis {
  cause: string;
  fix: string;
}

const IMAGE_REASONS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'];

/**
 * The likely cause of a pod that did not get where it should, from its status and its events. With the nodes,
 * a pod no node takes is explained by name ("w-1, w-2 cordoned; cp-1 tainted ...") rather than by counts.
 */
export function diagnosePod(pod: KubeObject, events: EventSummary[] = [], nodes?: NodeInfo[]): PodDiagnosis {
  const s = statusOf(pod);
  const sched = condition(pod, 'PodScheduled');
  const mine = events.filter((e) => e.object === `Pod/${pod.metadata.name}`);
  const ev = (reason: string) => mine.filter((e) => e.reason === reason).pop();
  const waiting = (s.containerStatuses ?? []).map((c) => c.state?.waiting).find((w) => w?.reason);
  if (waiting && IMAGE_REASONS.includes(waiting.reason!)) {
    const image = ((pod.spec as { containers?: { image?: string }[] }).containers ?? [])[0]?.image;
    return { cause: `the image ${image ?? ''} cannot be pulled (${waiting.reason})`, fix: 'mirror the image and pass --image-registry (or spec.images.registry), or check the nodes\' registry access' };
  }
  const failedSched = ev('FailedScheduling');
  if ((sched && sched.status === 'False') || failedSched) {
    const msg = failedSched?.message ?? sched?.message ?? '';
    if (/unbound immediate PersistentVolumeClaims|persistentvolumeclaim.*not found|pod has unbound/i.test(msg)) {
      return { cause: `the pod waits for its PersistentVolumeClaim to bind: ${msg}`, fix: 'see the PVC: kubectl describe pvc' };
    }
    const noNode = nodes ? explainNoNode(nodes) : undefined;
    if (noNode) return { cause: `${noNode}${msg ? ` (FailedScheduling: ${msg})` : ''}`, fix: fixForNoNode(nodes!) };
    return { cause: `the scheduler cannot place the pod: ${msg || sched?.reason || 'no reason given'}`, fix: 'check node capacity, taints and cordons (kubectl describe nodes)' };
  }
  const sandbox = ev('FailedCreatePodSandBox');
  if (sandbox) return { cause: `the node cannot set up the pod's network (FailedCreatePodSandBox: ${sandbox.message})`, fix: 'check the CNI pods on that node (kubectl -n kube-system get pods -o wide)' };
  const mount = ev('FailedMount') ?? ev('FailedAttachVolume');
  if (mount) return { cause: `the volume cannot be attached/mounted (${mount.reason}: ${mount.message})`, fix: 'check the CSI driver pods and the VolumeAttachment objects' };
  if (waiting?.reason === 'CrashLoopBackOff') return { cause: `a container keeps crashing (${waiting.message ?? 'CrashLoopBackOff'})`, fix: 'read its logs: kubectl logs --previous' };
  if (waiting?.reason) return { cause: `a container is stuck in ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`, fix: 'kubectl describe pod shows the node\'s view' };
  if (!nodeOf(pod)) return { cause: 'the pod was never scheduled and no event says why', fix: 'check that kube-scheduler is running (kubectl -n kube-system get pods)' };
  return { cause: `the pod stayed ${s.phase ?? 'Pending'} on ${nodeOf(pod)} with no event explaining why`, fix: `check the kubelet on ${nodeOf(pod)} (node Ready condition, kubelet logs)` };
}

/** What puts the nodes back: uncordon the cordoned, remove or tolerate the taints, fix the NotReady kubelets. */
export function fixForNoNode(nodes: NodeInfo[]): string {
  const cordoned = nodes.filter((n) => n.unschedulable).map((n) => n.name);
  const notReady = nodes.filter((n) => !n.unschedulable && !n.ready).map((n) => n.name);
  const tainted = nodes.filter((n) => !n.unschedulable && n.ready && !n.schedulable);
  const steps = [
    cordoned.length ? `kubectl uncordon ${cordoned.join(' ')}` : '',
    notReady.length ? `check the kubelet and CNI on ${notReady.join(', ')}` : '',
    ...tainted.slice(0, 3).map((n) => {
      const t = n.taints.find((x) => x.effect === 'NoSchedule' || x.effect === 'NoExecute')!;
      return `kubectl taint nodes ${n.name} ${t.key}:${t.effect}- (or let workloads tolerate it)`;
    }),
  ].filter(Boolean);
  return steps.join('; ') || 'kubectl describe nodes';
}
