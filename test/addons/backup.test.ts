import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import {
  STORE_SCRIPT,
  buildBackupPlan,
  buildTalosBackupAccessPatch,
  checkSnapshotFreshness,
  etcdImageTag,
  scheduleIntervalMs,
  type BackupObject,
} from '../../src/addons/backup.js';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import { buildAddonSpec } from './spec.js';

const H = 3600_000;

function cronJobOf(objects: BackupObject[]): ICronJob {
  return objects.find((o) => o.kind === 'CronJob') as ICronJob;
}

/** Validates each core object against the Kubernetes schema (throws on the first invalid one). */
function validateCore(objects: BackupObject[]): void {
  for (const o of objects) {
    if (o.kind === 'CronJob') new CronJob(o as ICronJob).validate();
    else if (o.apiVersion === 'v1') new ServiceAccount(o as never).validate();
  }
}

describe('backup objects', () => {
  it('kubeadm: a CronJob pinned to control planes, etcdctl with the host etcd client certs, hostPath target', () => {
    const plan = buildBackupPlan(buildAddonSpec({ method: 'kubeadm', addons: { backup: { schedule: '0 */6 * * *', retain: 28 } } }));
    validateCore(plan.objects);
    expect(plan.objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata!.name}`)).toEqual(['v1 ServiceAccount etcd-backup', 'batch/v1 CronJob etcd-backup']);
    const cj = cronJobOf(plan.objects);
    expect(cj.spec).toMatchObject({ schedule: '0 */6 * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid' });
    const pod = cj.spec!.jobTemplate.spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ 'node-role.kubernetes.io/control-plane': '' });
    expect(pod.tolerations).toEqual([{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    const snap = pod.initContainers![0]!;
    expect(snap.image).toBe('registry.k8s.io/etcd:3.7.0-0');
    expect(snap.command).toEqual([
      'etcdctl', '--endpoints=https://127.0.0.1:2379',
      '--cacert=/etc/kubernetes/pki/etcd/ca.crt', '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt', '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
      'snapshot', 'save', '/work/snapshot.db',
    ]);
    expect(pod.volumes).toContainEqual({ name: 'etcd-certs', hostPath: { path: '/etc/kubernetes/pki/etcd', type: 'Directory' } });
    expect(pod.volumes).toContainEqual({ name: 'backups', hostPath: { path: '/var/backups/etcd', type: 'DirectoryOrCreate' } });
    expect(pod.containers[0]!.env).toContainEqual({ name: 'RETAIN', value: '28' });
    expect(plan.talosControlPlanePatch).toBeUndefined();
  });

  it('a PVC target replaces the hostPath', () => {
    const plan = buildBackupPlan(buildAddonSpec({ method: 'kubeadm', addons: { backup: { retain: 7, target: { pvc: 'etcd-snapshots' } } } }));
    validateCore(plan.objects);
    const vols = cronJobOf(plan.objects).spec!.jobTemplate.spec!.template.spec!.volumes!;
    expect(vols.find((v) => v.name === 'backups')).toEqual({ name: 'backups', persistentVolumeClaim: { claimName: 'etcd-snapshots' } });
  });

  it('talos: talosctl with a Talos API service account allowed os:etcd:backup, plus the machine config it needs', () => {
    const plan = buildBackupPlan(buildAddonSpec({ method: 'talos', registry: 'mirror.local:5000' }));
    validateCore(plan.objects);
    expect(plan.objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata!.name}`)).toEqual([
      'v1 ServiceAccount etcd-backup',
      'talos.dev/v1alpha1 ServiceAccount etcd-backup-talos',
      'batch/v1 CronJob etcd-backup',
    ]);
    expect(plan.objects[1]).toMatchObject({ spec: { roles: ['os:etcd:backup'] } });
    const pod = cronJobOf(plan.objects).spec!.jobTemplate.spec!.template.spec!;
    const snap = pod.initContainers![0]!;
    expect(snap.image).toBe('mirror.local:5000/siderolabs/talosctl:v1.14.1');
    expect(snap.args).toEqual(['--talosconfig', '/var/run/secrets/talos.dev/config', '--nodes', '$(NODE_IP)', '--endpoints', '$(NODE_IP)', 'etcd', 'snapshot', '/work/snapshot.db']);
    expect(pod.volumes).toContainEqual({ name: 'talos-secrets', secret: { secretName: 'etcd-backup-talos' } });
    expect(pod.containers[0]!.image).toBe('mirror.local:5000/library/busybox:1.37.0');
    expect(plan.talosControlPlanePatch).toEqual([
      { apiVersion: 'v1alpha1', kind: 'KubeTalosAPIAccessConfig', allowedRoles: ['os:etcd:backup'], allowedKubernetesNamespaces: ['kube-system'] },
    ]);
  });

  it('talos v1.14+: the access is a KubeTalosAPIAccessConfig document, valid against the Talos v1.14 schema', () => {
    const docs = buildTalosBackupAccessPatch('v1.14.0');
    expect(docs).toEqual([{ apiVersion: 'v1alpha1', kind: 'KubeTalosAPIAccessConfig', allowedRoles: ['os:etcd:backup'], allowedKubernetesNamespaces: ['kube-system'] }]);
    const validate = new Ajv2020.default({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(new URL('../fixtures/talos/config-v1.14.1.schema.json', import.meta.url), 'utf8')));
    for (const d of docs) expect(validate(d), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(validate({ ...docs[0], allowedRoles: 'os:etcd:backup' })).toBe(false);
  });

  it('backup: false builds nothing', () => {
    expect(buildBackupPlan(buildAddonSpec({ addons: { backup: false } })).objects).toEqual([]);
  });

  it('a broken CronJob is caught by the Kubernetes schema (the validation can fail)', () => {
    const cj = cronJobOf(buildBackupPlan(buildAddonSpec()).objects);
    const bad = structuredClone(cj) as unknown as { spec: { jobTemplate: { spec: { template: { spec: { containers: unknown } } } } } };
    bad.spec.jobTemplate.spec.template.spec.containers = 'not-a-list';
    expect(() => new CronJob(bad as never).validate()).toThrow();
  });

  it.each([
    ['1.35.0', '3.7.0-0'],
    ['1.36.3', '3.7.0-0'],
    ['1.37.2', '3.7.0-0'],
    ['1.40.0', '3.7.0-0'],
  ])('etcd image for Kubernetes %s is %s', (k, tag) => {
    expect(etcdImageTag(k)).toBe(tag);
  });

  it('the store script keeps the newest RETAIN snapshots, by name', () => {
    expect(STORE_SCRIPT).toContain('sort -r | tail -n +$((RETAIN + 1))');
    expect(STORE_SCRIPT).toContain('mv "/backups/$name.part" "/backups/$name"');
  });
});

