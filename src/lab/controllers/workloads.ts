/**
 * Workload controllers as kube-controller-manager runs them: Deployment -> ReplicaSet (pod-template-hash),
 * ReplicaSet -> Pods, DaemonSet -> one Pod per eligible node (pinned with node affinity, like the real one),
 * Job -> Pods until completions succeed or backoffLimit is exceeded. Status fields are the ones kubectl
 * `rollout status`, `wait --for=condition=...` and `get` read.
 */
import { matchesNodeSelection, tolerates, type Taint, type Toleration } from './scheduling.js';
import { ensure, isOwnedBy, isPodReady, isTerminal, iso, ownerRef, quietly, randomSuffix, setCondition, shortHash, type Obj, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';

function podFromTemplate(owner: KubeObject, name: string, template: Obj, extraLabels: Record<string, string> = {}, specPatch: Obj = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...extraLabels },
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      ownerReferences: [ownerRef(owner)],
    },
    spec: { ...structuredClone(template.spec ?? {}), ...specPatch },
  };
}

function ownedPods(rt: Runtime, owner: KubeObject): KubeObject[] {
  return rt.store.list('pods', owner.metadata.namespace).items.filter((p) => isOwnedBy(p, owner));
}

function isAvailable(p: KubeObject): boolean {
  return !p.metadata.deletionTimestamp && isPodReady(p);
}

async function setStatus(rt: Runtime, resource: string, o: KubeObject, status: Obj): Promise<void> {
  const cur = (o.status ?? {}) as Obj;
  const merged = { ...cur, ...status };
  if (JSON.stringify(merged) === JSON.stringify(cur)) return;
  await quietly(rt.store.mutate(resource, o.metadata.namespace, o.metadata.name!, (x) => {
    x.status = { ...((x.status ?? {}) as Obj), ...status };
  }, { subresource: 'status', skipValidation: true }));
}

// ---- ReplicaSet ----

