/**
 * Scheduled etcd snapshots (pure builders): a CronJob pinned to the control planes, its ServiceAccount, and for
 * Talos the Talos API access it needs; plus the freshness check `validate` reports ("the newest snapshot is
 * younger than twice the schedule interval").
 *
 * Both flavours take the snapshot in an init container into an emptyDir, then a busybox container gives it a
 * timestamped name on the target and deletes all but the newest `retain`: the etcd and talosctl images have no
 * shell, and a snapshot is renamed into place only once complete, so a half-written file never counts as a backup.
 */
import { formatDuration } from '../duration.js';
import { Cron } from 'croner';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { selectTalosConfigFormat, buildTalosBackupAccessPatch, ETCD_BACKUP_NAMESPACE } from '../bootstrap/talos.js';
import { kubeadmEtcdTag } from '../bootstrap/kubeadm.js';
import type { Spec } from '../spec/schema.js';
import { imageRef } from './images.js';

export const BACKUP_NAMESPACE = ETCD_BACKUP_NAMESPACE;
export { buildTalosBackupAccessPatch };
export const BACKUP_NAME = 'etcd-backup';
/** The Talos ServiceAccount (talos.dev) and the Secret Talos creates for it share this name. */
export const TALOS_BACKUP_ACCOUNT = 'etcd-backup-talos';
export const TALOS_SECRETS_MOUNT = '/var/run/secrets/talos.dev';
export const ETCD_PKI_DIR = '/etc/kubernetes/pki/etcd';
export const BUSYBOX = { repository: 'docker.io/library/busybox', tag: '1.37.0' } as const;

/** The etcd image kubeadm runs for the cluster's Kubernetes version: the CronJob's etcdctl matches the server. */
export function etcdImageTag(kubernetesVersion: string): string {
  return kubeadmEtcdTag(kubernetesVersion);
}

/** A talos.dev ServiceAccount: Talos turns it into a Secret holding a talosconfig limited to `roles`. */
export interface TalosServiceAccount {
  apiVersion: 'talos.dev/v1alpha1';
  kind: 'ServiceAccount';
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: { roles: string[] };
}

export type BackupObject = IServiceAccount | ICronJob | TalosServiceAccount;

export interface BackupPlan {
  objects: BackupObject[];
  /** Talos only: the machine config documents the control planes need so pods may call the Talos API for snapshots. */
  talosControlPlanePatch?: Record<string, unknown>[];
  notes: string[];
}

const LABELS = { 'app.kubernetes.io/name': BACKUP_NAME, 'app.kubernetes.io/managed-by': 'groundwork' };

/** Renames the finished snapshot onto the target and keeps the newest $RETAIN (names sort by time). */
export const STORE_SCRIPT = [
  'set -eu',
  'ts=$(date -u +%Y%m%dT%H%M%SZ)',
  'name="etcd-$ts-${NODE_NAME}.db"',
  'cp /work/snapshot.db "/backups/$name.part"',
  'mv "/backups/$name.part" "/backups/$name"',
  'ls -1 /backups | grep -E "^etcd-[0-9]{8}T[0-9]{6}Z-.*\\.db$" | sort -r | tail -n +$((RETAIN + 1)) | while read -r old; do rm -f "/backups/$old"; done',
  'echo "saved /backups/$name; keeping the newest $RETAIN"',
].join('\n');

/**
 * Every container of the job runs as one uid, set once for the pod: the snapshot tools write the file 0600 as
 * the uid they run as (`talosctl etcd snapshot`, `etcdctl snapshot save`), and the store container, with every
 * capability dropped, can read it only as its owner. That uid is root: root owns the host directory kubelet
 * creates for a hostPath target, and on kubeadm the 0600 etcd client key; no capability is needed for either.
 */
export const BACKUP_UID = 0;
const POD_SECURITY = { runAsUser: BACKUP_UID, runAsGroup: BACKUP_UID, fsGroup: BACKUP_UID, seccompProfile: { type: 'RuntimeDefault' } } as const;
const CONTAINER_SECURITY = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

function targetVolume(spec: Spec): IVolume {
  const b = spec.spec.addons.backup;
  if (b === false) throw new Error('backup disabled');
  if (b.target.pvc) return { name: 'backups', persistentVolumeClaim: { claimName: b.target.pvc } };
  return { name: 'backups', hostPath: { path: b.target.hostPath ?? '/var/backups/etcd', type: 'DirectoryOrCreate' } };
}

function storeContainer(spec: Spec, retain: number): NonNullable<IPodSpec['containers']>[number] {
  return {
    name: 'store',
    image: imageRef(spec.spec.images.registry, BUSYBOX.repository, BUSYBOX.tag),
    command: ['/bin/sh', '-c', STORE_SCRIPT],
    env: [
      { name: 'RETAIN', value: String(retain) },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    ],
    volumeMounts: [{ name: 'work', mountPath: '/work', readOnly: true }, { name: 'backups', mountPath: '/backups' }],
    securityContext: structuredClone(CONTAINER_SECURITY),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
  };
}

