/**
 * Storage: a default StorageClass exists; a claim without storageClassName binds (Immediate: before any pod;
 * WaitForFirstConsumer: once the writer is scheduled); a writer pod stores a checksummed file; after it is
 * deleted a reader — on another node where the volume allows — finds the same checksum; then the claim is
 * deleted and its volume must go (reclaimPolicy Delete). Bind and attach times are reported.
 */
import { formatDuration } from '../../duration.js';
import { randomBytes } from 'node:crypto';
import type { StepContext, StepOutcome } from '../../run/types.js';
import type { KubeObject, EventSummary } from '../../kube/index.js';
import { checksumContent, parseProbeLogs } from '../../probe/index.js';
import { buildProbePod, buildPvc, preferNotNodes } from '../objects.js';
import { containerResults, nodeOf, statusOf } from '../pod-state.js';
import { explainStuck, formatEvents, waitPods, type StuckEvidence } from '../pods.js';
import type { ValidateSession } from '../session.js';
import { listSchedulableNodes, type NodeInfo } from '../nodes.js';

const DEFAULT_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

export function defaultClasses(classes: KubeObject[]): KubeObject[] {
  return classes.filter((c) => DEFAULT_ANNOTATIONS.some((a) => c.metadata.annotations?.[a] === 'true'));
}

/**
 * The Deployments and StatefulSets that look like a volume provisioner (the name says provisioner, or csi and
 * controller) and are scaled to zero: the likeliest reason nobody answers a claim. Pure.
 */
export function scaledDownProvisioners(workloads: KubeObject[]): string[] {
  return workloads
    .filter((w) => {
      const name = w.metadata.name ?? '';
      return /provisioner/i.test(name) || (/csi/i.test(name) && /controller/i.test(name));
    })
    .filter((w) => (w.spec as { replicas?: number } | undefined)?.replicas === 0)
    .map((w) => `${w.kind === 'StatefulSet' ? 'statefulset' : 'deployment'} ${w.metadata.namespace}/${w.metadata.name}`);
}

/** Why a claim stays Pending, from its class, events, and the provisioner workloads scaled to zero. */
export function diagnosePendingClaim(sc: KubeObject | undefined, events: EventSummary[], waitedMs: number, scaledDown: string[] = []): { cause: string; fix: string } {
  const provisioner = String(sc?.provisioner ?? 'the provisioner');
  const failed = events.filter((e) => e.reason === 'ProvisioningFailed').pop();
  if (failed) return { cause: `${provisioner} failed to provision the volume: ${failed.message}`, fix: `check the ${provisioner} controller logs and its backend (capacity, credentials)` };
  const external = events.filter((e) => e.reason === 'ExternalProvisioning').pop();
  if (scaledDown.length > 0) {
    const [kind, ref] = scaledDown[0]!.split(' ') as [string, string];
    const [namespace, name] = ref.split('/') as [string, string];
    return {
      cause: `the claim stayed Pending for ${formatDuration(waitedMs, { fixed: true })}: ${provisioner} never provisioned a volume, and its provisioner is scaled to zero: ${scaledDown.join(', ')} has replicas: 0`,
      fix: `kubectl -n ${namespace} scale ${kind} ${name} --replicas=1`,
    };
  }
  return {
    cause: `the claim stayed Pending for ${formatDuration(waitedMs, { fixed: true })}: ${provisioner} never provisioned a volume${external ? ` (${external.message})` : ''}`,
    fix: `check that the ${provisioner} controller pods are running and their logs (kubectl get pods -A | grep -i provisioner)`,
  };
}

/**
 * A storage test pod the scheduler refused: a scheduling finding with the scheduler's reason, not a provisioner's
 * fault (with WaitForFirstConsumer the claim waits for exactly this pod, so a Pending claim proves nothing).
 */