export async function reconcileReplicaSets(rt: Runtime): Promise<void> {
  for (const rs of rt.store.list('replicasets.apps').items) {
    if (rs.metadata.deletionTimestamp) continue;
    const spec = rs.spec as Obj;
    const want = Number(spec.replicas ?? 1);
    const pods = ownedPods(rt, rs).filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p));
    if (pods.length < want) {
      for (let i = pods.length; i < want; i++) {
        await quietly(rt.store.create(podFromTemplate(rs, `${rs.metadata.name}-${randomSuffix()}`, spec.template ?? {}), { skipValidation: true }));
      }
    } else if (pods.length > want) {
      // Unscheduled first, then not ready, then newest (the ReplicaSet controller's ranking, simplified).
      const rank = (p: KubeObject) => [(p.spec as Obj)?.nodeName ? 1 : 0, isPodReady(p) ? 1 : 0];
      const victims = [...pods].sort((a, b) => {
        const ra = rank(a);
        const rb = rank(b);
        return ra[0]! - rb[0]! || ra[1]! - rb[1]! || String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp));
      }).slice(0, pods.length - want);
      for (const v of victims) await quietly(rt.store.delete('pods', v.metadata.namespace, v.metadata.name!));
      await rt.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${victims.map((v) => v.metadata.name).join(', ')}`, 'replicaset-controller');
    }
    const now = ownedPods(rt, rs).filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p));
    const ready = now.filter(isPodReady).length;
    await setStatus(rt, 'replicasets.apps', rs, {
      replicas: now.length,
      fullyLabeledReplicas: now.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation ?? 1,
    });
  }
}

// ---- Deployment ----

export async function reconcileDeployments(rt: Runtime): Promise<void> {
  for (const d of rt.store.list('deployments.apps').items) {
    if (d.metadata.deletionTimestamp) continue;
    const spec = d.spec as Obj;
    const want = Number(spec.replicas ?? 1);
    const template = structuredClone(spec.template ?? {});
    const hash = shortHash(template, 10);
    const ns = d.metadata.namespace!;
    const owned = rt.store.list('replicasets.apps', ns).items.filter((r) => isOwnedBy(r, d));
    let current = owned.find((r) => r.metadata.labels?.['pod-template-hash'] === hash);
    const revision = String(Math.max(0, ...owned.map((r) => Number(r.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0))) + (current ? 0 : 1));
    if (!current) {
      template.metadata ??= {};
      template.metadata.labels = { ...(template.metadata.labels ?? {}), 'pod-template-hash': hash };
      const selector = structuredClone(spec.selector ?? {});
      selector.matchLabels = { ...(selector.matchLabels ?? {}), 'pod-template-hash': hash };
      await ensure(rt.store, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: ns,
          labels: { ...(template.metadata.labels ?? {}) },
          annotations: { 'deployment.kubernetes.io/revision': revision, 'deployment.kubernetes.io/desired-replicas': String(want) },
          ownerReferences: [ownerRef(d)],
        },
        spec: { replicas: want, selector, template },
      });
      await rt.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${d.metadata.name}-${hash} from 0 to ${want}`, 'deployment-controller');
      current = rt.store.get('replicasets.apps', ns, `${d.metadata.name}-${hash}`);
      if (!current) continue;
    } else if (Number((current.spec as Obj).replicas) !== want) {
      await quietly(rt.store.mutate('replicasets.apps', ns, current.metadata.name!, (r) => {
        (r.spec as Obj).replicas = want;
        (r.metadata.annotations ??= {})['deployment.kubernetes.io/desired-replicas'] = String(want);
      }, { skipValidation: true }));
    }
    // The Deployment carries its current ReplicaSet's revision, as kube-controller-manager's controller writes it.
    const currentRevision = current.metadata.annotations?.['deployment.kubernetes.io/revision'];
    if (currentRevision && d.metadata.annotations?.['deployment.kubernetes.io/revision'] !== currentRevision) {
      await quietly(rt.store.mutate('deployments.apps', ns, d.metadata.name!, (o) => {
        (o.metadata.annotations ??= {})['deployment.kubernetes.io/revision'] = currentRevision;
      }, { skipValidation: true }));
    }
    // Old ReplicaSets go to zero once the new one is fully available (a rollout with 100% surge).
    const curAvail = Number((current.status as Obj)?.availableReplicas ?? 0);
    for (const old of owned) {
      if (old.metadata.uid === current.metadata.uid || Number((old.spec as Obj).replicas ?? 0) === 0) continue;
      if (curAvail >= want) {
        await quietly(rt.store.mutate('replicasets.apps', ns, old.metadata.name!, (r) => {
          (r.spec as Obj).replicas = 0;
        }, { skipValidation: true }));
        await rt.event(d, 'Normal', 'ScalingReplicaSet', `Scaled down replica set ${old.metadata.name} from ${(old.spec as Obj).replicas} to 0`, 'deployment-controller');
      }
    }
    const all = rt.store.list('replicasets.apps', ns).items.filter((r) => isOwnedBy(r, d));
    const sum = (f: string) => all.reduce((a, r) => a + Number((r.status as Obj)?.[f] ?? 0), 0);
    const cs = (current.status ?? {}) as Obj;
    const replicas = sum('replicas');
    const available = sum('availableReplicas');
    const updated = Number(cs.replicas ?? 0);
    const conds = structuredClone(((d.status as Obj)?.conditions ?? []) as Obj[]);
    const now = rt.now();
    const avail = available >= want;
    setCondition(conds, 'Available', avail ? 'True' : 'False', now, avail ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      avail ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.', { lastUpdateTime: conds.find((c) => c.type === 'Available')?.lastUpdateTime ?? iso(now) });
    const complete = updated === want && Number(cs.availableReplicas ?? 0) >= want && replicas === want;
    setCondition(conds, 'Progressing', 'True', now, complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
      complete ? `ReplicaSet "${current.metadata.name}" has successfully progressed.` : `ReplicaSet "${current.metadata.name}" is progressing.`,
      { lastUpdateTime: conds.find((c) => c.type === 'Progressing')?.lastUpdateTime ?? iso(now) });
    conds.sort((a, b) => (a.type === 'Available' ? -1 : b.type === 'Available' ? 1 : 0));
    await setStatus(rt, 'deployments.apps', d, {
      observedGeneration: d.metadata.generation ?? 1,
      replicas,
      updatedReplicas: updated,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: available,
      ...(replicas - available > 0 ? { unavailableReplicas: replicas - available } : {}),
      conditions: conds,
    });
    if (replicas - available <= 0 && (d.status as Obj)?.unavailableReplicas !== undefined) {
      await quietly(rt.store.mutate('deployments.apps', ns, d.metadata.name!, (x) => {
        delete (x.status as Obj).unavailableReplicas;
      }, { subresource: 'status', skipValidation: true }));
    }
  }
}

