/**
 * The defaults kube-apiserver fills in on create and update (SetDefaults_* in k8s.io/kubernetes/pkg/apis/*),
 * for the fields clients read back: kubectl's columns, rollout status, and our controllers.
 */
import type { KubeObject } from './types.js';

type Obj = Record<string, unknown>;

function setIfMissing(o: Obj, k: string, v: unknown): void {
  if (o[k] === undefined) o[k] = v;
}

function defaultContainer(c: Obj): void {
  const image = typeof c.image === 'string' ? c.image : '';
  const tag = image.includes('@') ? 'digest' : (image.split('/').pop() ?? '').split(':')[1];
  setIfMissing(c, 'imagePullPolicy', tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent');
  setIfMissing(c, 'terminationMessagePath', '/dev/termination-log');
  setIfMissing(c, 'terminationMessagePolicy', 'File');
  setIfMissing(c, 'resources', {});
  for (const p of (c.ports as Obj[] | undefined) ?? []) setIfMissing(p, 'protocol', 'TCP');
}

function defaultPodSpec(spec: Obj | undefined): void {
  if (!spec) return;
  setIfMissing(spec, 'restartPolicy', 'Always');
  setIfMissing(spec, 'terminationGracePeriodSeconds', 30);
  setIfMissing(spec, 'dnsPolicy', 'ClusterFirst');
  setIfMissing(spec, 'securityContext', {});
  setIfMissing(spec, 'schedulerName', 'default-scheduler');
  setIfMissing(spec, 'enableServiceLinks', true);
  if (spec.serviceAccountName === undefined) spec.serviceAccountName = (spec.serviceAccount as string | undefined) ?? 'default';
  setIfMissing(spec, 'serviceAccount', spec.serviceAccountName);
  for (const c of [...((spec.containers as Obj[]) ?? []), ...((spec.initContainers as Obj[]) ?? [])]) defaultContainer(c);
}

function defaultTemplate(spec: Obj | undefined): void {
  const tpl = spec?.template as Obj | undefined;
  if (tpl) defaultPodSpec(tpl.spec as Obj | undefined);
}

export function applyDefaults(obj: KubeObject): void {
  const spec = obj.spec as Obj | undefined;
  switch (obj.kind) {
    case 'Pod': {
      defaultPodSpec(spec);
      if (spec) setIfMissing(spec, 'priority', 0);
      const status = (obj.status ??= {}) as Obj;
      setIfMissing(status, 'phase', 'Pending');
      setIfMissing(status, 'qosClass', 'BestEffort');
      break;
    }
    case 'Deployment':
      if (!spec) break;
      setIfMissing(spec, 'replicas', 1);
      {
        const st = (spec.strategy ??= {}) as Obj;
        setIfMissing(st, 'type', 'RollingUpdate');
        if (st.type === 'RollingUpdate') setIfMissing(st, 'rollingUpdate', { maxUnavailable: '25%', maxSurge: '25%' });
      }
      setIfMissing(spec, 'revisionHistoryLimit', 10);
      setIfMissing(spec, 'progressDeadlineSeconds', 600);
      defaultTemplate(spec);
      break;
    case 'ReplicaSet':
      if (spec) setIfMissing(spec, 'replicas', 1);
      defaultTemplate(spec);
      break;
    case 'DaemonSet':
      if (!spec) break;
      setIfMissing(spec, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
      setIfMissing(spec, 'revisionHistoryLimit', 10);
      defaultTemplate(spec);
      break;
    case 'Job':
      if (!spec) break;
      setIfMissing(spec, 'parallelism', 1);
      setIfMissing(spec, 'backoffLimit', 6);
      setIfMissing(spec, 'completionMode', 'NonIndexed');
      setIfMissing(spec, 'suspend', false);
      if (spec.completions === undefined) spec.completions = 1;
      setIfMissing(spec, 'podReplacementPolicy', 'TerminatingOrFailed');
      defaultTemplate(spec);
      generateJobSelector(obj);
      break;
    case 'CronJob':
      if (!spec) break;
      setIfMissing(spec, 'concurrencyPolicy', 'Allow');
      setIfMissing(spec, 'suspend', false);
      setIfMissing(spec, 'successfulJobsHistoryLimit', 3);
      setIfMissing(spec, 'failedJobsHistoryLimit', 1);
      break;
    case 'Service': {
      if (!spec) break;
      setIfMissing(spec, 'type', 'ClusterIP');
      setIfMissing(spec, 'sessionAffinity', 'None');
      setIfMissing(spec, 'ipFamilies', ['IPv4']);
      setIfMissing(spec, 'ipFamilyPolicy', 'SingleStack');
      setIfMissing(spec, 'internalTrafficPolicy', 'Cluster');
      for (const p of (spec.ports as Obj[] | undefined) ?? []) {
        setIfMissing(p, 'protocol', 'TCP');
        setIfMissing(p, 'targetPort', p.port);
      }
      break;
    }
    case 'Namespace': {
      const status = (obj.status ??= {}) as Obj;
      setIfMissing(status, 'phase', 'Active');
      if (spec === undefined) obj.spec = { finalizers: ['kubernetes'] };
      const labels = (obj.metadata.labels ??= {});
      if (obj.metadata.name) labels['kubernetes.io/metadata.name'] = obj.metadata.name;
      break;
    }
    case 'PersistentVolumeClaim': {
      if (spec) setIfMissing(spec, 'volumeMode', 'Filesystem');
      const status = (obj.status ??= {}) as Obj;
      setIfMissing(status, 'phase', 'Pending');
      break;
    }
    case 'PersistentVolume': {
      if (spec) {
        setIfMissing(spec, 'persistentVolumeReclaimPolicy', 'Retain');
        setIfMissing(spec, 'volumeMode', 'Filesystem');
      }
      const status = (obj.status ??= {}) as Obj;
      setIfMissing(status, 'phase', 'Pending');
      break;
    }
    case 'StorageClass':
      setIfMissing(obj as Obj, 'reclaimPolicy', 'Delete');
      setIfMissing(obj as Obj, 'volumeBindingMode', 'Immediate');
      break;
    case 'NetworkPolicy':
      // kube-apiserver's SetDefaults_NetworkPolicy: an absent or empty policyTypes means Ingress, plus Egress only
      // when there are egress rules; `egress: []` alone does not make the policy egress-isolating.
      if (spec && (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0)) {
        spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
      }
      break;
    case 'Secret': {
      setIfMissing(obj as Obj, 'type', 'Opaque');
      // stringData is write-only: the apiserver folds it into data (base64), overwriting the same keys.
      const sd = (obj as Obj).stringData as Record<string, unknown> | undefined;
      if (sd && typeof sd === 'object') {
        const data = { ...(((obj as Obj).data as Record<string, string> | undefined) ?? {}) };
        for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
        (obj as Obj).data = data;
      }
      delete (obj as Obj).stringData;
      break;
    }
  }
}

/**
 * The Job strategy's generateSelector: unless manualSelector is true, the selector is the Job's uid and the
 * template carries the labels that select it (the job controller, `kubectl create job --from=cronjob/...`,
 * and everything that lists a Job's pods by `batch.kubernetes.io/job-name` rely on them). The Job's own labels
 * default to its template's.
 */
function generateJobSelector(obj: KubeObject): void {
  const spec = obj.spec as Obj;
  const uid = obj.metadata.uid;
  if (spec.manualSelector === true || !uid) return;
  setIfMissing(spec, 'manualSelector', false);
  const tpl = (spec.template ??= {}) as Obj;
  const meta = (tpl.metadata ??= {}) as Obj;
  const name = obj.metadata.name ?? '';
  meta.labels = { ...((meta.labels as Record<string, string> | undefined) ?? {}), 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
  setIfMissing(spec, 'selector', { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
  if (!obj.metadata.labels || Object.keys(obj.metadata.labels).length === 0) obj.metadata.labels = { ...(meta.labels as Record<string, string>) };
}
