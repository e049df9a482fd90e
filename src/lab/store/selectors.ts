/**
 * Label and field selectors with kube-apiserver's syntax:
 *   labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma = AND.
 *   fields: `path=value`, `path==value`, `path!=value`, comma = AND; paths are dotted (metadata.name, spec.nodeName,
 *   status.phase, involvedObject.name, ...). The real server allows a few fields per kind (checkFieldSelector,
 *   for the kinds it knows them of; the store itself matches any path).
 */
import { ApiError, type KubeObject } from './types.js';
import { matchLabels, type LabelRequirement } from '../../net/labels.js';

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function parseLabelSelector(sel: string): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const part of splitTop(sel)) {
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      reqs.push({ key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()).filter((v) => v !== '') });
    } else if ((m = part.match(/^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/))) {
      reqs.push({ key: m[1], op: m[2] === '!=' ? 'neq' : 'eq', value: m[3] });
    } else if ((m = part.match(/^!\s*([^\s!=(),]+)$/))) {
      reqs.push({ key: m[1], op: 'notexists' });
    } else if ((m = part.match(/^([^\s!=(),]+)$/))) {
      reqs.push({ key: m[1], op: 'exists' });
    } else {
      throw new ApiError(400, 'BadRequest', `unable to parse requirement: invalid label selector "${sel}"`);
    }
  }
  return reqs;
}

// Object selectors (matchLabels + matchExpressions) become the same requirements: src/net/labels.ts requirementsOf.

interface FieldRequirement {
  path: string[];
  op: 'eq' | 'neq';
  value: string;
}

function parseFieldSelector(sel: string): FieldRequirement[] {
  return sel
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((part) => {
      const m = part.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
      if (!m) throw new ApiError(400, 'BadRequest', `invalid field selector: "${part}"`);
      return { path: m[1].split('.'), op: m[2] === '!=' ? ('neq' as const) : ('eq' as const), value: m[3] };
    });
}

function fieldValue(obj: KubeObject, path: string[]): string {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

function matchFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  for (const r of reqs) {
    const v = fieldValue(obj, r.path);
    if (r.op === 'eq' ? v !== r.value : v === r.value) return false;
  }
  return true;
}

/** A predicate for list and watch filtering. */
export function compileSelectors(labelSelector?: string, fieldSelector?: string): (o: KubeObject) => boolean {
  const l = labelSelector ? parseLabelSelector(labelSelector) : [];
  const f = fieldSelector ? parseFieldSelector(fieldSelector) : [];
  if (l.length === 0 && f.length === 0) return () => true;
  return (o) => matchLabels(l, o.metadata.labels) && matchFields(f, o);
}

const META_FIELDS = ['metadata.name', 'metadata.namespace'];
/** The field labels kube-apiserver supports per resource (each kind's GetAttrs / AddFieldLabelConversionFunc). */
const FIELD_LABELS: Record<string, string[]> = {
  configmaps: [],
  serviceaccounts: [],
  persistentvolumeclaims: [],
  persistentvolumes: [],
  endpoints: [],
  'deployments.apps': [],
  'daemonsets.apps': [],
  'statefulsets.apps': [],
  'cronjobs.batch': [],
  secrets: ['type'],
  namespaces: ['status.phase'],
  nodes: ['spec.unschedulable'],
  services: ['spec.clusterIP', 'spec.type'],
  'replicasets.apps': ['status.replicas'],
  'jobs.batch': ['status.successful'],
  pods: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.podIPs', 'status.nominatedNodeName'],
  events: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
};

/** 400 BadRequest for a field selector on a field the real server does not index for `resource`. */
export function checkFieldSelector(resource: string, sel: string | undefined): void {
  const extra = FIELD_LABELS[resource];
  if (!sel || !extra) return;
  const known = [...META_FIELDS, ...extra];
  for (const r of parseFieldSelector(sel)) {
    const field = r.path.join('.');
    if (!known.includes(field)) {
      throw new ApiError(400, 'BadRequest', `${JSON.stringify(field)} is not a known field selector: only ${known.map((k) => JSON.stringify(k)).join(', ')}`);
    }
  }
}
