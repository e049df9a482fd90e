/**
 * The three patch types kube-apiserver accepts: JSON merge patch (RFC 7386), strategic merge patch
 * (lists merged by key, with the `$patch`, `$retainKeys`, `$setElementOrder/..` and
 * `$deleteFromPrimitiveList/..` directives kubectl sends) and JSON patch (RFC 6902, fast-json-patch).
 * Strategic merge keys come from the Kubernetes API types' `patchMergeKey` tags, for the fields the lab's
 * kinds use; every other list is replaced, as upstream does for lists without a patch strategy.
 */
import jsonpatch from 'fast-json-patch';
import { ApiError, type PatchType } from './types.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };

function isMap(v: unknown): v is JsonMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return patch;
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v) as Json;
  }
  return out;
}

/** Field name → merge key, from the `patchMergeKey` tags of k8s.io/api (patchStrategy=merge). */
const MERGE_KEYS: Record<string, string | ((items: Json[]) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  addresses: 'type',
  resourceClaims: 'name',
  schedulingGates: 'name',
  // Container ports merge on containerPort; Service ports on port.
  ports: (items) => (items.some((i) => isMap(i) && 'containerPort' in i) ? 'containerPort' : 'port'),
};
/** Lists of scalars merged as sets. */
const MERGE_PRIMITIVE = new Set(['finalizers']);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  const k = MERGE_KEYS[field];
  return typeof k === 'function' ? k(items) : k;
}

function mergeList(field: string, original: Json[], patch: Json[]): Json[] {
  if (MERGE_PRIMITIVE.has(field)) {
    const out = [...original];
    for (const v of patch) if (!out.includes(v)) out.push(v);
    return out;
  }
  const key = mergeKeyFor(field, [...original, ...patch]);
  if (!key) return patch.map((p) => (isMap(p) ? stripDirectives(p) : p));
  // `$patch: replace` as a list element replaces the whole list.
  if (patch.some((p) => isMap(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isMap(p) && p.$patch === 'replace')).map((p) => (isMap(p) ? stripDirectives(p) : p));
  }
  const out: Json[] = [...original];
  for (const p of patch) {
    if (!isMap(p)) {
      out.push(p);
      continue;
    }
    const idx = out.findIndex((o) => isMap(o) && o[key] === p[key]);
    if (p.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = applyStrategicPatch(out[idx], p) as Json;
    else out.push(stripDirectives(p));
  }
  return out;
}

function stripDirectives(m: JsonMap): JsonMap {
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(m)) {
    if (k.startsWith('$')) continue;
    if (v === null) continue;
    out[k] = isMap(v) ? stripDirectives(v) : v;
  }
  return out;
}

function reorder(list: Json[], order: Json[], field: string): Json[] {
  const key = mergeKeyFor(field, list);
  const idOf = (v: Json) => (key && isMap(v) ? v[key] : isMap(order[0]) ? undefined : v);
  const orderIds = order.map((o) => (key && isMap(o) ? o[key] : o));
  const ranked = list.map((v, i) => {
    const r = orderIds.indexOf(idOf(v) as Json);
    return { v, r: r < 0 ? orderIds.length + i : r };
  });
  return ranked.sort((a, b) => a.r - b.r).map((x) => x.v);
}

export function applyStrategicPatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return patch;
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const out: JsonMap = isMap(target) ? { ...target } : {};
  const orders: [string, Json[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const f = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[f];
      if (Array.isArray(cur) && Array.isArray(v)) out[f] = cur.filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v)) out[k] = mergeList(k, Array.isArray(cur) ? cur : [], v);
    else if (isMap(v)) {
      const merged = applyStrategicPatch(cur, v);
      if (merged === undefined) delete out[k];
      else out[k] = merged as Json;
    } else out[k] = v;
  }
  for (const [f, order] of orders) {
    const cur = out[f];
    if (Array.isArray(cur)) out[f] = reorder(cur, order, f);
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json patch must be an array of operations');
  try {
    return jsonpatch.applyPatch(structuredClone(target), ops as jsonpatch.Operation[], true, false).newDocument;
  } catch (e) {
    throw new ApiError(422, 'Invalid', `the json patch could not be applied: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
  switch (type) {
    case 'merge':
      return applyMergePatch(target, patch);
    case 'strategic':
      return applyStrategicPatch(target, patch);
    case 'json':
      return applyJsonPatch(target, patch);
    case 'apply':
      // Server-side apply without managed fields: close enough for the lab is a strategic merge of the intent.
      return applyStrategicPatch(target, patch);
  }
}

/** The patch type of a Content-Type header. */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const ct = (contentType ?? '').split(';')[0].trim();
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/json-patch+json') return 'json';
  if (ct === 'application/apply-patch+yaml') return 'apply';
  return undefined;
}