export function notScheduled(s: ValidateSession, pod: string, ev: StuckEvidence, nodes: NodeInfo[]): StepOutcome {
  const detail = [...ev.pods, ...formatEvents(ev.events)].join('\n');
  const skip = s.blocked('storage', nodes, 'storage', { detail, fix: ev.diagnosis.fix, evidence: { pod, stuck: ev.pods, events: ev.events } });
  if (skip) return skip;
  return {
    status: 'fail',
    summary: `the storage test pod ${pod} was not scheduled: ${ev.diagnosis.cause}`,
    detail: [...ev.pods, ...formatEvents(ev.events)].join('\n'),
    why: 'a scheduling problem, not the volume provisioner: storage could not be tested because no pod can be placed',
    fix: ev.diagnosis.fix,
    evidence: { finding: 'scheduling', pod, stuck: ev.pods, events: ev.events },
  };
}

/**
 * More than one default StorageClass: Kubernetes gives a claim without storageClassName the newest one (1.26+;
 * older API servers refuse the claim), so which storage a chart gets depends on creation order. A warning naming them.
 */
export function multipleDefaults(defaults: KubeObject[]): { summary: string; fix: string } | undefined {
  if (defaults.length < 2) return undefined;
  const names = defaults.map((c) => c.metadata.name!);
  const newest = [...defaults].sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''))[0]!.metadata.name!;
  return {
    summary: `${defaults.length} StorageClasses are marked default (${names.join(', ')}): claims without storageClassName get the newest (${newest}), not a choice`,
    fix: `keep one default: kubectl patch storageclass ${names.find((n) => n !== newest) ?? names[1]} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"false"}}}'`,
  };
}

