/**
 * The backup CronJob and its account, applied to the lab: by the machine's real kubectl (as an operator would
 * apply the manifest groundwork writes) and by the backup stage's own step through src/kube.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { buildApplyBackupStep, createOrPatch, renderManifests } from '../../src/addons/apply.js';
import { lookBackupFreshness } from '../../src/addons/gates.js';
import { loadKubeConfig, type KubeObject } from '../../src/kube/index.js';
import { buildBackupPlan } from '../../src/addons/backup.js';
import { startControllers } from '../../src/lab/controllers/index.js';
import { labForTests } from '../helpers/lab.js';
import { executeStep } from '../../src/run/engine.js';
import { createTestContext } from '../helpers/context.js';
import { createKubectl } from '../lab/kubectl-helper.js';
import { buildAddonSpec } from './spec.js';

const lab = labForTests({ nodes: 3, controlPlanes: 1, cni: 'cilium', controllers: startControllers });

describe('backup objects in the lab', () => {
  it('kubectl apply accepts the kubeadm CronJob and ServiceAccount, and reads them back as written', async () => {
    const kubectl = createKubectl(lab().kubeconfigPath);
    const plan = buildBackupPlan(buildAddonSpec({ method: 'kubeadm', addons: { backup: { schedule: '15 */4 * * *', retain: 5 } } }));
    const applied = await kubectl.run(['apply', '-f', '-'], { input: renderManifests(plan.objects, 'test') });
    expect(applied.stderr).toBe('');
    expect(applied.stdout.trim().split('\n')).toEqual(['serviceaccount/etcd-backup created', 'cronjob.batch/etcd-backup created']);

    const got = await kubectl.run(['get', 'cronjob', 'etcd-backup', '-n', 'kube-system', '-o', 'json']);
    expect(got.code).toBe(0);
    const cj = JSON.parse(got.stdout);
    new CronJob(cj).validate();
    expect(cj.spec.schedule).toBe('15 */4 * * *');
    expect(cj.spec.jobTemplate.spec.template.spec.nodeSelector).toEqual({ 'node-role.kubernetes.io/control-plane': '' });
    expect(cj.spec.jobTemplate.spec.template.spec.containers[0].env).toContainEqual({ name: 'RETAIN', value: '5' });

    const sa = await kubectl.run(['get', 'serviceaccount', 'etcd-backup', '-n', 'kube-system', '-o', 'jsonpath={.automountServiceAccountToken}']);
    expect(sa.stdout).toBe('false');

    // Applying the same manifest again changes nothing.
    const again = await kubectl.run(['apply', '-f', '-'], { input: renderManifests(plan.objects, 'test') });
    expect(again.stdout.trim().split('\n')).toEqual(['serviceaccount/etcd-backup unchanged', 'cronjob.batch/etcd-backup unchanged']);
  });

  it('kubectl apply accepts the Talos CronJob (the talos.dev account exists only on Talos)', async () => {
    const kubectl = createKubectl(lab().kubeconfigPath);
    const plan = buildBackupPlan(buildAddonSpec({ method: 'talos', addons: { backup: { schedule: '0 3 * * *', retain: 14, target: { pvc: 'etcd-snapshots' } } } }));
    const core = plan.objects.filter((o) => !o.apiVersion.startsWith('talos.dev/'));
    expect(core).toHaveLength(2);
    const applied = await kubectl.run(['apply', '-n', 'kube-system', '-f', '-'], { input: renderManifests(core, 'test') });
    expect(applied.code, applied.stderr).toBe(0);
    const got = JSON.parse((await kubectl.run(['get', 'cronjob', 'etcd-backup', '-n', 'kube-system', '-o', 'json'])).stdout);
    expect(got.spec.schedule).toBe('0 3 * * *');
    expect(got.spec.jobTemplate.spec.template.spec.initContainers[0].image).toBe('ghcr.io/siderolabs/talosctl:v1.14.1');
  });

  it('the backup step writes the manifest into the run directory and applies it idempotently', async () => {
    const plan = buildBackupPlan(buildAddonSpec({ method: 'kubeadm' }));
    const ctx = { ...createTestContext(), values: { kubeconfig: lab().kubeconfigPath } };
    const step = buildApplyBackupStep({ stage: 'backup', plan, runDir: ctx.runDir });
    const first = await executeStep(step, ctx);
    expect(first.status, first.summary).toBe('pass');
    const second = await executeStep(step, ctx);
    expect(second.summary).toBe('ServiceAccount etcd-backup updated; CronJob etcd-backup updated');
    const file = (second.evidence as { manifests: string }).manifests;
    const docs = YAML.parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    expect(docs).toEqual(JSON.parse(JSON.stringify(plan.objects)));
  });

  it('on a cluster without Talos API access the step fails saying which machine config enables it', async () => {
    const plan = buildBackupPlan(buildAddonSpec({ method: 'talos' }));
    const ctx = { ...createTestContext(), values: { kubeconfig: lab().kubeconfigPath } };
    const r = await executeStep({ ...buildApplyBackupStep({ stage: 'backup', plan, runDir: ctx.runDir }), retries: 0 }, ctx);
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/^the cluster does not accept talos\.dev\/v1alpha1 ServiceAccount etcd-backup-talos/);
    expect(r.fix).toContain('machine.features.kubernetesTalosAPIAccess');
  });

  it('validate reads snapshot freshness from the CronJob: none yet (warn), recent (pass), stale (fail)', async () => {
    const kube = await loadKubeConfig(lab().kubeconfigPath);
    try {
      const plan = buildBackupPlan(buildAddonSpec({ method: 'kubeadm', addons: { backup: { schedule: '0 */6 * * *', retain: 3 } } }));
      for (const o of plan.objects) await createOrPatch(kube, o as unknown as KubeObject);
      const cj = (await kube.get('batch/v1', 'CronJob', 'etcd-backup', 'kube-system'))!;
      const created = new Date(String(cj.metadata.creationTimestamp));
      const soon = await lookBackupFreshness(kube, new Date(created.getTime() + 3600_000));
      expect(soon).toMatchObject({ status: 'warn', schedule: '0 */6 * * *' });

      const setLast = (t: Date) =>
        kube.request('PATCH', '/apis/batch/v1/namespaces/kube-system/cronjobs/etcd-backup/status', {
          body: { status: { lastSuccessfulTime: t.toISOString().replace(/\.\d+Z$/, 'Z') } },
          contentType: 'application/merge-patch+json',
        });
      const now = new Date(created.getTime() + 40 * 3600_000);
      await setLast(new Date(now.getTime() - 5 * 3600_000));
      expect((await lookBackupFreshness(kube, now))!.status).toBe('pass');
      await setLast(new Date(now.getTime() - 30 * 3600_000));
      expect(await lookBackupFreshness(kube, now)).toMatchObject({ status: 'fail', summary: expect.stringContaining('30h old, older than 12h') });
    } finally {
      kube.close();
    }
  });
});
