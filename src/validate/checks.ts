/**
 * Sub-checks of a suite and how they fold into one Result, plus the pure control-plane rules (workloads
 * available, backup freshness).
 */
import type { StepOutcome } from '../run/types.js';
import type { KubeObject } from '../kube/paths.js';
import { BACKUP_NAME, checkSnapshotFreshness } from '../addons/backup.js';
import { CONTROL_PLANE_TAINT_KEYS as CONTROL_PLANE_TAINTS, describeExclusions, isControlPlaneNode as isControlPlane, settlingNodes, SETTLE_WAIT_MS, type NodeInfo } from './nodes.js';

/**
 * Nodes that are Ready but take no pods (cordoned, or a NoSchedule/NoExecute taint other than a control plane's own):
 * a warning naming them. "3/3 Ready" alone would hide a cluster where nothing can be scheduled.
 */
export function checkSchedulable(nodes: NodeInfo[]): Check {
  const odd = nodes.filter((n) => {
    if (!n.ready || n.schedulable) return false;
    if (n.unschedulable) return true;
    const hard = n.taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    return !(isControlPlane(n) && hard.every((t) => CONTROL_PLANE_TAINTS.includes(t.key)));
  });
  const takers = nodes.filter((n) => n.schedulable).length;
  if (odd.length === 0) return { name: 'schedulable', status: 'pass', summary: `${takers} node${takers === 1 ? ' takes' : 's take'} pods` };
  // Ready yet still carrying a lifecycle taint once validate waited: the controller that owns it is not keeping up.
  const lagging = settlingNodes(odd);
  const onlyLagging = lagging.length === odd.length && odd.every((n) => !n.unschedulable);
  return {
    name: 'schedulable',
    status: 'warn',
    summary: `${odd.length} Ready node${odd.length === 1 ? '' : 's'} take${odd.length === 1 ? 's' : ''} no pods: ${describeExclusions(odd)}${takers === 0 ? '; no node takes pods at all' : ''}`,
    why: `${takers === 0 ? 'every pod without tolerations stays Pending' : 'workloads have fewer nodes than the cluster seems to have'}${lagging.length ? `; ${lagging.length === 1 ? 'a Ready node still carries' : 'Ready nodes still carry'} the taint the node lifecycle controller removes once a node is Ready (validate waited up to ${SETTLE_WAIT_MS / 1000} s for it)` : ''}`,
    fix: odd.some((n) => n.unschedulable)
      ? `kubectl uncordon ${odd.filter((n) => n.unschedulable).map((n) => n.name).join(' ')} (if the maintenance is over)`
      : onlyLagging
        ? 'check kube-controller-manager: running, its node-lifecycle-controller enabled, its logs; on a big cluster that just joined, run validate again in a minute'
        : `kubectl describe node ${odd[0]!.name} and remove the taint if it is left over`,
  };
}

/** The spec's nodes that the cluster does not have: a failure (a machine that never joined or was lost). */
export function checkSpecNodes(specNodes: string[] | undefined, nodes: NodeInfo[]): Check | undefined {
  if (!specNodes || specNodes.length === 0) return undefined;
  const have = new Set(nodes.map((n) => n.name));
  const missing = specNodes.filter((n) => !have.has(n));
  const extra = nodes.filter((n) => !specNodes.includes(n.name)).map((n) => n.name);
  if (missing.length === 0) return { name: 'spec nodes', status: 'pass', summary: `all ${specNodes.length} nodes of the spec are in the cluster${extra.length ? ` (plus ${extra.join(', ')})` : ''}` };
  return {
    name: 'spec nodes',
    status: 'fail',
    summary: `${missing.length} of ${specNodes.length} nodes in the spec are missing from the cluster: ${missing.join(', ')}`,
    why: 'a machine the spec lists never joined or was removed: the cluster has less capacity and redundancy than planned',
    fix: `check the machine${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (powered on? kubelet running? joined with the right name?) and re-run setup`,
  };
}



export interface Check {
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  summary: string;
  why?: string;
  fix?: string;
  /** A longer line for the detail (e.g. the scheduler's message). */
  detail?: string;
}

