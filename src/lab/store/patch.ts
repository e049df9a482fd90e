/**
 * The three patch types kube-apiserver accepts: JSON merge patch (RFC 7386), strategic merge patch
 * (lists merged by key, with the `$patch`, `$retainKeys`, `$setElementOrder/..` and
 * `$deleteFromPrimitiveList/..` directives kubectl sends) and JSON patch (RFC 6902, fast-json-patch).
 * Strategic merge keys come from the Kubernetes API types' `patchMergeKey` tags, for the fields the lab's
 * kinds use; every other list is replaced, as upstream does for lists without a patch strategy.
 */
import jsonpatch from 'fast-json-patch';
import { ApiError, type PatchType } from './types.js';
import { MAX_JSON_PATCH_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, goJsonType, isJsonMap, notAnObjectMessage, summarizeJson } from './limits.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };

const isMap = isJsonMap as (v: unknown) => v is JsonMap;

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
export const MERGE_PRIMITIVE = new Set(['finalizers']);

export function mergeKeyFor(field: string, items: Json[]): string | undefined {
  const k = MERGE_KEYS[field];
  return typeof k === 'function' ? k(items) : k;
}

function mergeList(field: string, original: Json[], patch: Json[]): Json[] {
  if (MERGE_PRIMITIVE.has(field)) {
    const out = [...original];
    const seen = new Set(original);
    for (const v of patch) {
      if (seen.has(v)) continue;
      seen.add(v);
      out.push(v);
    }
    return normalizeOrder(out, patch, original, undefined);
  }
  const key = mergeKeyFor(field, [...original, ...patch]);
  if (!key) return patch.map((p) => (isMap(p) ? stripDirectives(p) : p));
  // `$patch: replace` as a list element replaces the whole list.
  if (patch.some((p) => isMap(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isMap(p) && p.$patch === 'replace')).map((p) => (isMap(p) ? stripDirectives(p) : p));
  }
  // Elements are found by merge key through an index, not a scan: a long patch list against a long stored
  // list must stay linear. Deleted elements leave holes that are dropped at the end.
  const out: (Json | typeof HOLE)[] = [...original];
  const at = new Map<Json, number>();
  out.forEach((o, i) => {
    if (isMap(o) && !at.has(o[key] as Json)) at.set(o[key] as Json, i);
  });
  for (const p of patch) {
    if (!isMap(p)) {
      out.push(p);
      continue;
    }
    const idx = at.get(p[key] as Json);
    if (p.$patch === 'delete') {
      if (idx !== undefined) {
        out[idx] = HOLE;
        at.delete(p[key] as Json);
      }
      continue;
    }
    if (idx !== undefined) out[idx] = applyStrategicPatch(out[idx], p) as Json;
    else {
      at.set(p[key] as Json, out.length);
      out.push(stripDirectives(p));
    }
  }
  return normalizeOrder(out.filter((o): o is Json => o !== HOLE), patch, original, key);
}

/**
 * apimachinery's normalizeElementOrder: the elements named in `order` (the patch, or its $setElementOrder) in
 * that order, with the elements only the server had merged in by their order on the server: a new env var
 * patched in comes first, `$setElementOrder` puts every element where kubectl says.
 */
function normalizeOrder(merged: Json[], order: Json[], serverOrder: Json[], key: string | undefined): Json[] {
  // Beyond a thousand elements the merge order is kept: the reordering measurably holds the event loop there.
  if (merged.length > 1000) return merged;
  const idOf = (v: Json): unknown => (key !== undefined ? (isMap(v) ? v[key] : undefined) : v);
  const rankIn = (list: Json[]) => {
    const m = new Map<unknown, number>();
    list.forEach((v, i) => {
      const id = idOf(v);
      if (id !== undefined && !m.has(id)) m.set(id, i);
    });
    return m;
  };
  const inOrder = rankIn(order);
  const server = rankIn(serverOrder);
  // Ranks computed once per element (a comparator looking them up costs a long list dearly).
  const ranked = merged.map((v, i) => ({ v, i, id: idOf(v) }));
  const sortBy = (xs: typeof ranked, rank: Map<unknown, number>) =>
    xs.map((x) => ({ ...x, r: rank.get(x.id) ?? Number.MAX_SAFE_INTEGER })).sort((a, b) => a.r - b.r || a.i - b.i);
  const right = sortBy(ranked.filter((x) => inOrder.has(x.id)), inOrder);
  const left = sortBy(ranked.filter((x) => !inOrder.has(x.id)), server);
  // mergeSortedSlice: a server-only element goes first only when both are on the server and it was before.
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]!.v);
    else if (j >= right.length) out.push(left[i++]!.v);
    else {
      const li = server.get(left[i]!.id);
      const ri = server.get(right[j]!.id);
      if (li !== undefined && ri !== undefined && li < ri) out.push(left[i++]!.v);
      else out.push(right[j++]!.v);
    }
  }
  return out;
}

const HOLE = Symbol('deleted');