function serviceAccount(): IServiceAccount {
  // The job never calls the Kubernetes API: no token in its pods.
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: BACKUP_NAME, namespace: BACKUP_NAMESPACE, labels: { ...LABELS } }, automountServiceAccountToken: false };
}

function cronJob(spec: Spec, podSpec: IPodSpec): ICronJob {
  const b = spec.spec.addons.backup;
  if (b === false) throw new Error('backup disabled');
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: BACKUP_NAME, namespace: BACKUP_NAMESPACE, labels: { ...LABELS } },
    spec: {
      schedule: b.schedule,
      // The freshness check reads the schedule in UTC; say so instead of inheriting the controller manager's zone.
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: { ...LABELS } },
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: 1800,
          template: { metadata: { labels: { ...LABELS } }, spec: podSpec },
        },
      },
    },
  };
}

/** Pinned to the control planes, where etcd runs (and, on kubeadm, its client certificates). */
function controlPlanePlacement(): Pick<IPodSpec, 'nodeSelector' | 'tolerations'> {
  return {
    nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
    tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
  };
}

export function buildKubeadmBackup(spec: Spec): BackupPlan {
  const b = spec.spec.addons.backup;
  if (b === false) return { objects: [], notes: ['spec.addons.backup is false: no scheduled etcd snapshots'] };
  const podSpec: IPodSpec = {
    serviceAccountName: BACKUP_NAME,
    automountServiceAccountToken: false,
    restartPolicy: 'Never',
    // kubeadm's etcd listens for clients on 127.0.0.1:2379 of each control plane.
    hostNetwork: true,
    dnsPolicy: 'ClusterFirstWithHostNet',
    ...controlPlanePlacement(),
    securityContext: structuredClone(POD_SECURITY),
    initContainers: [
      {
        name: 'snapshot',
        image: imageRef(spec.spec.images.registry, 'registry.k8s.io/etcd', etcdImageTag(spec.spec.kubernetesVersion)),
        command: [
          'etcdctl',
          '--endpoints=https://127.0.0.1:2379',
          `--cacert=${ETCD_PKI_DIR}/ca.crt`,
          `--cert=${ETCD_PKI_DIR}/healthcheck-client.crt`,
          `--key=${ETCD_PKI_DIR}/healthcheck-client.key`,
          'snapshot', 'save', '/work/snapshot.db',
        ],
        env: [{ name: 'ETCDCTL_API', value: '3' }],
        volumeMounts: [{ name: 'etcd-certs', mountPath: ETCD_PKI_DIR, readOnly: true }, { name: 'work', mountPath: '/work' }],
        securityContext: structuredClone(CONTAINER_SECURITY),
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      },
    ],
    containers: [storeContainer(spec, b.retain)],
    volumes: [
      { name: 'etcd-certs', hostPath: { path: ETCD_PKI_DIR, type: 'Directory' } },
      { name: 'work', emptyDir: {} },
      targetVolume(spec),
    ],
  };
  return {
    objects: [serviceAccount(), cronJob(spec, podSpec)],
    notes: [
      `etcd snapshots on schedule "${b.schedule}" (UTC), newest ${b.retain} kept, in ${b.target.pvc ? `PVC ${b.target.pvc}` : `${b.target.hostPath ?? '/var/backups/etcd'} on the control plane that ran the job`}`,
      'snapshots are taken with the etcd client certificate from the control plane (/etc/kubernetes/pki/etcd)',
    ],
  };
}

