/**
 * Stage gates: the CNI DaemonSet runs a Ready pod on every node and every node is Ready; the monitoring and
 * logging workloads are Ready. The assessments are pure (objects in, verdict out); the waits poll the API
 * through src/kube until the verdict is "ready" or the gate's own timeout, and a failure names what is missing.
 */
import { pollUntil } from '../run/sleep.js';
import { UserError } from '../errors.js';
import type { KubeClient, KubeObject } from '../kube/index.js';
import type { Step } from '../run/types.js';
import type { DaemonSetRef } from './cni.js';
import type { FreshnessResult } from './backup.js';
import { clusterKubeconfig } from '../run/cluster-kubeconfig.js';

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

function conditionTrue(o: Obj, type: string): boolean {
  const conds = (o.status?.conditions ?? []) as Array<{ type?: string; status?: string }>;
  return conds.some((c) => c.type === type && c.status === 'True');
}

export function isNodeReady(node: Obj): boolean {
  return conditionTrue(node, 'Ready');
}

export function isPodReady(pod: Obj): boolean {
  return pod.status?.phase === 'Running' && conditionTrue(pod, 'Ready') && !pod.metadata.deletionTimestamp;
}

/** Does the pod belong to the DaemonSet: owner reference when present, the selector's labels otherwise. */
export function isOwnedBy(pod: Obj, ds: Obj): boolean {
  const owners = (pod.metadata.ownerReferences ?? []) as Array<{ kind?: string; name?: string; uid?: string }>;
  if (owners.length > 0) return owners.some((r) => r.kind === 'DaemonSet' && (r.uid ? r.uid === ds.metadata.uid : r.name === ds.metadata.name));
  const match = ((ds.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {}) as Record<string, string>;
  const labels = pod.metadata.labels ?? {};
  return Object.keys(match).length > 0 && Object.entries(match).every(([k, v]) => labels[k] === v);
}

export interface DaemonSetRollout {
  ready: boolean;
  /** `namespace/name` */
  daemonSet: string;
  found: boolean;
  nodes: number;
  /** Nodes with no Running+Ready pod of the DaemonSet. */
  nodesWithoutReadyPod: string[];
  notReadyNodes: string[];
  /** status.updatedNumberScheduled < desired, or an older generation still observed. */
  rolloutPending: boolean;
  summary: string;
  uid?: string;
  /** Why pods are missing, from Warning events (FailedCreate, FailedScheduling...): `Reason: message`. */
  events?: string[];
}

/** Pure: is the DaemonSet rolled out on every node, and is every node Ready? */
export function assessDaemonSetRollout(ref: DaemonSetRef, ds: Obj | undefined, pods: Obj[], nodes: Obj[]): DaemonSetRollout {
  const name = `${ref.namespace}/${ref.name}`;
  const nodeNames = nodes.map((n) => n.metadata.name ?? '').sort();
  const notReadyNodes = nodes.filter((n) => !isNodeReady(n)).map((n) => n.metadata.name ?? '').sort();
  if (!ds) {
    return { ready: false, daemonSet: name, found: false, nodes: nodes.length, nodesWithoutReadyPod: nodeNames, notReadyNodes, rolloutPending: true, summary: `DaemonSet ${name} does not exist` };
  }
  const mine = pods.filter((p) => isOwnedBy(p, ds));
  const nodesWithoutReadyPod = nodeNames.filter((n) => !mine.some((p) => p.spec?.nodeName === n && isPodReady(p)));
  const st = ds.status ?? {};
  const desired = Number(st.desiredNumberScheduled ?? nodes.length);
  const updated = st.updatedNumberScheduled === undefined ? desired : Number(st.updatedNumberScheduled);
  const observed = st.observedGeneration === undefined ? undefined : Number(st.observedGeneration);
  const generation = ds.metadata.generation === undefined ? undefined : Number(ds.metadata.generation);
  const rolloutPending = updated < desired || (observed !== undefined && generation !== undefined && observed < generation);
  const ready = nodes.length > 0 && nodesWithoutReadyPod.length === 0 && notReadyNodes.length === 0 && !rolloutPending;
  const parts: string[] = [];
  if (nodes.length === 0) parts.push('the cluster has no nodes');
  if (nodesWithoutReadyPod.length > 0) parts.push(`no ready ${ref.name} pod on ${nodesWithoutReadyPod.length} of ${nodes.length} nodes: ${nodesWithoutReadyPod.join(', ')}`);
  if (notReadyNodes.length > 0) parts.push(`nodes not Ready: ${notReadyNodes.join(', ')}`);
  if (rolloutPending) parts.push(`rollout in progress (${updated} of ${desired} pods updated)`);
  return {
    ready,
    uid: ds.metadata.uid,
    daemonSet: name,
    found: true,
    nodes: nodes.length,
    nodesWithoutReadyPod,
    notReadyNodes,
    rolloutPending,
    summary: ready ? `DaemonSet ${name} ready on all ${nodes.length} nodes; all nodes Ready` : `DaemonSet ${name}: ${parts.join('; ')}`,
  };
}

export interface WorkloadState {
  kind: string;
  /** `namespace/name` */
  name: string;
  ready: boolean;
  detail: string;
  uid?: string;
  /** Why it is not ready, from Warning events about it, its ReplicaSets and its pods: `Reason: message`. */
  events?: string[];
}

/** Pure: is a Deployment, StatefulSet or DaemonSet ready by its status? */
export function assessWorkload(o: Obj): WorkloadState {
  const ns = `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
  const st = o.status ?? {};
  const observedOk = st.observedGeneration === undefined || o.metadata.generation === undefined || Number(st.observedGeneration) >= Number(o.metadata.generation);
  if (o.kind === 'DaemonSet') {
    const desired = Number(st.desiredNumberScheduled ?? 0);
    const ready = Number(st.numberReady ?? 0);
    return { kind: o.kind, name: ns, uid: o.metadata.uid, ready: observedOk && desired > 0 && ready >= desired, detail: `${ready}/${desired} pods ready` };
  }
  const want = Number(o.spec?.replicas ?? 1);
  const ready = Number(st.readyReplicas ?? 0);
  return { kind: o.kind, name: ns, uid: o.metadata.uid, ready: observedOk && ready >= want, detail: `${ready}/${want} replicas ready` };
}

/** A workload whose events to explain: its kind, namespace, name and uid. */
export interface WorkloadKey {
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

function ownerUids(o: Obj): string[] {
  return ((o.metadata.ownerReferences ?? []) as Array<{ uid?: string }>).map((r) => r.uid ?? '').filter((u) => u !== '');
}

/** Reasons that say why a workload has no pods or no running ones, most telling first. */
const REASON_RANK = ['FailedCreate', 'FailedScheduling', 'FailedMount', 'FailedAttachVolume', 'Failed', 'BackOff', 'ErrImagePull', 'InspectFailed'];

/**
 * Pure: the Warning events that explain each workload, by the workload's uid: events about the workload itself,
 * its ReplicaSets (a Deployment's pods are created, and refused, by its ReplicaSet) and its pods, one per distinct
 * reason and message, the most telling reasons (FailedCreate, FailedScheduling, ...) first, then the newest.
 * Events without an object uid are matched by kind and name.
 */
export function explainNotReady(workloads: readonly WorkloadKey[], replicaSets: readonly Obj[], pods: readonly Obj[], events: readonly Obj[], max = 3): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const w of workloads) {
    const key = w.uid ?? `${w.kind}/${w.namespace}/${w.name}`;
    const family = new Set<string>(w.uid ? [w.uid] : []);
    const names = new Set<string>([`${w.kind}/${w.name}`]);
    for (const rs of replicaSets) {
      if (w.uid && ownerUids(rs).includes(w.uid) && rs.metadata.uid) {
        family.add(rs.metadata.uid);
        names.add(`ReplicaSet/${rs.metadata.name}`);
      }
    }
    for (const p of pods) {
      if (ownerUids(p).some((u) => family.has(u))) {
        if (p.metadata.uid) family.add(p.metadata.uid);
        names.add(`Pod/${p.metadata.name}`);
      }
    }
    const mine = events.filter((e) => {
      if (e.type !== undefined && e.type !== 'Warning') return false;
      if (e.metadata.namespace !== undefined && e.metadata.namespace !== w.namespace) return false;
      const io = (e.involvedObject ?? e.regarding ?? {}) as { kind?: string; name?: string; uid?: string };
      return io.uid ? family.has(io.uid) : names.has(`${io.kind}/${io.name}`);
    });
    const at = (e: Obj) => String(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '');
    const rank = (e: Obj) => {
      const i = REASON_RANK.indexOf(String(e.reason ?? ''));
      return i < 0 ? REASON_RANK.length : i;
    };
    mine.sort((a, b) => rank(a) - rank(b) || at(b).localeCompare(at(a)));
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const e of mine) {
      // The event recorder folds repeats into "(combined from similar events): ..."; each retry names a new pod.
      const message = String(e.message ?? e.note ?? '').replace(/^\(combined from similar events\):\s*/, '').trim();
      const line = `${String(e.reason ?? 'Warning')}: ${message}`;
      const same = line.replace(/pods? "[^"]*"/g, 'pod "…"');
      if (seen.has(same)) continue;
      seen.add(same);
      lines.push(line);
      if (lines.length >= max) break;
    }
    if (lines.length > 0) out.set(key, lines);
  }
  return out;
}

/** Reads what explainNotReady needs, one namespace at a time (events, ReplicaSets, pods). */
export async function lookNotReadyEvents(kube: KubeClient, workloads: readonly WorkloadKey[], signal?: AbortSignal): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const ns of [...new Set(workloads.map((w) => w.namespace))]) {
    const mine = workloads.filter((w) => w.namespace === ns);
    const [events, replicaSets, pods] = await Promise.all([
      kube.list('v1', 'Event', { namespace: ns, signal }).then((l) => l.items as Obj[]),
      mine.some((w) => w.kind === 'Deployment') ? kube.list('apps/v1', 'ReplicaSet', { namespace: ns, signal }).then((l) => l.items as Obj[]) : Promise.resolve([] as Obj[]),
      kube.list('v1', 'Pod', { namespace: ns, signal }).then((l) => l.items as Obj[]),
    ]);
    for (const [k, v] of explainNotReady(mine, replicaSets, pods, events)) out.set(k, v);
  }
  return out;
}

/** The not-ready workloads of a view with their events added, and the summary saying them; best effort. */
async function withEvents(kube: KubeClient, view: ReturnType<typeof assessWorkloads>, signal: AbortSignal): Promise<ReturnType<typeof assessWorkloads>> {
  const notReady = view.workloads.filter((w) => !w.ready);
  if (notReady.length === 0) return view;
  let found: Map<string, string[]>;
  try {
    found = await lookNotReadyEvents(kube, notReady.map((w) => ({ kind: w.kind, namespace: w.name.split('/')[0]!, name: w.name.split('/')[1]!, uid: w.uid })), signal);
  } catch {
    return view;
  }
  const workloads = view.workloads.map((w) => {
    const ev = found.get(w.uid ?? `${w.kind}/${w.name}`);
    return ev ? { ...w, events: ev } : w;
  });
  return { ...view, workloads, summary: summarizeWorkloads(workloads) };
}

export async function lookDaemonSetRollout(kube: KubeClient, ref: DaemonSetRef, signal?: AbortSignal): Promise<DaemonSetRollout> {
  const [ds, nodes] = await Promise.all([kube.get('apps/v1', 'DaemonSet', ref.name, ref.namespace, signal), kube.list('v1', 'Node', { signal })]);
  const sel = ((ds as Obj | undefined)?.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
  const labelSelector = sel ? Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',') : undefined;
  const pods = ds ? (await kube.list('v1', 'Pod', { namespace: ref.namespace, labelSelector, signal })).items : [];
  return assessDaemonSetRollout(ref, ds as Obj | undefined, pods as Obj[], nodes.items as Obj[]);
}

export interface GateStepOptions {
  stage: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Opens the cluster (the run's kubeconfig: run/cluster-kubeconfig.ts; tests give the lab's as values.kubeconfig). */
  connect?: (kubeconfig: string) => Promise<KubeClient>;
}

async function connectDefault(kubeconfig: string): Promise<KubeClient> {
  const { loadKubeConfig } = await import('../kube/index.js');
  return loadKubeConfig(kubeconfig);
}

/** The CNI gate: DaemonSet ready on every node and all nodes Ready, within the timeout. */
export function buildCniGateStep(ref: DaemonSetRef, o: GateStepOptions): Step {
  const secs = Math.round(o.timeoutMs / 1000);
  return {
    id: `${o.stage}-rollout`,
    title: `Wait for DaemonSet ${ref.namespace}/${ref.name} on every node and all nodes Ready (up to ${secs}s)`,
    stage: o.stage,
    // Backstop only: the gate stops itself at timeoutMs with a better message.
    timeoutMs: o.timeoutMs + 60_000,
    preview: { note: `polls DaemonSet ${ref.namespace}/${ref.name}, its pods and the nodes through the Kubernetes API for up to ${secs}s` },
    async run(ctx) {
      const kube = await (o.connect ?? connectDefault)(clusterKubeconfig(ctx).path);
      try {
        const { view, done } = await pollUntil(() => lookDaemonSetRollout(kube, ref, ctx.signal), (v) => v.ready, { timeoutMs: o.timeoutMs, intervalMs: o.intervalMs, signal: ctx.signal });
        if (!done && view.found) {
          try {
            view.events = (await lookNotReadyEvents(kube, [{ kind: 'DaemonSet', namespace: ref.namespace, name: ref.name, uid: view.uid }], ctx.signal)).get(view.uid ?? `DaemonSet/${ref.namespace}/${ref.name}`);
          } catch {
            /* best effort: the summary stands without them */
          }
        }
        const evidence = { daemonSet: view.daemonSet, nodes: view.nodes, nodesWithoutReadyPod: view.nodesWithoutReadyPod, notReadyNodes: view.notReadyNodes, events: view.events };
        if (done) return { status: 'pass', summary: view.summary, evidence };
        return {
          status: 'fail',
          summary: `not ready after ${secs}s: ${view.summary}${view.events ? `; ${view.events.join('; ')}` : ''}`,
          why: 'pods cannot get network on nodes without a running CNI agent, and those nodes stay NotReady',
          fix: view.found
            ? `look at the agent on those nodes: kubectl -n ${ref.namespace} get pods -o wide; kubectl -n ${ref.namespace} describe daemonset ${ref.name}; then run again with --resume`
            : `the CNI install did not create ${ref.namespace}/${ref.name}: check the helm release (helm -n ${ref.namespace} status) and run again with --resume`,
          evidence,
        };
      } finally {
        kube.close();
      }
    },
  };
}

/** Pure: the state of every workload in the given namespaces. */
export function assessWorkloads(objects: Obj[]): { ready: boolean; workloads: WorkloadState[]; summary: string } {
  const workloads = objects.map(assessWorkload).sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  return { ready: workloads.length > 0 && workloads.every((w) => w.ready), workloads, summary: summarizeWorkloads(workloads) };
}

function summarizeWorkloads(workloads: WorkloadState[]): string {
  const notReady = workloads.filter((w) => !w.ready);
  if (workloads.length === 0) return 'no Deployments, StatefulSets or DaemonSets found yet';
  if (notReady.length === 0) return `${workloads.length} workloads Ready`;
  const one = (w: WorkloadState) => `${w.kind} ${w.name} (${w.detail}${w.events ? `; ${w.events.join('; ')}` : ''})`;
  return `${notReady.length} of ${workloads.length} workloads not Ready: ${notReady.map(one).join(', ')}`;
}

export async function lookWorkloads(kube: KubeClient, namespaces: string[], signal?: AbortSignal): Promise<ReturnType<typeof assessWorkloads>> {
  const all: Obj[] = [];
  for (const ns of namespaces) {
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet']) {
      try {
        all.push(...((await kube.list('apps/v1', kind, { namespace: ns, signal })).items as Obj[]));
      } catch (err) {
        // A server without StatefulSets (the lab serves the kinds groundwork uses) has none to wait for.
        if ((err as { code?: number }).code !== 404 && !(err instanceof UserError && /does not serve/.test(err.message))) throw err;
      }
    }
  }
  return assessWorkloads(all);
}

/** The monitoring gate: every Deployment, StatefulSet and DaemonSet in the namespaces Ready. */
export function buildWorkloadsGateStep(namespaces: string[], o: GateStepOptions): Step {
  const secs = Math.round(o.timeoutMs / 1000);
  return {
    id: `${o.stage}-rollout`,
    title: `Wait for the workloads in ${namespaces.join(', ')} to be Ready (up to ${secs}s)`,
    stage: o.stage,
    timeoutMs: o.timeoutMs + 60_000,
    preview: { note: `polls Deployments, StatefulSets and DaemonSets in ${namespaces.join(', ')} for up to ${secs}s` },
    async run(ctx) {
      const kube = await (o.connect ?? connectDefault)(clusterKubeconfig(ctx).path);
      try {
        const polled = await pollUntil(() => lookWorkloads(kube, namespaces, ctx.signal), (v) => v.ready, { timeoutMs: o.timeoutMs, intervalMs: o.intervalMs, signal: ctx.signal });
        const done = polled.done;
        // The events say why (a pod refused by admission, nowhere to schedule): read them once, at the end.
        const view = done ? polled.view : await withEvents(kube, polled.view, ctx.signal);
        const evidence = { workloads: view.workloads };
        if (done) return { status: 'pass', summary: view.summary, evidence };
        return {
          status: 'fail',
          summary: `not ready after ${secs}s: ${view.summary}`,
          why: 'without them the cluster has no metrics, dashboards or logs to diagnose problems with',
          fix: `kubectl get pods -n ${namespaces.join(' / -n ')} -o wide and describe the pods that are not Ready (image pulls from the mirror, PVCs Pending on the StorageClass); then run again with --resume`,
          evidence,
        };
      } finally {
        kube.close();
      }
    },
  };
}

/**
 * For `validate`: how fresh the scheduled etcd snapshots are, read from the backup CronJob (its schedule,
 * status.lastSuccessfulTime and creation time). undefined when backups were never scheduled.
 */
export async function lookBackupFreshness(kube: KubeClient, now: Date, signal?: AbortSignal): Promise<(FreshnessResult & { schedule: string }) | undefined> {
  const { BACKUP_NAME, BACKUP_NAMESPACE, checkSnapshotFreshness } = await import('./backup.js');
  const cj = (await kube.get('batch/v1', 'CronJob', BACKUP_NAME, BACKUP_NAMESPACE, signal)) as Obj | undefined;
  if (!cj) return undefined;
  const schedule = String(cj.spec?.schedule ?? '');
  const last = cj.status?.lastSuccessfulTime;
  const created = cj.metadata.creationTimestamp;
  const r = checkSnapshotFreshness({ schedule, newest: typeof last === 'string' ? new Date(last) : undefined, since: created ? new Date(created) : undefined, now });
  return { ...r, schedule };
}
