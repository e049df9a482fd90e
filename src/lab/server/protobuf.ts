/**
 * Decodes the Kubernetes protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`) that
 * kubectl's typed clients send — `kubectl create namespace|configmap|secret|serviceaccount|deployment|job|
 * cronjob|service` and `kubectl auth can-i` do — into the JSON objects the rest of the lab works with.
 *
 * Envelope: the 4 bytes "k8s\0", then a runtime.Unknown message { typeMeta=1 {apiVersion=1, kind=2},
 * raw=2 (the object), contentEncoding=3, contentType=4 }. Objects are decoded with field tables taken from
 * k8s.io/api's generated.proto for the fields kubectl's generators set; unknown fields are skipped, so an
 * object we cannot fully read is still accepted with what we know rather than refused.
 * Responses stay JSON: clients send `Accept: application/vnd.kubernetes.protobuf,application/json`.
 */
import { ApiError } from '../store/types.js';

type Scalar = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'quantity' | 'intOrString';
interface Field {
  name: string;
  /** A scalar, a message name in SCHEMAS, or map<string, X>. */
  type: Scalar | string;
  repeated?: boolean;
  map?: Scalar | string;
}

const f = (name: string, type: Field['type'], extra: Partial<Field> = {}): Field => ({ name, type, ...extra });
const str = (name: string) => f(name, 'string');
const strs = (name: string) => f(name, 'string', { repeated: true });
const int = (name: string) => f(name, 'int');
const bool = (name: string) => f(name, 'bool');
const msg = (name: string, type: string) => f(name, type);
const msgs = (name: string, type: string) => f(name, type, { repeated: true });
const map = (name: string, value: Field['type']) => f(name, 'map', { map: value });