export function buildTalosBackup(spec: Spec): BackupPlan {
  const b = spec.spec.addons.backup;
  if (b === false) return { objects: [], notes: ['spec.addons.backup is false: no scheduled etcd snapshots'] };
  const talosAccount: TalosServiceAccount = {
    apiVersion: 'talos.dev/v1alpha1',
    kind: 'ServiceAccount',
    metadata: { name: TALOS_BACKUP_ACCOUNT, namespace: BACKUP_NAMESPACE, labels: { ...LABELS } },
    spec: { roles: ['os:etcd:backup'] },
  };
  const podSpec: IPodSpec = {
    serviceAccountName: BACKUP_NAME,
    automountServiceAccountToken: false,
    restartPolicy: 'Never',
    ...controlPlanePlacement(),
    securityContext: structuredClone(POD_SECURITY),
    initContainers: [
      {
        name: 'snapshot',
        image: imageRef(spec.spec.images.registry, 'ghcr.io/siderolabs/talosctl', spec.spec.bootstrap.talos.version),
        // The image's entrypoint is talosctl. The local node's Talos API serves its own etcd member.
        args: ['--talosconfig', `${TALOS_SECRETS_MOUNT}/config`, '--nodes', '$(NODE_IP)', '--endpoints', '$(NODE_IP)', 'etcd', 'snapshot', '/work/snapshot.db'],
        env: [{ name: 'NODE_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }],
        volumeMounts: [{ name: 'talos-secrets', mountPath: TALOS_SECRETS_MOUNT, readOnly: true }, { name: 'work', mountPath: '/work' }],
        // talosctl needs nothing from the host: it reads the mounted talosconfig and talks to the Talos API. It runs
        // as the pod's uid, so the 0600 snapshot it writes is readable by the store container.
        securityContext: structuredClone(CONTAINER_SECURITY),
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
      },
    ],
    containers: [{ ...storeContainer(spec, b.retain) }],
    volumes: [{ name: 'talos-secrets', secret: { secretName: TALOS_BACKUP_ACCOUNT } }, { name: 'work', emptyDir: {} }, targetVolume(spec)],
  };
  return {
    objects: [serviceAccount(), talosAccount, cronJob(spec, podSpec)],
    talosControlPlanePatch: buildTalosBackupAccessPatch(spec.spec.bootstrap.talos.version),
    notes: [
      `etcd snapshots through the Talos API (role os:etcd:backup) on schedule "${b.schedule}" (UTC), newest ${b.retain} kept, in ${b.target.pvc ? `PVC ${b.target.pvc}` : `${b.target.hostPath ?? '/var/backups/etcd'} on the control plane that ran the job`}`,
      `needs Talos API access from Kubernetes on the control planes (role os:etcd:backup from kube-system): ${selectTalosConfigFormat(spec.spec.bootstrap.talos.version) === 'multidoc' ? 'a KubeTalosAPIAccessConfig document' : 'machine.features.kubernetesTalosAPIAccess'}`,
    ],
  };
}

export function buildBackupPlan(spec: Spec): BackupPlan {
  return spec.spec.bootstrap.method === 'talos' ? buildTalosBackup(spec) : buildKubeadmBackup(spec);
}

/**
 * The longest gap between consecutive runs of a cron schedule (UTC) among the runs in the eight days before
 * `at`: a weekday-only schedule's interval is the weekend gap, which is what a missed run must be judged by.
 */
export function scheduleIntervalMs(schedule: string, at: Date): number {
  // utcOffset rather than a named zone: the same instants, an order of magnitude faster in croner.
  const cron = new Cron(schedule, { utcOffset: 0 });
  const windowStart = at.getTime() - 8 * 24 * 3600_000;
  // Enough past runs to reach back past the window, capped: a schedule with more than ~2,000 runs in eight days
  // repeats within hours, and its longest gap shows up in the newest 2,048 runs.
  const probe = cron.previousRuns(64, at);
  if (probe.length < 2) throw new Error(`schedule "${schedule}" has fewer than two runs before ${at.toISOString()}`);
  const reached = probe[probe.length - 1]!.getTime();
  const perRun = (at.getTime() - reached) / probe.length;
  const past = reached < windowStart ? probe : cron.previousRuns(Math.min(2048, Math.ceil((at.getTime() - windowStart) / perRun) + 2), at);
  let max = 0;
  for (let i = 1; i < past.length; i++) {
    max = Math.max(max, past[i - 1]!.getTime() - past[i]!.getTime());
    if (past[i]!.getTime() < windowStart) break;
  }
  return max;
}

export interface FreshnessInput {
  schedule: string;
  /** When the newest snapshot was taken (e.g. the CronJob's status.lastSuccessfulTime); undefined if none. */
  newest?: Date;
  /** When backups were set up (the CronJob's creationTimestamp): no snapshot yet is fine while it is young. */
  since?: Date;
  now: Date;
}

export interface FreshnessResult {
  status: 'pass' | 'warn' | 'fail';
  summary: string;
  ageMs?: number;
  limitMs: number;
}

/** Pure: is the newest snapshot younger than twice the schedule interval? */
export function checkSnapshotFreshness(i: FreshnessInput): FreshnessResult {
  const limitMs = 2 * scheduleIntervalMs(i.schedule, i.now);
  const limit = formatDuration(limitMs);
  if (!i.newest) {
    if (i.since && i.now.getTime() - i.since.getTime() < limitMs) {
      return { status: 'warn', limitMs, summary: `no etcd snapshot yet; backups were set up ${formatDuration(i.now.getTime() - i.since.getTime())} ago (first one due within ${limit})` };
    }
    return { status: 'fail', limitMs, summary: `no etcd snapshot was ever taken (schedule "${i.schedule}", expected one within ${limit})` };
  }
  const ageMs = Math.max(0, i.now.getTime() - i.newest.getTime());
  if (ageMs < limitMs) return { status: 'pass', ageMs, limitMs, summary: `newest etcd snapshot is ${formatDuration(ageMs)} old (limit ${limit}: twice the schedule interval)` };
  return { status: 'fail', ageMs, limitMs, summary: `newest etcd snapshot is ${formatDuration(ageMs)} old, older than ${limit} (twice the interval of "${i.schedule}"): scheduled backups are not running` };
}
