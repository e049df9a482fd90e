/**
 * Every object groundwork creates or applies, server-side applied by the real kubectl to a real kube-apiserver:
 * once with Pod Security as Talos configures it (enforce baseline, audit and warn restricted, kube-system exempt)
 * and once as a default kubeadm cluster (privileged everywhere). Admitted means: kubectl exits 0 and prints no
 * warning (a restricted-level warning would mean a promise the objects do not keep). On the same two control planes,
 * the control plane helper's own checks: kubectl, the Pod Security profile itself, the controller manager and
 * ServiceAccount kubeconfigs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBackupPlan, BACKUP_NAMESPACE, type BackupObject } from '../../src/addons/backup.js';
import { ALL_CHARTS } from '../../src/addons/charts.js';
import { buildAddonNamespaces } from '../../src/addons/namespaces.js';
import type { KubeObject } from '../../src/kube/index.js';
import { PROBE_KINDS, type Probe } from '../../src/probe/index.js';
import { buildNamespace, buildNetpolObjects, buildProbePod, buildPvc, buildService, type BuildContext } from '../../src/validate/objects.js';
import { buildAddonSpec } from '../addons/spec.js';
import { startControlPlane, type ControlPlane, type PodSecurityProfile } from '../helpers/control-plane.js';

/** The stand-in for Talos' serviceaccounts.talos.dev CRD (Talos serves it; a bare kube-apiserver does not). */
const TALOS_SERVICE_ACCOUNT_CRD: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'serviceaccounts.talos.dev' },
  spec: {
    group: 'talos.dev',
    names: { kind: 'ServiceAccount', listKind: 'ServiceAccountList', plural: 'serviceaccounts', singular: 'serviceaccount', shortNames: ['tsa'] },
    scope: 'Namespaced',
    versions: [{
      name: 'v1alpha1', served: true, storage: true,
      schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { roles: { type: 'array', items: { type: 'string' } } } } } } },
    }],
  },
};

function probeFor(kind: Probe['kind']): Probe {
  switch (kind) {
    case 'connect': return { kind, host: '10.96.0.10', port: 53, timeoutS: 2 };
    case 'resolve': return { kind, name: 'kubernetes.default.svc.cluster.local', timeoutS: 2 };
    case 'http-get': return { kind, url: 'http://10.96.0.1:80/', timeoutS: 2 };
    case 'serve': return { kind, port: 8080 };
    case 'write-file': return { kind, path: '/data/x', content: 'x' };
    case 'read-file': return { kind, path: '/data/x', sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' };
    case 'sleep': return { kind };
    case 'exit': return { kind, code: 0 };
  }
}

/** What a validate run creates in its namespace: a pod per probe kind (with a volume where it writes), a Service, a PVC, the NetworkPolicies. */
function validateObjects(namespace: string): KubeObject[] {
  const b: BuildContext = { namespace, runId: 'admission', registry: '' };
  const volume = [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }];
  const pods = PROBE_KINDS.map((kind) => {
    const files = kind === 'write-file' || kind === 'read-file';
    return buildProbePod(b, `probe-${kind}`, 'admission', [{ name: 'p', probe: probeFor(kind), volumeMounts: files ? [{ name: 'data', mountPath: '/data' }] : undefined }], files ? { volumes: volume } : {});
  });
  return [buildService(b, 'svc', 'admission', { app: 'x' }, 8080), buildPvc(b, 'data', undefined), ...buildNetpolObjects(namespace, 'admission'), ...pods];
}

/** A pod of the backup job's template, as the Job controller would create it (the CronJob itself is not checked by enforcement). */
function podFromCronJob(cronJob: BackupObject, name: string): KubeObject {
  const tpl = (cronJob as unknown as { spec: { jobTemplate: { spec: { template: { metadata: object; spec: Record<string, unknown> } } } } }).spec.jobTemplate.spec.template;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { ...tpl.metadata, name, namespace: BACKUP_NAMESPACE }, spec: tpl.spec };
}

type Container = { name: string; securityContext?: { runAsUser?: number } };