/** Field numbers from k8s.io/api (core/v1, apps/v1, batch/v1) and apimachinery meta/v1 generated.proto. */
const SCHEMAS: Record<string, Record<number, Field>> = {
  TypeMeta: { 1: str('apiVersion'), 2: str('kind') },
  Unknown: { 1: msg('typeMeta', 'TypeMeta'), 2: f('raw', 'bytes'), 3: str('contentEncoding'), 4: str('contentType') },
  ObjectMeta: {
    1: str('name'),
    2: str('generateName'),
    3: str('namespace'),
    5: str('uid'),
    6: str('resourceVersion'),
    7: int('generation'),
    8: f('creationTimestamp', 'time'),
    11: map('labels', 'string'),
    12: map('annotations', 'string'),
    13: msgs('ownerReferences', 'OwnerReference'),
    14: strs('finalizers'),
  },
  OwnerReference: { 1: str('kind'), 3: str('name'), 4: str('uid'), 5: str('apiVersion'), 6: bool('controller'), 7: bool('blockOwnerDeletion') },
  LabelSelector: { 1: map('matchLabels', 'string'), 2: msgs('matchExpressions', 'LabelSelectorRequirement') },
  LabelSelectorRequirement: { 1: str('key'), 2: str('operator'), 3: strs('values') },
  Namespace: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'NamespaceSpec') },
  NamespaceSpec: { 1: strs('finalizers') },
  ConfigMap: { 1: msg('metadata', 'ObjectMeta'), 2: map('data', 'string'), 3: map('binaryData', 'bytes'), 4: bool('immutable') },
  Secret: { 1: msg('metadata', 'ObjectMeta'), 2: map('data', 'bytes'), 3: str('type'), 4: map('stringData', 'string'), 5: bool('immutable') },
  ServiceAccount: { 1: msg('metadata', 'ObjectMeta'), 2: msgs('secrets', 'ObjectReference'), 3: msgs('imagePullSecrets', 'LocalObjectReference'), 4: bool('automountServiceAccountToken') },
  ObjectReference: { 1: str('kind'), 2: str('namespace'), 3: str('name'), 4: str('uid'), 5: str('apiVersion') },
  LocalObjectReference: { 1: str('name') },
  Service: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'ServiceSpec') },
  ServiceSpec: { 1: msgs('ports', 'ServicePort'), 2: map('selector', 'string'), 3: str('clusterIP'), 4: str('type'), 5: strs('externalIPs'), 7: str('sessionAffinity'), 11: str('externalName') },
  ServicePort: { 1: str('name'), 2: str('protocol'), 3: int('port'), 4: f('targetPort', 'intOrString'), 5: int('nodePort') },
  Deployment: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'DeploymentSpec') },
  DeploymentSpec: { 1: int('replicas'), 2: msg('selector', 'LabelSelector'), 3: msg('template', 'PodTemplateSpec'), 4: msg('strategy', 'DeploymentStrategy'), 5: int('minReadySeconds'), 6: int('revisionHistoryLimit'), 7: bool('paused'), 9: int('progressDeadlineSeconds') },
  DeploymentStrategy: { 1: str('type') },
  Job: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'JobSpec') },
  JobSpec: { 1: int('parallelism'), 2: int('completions'), 3: int('activeDeadlineSeconds'), 4: msg('selector', 'LabelSelector'), 5: bool('manualSelector'), 6: msg('template', 'PodTemplateSpec'), 7: int('backoffLimit'), 8: int('ttlSecondsAfterFinished'), 9: str('completionMode'), 10: bool('suspend') },
  CronJob: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'CronJobSpec') },
  CronJobSpec: { 1: str('schedule'), 2: int('startingDeadlineSeconds'), 3: str('concurrencyPolicy'), 4: bool('suspend'), 5: msg('jobTemplate', 'JobTemplateSpec'), 6: int('successfulJobsHistoryLimit'), 7: int('failedJobsHistoryLimit'), 8: str('timeZone') },
  JobTemplateSpec: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'JobSpec') },
  PodTemplateSpec: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'PodSpec') },
  PodSpec: { 2: msgs('containers', 'Container'), 3: str('restartPolicy'), 4: int('terminationGracePeriodSeconds'), 6: str('dnsPolicy'), 7: map('nodeSelector', 'string'), 8: str('serviceAccountName'), 10: str('nodeName'), 20: msgs('initContainers', 'Container') },
  Container: {
    1: str('name'),
    2: str('image'),
    3: strs('command'),
    4: strs('args'),
    5: str('workingDir'),
    6: msgs('ports', 'ContainerPort'),
    7: msgs('env', 'EnvVar'),
    8: msg('resources', 'ResourceRequirements'),
    13: str('terminationMessagePath'),
    14: str('imagePullPolicy'),
    20: str('terminationMessagePolicy'),
  },
  ContainerPort: { 1: str('name'), 2: int('hostPort'), 3: int('containerPort'), 4: str('protocol') },
  EnvVar: { 1: str('name'), 2: str('value') },
  ResourceRequirements: { 1: map('limits', 'quantity'), 2: map('requests', 'quantity') },
  Quantity: { 1: str('string') },
  SelfSubjectAccessReview: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'SelfSubjectAccessReviewSpec') },
  SelfSubjectAccessReviewSpec: { 1: msg('resourceAttributes', 'ResourceAttributes'), 2: msg('nonResourceAttributes', 'NonResourceAttributes') },
  ResourceAttributes: { 1: str('namespace'), 2: str('verb'), 3: str('group'), 4: str('version'), 5: str('resource'), 6: str('subresource'), 7: str('name') },
  NonResourceAttributes: { 1: str('path'), 2: str('verb') },
  SelfSubjectRulesReview: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'SelfSubjectRulesReviewSpec') },
  SelfSubjectRulesReviewSpec: { 1: str('namespace') },
  Time: { 1: int('seconds'), 2: int('nanos') },
  IntOrString: { 1: int('type'), 2: int('intVal'), 3: str('strVal') },
};

/** Kinds kubectl sends as protobuf that the lab can read, by apiVersion/kind. */
const ROOTS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/ServiceAccount': 'ServiceAccount',
  'v1/Service': 'Service',
  'apps/v1/Deployment': 'Deployment',
  'batch/v1/Job': 'Job',
  'batch/v1/CronJob': 'CronJob',
  'authorization.k8s.io/v1/SelfSubjectAccessReview': 'SelfSubjectAccessReview',
  'authorization.k8s.io/v1/SelfSubjectRulesReview': 'SelfSubjectRulesReview',
};

/** int fields that are pointers in the Go types: an explicit 0 is sent only when set, and means 0. */
const POINTER_INTS = new Set(['replicas', 'parallelism', 'completions', 'backoffLimit', 'terminationGracePeriodSeconds', 'revisionHistoryLimit', 'progressDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit', 'activeDeadlineSeconds', 'startingDeadlineSeconds', 'ttlSecondsAfterFinished']);

