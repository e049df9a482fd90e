/**
 * Server-side printing: the `Table` (meta.k8s.io/v1) kubectl asks for with
 * `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`. Columns follow kube-apiserver's printers
 * (pkg/printers/internalversion/printers.go) for the kinds an operator looks at; priority 1 columns are the
 * `-o wide` ones. Other kinds get NAME and AGE like a CRD without printer columns.
 */
import type { KubeObject } from '../store/types.js';

type Obj = Record<string, any>;

interface Column {
  name: string;
  type?: string;
  format?: string;
  priority?: number;
  description?: string;
}

/** Go's duration.HumanDuration, as kubectl prints AGE. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(o: KubeObject, now: number): string {
  const t = o.metadata.creationTimestamp;
  return t ? humanDuration(now - Date.parse(t)) : '<unknown>';
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.' };
const AGE: Column = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };
const none = (v: unknown) => (v === undefined || v === null || v === '' ? '<none>' : String(v));

function podRow(p: Obj, now: number): unknown[] {
  const spec = p.spec ?? {};
  const status = p.status ?? {};
  const containers: Obj[] = spec.containers ?? [];
  const statuses: Obj[] = status.containerStatuses ?? [];
  let restarts = 0;
  let ready = 0;
  let reason: string = status.reason ?? status.phase ?? 'Unknown';
  let lastRestart: number | undefined;
  const init: Obj[] = status.initContainerStatuses ?? [];
  let initializing = false;
  init.forEach((c, i) => {
    restarts += c.restartCount ?? 0;
    if (c.state?.terminated?.exitCode === 0) return;
    if (c.state?.terminated) {
      reason = c.state.terminated.reason ? `Init:${c.state.terminated.reason}` : `Init:ExitCode:${c.state.terminated.exitCode}`;
      initializing = true;
    } else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') {
      reason = `Init:${c.state.waiting.reason}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${(spec.initContainers ?? []).length}`;
      initializing = true;
    }
  });
  if (!initializing) {
    let hasRunning = false;
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      restarts += c.restartCount ?? 0;
      const fin = c.lastState?.terminated?.finishedAt;
      if (fin) lastRestart = Math.max(lastRestart ?? 0, Date.parse(fin));
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
      else if (c.state?.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
      else if (c.ready && c.state?.running) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = (status.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
  }
  if (p.metadata?.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  const restartCell = lastRestart !== undefined && restarts > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  const ips: Obj[] = status.podIPs ?? (status.podIP ? [{ ip: status.podIP }] : []);
  const gates: Obj[] = spec.readinessGates ?? [];
  return [
    p.metadata.name,
    `${ready}/${containers.length}`,
    reason,
    restartCell,
    age(p as KubeObject, now),
    ips.length > 0 ? ips.map((x) => x.ip).join(',') : '<none>',
    none(spec.nodeName),
    none(status.nominatedNodeName),
    gates.length > 0 ? `${gates.filter((g) => (status.conditions ?? []).some((c: Obj) => c.type === g.conditionType && c.status === 'True')).length}/${gates.length}` : '<none>',
  ];
}

function nodeRow(n: Obj, now: number): unknown[] {
  const conds: Obj[] = n.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  const statuses = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (n.spec?.unschedulable) statuses.push('SchedulingDisabled');
  const roles = Object.keys(n.metadata?.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '')
    .sort();
  const addrs: Obj[] = n.status?.addresses ?? [];
  const info = n.status?.nodeInfo ?? {};
  return [
    n.metadata.name,
    statuses.join(','),
    roles.length > 0 ? roles.join(',') : '<none>',
    age(n as KubeObject, now),
    info.kubeletVersion ?? '',
    none(addrs.find((a) => a.type === 'InternalIP')?.address),
    none(addrs.find((a) => a.type === 'ExternalIP')?.address),
    info.osImage ?? '<unknown>',
    info.kernelVersion ?? '<unknown>',
    info.containerRuntimeVersion ?? '<unknown>',
  ];
}

function images(tpl: Obj | undefined): [string, string] {
  const cs: Obj[] = tpl?.spec?.containers ?? [];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')];
}

function selectorText(sel: Obj | undefined): string {
  if (!sel) return '<none>';
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) parts.push(`${e.key} ${String(e.operator).toLowerCase()} (${(e.values ?? []).join(',')})`);
  return parts.length > 0 ? parts.join(',') : '<none>';
}

function mapText(m: Record<string, string> | undefined): string {
  const parts = Object.entries(m ?? {}).map(([k, v]) => `${k}=${v}`);
  return parts.length > 0 ? parts.join(',') : '<none>';
}

function portsText(ports: Obj[] | undefined): string {
  if (!ports || ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

interface Printer {
  columns: Column[];
  row(o: Obj, now: number): unknown[];
}

const s = (name: string, priority = 0): Column => ({ name, type: 'string', priority, description: '' });
const i = (name: string, priority = 0): Column => ({ name, type: 'integer', priority, description: '' });

const PRINTERS: Record<string, Printer> = {
  Pod: {
    columns: [NAME, s('Ready'), s('Status'), s('Restarts'), AGE, s('IP', 1), s('Node', 1), s('Nominated Node', 1), s('Readiness Gates', 1)],
    row: podRow,
  },
  Node: {
    columns: [NAME, s('Status'), s('Roles'), AGE, s('Version'), s('Internal-IP', 1), s('External-IP', 1), s('OS-Image', 1), s('Kernel-Version', 1), s('Container-Runtime', 1)],
    row: nodeRow,
  },
  Namespace: { columns: [NAME, s('Status'), AGE], row: (o, now) => [o.metadata.name, o.status?.phase ?? 'Active', age(o as KubeObject, now)] },
  Deployment: {
    columns: [NAME, s('Ready'), i('Up-to-date'), i('Available'), AGE, s('Containers', 1), s('Images', 1), s('Selector', 1)],
    row: (o, now) => [o.metadata.name, `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, o.status?.updatedReplicas ?? 0, o.status?.availableReplicas ?? 0, age(o as KubeObject, now), ...images(o.spec?.template), selectorText(o.spec?.selector)],
  },
  ReplicaSet: {
    columns: [NAME, i('Desired'), i('Current'), i('Ready'), AGE, s('Containers', 1), s('Images', 1), s('Selector', 1)],
    row: (o, now) => [o.metadata.name, o.spec?.replicas ?? 0, o.status?.replicas ?? 0, o.status?.readyReplicas ?? 0, age(o as KubeObject, now), ...images(o.spec?.template), selectorText(o.spec?.selector)],
  },
  DaemonSet: {
    columns: [NAME, i('Desired'), i('Current'), i('Ready'), i('Up-to-date'), i('Available'), s('Node Selector'), AGE, s('Containers', 1), s('Images', 1), s('Selector', 1)],
    row: (o, now) => {
      const st = o.status ?? {};
      return [o.metadata.name, st.desiredNumberScheduled ?? 0, st.currentNumberScheduled ?? 0, st.numberReady ?? 0, st.updatedNumberScheduled ?? 0, st.numberAvailable ?? 0, mapText(o.spec?.template?.spec?.nodeSelector), age(o as KubeObject, now), ...images(o.spec?.template), selectorText(o.spec?.selector)];
    },
  },
  Job: {
    columns: [NAME, s('Status'), s('Completions'), s('Duration'), AGE, s('Containers', 1), s('Images', 1), s('Selector', 1)],
    row: (o, now) => {
      const st = o.status ?? {};
      const conds: Obj[] = st.conditions ?? [];
      const has = (t: string) => conds.some((c) => c.type === t && c.status === 'True');
      const status = has('Complete') ? 'Complete' : has('Failed') ? 'Failed' : has('Suspended') ? 'Suspended' : st.terminating ? 'Terminating' : 'Running';
      const start = st.startTime ? Date.parse(st.startTime) : undefined;
      const end = st.completionTime ? Date.parse(st.completionTime) : now;
      return [o.metadata.name, status, `${st.succeeded ?? 0}/${o.spec?.completions ?? 1}`, start === undefined ? '' : humanDuration(end - start), age(o as KubeObject, now), ...images(o.spec?.template), selectorText(o.spec?.selector)];
    },
  },
  CronJob: {
    columns: [NAME, s('Schedule'), s('Timezone'), s('Suspend'), i('Active'), s('Last Schedule'), AGE],
    row: (o, now) => [o.metadata.name, o.spec?.schedule ?? '', none(o.spec?.timeZone), o.spec?.suspend ? 'True' : 'False', (o.status?.active ?? []).length, o.status?.lastScheduleTime ? humanDuration(now - Date.parse(o.status.lastScheduleTime)) : '<none>', age(o as KubeObject, now)],
  },
  Service: {
    columns: [NAME, s('Type'), s('Cluster-IP'), s('External-IP'), s('Port(s)'), AGE, s('Selector', 1)],
    row: (o, now) => [o.metadata.name, o.spec?.type ?? 'ClusterIP', none(o.spec?.clusterIP), (o.status?.loadBalancer?.ingress ?? []).map((x: Obj) => x.ip ?? x.hostname).join(',') || (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>'), portsText(o.spec?.ports), age(o as KubeObject, now), mapText(o.spec?.selector)],
  },
  PersistentVolumeClaim: {
    columns: [NAME, s('Status'), s('Volume'), s('Capacity'), s('Access Modes'), s('StorageClass'), s('VolumeAttributesClass'), AGE, s('VolumeMode', 1)],
    row: (o, now) => [o.metadata.name, o.status?.phase ?? 'Pending', o.spec?.volumeName ?? '', o.status?.capacity?.storage ?? '', accessModes(o.status?.accessModes), o.spec?.storageClassName ?? '', '<unset>', age(o as KubeObject, now), o.spec?.volumeMode ?? 'Filesystem'],
  },
  PersistentVolume: {
    columns: [NAME, s('Capacity'), s('Access Modes'), s('Reclaim Policy'), s('Status'), s('Claim'), s('StorageClass'), s('VolumeAttributesClass'), s('Reason'), AGE, s('VolumeMode', 1)],
    row: (o, now) => {
      const c = o.spec?.claimRef;
      return [o.metadata.name, o.spec?.capacity?.storage ?? '', accessModes(o.spec?.accessModes), o.spec?.persistentVolumeReclaimPolicy ?? '', o.status?.phase ?? '', c ? `${c.namespace}/${c.name}` : '', o.spec?.storageClassName ?? '', '<unset>', o.status?.reason ?? '', age(o as KubeObject, now), o.spec?.volumeMode ?? 'Filesystem'];
    },
  },
  StorageClass: {
    columns: [NAME, s('Provisioner'), s('ReclaimPolicy'), s('VolumeBindingMode'), s('AllowVolumeExpansion'), AGE],
    row: (o, now) => [o.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true' ? `${o.metadata.name} (default)` : o.metadata.name, o.provisioner ?? '', o.reclaimPolicy ?? 'Delete', o.volumeBindingMode ?? 'Immediate', o.allowVolumeExpansion ? 'true' : 'false', age(o as KubeObject, now)],
  },
  NetworkPolicy: { columns: [NAME, s('Pod-Selector'), AGE], row: (o, now) => [o.metadata.name, selectorText(o.spec?.podSelector) === '<none>' ? '<none>' : selectorText(o.spec?.podSelector), age(o as KubeObject, now)] },
  ConfigMap: { columns: [NAME, i('Data'), AGE], row: (o, now) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o as KubeObject, now)] },
  Secret: { columns: [NAME, s('Type'), i('Data'), AGE], row: (o, now) => [o.metadata.name, o.type ?? 'Opaque', Object.keys(o.data ?? {}).length, age(o as KubeObject, now)] },
  ServiceAccount: { columns: [NAME, i('Secrets'), AGE], row: (o, now) => [o.metadata.name, (o.secrets ?? []).length, age(o as KubeObject, now)] },
  Endpoints: {
    columns: [NAME, s('Endpoints'), AGE],
    row: (o, now) => {
      const eps: string[] = [];
      for (const ss of o.subsets ?? []) for (const a of ss.addresses ?? []) for (const p of ss.ports ?? [{}]) eps.push(p.port ? `${a.ip}:${p.port}` : a.ip);
      return [o.metadata.name, eps.length === 0 ? '<none>' : eps.slice(0, 3).join(',') + (eps.length > 3 ? ` + ${eps.length - 3} more...` : ''), age(o as KubeObject, now)];
    },
  },
  Lease: { columns: [NAME, s('Holder'), AGE], row: (o, now) => [o.metadata.name, o.spec?.holderIdentity ?? '', age(o as KubeObject, now)] },
  Event: {
    columns: [s('Last Seen'), s('Type'), s('Reason'), s('Object'), s('Subobject', 1), s('Source', 1), s('Message'), s('First Seen', 1), i('Count', 1), { ...NAME, priority: 1 }],
    row: (o, now) => {
      const last = o.lastTimestamp ?? o.eventTime ?? o.series?.lastObservedTime ?? o.metadata.creationTimestamp;
      const first = o.firstTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
      const inv = o.involvedObject ?? o.regarding ?? {};
      return [last ? humanDuration(now - Date.parse(last)) : '<unknown>', o.type ?? '', o.reason ?? '', `${String(inv.kind ?? '').toLowerCase()}/${inv.name ?? ''}`, inv.fieldPath ?? '', o.source?.component ?? o.reportingController ?? '', o.message ?? o.note ?? '', first ? humanDuration(now - Date.parse(first)) : '', o.count ?? 1, o.metadata.name];
    },
  },
};

function accessModes(m: string[] | undefined): string {
  const short: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
  return (m ?? []).map((x) => short[x] ?? x).join(',');
}

const DEFAULT: Printer = { columns: [NAME, AGE], row: (o, now) => [o.metadata.name, age(o as KubeObject, now)] };

function partialMeta(o: KubeObject): Obj {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** Renders objects of one kind as a Table. `includeObject`: None | Metadata (default) | Object. */
export function toTable(kind: string, items: KubeObject[], opts: { resourceVersion?: string; continue?: string; includeObject?: string; noHeaders?: boolean; now?: number }): Obj {
  const p = PRINTERS[kind] ?? DEFAULT;
  const now = opts.now ?? Date.now();
  const include = opts.includeObject ?? 'Metadata';
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: opts.resourceVersion ?? '', ...(opts.continue ? { continue: opts.continue } : {}) },
    columnDefinitions: opts.noHeaders ? [] : p.columns.map((c) => ({ name: c.name, type: c.type ?? 'string', format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
    rows: items.map((o) => ({
      cells: p.row(o as Obj, now),
      ...(include === 'None' ? {} : { object: include === 'Object' ? o : partialMeta(o) }),
    })),
  };
}

/** Does the Accept header ask for a Table? */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  const first = accept.split(',')[0];
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first);
}