for (const profile of ['talos', 'kubeadm'] as PodSecurityProfile[]) {
  describe(`server-side apply of groundwork's objects (${profile} Pod Security)`, () => {
    let cp: ControlPlane;
    beforeAll(async () => {
      cp = await startControlPlane({ podSecurity: profile });
    }, 120_000);
    afterAll(async () => {
      await cp?.stop();
    });

    it('validation: the namespace (restricted) and every pod, Service, PVC and NetworkPolicy it creates', async () => {
      const ns = 'groundwork-validate-admission';
      const first = await cp.applyServerSide([buildNamespace(ns, 'admission')]);
      expect(first.stderr).toBe('');
      await cp.waitForDefaultServiceAccount(ns);
      const r = await cp.applyServerSide(validateObjects(ns));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(5 + PROBE_KINDS.length);
      // The namespace's labels make the restricted level binding whatever the cluster default.
      const bad = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root', namespace: ns }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }),
      });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('violates PodSecurity "restricted:latest"');
    });

    it('add-on namespaces, with the levels their node agents need', async () => {
      const namespaces = buildAddonNamespaces(ALL_CHARTS);
      expect(namespaces.map((n) => n.metadata.name).sort()).toEqual(['kube-flannel', 'logging', 'monitoring', 'tigera-operator']);
      const r = await cp.applyServerSide(namespaces);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      await cp.waitForDefaultServiceAccount('monitoring');
      // node-exporter's pod shape (hostNetwork, hostPID, hostPath /) is admitted in monitoring, warning-free.
      const nodeExporter = {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'node-exporter', namespace: 'monitoring' },
        spec: { hostNetwork: true, hostPID: true, containers: [{ name: 'c', image: 'quay.io/prometheus/node-exporter', volumeMounts: [{ name: 'root', mountPath: '/host/root', readOnly: true }] }], volumes: [{ name: 'root', hostPath: { path: '/' } }] },
      };
      const ne = await cp.applyServerSide([nodeExporter], ['--dry-run=server']);
      expect(ne.stderr).toBe('');
      expect(ne.code).toBe(0);
    });

    for (const method of ['talos', 'kubeadm'] as const) {
      it(`the ${method} etcd-backup objects, and a pod of its job admitted in ${BACKUP_NAMESPACE}`, async () => {
        const plan = buildBackupPlan(buildAddonSpec({ method }));
        if (method === 'talos') {
          expect((await cp.applyServerSide([TALOS_SERVICE_ACCOUNT_CRD])).code).toBe(0);
          expect((await cp.kubectl(['wait', '--for=condition=Established', 'crd/serviceaccounts.talos.dev', '--timeout=30s'])).code).toBe(0);
        }
        const r = await cp.applyServerSide(plan.objects);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const cronJob = plan.objects.find((o) => o.kind === 'CronJob')!;
        const pod = await cp.applyServerSide([podFromCronJob(cronJob, `backup-${method}`)], ['--dry-run=server', '-o', 'json']);
        expect(pod.stderr).toBe('');
        expect(pod.code).toBe(0);
        // As admitted (defaults filled in): every container runs as one uid, so the store container can read the
        // 0600 snapshot the snapshot container wrote.
        const admitted = JSON.parse(pod.stdout) as { spec: { securityContext?: { runAsUser?: number }; initContainers: Container[]; containers: Container[] } };
        const uids = [...admitted.spec.initContainers, ...admitted.spec.containers].map((c) => c.securityContext?.runAsUser ?? admitted.spec.securityContext?.runAsUser);
        expect(new Set(uids).size, JSON.stringify(uids)).toBe(1);
        expect(uids[0]).toBeDefined();
      });
    }

    // The control plane helper itself (test/helpers/control-plane.ts), on the same control plane.
    if (profile === 'talos') {
      it('the helper serves the API to the real kubectl with the admin kubeconfig', async () => {
        const r = await cp.kubectl(['get', 'namespaces', '-o', 'name']);
        expect(r.stderr).toBe('');
        expect(r.stdout).toContain('namespace/kube-system');
      });

      it('Talos Pod Security enforces baseline outside kube-system and exempts kube-system', async () => {
        const pod = (ns: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hostnet', namespace: ns }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'busybox' }] } });
        const refused = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: pod('default') });
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain('violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)');
        const exempt = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: pod('kube-system') });
        expect(exempt.stderr).toBe('');
        expect(exempt.code).toBe(0);
      });

      it('the helper runs the controller manager: a Deployment gets its ReplicaSet without any node', async () => {
        await cp.kubectl(['create', 'deployment', 'web', '--image=registry.k8s.io/pause:3.10', '-n', 'default']);
        let rs = '';
        for (let i = 0; i < 100 && rs === ''; i++) {
          rs = (await cp.kubectl(['get', 'replicasets', '-n', 'default', '-l', 'app=web', '-o', 'name'])).stdout.trim();
          if (rs === '') await new Promise((r) => setTimeout(r, 100));
        }
        expect(rs).toMatch(/^replicaset.apps\/web-/);
      });

      it('the helper hands out ServiceAccount kubeconfigs with a bound token', async () => {
        await cp.kubectl(['create', 'serviceaccount', 'probe', '-n', 'default']);
        const kc = await cp.serviceAccountKubeconfig('default', 'probe');
        const r = await cp.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: kc });
        expect(r.stdout).toBe('system:serviceaccount:default:probe');
      });
    } else {
      it('a default kubeadm cluster admits a hostNetwork, hostPath pod in any namespace: kube-apiserver defaults to privileged', async () => {
        expect((await cp.kubectl(['create', 'namespace', 'plain'])).code).toBe(0);
        await cp.waitForDefaultServiceAccount('plain');
        const pod = JSON.stringify({
          apiVersion: 'v1', kind: 'Pod', metadata: { name: 'node-agent', namespace: 'plain' },
          spec: { hostNetwork: true, hostPID: true, containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'root', mountPath: '/host' }] }], volumes: [{ name: 'root', hostPath: { path: '/' } }] },
        });
        const r = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: pod });
        expect(r.stderr).toBe('');
        expect(r.stdout).toContain('pod/node-agent serverside-applied (server dry run)');
      });
    }
  });
}