/** One outcome from several checks: the first failure leads; every check is listed in detail and evidence. */
export function summarizeChecks(what: string, checks: Check[], extra: Record<string, unknown> = {}): StepOutcome {
  const failed = checks.filter((c) => c.status === 'fail');
  const warned = checks.filter((c) => c.status === 'warn');
  const lead = failed[0] ?? warned[0];
  const mark = { pass: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' } as const;
  const detail = checks.map((c) => `${mark[c.status]} ${c.name}: ${c.summary}${c.detail ? `\n       ${c.detail}` : ''}`).join('\n');
  const evidence = { checks, ...extra };
  if (!lead) {
    const ran = checks.filter((c) => c.status === 'pass');
    return { status: 'pass', summary: `${what}: ${ran.map((c) => c.summary).join('; ')}`, detail, evidence };
  }
  const more = failed.length + warned.length > 1 ? ` (+${failed.length + warned.length - 1} more)` : '';
  return { status: failed.length ? 'fail' : 'warn', summary: `${lead.summary}${more}`, detail, why: lead.why, fix: lead.fix, evidence };
}

/** Workloads that the DNS suite judges (CoreDNS, kube-dns). */
function isDnsWorkload(o: KubeObject): boolean {
  const l = o.metadata.labels ?? {};
  return l['k8s-app'] === 'kube-dns' || /^(coredns|kube-dns)$/.test(o.metadata.name ?? '');
}

/** "available/desired" of a Deployment, DaemonSet or StatefulSet. */
function workloadReadiness(o: KubeObject): { ready: number; desired: number } {
  const st = (o.status ?? {}) as Record<string, number | undefined>;
  const spec = (o.spec ?? {}) as { replicas?: number };
  if (o.kind === 'DaemonSet') return { ready: st.numberAvailable ?? st.numberReady ?? 0, desired: st.desiredNumberScheduled ?? 0 };
  if (o.kind === 'StatefulSet') return { ready: st.readyReplicas ?? 0, desired: spec.replicas ?? 1 };
  return { ready: st.availableReplicas ?? 0, desired: spec.replicas ?? 1 };
}

export function checkWorkloads(objs: KubeObject[]): Check {
  const judged = objs.filter((o) => !isDnsWorkload(o));
  const bad = judged.filter((o) => {
    const r = workloadReadiness(o);
    return r.ready < r.desired;
  });
  // Nothing to judge is not a warning: a CNI may live in its own namespace (calico-system, kube-flannel) or run on
  // the hosts, and whether pod networking works is what the nodes' Ready condition and the connectivity suite say.
  if (judged.length === 0) return { name: 'kube-system', status: 'skip', summary: 'no kube-system workloads besides DNS to judge' };
  if (bad.length === 0) return { name: 'kube-system', status: 'pass', summary: `${judged.length} kube-system workloads available` };
  const list = bad.map((o) => {
    const r = workloadReadiness(o);
    return `${o.kind.toLowerCase()}/${o.metadata.name} ${r.ready}/${r.desired}`;
  });
  return {
    name: 'kube-system',
    status: 'fail',
    summary: `kube-system workloads not available: ${list.join(', ')}`,
    why: 'cluster add-ons (CNI agents, kube-proxy, controllers) are not all running',
    fix: `kubectl -n kube-system describe ${bad[0]!.kind.toLowerCase()} ${bad[0]!.metadata.name} and its pods' events`,
  };
}

/**
 * Backups groundwork installed (its etcd-backup CronJobs) took a snapshot recently. "Recently" is the add-on's own
 * rule (src/addons/backup.ts checkSnapshotFreshness: within twice the schedule interval), so setup and validate agree.
 */
export function backupFreshness(cronjobs: KubeObject[], now: Date): Check {
  const backups = cronjobs.filter((c) => c.metadata.name === BACKUP_NAME || /backup/i.test(c.metadata.name ?? ''));
  if (backups.length === 0) return { name: 'backup', status: 'skip', summary: 'no groundwork-installed backup CronJob: freshness not checked' };
  const results = backups.map((c) => {
    const last = (c.status as { lastSuccessfulTime?: string } | undefined)?.lastSuccessfulTime;
    const r = checkSnapshotFreshness({
      schedule: String((c.spec as { schedule?: string } | undefined)?.schedule ?? ''),
      newest: last ? new Date(last) : undefined,
      since: c.metadata.creationTimestamp ? new Date(c.metadata.creationTimestamp) : undefined,
      now,
    });
    return { ...r, summary: `${c.metadata.namespace}/${c.metadata.name}: ${r.summary}` };
  });
  const failed = results.filter((r) => r.status === 'fail');
  if (failed.length === 0) return { name: 'backup', status: results.some((r) => r.status === 'warn') ? 'warn' : 'pass', summary: results.map((r) => r.summary).join('; ') };
  return {
    name: 'backup',
    status: 'fail',
    summary: failed.map((r) => r.summary).join('; '),
    why: 'the cluster cannot be restored to a recent state',
    fix: 'kubectl get jobs -n <namespace of the CronJob> and read the logs of the last backup job',
  };
}

/** Addresses behind the `kubernetes` Service (Endpoints, else EndpointSlices): where pods' API traffic goes. */
export function apiServiceAddresses(endpoints: KubeObject | undefined, slices: KubeObject[]): string[] {
  const fromEp = (((endpoints as { subsets?: { addresses?: { ip: string }[]; ports?: { port: number }[] }[] } | undefined)?.subsets) ?? []).flatMap((s) =>
    (s.addresses ?? []).flatMap((a) => (s.ports ?? []).map((p) => `${a.ip}:${p.port}`)),
  );
  if (fromEp.length) return fromEp;
  return slices.flatMap((sl) => {
    const ports = ((sl as { ports?: { port?: number }[] }).ports ?? []).map((p) => p.port);
    return ((sl as { endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[] }).endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false)
      .flatMap((e) => (e.addresses ?? []).flatMap((a) => ports.map((p) => `${a}:${p}`)));
  });
}

/**
 * Pods reach the API through the `kubernetes` Service (in-cluster clients: controllers, operators, CNI agents):
 * the Service exists, has endpoints, and a probe from every tested node connected to it.
 */
export function checkApiService(svc: KubeObject | undefined, addresses: string[] | undefined, probes: { node: string; ok: boolean | undefined }[]): Check {
  const ip = (svc?.spec as { clusterIP?: string } | undefined)?.clusterIP;
  const fix = 'kubectl get endpoints kubernetes -n default (kube-apiserver maintains it: check its --advertise-address and --endpoint-reconciler-type, and the control-plane nodes\' leases)';
  if (!svc || !ip) return { name: 'kubernetes service', status: 'fail', summary: 'the kubernetes Service (default/kubernetes) is missing: pods cannot reach the API', why: 'in-cluster clients (controllers, operators, CNI agents) find the API through it', fix: 'restart kube-apiserver: it recreates the Service' };
  if (addresses !== undefined && addresses.length === 0) {
    return { name: 'kubernetes service', status: 'fail', summary: `pods cannot reach the API: the kubernetes Service (${ip}:443) has no endpoints`, why: 'in-cluster clients (controllers, operators, CNI agents, kubectl in a pod) get connection refused', fix };
  }
  const failed = probes.filter((p) => p.ok === false).map((p) => p.node);
  if (failed.length > 0) {
    return {
      name: 'kubernetes service',
      status: 'fail',
      summary: `pods on ${failed.join(', ')} cannot reach the API through the kubernetes Service (${ip}:443${addresses ? ` -> ${addresses.join(', ')}` : ''})`,
      why: 'in-cluster clients on those nodes cannot talk to the API server',
      fix: 'check kube-proxy (or the CNI\'s service handling) on those nodes, and that the control-plane addresses in the endpoints are reachable from pods',
    };
  }
  const tested = probes.filter((p) => p.ok === true).length;
  return { name: 'kubernetes service', status: 'pass', summary: `pods reach the API through the kubernetes Service (${ip}:443${addresses ? ` -> ${addresses.join(', ')}` : ''})${tested ? ` from ${tested} node${tested === 1 ? '' : 's'}` : ''}` };
}

/** CoreDNS pods and their Deployment: none, scaled to zero, down, or partly Ready. */
export function checkCoreDns(pods: KubeObject[], readyCount: number, deployments: KubeObject[], notReadyNodes: string[] = []): Check {
  const dep = deployments.find(isDnsWorkload);
  const replicas = (dep?.spec as { replicas?: number } | undefined)?.replicas;
  if (dep && replicas === 0) {
    return {
      name: 'coredns',
      status: 'fail',
      summary: `CoreDNS is scaled to zero: deployment kube-system/${dep.metadata.name} has replicas: 0`,
      why: 'nothing answers DNS queries: every Service name lookup in the cluster times out',
      fix: `kubectl -n kube-system scale deployment ${dep.metadata.name} --replicas=2`,
    };
  }
  if (pods.length === 0) return { name: 'coredns', status: 'fail', summary: 'no CoreDNS pods (kube-system, k8s-app=kube-dns)', why: 'nothing answers DNS queries in the cluster', fix: dep ? `kubectl -n kube-system describe deployment ${dep.metadata.name} (its ReplicaSet's events say why no pod exists)` : 'install CoreDNS (kubeadm and Talos deploy it by default; check kube-system)' };
  // Down because the nodes are (CNI not ready, kubelets gone): the nodes are the finding, control-plane reports them.
  const onBadNodes = pods.filter((p) => notReadyNodes.includes(String((p.spec as { nodeName?: string } | undefined)?.nodeName ?? '')));
  if (readyCount === 0 && notReadyNodes.length > 0 && onBadNodes.length === pods.length) {
    const where = [...new Set(onBadNodes.map((p) => String((p.spec as { nodeName?: string }).nodeName)))];
    return { name: 'coredns', status: 'warn', summary: `CoreDNS is down because its nodes are NotReady: 0 of ${pods.length} CoreDNS pods Ready (on ${where.join(', ')})`, why: 'the nodes are the cause: see the control-plane result', fix: `check the kubelet and CNI on ${where.join(', ')}` };
  }
  if (readyCount === 0) {
    return {
      name: 'coredns',
      status: 'fail',
      summary: `CoreDNS is down: 0 of ${pods.length} CoreDNS pods Ready`,
      why: 'with no Ready CoreDNS pod the kube-dns Service has no endpoints and every name lookup times out',
      fix: 'kubectl -n kube-system describe pods -l k8s-app=kube-dns; kubectl -n kube-system logs -l k8s-app=kube-dns (upstream resolver, loop detection, CNI)',
    };
  }
  return { name: 'coredns', status: readyCount === pods.length ? 'pass' : 'warn', summary: `${readyCount}/${pods.length} CoreDNS pods Ready` };
}