interface WireField {
  no: number;
  wire: number;
  /** varint value (as bigint-safe number) or the bytes of a length-delimited field */
  value: number | Buffer;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
  }
}

function readFields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const [v, p2] = readVarint(buf, pos);
      out.push({ no, wire, value: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      out.push({ no, wire, value: buf.subarray(p2, p2 + len) });
      pos = p2 + len;
    } else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 8) });
      pos += 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 4) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

function decodeScalar(type: string, v: number | Buffer): unknown {
  switch (type) {
    case 'string':
      return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    case 'bytes':
      return Buffer.isBuffer(v) ? v.toString('base64') : '';
    case 'int':
      // int32/int64 varints; negative numbers are 10-byte two's complement.
      return typeof v === 'number' ? (v >= 2 ** 63 ? v - 2 ** 64 : v) : 0;
    case 'bool':
      return v === 1;
    case 'time': {
      const t = decodeMessage('Time', v as Buffer) as { seconds?: number; nanos?: number };
      return `${new Date((t.seconds ?? 0) * 1000).toISOString().slice(0, 19)}Z`;
    }
    case 'quantity':
      return (decodeMessage('Quantity', v as Buffer) as { string?: string }).string ?? '0';
    case 'intOrString': {
      const x = decodeMessage('IntOrString', v as Buffer) as { type?: number; intVal?: number; strVal?: string };
      return x.type === 1 ? (x.strVal ?? '') : (x.intVal ?? 0);
    }
    default:
      return decodeMessage(type, v as Buffer);
  }
}

function decodeMessage(name: string, buf: Buffer): Record<string, unknown> {
  const schema = SCHEMAS[name];
  const out: Record<string, unknown> = {};
  for (const wf of readFields(buf)) {
    const field = schema[wf.no];
    if (!field) continue;
    if (field.type === 'map') {
      // map entries: key = 1, value = 2
      const entry = readFields(wf.value as Buffer);
      const k = entry.find((e) => e.no === 1);
      const v = entry.find((e) => e.no === 2);
      const m = (out[field.name] ??= {}) as Record<string, unknown>;
      m[k ? String(decodeScalar('string', k.value)) : ''] = v ? decodeScalar(field.map!, v.value) : field.map === 'string' ? '' : decodeScalar(field.map!, Buffer.alloc(0));
      continue;
    }
    const value = decodeScalar(field.type, wf.value);
    // Go's gogo-protobuf writes every non-pointer scalar, zero or not; JSON would omit them (omitempty), and
    // the apiserver's defaulting fills them. Keep zeros only for pointer fields where 0 means something.
    if (!field.repeated && (value === '' || value === false || (value === 0 && !POINTER_INTS.has(field.name)))) continue;
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value);
    else out[field.name] = value;
  }
  return out;
}

export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim() === 'application/vnd.kubernetes.protobuf';
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a Kubernetes protobuf body into a JSON object; 415 for kinds the lab cannot read. */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new ApiError(400, 'BadRequest', 'the protobuf body does not start with the Kubernetes magic number');
  let unknown: { typeMeta?: { apiVersion?: string; kind?: string }; raw?: string };
  try {
    unknown = decodeMessage('Unknown', body.subarray(4)) as typeof unknown;
  } catch (e) {
    throw new ApiError(400, 'BadRequest', `the protobuf body could not be decoded: ${(e as Error).message}`);
  }
  const apiVersion = unknown.typeMeta?.apiVersion ?? '';
  const kind = unknown.typeMeta?.kind ?? '';
  const root = ROOTS[`${apiVersion}/${kind}`];
  if (!root) {
    throw new ApiError(415, 'UnsupportedMediaType', `the lab cannot read ${kind} ${apiVersion} as protobuf: send it as application/json (kubectl apply -f / create -f do)`);
  }
  try {
    const obj = decodeMessage(root, Buffer.from(unknown.raw ?? '', 'base64'));
    return { apiVersion, kind, ...obj };
  } catch (e) {
    throw new ApiError(400, 'BadRequest', `the protobuf body could not be decoded: ${(e as Error).message}`);
  }
}