export async function runStorage(s: ValidateSession, ctx: StepContext): Promise<StepOutcome> {
  const kube = await s.kube();
  const k = await import('../../kube/index.js');
  const classes = (await kube.list('storage.k8s.io/v1', 'StorageClass', { signal: ctx.signal })).items;
  const defaults = defaultClasses(classes);
  if (defaults.length === 0) {
    return {
      status: 'fail',
      summary: `no default StorageClass${classes.length ? ` (classes: ${classes.map((c) => c.metadata.name).join(', ')}, none marked default)` : ' and no StorageClass at all'}`,
      why: 'claims without storageClassName (most Helm charts) stay Pending forever',
      fix: classes.length
        ? `kubectl patch storageclass ${classes[0]!.metadata.name} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'`
        : 'install a CSI driver or provisioner and mark its StorageClass default',
      evidence: { classes: classes.map((c) => c.metadata.name) },
    };
  }
  // The class a claim without storageClassName gets: the newest default.
  const sc = [...defaults].sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''))[0]!;
  const mode = String(sc.volumeBindingMode ?? 'Immediate');
  const notes: string[] = [];
  const twoDefaults = multipleDefaults(defaults);

  const ns = await s.namespace(ctx);
  const b = s.buildContext(ctx, ns);
  const started = Date.now();
  await kube.create(buildPvc(b, 'data', undefined), ctx.signal);
  const claimState = async (timeoutMs: number) => {
    try {
      return await k.waitFor(kube, 'v1', 'PersistentVolumeClaim', { namespace: ns, fieldSelector: 'metadata.name=data', timeoutMs, signal: ctx.signal, what: 'the claim to bind' }, (m) => {
        const c = [...m.values()][0];
        return (c?.status as { phase?: string } | undefined)?.phase === 'Bound' ? c : undefined;
      });
    } catch (err) {
      if (err instanceof k.WaitTimeout) return undefined;
      throw err;
    }
  };
  const pendingFail = async (extra: string[] = []): Promise<StepOutcome> => {
    const all = await k.listEvents(kube, ns, { signal: ctx.signal }).catch(() => [] as EventSummary[]);
    const events = all.filter((e) => e.object === 'PersistentVolumeClaim/data' || (e.object === 'Pod/writer' && e.type === 'Warning'));
    const workloads = await Promise.all(
      (['Deployment', 'StatefulSet'] as const).map((kind) => kube.list('apps/v1', kind, { signal: ctx.signal }).then((l) => l.items.map((i) => ({ ...i, kind }))).catch(() => [] as KubeObject[])),
    );
    const d = diagnosePendingClaim(sc, events, Date.now() - started, scaledDownProvisioners(workloads.flat()));
    return {
      status: 'fail',
      summary: `PVC did not bind (StorageClass ${sc.metadata.name}, ${mode}): ${d.cause}`,
      detail: [...extra, ...formatEvents(events)].join('\n'),
      why: 'workloads that need storage cannot start',
      fix: d.fix,
      evidence: { storageClass: sc.metadata.name, provisioner: sc.provisioner, bindingMode: mode, events },
    };
  };

  let bound: KubeObject | undefined;
  let bindMs: number | undefined;
  if (mode !== 'WaitForFirstConsumer') {
    bound = await claimState(s.timeoutMs);
    if (!bound) return pendingFail();
    bindMs = Date.now() - started;
  }

  const content = `groundwork ${s.runId(ctx)} ${randomBytes(16).toString('hex')}`;
  const sha = checksumContent(content);
  const volume = [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }];
  const mount = [{ name: 'data', mountPath: '/data' }];
  const writerAt = Date.now();
  await kube.create(buildProbePod(b, 'writer', 'storage', [{ name: 'write', probe: { kind: 'write-file', path: '/data/groundwork-check', content }, volumeMounts: mount }], { volumes: volume }), ctx.signal);
  const w = await waitPods(kube, ns, ['writer'], 'finished', { timeoutMs: s.timeoutMs, signal: ctx.signal });
  if (w.unschedulable.length > 0) return notScheduled(s, 'writer', await explainStuck(kube, ns, w.stuck, ctx.signal), await listSchedulableNodes(kube, ctx.signal));
  if (w.stuck.length > 0) {
    if (!bound) {
      bound = await claimState(1);
      if (!bound) return pendingFail(w.stuck.map((p) => `pod writer: ${statusOf(p).phase ?? 'Pending'}`));
    }
    const ev = await explainStuck(kube, ns, w.stuck, ctx.signal);
    return { status: 'fail', summary: `the writer pod did not finish: ${ev.diagnosis.cause}`, detail: [...ev.pods, ...formatEvents(ev.events)].join('\n'), fix: ev.diagnosis.fix, evidence: { stuck: ev.pods, events: ev.events } };
  }
  if (!bound) {
    bound = await claimState(5000);
    bindMs = Date.now() - started;
  }
  const writer = w.pods.get('writer')!;
  const writerNode = nodeOf(writer);
  const attachMs = Date.parse(statusOf(writer).containerStatuses?.[0]?.state?.terminated?.startedAt ?? '') - Date.parse(writer.metadata.creationTimestamp ?? '') || Date.now() - writerAt;
  const wlog = parseProbeLogs(await kube.podLogs(ns, 'writer', 'write', { signal: ctx.signal }).catch(() => ''));
  if (containerResults(writer).get('write') !== true || wlog[0]?.detail !== `sha256=${sha}`) {
    return { status: 'fail', summary: `the writer could not write to the volume (${wlog[0] ? `${wlog[0].ok ? 'ok' : 'fail'} ${wlog[0].detail ?? ''}` : 'no probe output'})`, why: 'the volume is not writable by a non-root pod', fix: 'check the CSI driver supports fsGroup (fsGroupPolicy) and the volume\'s permissions' };
  }
  await kube.delete('v1', 'Pod', 'writer', ns, { gracePeriodSeconds: 0, signal: ctx.signal });
  await k.waitGone(kube, 'v1', 'Pod', 'writer', ns, { timeoutMs: s.timeoutMs, signal: ctx.signal });

  // Another node where the volume allows it: a preference, so node-local volumes still land where they must.
  const pv = bound ? await kube.get('v1', 'PersistentVolume', String((bound.spec as { volumeName?: string }).volumeName ?? ''), undefined, ctx.signal) : undefined;
  await kube.create(
    buildProbePod(b, 'reader', 'storage', [{ name: 'read', probe: { kind: 'read-file', path: '/data/groundwork-check', sha256: sha }, volumeMounts: mount }], { volumes: volume, affinity: writerNode ? preferNotNodes([writerNode]) : undefined }),
    ctx.signal,
  );
  const r = await waitPods(kube, ns, ['reader'], 'finished', { timeoutMs: s.timeoutMs, signal: ctx.signal });
  if (r.unschedulable.length > 0) return notScheduled(s, 'reader', await explainStuck(kube, ns, r.stuck, ctx.signal), await listSchedulableNodes(kube, ctx.signal));
  if (r.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, r.stuck, ctx.signal);
    return { status: 'fail', summary: `the reader pod did not finish: ${ev.diagnosis.cause}`, detail: [...ev.pods, ...formatEvents(ev.events)].join('\n'), fix: ev.diagnosis.fix, evidence: { stuck: ev.pods, events: ev.events } };
  }
  const reader = r.pods.get('reader')!;
  const readerNode = nodeOf(reader);
  const rlog = parseProbeLogs(await kube.podLogs(ns, 'reader', 'read', { signal: ctx.signal }).catch(() => ''));
  if (containerResults(reader).get('read') !== true) {
    return {
      status: 'fail',
      summary: `data did not survive the pod: the reader on ${readerNode} found ${rlog[0]?.detail ?? 'nothing'} instead of sha256=${sha.slice(0, 12)}…`,
      why: 'a pod rescheduled after a failure would lose its data',
      fix: `check the StorageClass ${sc.metadata.name} (is it backed by node-local ephemeral storage?) and the CSI driver`,
      evidence: { writerNode, readerNode, expected: sha, got: rlog[0]?.detail },
    };
  }
  if (readerNode === writerNode) {
    const pinned = pv && (pv.spec as { nodeAffinity?: unknown }).nodeAffinity !== undefined;
    notes.push(pinned ? `the volume is node-local (PV nodeAffinity): read back on the same node ${readerNode}` : `read back on the same node ${readerNode} (no other node was eligible)`);
  }

  // Release: delete the reader and the claim; the volume must go too (reclaimPolicy Delete).
  await kube.delete('v1', 'Pod', 'reader', ns, { gracePeriodSeconds: 0, signal: ctx.signal });
  await k.waitGone(kube, 'v1', 'Pod', 'reader', ns, { timeoutMs: s.timeoutMs, signal: ctx.signal });
  await kube.delete('v1', 'PersistentVolumeClaim', 'data', ns, { signal: ctx.signal });
  const pvName = pv?.metadata.name;
  const reclaim = String((pv?.spec as { persistentVolumeReclaimPolicy?: string } | undefined)?.persistentVolumeReclaimPolicy ?? sc.reclaimPolicy ?? 'Delete');
  let releasedMs: number | undefined;
  if (pvName && reclaim === 'Delete') {
    const t = Date.now();
    try {
      await k.waitGone(kube, 'v1', 'PersistentVolume', pvName, undefined, { timeoutMs: s.timeoutMs, signal: ctx.signal });
      releasedMs = Date.now() - t;
    } catch (err) {
      if (!(err instanceof k.WaitTimeout)) throw err;
      return { status: 'fail', summary: `PersistentVolume ${pvName} was not deleted after its claim (reclaimPolicy Delete)`, why: 'released volumes pile up and cost money', fix: `check ${String(sc.provisioner)} logs; kubectl describe pv ${pvName}` };
    }
  } else if (pvName) notes.push(`PersistentVolume ${pvName} has reclaimPolicy ${reclaim}: it stays after the claim (delete it by hand)`);

  const summary = `StorageClass ${sc.metadata.name} (${String(sc.provisioner)}, ${mode}): bound in ${formatDuration(bindMs ?? 0, { fixed: true })}, attached in ${formatDuration(attachMs, { fixed: true })}, data read back ${readerNode !== writerNode ? `on another node (${writerNode} -> ${readerNode})` : `on ${readerNode}`}${releasedMs !== undefined ? `, volume released in ${formatDuration(releasedMs, { fixed: true })}` : ''}`;
  if (twoDefaults) notes.unshift(twoDefaults.summary);
  return {
    status: twoDefaults || notes.some((n) => n.includes('reclaimPolicy')) ? 'warn' : 'pass',
    summary: twoDefaults ? `${twoDefaults.summary}; ${summary}` : summary,
    ...(twoDefaults ? { why: 'which storage a chart gets depends on which class was created last', fix: twoDefaults.fix } : {}),
    detail: notes.join('\n') || undefined,
    evidence: { storageClass: sc.metadata.name, provisioner: sc.provisioner, bindingMode: mode, bindMs, attachMs, releasedMs, writerNode, readerNode, volume: pvName, sha256: sha, notes },
  };
}
