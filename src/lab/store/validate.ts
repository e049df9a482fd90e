/**
 * Object validation against the Kubernetes OpenAPI schemas, through kubernetes-models (its generated ajv
 * validators), turned into the 422 Invalid Status kube-apiserver returns, with one cause per field.
 * Names are checked as DNS subdomains / labels like the apiserver's name validation.
 */
import { ApiError, type KubeObject, type StatusCause } from './types.js';
import { groupOf } from './resources.js';
import { semanticCauses } from './semantics.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from '../../spec/names.js';

interface Model {
  validate(): void;
}
type ModelCtor = new (data: unknown) => Model;

const models = new Map<string, Promise<ModelCtor | undefined>>();

function loadModel(kind: string, apiVersion: string): Promise<ModelCtor | undefined> {
  const key = `${apiVersion}/${kind}`;
  let p = models.get(key);
  if (!p) {
    const { group, version } = groupOf(apiVersion);
    const spec = group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
    p = import(spec).then(
      (m: Record<string, ModelCtor>) => m[kind] ?? m.default,
      () => undefined,
    );
    models.set(key, p);
  }
  return p;
}

/** `/spec/containers/0/image` → `spec.containers[0].image` */
function fieldPathOf(instancePath: string): string {
  let out = '';
  for (const seg of instancePath.split('/').filter((s) => s !== '')) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

function valueAt(obj: unknown, instancePath: string): unknown {
  let cur = obj;
  for (const seg of instancePath.split('/').filter((s) => s !== '')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function causeOf(obj: unknown, e: AjvError): StatusCause {
  if (e.keyword === 'required') {
    const base = fieldPathOf(e.instancePath);
    const field = `${base === '' ? '' : `${base}.`}${String(e.params.missingProperty)}`;
    return { reason: 'FieldValueRequired', message: 'Required value', field };
  }
  const v = valueAt(obj, e.instancePath);
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(v)}: ${e.message ?? 'invalid'}`, field: fieldPathOf(e.instancePath) };
}

/** Kinds whose names must be DNS labels (RFC 1123), as the apiserver requires. */
const LABEL_NAMED = new Set(['Namespace', 'Service']);

function nameCauses(obj: KubeObject): StatusCause[] {
  const name = obj.metadata?.name;
  if (name === undefined || name === '') return [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }];
  const label = LABEL_NAMED.has(obj.kind);
  const ok = label ? DNS1123_LABEL.test(name) && name.length <= 63 : DNS1123_SUBDOMAIN.test(name) && name.length <= 253;
  if (ok) return [];
  const what = label
    ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  return [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: ${what}`, field: 'metadata.name' }];
}

/** Throws ApiError 422 Invalid when `obj` breaks its kind's schema. */
export async function validateObject(obj: KubeObject): Promise<void> {
  const causes = nameCauses(obj);
  const Ctor = await loadModel(obj.kind, obj.apiVersion);
  if (Ctor) {
    try {
      new Ctor(obj).validate();
    } catch (e) {
      const errors = (e as { errors?: AjvError[] }).errors;
      if (!Array.isArray(errors)) throw e;
      causes.push(...errors.map((er) => causeOf(obj, er)));
    }
  }
  // The apiserver's own rules, minus what the schema already said about the same field.
  const said = new Set(causes.map((c) => `${c.field}|${c.reason}`));
  for (const c of semanticCauses(obj)) if (!said.has(`${c.field}|${c.reason}`)) causes.push(c);
  if (causes.length === 0) return;
  const { group } = groupOf(obj.apiVersion);
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  throw new ApiError(422, 'Invalid', `${obj.kind} "${obj.metadata?.name ?? ''}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`, {
    name: obj.metadata?.name,
    group,
    kind: obj.kind,
    causes,
  });
}
