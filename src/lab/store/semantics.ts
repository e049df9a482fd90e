/**
 * The checks kube-apiserver makes beyond the OpenAPI schema (pkg/apis/<group>/validation), for the mistakes
 * clients really send: label keys and values, pods without containers or images or with duplicate container
 * names, a workload whose selector does not match its template, a Job or CronJob whose pods would restart
 * Always, a CronJob schedule that is not one, a Service without ports. Causes carry the apiserver's reason,
 * field path and message shape.
 */
import { parseCronSchedule } from '../../spec/fields.js';
import type { KubeObject, StatusCause } from './types.js';
import { QUALIFIED_NAME_PART, isDnsSubdomain } from '../../spec/names.js';

type Obj = Record<string, unknown>;

const QUALIFIED_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const invalid = (field: string, value: unknown, detail: string): StatusCause => ({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
const required = (field: string, detail?: string): StatusCause => ({ reason: 'FieldValueRequired', field, message: `Required value${detail ? `: ${detail}` : ''}` });

/** A qualified name (`prefix/name`): what label and annotation keys must be. Empty when valid. */
function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix === '') errs.push('prefix part must be non-empty');
    else if (!isDnsSubdomain(prefix)) errs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
  } else if (parts.length > 2) {
    return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'"];
  }
  if (name === '') errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  else if (!QUALIFIED_NAME_PART.test(name)) errs.push(QUALIFIED_MSG);
  return errs;
}

function metaCauses(meta: Obj | undefined, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  const labels = meta?.labels;
  if (labels && typeof labels === 'object') {
    for (const [k, v] of Object.entries(labels as Obj)) {
      for (const e of qualifiedNameErrors(k)) out.push(invalid(`${path}.labels`, k, e));
      if (typeof v === 'string' && v !== '' && (v.length > 63 || !QUALIFIED_NAME_PART.test(v))) {
        out.push(invalid(`${path}.labels`, v, v.length > 63 ? 'must be no more than 63 characters' : VALUE_MSG));
      }
    }
  }
  const annotations = meta?.annotations;
  if (annotations && typeof annotations === 'object') {
    for (const k of Object.keys(annotations as Obj)) for (const e of qualifiedNameErrors(k.toLowerCase())) out.push(invalid(`${path}.annotations`, k, e));
  }
  return out;
}

function podSpecCauses(spec: Obj | undefined, path: string, restartPolicies?: string[]): StatusCause[] {
  if (!spec) return [];
  const out: StatusCause[] = [];
  const containers = spec.containers;
  if (Array.isArray(containers) && containers.length === 0) out.push(required(`${path}.containers`));
  const seen = new Set<string>();
  for (const [list, items] of [['initContainers', spec.initContainers], ['containers', containers]] as const) {
    if (!Array.isArray(items)) continue;
    items.forEach((c: Obj, i) => {
      if (!c || typeof c !== 'object') return;
      const at = `${path}.${list}[${i}]`;
      if (typeof c.name === 'string') {
        if (seen.has(c.name)) out.push({ reason: 'FieldValueDuplicate', field: `${at}.name`, message: `Duplicate value: ${JSON.stringify(c.name)}` });
        seen.add(c.name);
      }
      if (c.image === undefined || c.image === '') out.push(required(`${at}.image`));
    });
  }
  if (restartPolicies && !restartPolicies.includes(String(spec.restartPolicy))) {
    out.push(required(`${path}.restartPolicy`, `valid values: ${restartPolicies.map((p) => JSON.stringify(p)).join(', ')}`));
  }
  return out;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

function selects(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const ok =
      e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key]!)
      : e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key]!)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}

/** A workload's selector must select its own template: the controller would otherwise never see its pods. */
function selectorCauses(spec: Obj, kind: string): StatusCause[] {
  const tpl = spec.template as Obj | undefined;
  const labels = ((tpl?.metadata as Obj | undefined)?.labels ?? {}) as Record<string, string>;
  const sel = spec.selector as LabelSelector | undefined;
  const empty = !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
  if (empty && sel) return [invalid('spec.selector', sel, `empty selector is invalid for ${kind.toLowerCase()}`)];
  if (!sel || !selects(sel, labels)) return [invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`')];
  return [];
}

const TEMPLATED = new Set(['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet']);

/** The causes kube-apiserver's own validation would give `obj` (beyond the schema). */
export function semanticCauses(obj: KubeObject): StatusCause[] {
  const out = metaCauses(obj.metadata as Obj, 'metadata');
  const spec = obj.spec as Obj | undefined;
  const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
  if (!spec) return out;
  const tplOf = (s: Obj | undefined) => s?.template as Obj | undefined;
  if (obj.kind === 'Pod' && group === '') out.push(...podSpecCauses(spec, 'spec'));
  if (TEMPLATED.has(obj.kind) && group === 'apps') {
    out.push(...metaCauses(tplOf(spec)?.metadata as Obj, 'spec.template.metadata'));
    out.push(...podSpecCauses(tplOf(spec)?.spec as Obj, 'spec.template.spec'));
    out.push(...selectorCauses(spec, obj.kind));
  }
  if (obj.kind === 'Job' && group === 'batch') {
    out.push(...metaCauses(tplOf(spec)?.metadata as Obj, 'spec.template.metadata'));
    out.push(...podSpecCauses(tplOf(spec)?.spec as Obj, 'spec.template.spec', ['OnFailure', 'Never']));
  }
  if (obj.kind === 'CronJob' && group === 'batch') {
    if (typeof spec.schedule === 'string') {
      const c = parseCronSchedule(spec.schedule);
      if (typeof c === 'string' || spec.schedule.includes('TZ=')) out.push(invalid('spec.schedule', spec.schedule, typeof c === 'string' ? c : 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    }
    const jobSpec = (spec.jobTemplate as Obj | undefined)?.spec as Obj | undefined;
    out.push(...podSpecCauses(tplOf(jobSpec)?.spec as Obj, 'spec.jobTemplate.spec.template.spec', ['OnFailure', 'Never']));
  }
  if (obj.kind === 'Service' && group === '') {
    const headless = spec.clusterIP === 'None';
    if (spec.type !== 'ExternalName' && !headless && (!Array.isArray(spec.ports) || spec.ports.length === 0)) out.push(required('spec.ports'));
  }
  return out;
}