function stripDirectives(m: JsonMap): JsonMap {
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(m)) {
    if (k.startsWith('$')) continue;
    if (v === null) continue;
    out[k] = isMap(v) ? stripDirectives(v) : v;
  }
  return out;
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
      if (Array.isArray(cur) && Array.isArray(v)) {
        const drop = new Set(v);
        out[f] = cur.filter((x) => !drop.has(x));
      }
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
    const before = isMap(target) ? target[f] : undefined;
    if (Array.isArray(cur)) out[f] = normalizeOrder(cur, order, Array.isArray(before) ? before : [], MERGE_PRIMITIVE.has(f) ? undefined : mergeKeyFor(f, cur));
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

/**
 * RFC 6902, one operation at a time so the work stays bounded: at most 10,000 operations, and `copy` operations
 * may add at most 3 MiB in all (each copy is measured before it is made, so a patch that doubles the object
 * stops after a few doublings instead of building gigabytes). `target` is changed in place.
 */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', `json: cannot unmarshal ${goJsonType(ops)} into Go value of type jsonpatch.Patch`);
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new ApiError(413, 'RequestEntityTooLarge', `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`);
  }
  for (const op of ops) {
    if (!isMap(op)) throw new ApiError(400, 'BadRequest', `json: cannot unmarshal ${goJsonType(op)} into Go value of type jsonpatch.operation`);
  }
  let doc = target; // changed in place: callers hand in their own copy
  let copied = 0;
  try {
    (ops as jsonpatch.Operation[]).forEach((op, i) => {
      // Values land in the document as they are: copy objects so that a retry sees the patch unchanged
      // (strings and numbers are immutable and need no copy).
      if ('value' in op && op.value !== null && typeof op.value === 'object') op = { ...op, value: structuredClone(op.value) as unknown };
      if (op.op === 'copy' && typeof op.from === 'string') {
        const value: unknown = jsonpatch.getValueByPointer(doc, op.from);
        if (value === undefined) throw new ApiError(422, 'Invalid', `copy operation does not apply: doc is missing from path: ${op.from}`);
        const text = JSON.stringify(value);
        copied += Buffer.byteLength(text);
        if (copied > MAX_JSON_PATCH_COPY_BYTES) {
          throw new ApiError(422, 'Invalid', `Unable to complete the copy, the accumulated size increase of copy is ${copied}, exceeding the limit ${MAX_JSON_PATCH_COPY_BYTES}`);
        }
        op = { op: 'add', path: op.path, value: JSON.parse(text) as unknown };
      }
      doc = jsonpatch.applyOperation(doc, op, true, true, true, i).newDocument;
    });
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(422, 'Invalid', `the json patch could not be applied: ${(e as Error).message.split('\n')[0]}`, {});
  }
  return doc;
}

/**
 * Refuses a patch body of the wrong JSON type before any work, with the status and message kube-apiserver
 * gives: a strategic merge or apply patch must be an object (400); a merge patch may be an object or null, and
 * an array would replace the whole object, so it is refused as the decoder would refuse the result (422).
 */
export function checkPatchBody(type: PatchType, patch: unknown): void {
  if (patch === undefined) throw new ApiError(400, 'BadRequest', 'unexpected end of JSON input');
  if (type === 'json' || isMap(patch) || patch === null) return;
  const into = `json: cannot unmarshal ${goJsonType(patch)} into Go value of type map[string]interface {}`;
  if (type === 'strategic') throw new ApiError(400, 'BadRequest', into);
  if (type === 'apply') throw new ApiError(400, 'BadRequest', `error decoding YAML: error unmarshaling JSON: while decoding JSON: ${into}`);
  if (Array.isArray(patch)) throw patchResultInvalid(patch);
  throw new ApiError(400, 'BadRequest', 'Invalid JSON Patch');
}

function patchResultInvalid(result: unknown, message = notAnObjectMessage(result)): ApiError {
  // Go's errors.NewInvalid with an empty kind and name: the message starts with ` "" is invalid`.
  return new ApiError(422, 'Invalid', ` "" is invalid: patch: Invalid value: ${JSON.stringify(summarizeJson(result))}: ${message}`, {
    causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(summarizeJson(result))}: ${message}`, field: 'patch' }],
  });
}

/** Applies a patch of any type; the result is always a JSON object, or an ApiError says why not. */
export function applyPatch(type: PatchType, target: unknown, patch: unknown): Record<string, unknown> {
  checkPatchBody(type, patch);
  const result = applyPatchOfType(type, target, patch);
  if (!isMap(result)) throw patchResultInvalid(result);
  if (result.metadata !== undefined && !isMap(result.metadata)) {
    throw patchResultInvalid(result, `json: cannot unmarshal ${goJsonType(result.metadata)} into Go struct field .metadata of type v1.ObjectMeta`);
  }
  return result;
}

function applyPatchOfType(type: PatchType, target: unknown, patch: unknown): unknown {
  // JSON null decodes to an empty map: a merge of nothing.
  if (patch === null) return type === 'json' ? applyJsonPatch(target, patch) : target;
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