// ---- DaemonSet ----

const DS_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

function dsPodNode(p: KubeObject): string | undefined {
  const spec = p.spec as Obj;
  if (spec.nodeName) return spec.nodeName;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return terms[0]?.matchFields?.find((f: Obj) => f.key === 'metadata.name')?.values?.[0];
}

export async function reconcileDaemonSets(rt: Runtime): Promise<void> {
  const nodes = rt.store.list('nodes').items as Obj[];
  for (const ds of rt.store.list('daemonsets.apps').items) {
    if (ds.metadata.deletionTimestamp) continue;
    const spec = ds.spec as Obj;
    const template = spec.template ?? {};
    const hash = shortHash(template, 10);
    const tolerations: Obj[] = [...((template.spec?.tolerations ?? []) as Obj[]), ...DS_TOLERATIONS];
    if (template.spec?.hostNetwork) tolerations.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
    const probe = { spec: { ...(template.spec ?? {}), tolerations } };
    const eligible = nodes.filter((n) =>
      matchesNodeSelection(probe, n) &&
      !((n.spec?.taints ?? []) as Taint[]).some((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(tolerations as Toleration[], t) && !(t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable')),
    );
    const eligibleNames = new Set(eligible.map((n) => n.metadata.name as string));
    const pods = ownedPods(rt, ds).filter((p) => !p.metadata.deletionTimestamp);
    const byNode = new Map<string, KubeObject[]>();
    for (const p of pods) {
      const n = dsPodNode(p) ?? '';
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    for (const [n, ps] of byNode) {
      for (const [i, p] of ps.entries()) {
        const stale = p.metadata.labels?.['controller-revision-hash'] !== hash || isTerminal(p);
        if (!eligibleNames.has(n) || i > 0 || stale) await quietly(rt.store.delete('pods', p.metadata.namespace, p.metadata.name!));
      }
    }
    for (const n of eligible) {
      const name = n.metadata.name as string;
      const have = (byNode.get(name) ?? []).some((p) => p.metadata.labels?.['controller-revision-hash'] === hash && !isTerminal(p));
      if (have) continue;
      const pod = podFromTemplate(ds, `${ds.metadata.name}-${randomSuffix()}`, template, { 'controller-revision-hash': hash, 'pod-template-generation': String(ds.metadata.generation ?? 1) }, {
        tolerations,
        affinity: {
          ...(template.spec?.affinity ?? {}),
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [name] }] }] } },
        },
      });
      const made = await quietly(rt.store.create(pod, { skipValidation: true }));
      if (made) await rt.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`, 'daemonset-controller');
    }
    const live = ownedPods(rt, ds).filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p));
    const scheduled = live.filter((p) => (p.spec as Obj).nodeName && eligibleNames.has((p.spec as Obj).nodeName));
    const ready = scheduled.filter(isPodReady).length;
    await setStatus(rt, 'daemonsets.apps', ds, {
      desiredNumberScheduled: eligible.length,
      currentNumberScheduled: scheduled.length,
      numberMisscheduled: live.filter((p) => (p.spec as Obj).nodeName && !eligibleNames.has((p.spec as Obj).nodeName)).length,
      numberReady: ready,
      numberAvailable: ready,
      ...(eligible.length - ready > 0 ? { numberUnavailable: eligible.length - ready } : { numberUnavailable: undefined }),
      updatedNumberScheduled: scheduled.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash).length,
      observedGeneration: ds.metadata.generation ?? 1,
    });
  }
}

// ---- Job ----

export async function reconcileJobs(rt: Runtime): Promise<void> {
  for (const job of rt.store.list('jobs.batch').items) {
    if (job.metadata.deletionTimestamp) continue;
    const spec = job.spec as Obj;
    const status = (job.status ?? {}) as Obj;
    const finished = ((status.conditions ?? []) as Obj[]).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    const pods = ownedPods(rt, job).filter((p) => !p.metadata.deletionTimestamp);
    const succeeded = pods.filter((p) => (p.status as Obj)?.phase === 'Succeeded').length;
    const failed = pods.filter((p) => (p.status as Obj)?.phase === 'Failed').length
      + pods.reduce((a, p) => a + (((p.status as Obj)?.containerStatuses ?? []) as Obj[]).reduce((b, c) => b + Number(c.restartCount ?? 0), 0), 0);
    const active = pods.filter((p) => !isTerminal(p));
    const completions = Number(spec.completions ?? 1);
    const parallelism = Number(spec.parallelism ?? 1);
    const backoffLimit = Number(spec.backoffLimit ?? 6);
    const now = rt.now();
    if (finished) continue;
    const conds = structuredClone((status.conditions ?? []) as Obj[]);
    const uid = job.metadata.uid!;
    if (spec.suspend) {
      await setStatus(rt, 'jobs.batch', job, { active: active.length });
      continue;
    }
    if (failed > backoffLimit) {
      for (const p of active) await quietly(rt.store.delete('pods', p.metadata.namespace, p.metadata.name!));
      setCondition(conds, 'FailureTarget', 'True', now, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', { lastProbeTime: iso(now) });
      setCondition(conds, 'Failed', 'True', now, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', { lastProbeTime: iso(now) });
      await setStatus(rt, 'jobs.batch', job, { active: 0, failed, succeeded, conditions: conds, ready: 0, terminating: 0 });
      await rt.event(job, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', 'job-controller');
      continue;
    }
    if (succeeded >= completions) {
      setCondition(conds, 'SuccessCriteriaMet', 'True', now, 'CompletionsReached', 'Reached expected number of succeeded pods', { lastProbeTime: iso(now) });
      setCondition(conds, 'Complete', 'True', now, 'CompletionsReached', 'Reached expected number of succeeded pods', { lastProbeTime: iso(now) });
      await setStatus(rt, 'jobs.batch', job, { active: 0, succeeded, failed, ready: 0, terminating: 0, completionTime: iso(now), conditions: conds });
      await rt.event(job, 'Normal', 'Completed', 'Job completed', 'job-controller');
      continue;
    }
    const wantActive = Math.min(parallelism, completions - succeeded);
    for (let i = active.length; i < wantActive; i++) {
      const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': job.metadata.name!, 'controller-uid': uid, 'job-name': job.metadata.name! };
      const made = await quietly(rt.store.create(podFromTemplate(job, `${job.metadata.name}-${randomSuffix()}`, spec.template ?? {}, labels), { skipValidation: true }));
      if (made) await rt.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`, 'job-controller');
    }
    await setStatus(rt, 'jobs.batch', job, {
      startTime: status.startTime ?? iso(now),
      active: Math.max(active.length, wantActive),
      ready: active.filter(isPodReady).length,
      terminating: 0,
      ...(succeeded > 0 ? { succeeded } : {}),
      ...(failed > 0 ? { failed } : {}),
    });
  }
}