describe('schedule interval and snapshot freshness', () => {
  const at = new Date('2026-11-25T09:30:00Z'); // a Wednesday

  it.each([
    ['0 */6 * * *', 6 * H],
    ['*/15 * * * *', 0.25 * H],
    ['0 3 * * *', 24 * H],
    ['0 2 * * 1-5', 72 * H], // Friday 02:00 -> Monday 02:00
    ['30 1 * * 0', 7 * 24 * H],
    ['0 0,12 * * *', 12 * H],
    ['0 1,23 * * *', 22 * H],
  ])('interval of "%s" is the longest gap between runs', (schedule, ms) => {
    expect(scheduleIntervalMs(schedule, at)).toBe(ms);
  });

  it.each([
    { name: 'fresh: 5h old on a 6h schedule', newest: new Date(at.getTime() - 5 * H), status: 'pass' },
    { name: 'still fine: 11h59m old', newest: new Date(at.getTime() - 12 * H + 60_000), status: 'pass' },
    { name: 'stale: exactly twice the interval', newest: new Date(at.getTime() - 12 * H), status: 'fail' },
    { name: 'stale: 3 days old', newest: new Date(at.getTime() - 72 * H), status: 'fail' },
    { name: 'none yet, set up 2h ago', since: new Date(at.getTime() - 2 * H), status: 'warn' },
    { name: 'none ever, set up 2 days ago', since: new Date(at.getTime() - 48 * H), status: 'fail' },
  ])('$name', ({ newest, since, status }) => {
    const r = checkSnapshotFreshness({ schedule: '0 */6 * * *', newest, since, now: at });
    expect(r.status).toBe(status);
    expect(r.limitMs).toBe(12 * H);
  });

  it('names the age and the limit', () => {
    expect(checkSnapshotFreshness({ schedule: '0 */6 * * *', newest: new Date(at.getTime() - 30 * H), now: at }).summary).toBe(
      'newest etcd snapshot is 30h old, older than 12h (twice the interval of "0 */6 * * *"): scheduled backups are not running',
    );
  });

  it('property: a snapshot taken at the latest scheduled run is always fresh; one older than twice the interval never is', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('0 */6 * * *', '0 3 * * *', '0 2 * * 1-5', '15 */2 * * *'),
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-01-01T00:00:00Z') }),
        (schedule, t) => {
          const now = new Date(t);
          const limit = 2 * scheduleIntervalMs(schedule, now);
          expect(checkSnapshotFreshness({ schedule, newest: new Date(t - limit / 2), now }).status).toBe('pass');
          expect(checkSnapshotFreshness({ schedule, newest: new Date(t - limit - 1), now }).status).toBe('fail');
        },
      ),
      { numRuns: 25 },
    );
  });
});
