/**
 * metadata.managedFields and server-side apply, after structured-merge-diff (what kube-apiserver runs):
 * every write names a field manager; an `Apply` records the fields the manager's configuration sets (its
 * leaves), an `Update` the fields the write changed. Applying again removes the fields the manager set before
 * and no longer does (unless another manager owns them too); applying a value over another manager's is a 409
 * Conflict with one FieldManagerConflict cause per field, unless `force` takes the field over.
 *
 * Field paths use fieldsV1's segments: `f:name` for a map key, `k:{"name":"c"}` for a list element by its merge
 * key, `v:"x"` for an element of a set of scalars, `.` for the element itself. Lists without a merge key are
 * atomic (one leaf).
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError, type KubeObject } from './types.js';
import { MERGE_PRIMITIVE, mergeKeyFor } from './patch.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = string[];

interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** What a write says about its field manager. */
interface FieldManagement {
  manager: string;
  operation: 'Apply' | 'Update';
  force?: boolean;
  subresource?: 'status';
}

const isMap = (v: unknown): v is { [k: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Metadata no manager owns (the server sets it, or it names the object). */
const SERVER_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'generateName']);

function keySegment(field: string, item: Json, items: Json[]): string | undefined {
  const key = mergeKeyFor(field, items);
  if (!key || !isMap(item) || item[key] === undefined) return undefined;
  return `k:${JSON.stringify({ [key]: item[key] })}`;
}

function walk(v: Json, field: string, path: Path, out: Path[]): void {
  if (isMap(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return void out.push(path);
    for (const k of keys) walk(v[k]!, k, [...path, `f:${k}`], out);
    return;
  }
  if (Array.isArray(v)) {
    if (MERGE_PRIMITIVE.has(field)) {
      for (const x of v) out.push([...path, `v:${JSON.stringify(x)}`]);
      return;
    }
    const segs = v.map((item) => keySegment(field, item, v));
    if (v.length === 0 || segs.some((s) => s === undefined)) return void out.push(path);
    v.forEach((item, i) => {
      const p = [...path, segs[i]!];
      out.push([...p, '.']);
      for (const k of Object.keys(item as object)) walk((item as Record<string, Json>)[k]!, k, [...p, `f:${k}`], out);
    });
    return;
  }
  out.push(path);
}

/** The leaf fields of an object a manager can own (status only on the status subresource, and only there). */
function leavesOf(obj: KubeObject, subresource: 'status' | undefined, hasStatus: boolean): Path[] {
  const out: Path[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (k === 'metadata' && isMap(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_META.has(mk) && mv !== undefined) walk(mv as Json, mk, ['f:metadata', `f:${mk}`], out);
      continue;
    }
    if (hasStatus && (subresource === 'status') !== (k === 'status')) continue;
    walk(v as Json, k, [`f:${k}`], out);
  }
  return out;
}

/** Each list's elements by their `k:` segment, built on first use: a path lookup stays constant-time on long lists. */
const listIndex = new WeakMap<Json[], Map<string, Json>>();

function findItem(list: Json[], seg: string): Json | undefined {
  let idx = listIndex.get(list);
  if (!idx) {
    idx = new Map();
    const keys = Object.keys(JSON.parse(seg.slice(2)) as object);
    for (const i of list) {
      if (!isMap(i)) continue;
      const k = `k:${JSON.stringify(Object.fromEntries(keys.map((key) => [key, i[key]])))}`;
      if (!idx.has(k)) idx.set(k, i);
    }
    listIndex.set(list, idx);
  }
  return idx.get(seg);
}

/** The value at a field path, or undefined. */
function valueAt(obj: unknown, path: Path): unknown {
  let cur: unknown = obj;
  let field = '';
  for (const seg of path) {
    if (seg === '.') return cur;
    if (seg.startsWith('f:')) {
      field = seg.slice(2);
      cur = isMap(cur) ? cur[field] : undefined;
    } else if (seg.startsWith('k:')) {
      cur = Array.isArray(cur) ? findItem(cur, seg) : undefined;
    } else if (seg.startsWith('v:')) {
      const want = JSON.parse(seg.slice(2)) as Json;
      return Array.isArray(cur) && cur.some((x) => isDeepStrictEqual(x, want)) ? want : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Removes the field at `path` from `obj` (in place). */
function removeAt(obj: unknown, path: Path): void {
  const last = path[path.length - 1];
  const target = last === '.' ? path.slice(0, -1) : path;
  const tail = target[target.length - 1]!;
  const parent = valueAt(obj, target.slice(0, -1));
  if (tail.startsWith('f:') && isMap(parent)) delete parent[tail.slice(2)];
  else if (Array.isArray(parent)) {
    const i = tail.startsWith('v:') ? parent.findIndex((x) => isDeepStrictEqual(x, JSON.parse(tail.slice(2)))) : parent.indexOf(valueAt(obj, target) as Json);
    if (i >= 0) parent.splice(i, 1);
    listIndex.delete(parent);
  }
}

const keyOf = (p: Path) => JSON.stringify(p);
const pathOf = (k: string) => JSON.parse(k) as Path;

function toFieldsV1(paths: Iterable<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const k of paths) {
    let cur = root;
    for (const seg of pathOf(k)) cur = (cur[seg] ??= {}) as Record<string, unknown>;
  }
  return root;
}

function fromFieldsV1(f: unknown, prefix: Path = [], out = new Set<string>()): Set<string> {
  if (!isMap(f)) return out;
  const keys = Object.keys(f);
  if (keys.length === 0 && prefix.length > 0) out.add(keyOf(prefix));
  for (const k of keys) fromFieldsV1(f[k], [...prefix, k], out);
  return out;
}

interface Owned {
  entry: ManagedFieldsEntry;
  fields: Set<string>;
}

function ownedOf(obj: KubeObject | undefined): Owned[] {
  return ((obj?.metadata.managedFields ?? []) as ManagedFieldsEntry[]).map((entry) => ({ entry, fields: fromFieldsV1(entry.fieldsV1) }));
}

function sameManager(e: ManagedFieldsEntry, m: FieldManagement): boolean {
  return e.manager === m.manager && e.operation === m.operation && (e.subresource ?? undefined) === (m.subresource ?? undefined);
}

function entriesOf(owned: Owned[], obj: KubeObject): ManagedFieldsEntry[] {
  return owned
    // A field the object no longer has is no one's.
    .map((o) => ({ ...o, fields: new Set([...o.fields].filter((k) => valueAt(obj, pathOf(k)) !== undefined)) }))
    .filter((o) => o.fields.size > 0)
    .map((o) => ({ ...o.entry, fieldsV1: toFieldsV1(o.fields) }));
}

function newEntry(m: FieldManagement, apiVersion: string, time: string): ManagedFieldsEntry {
  return { manager: m.manager, operation: m.operation, apiVersion, time, fieldsType: 'FieldsV1', fieldsV1: {}, ...(m.subresource ? { subresource: m.subresource } : {}) };
}

/**
 * An Update: the fields `next` changed from `old` (all of them on create) become the manager's, and no one
 * else's. Sets next.metadata.managedFields.
 */
export function recordUpdate(old: KubeObject | undefined, next: KubeObject, m: FieldManagement, hasStatus: boolean, time: string): void {
  const owned = ownedOf(old);
  const changed = new Set<string>();
  for (const p of leavesOf(next, m.subresource, hasStatus)) {
    const before = valueAt(old, p);
    const now = valueAt(next, p);
    if (p[p.length - 1] === '.' ? before === undefined : !isDeepStrictEqual(before, now)) changed.add(keyOf(p));
  }
  if (changed.size === 0 && old) {
    next.metadata.managedFields = old.metadata.managedFields;
    return;
  }
  for (const o of owned) for (const k of changed) o.fields.delete(k);
  let mine = owned.find((o) => sameManager(o.entry, m));
  if (!mine) owned.push((mine = { entry: newEntry(m, next.apiVersion, time), fields: new Set() }));
  for (const k of changed) mine.fields.add(k);
  mine.entry = { ...mine.entry, time };
  next.metadata.managedFields = entriesOf(owned, next);
}

/**
 * A server-side apply of `config` onto `live` (undefined: the object is created), given `merged`, the live
 * object with the configuration merged in. Throws 409 on conflicts (unless forced); removes from `merged` the
 * fields this manager applied before and no longer does; sets merged.metadata.managedFields.
 */
export function recordApply(live: KubeObject | undefined, config: KubeObject, merged: KubeObject, m: FieldManagement, hasStatus: boolean, time: string): void {
  const owned = ownedOf(live);
  const applied = new Set(leavesOf(config, m.subresource, hasStatus).map(keyOf));
  const conflicts: { manager: string; path: Path }[] = [];
  for (const o of owned) {
    if (sameManager(o.entry, m)) continue;
    for (const k of applied) {
      if (!o.fields.has(k)) continue;
      const p = pathOf(k);
      if (!isDeepStrictEqual(valueAt(live, p), valueAt(merged, p))) conflicts.push({ manager: o.entry.manager, path: p });
    }
  }
  if (conflicts.length > 0 && !m.force) throw conflictError(conflicts);
  for (const c of conflicts) for (const o of owned) if (o.entry.manager === c.manager) o.fields.delete(keyOf(c.path));
  let mine = owned.find((o) => sameManager(o.entry, m));
  const before = mine?.fields ?? new Set<string>();
  for (const k of before) {
    if (applied.has(k)) continue;
    const others = owned.some((o) => o !== mine && o.fields.has(k));
    if (!others) removeAt(merged, pathOf(k));
  }
  if (!mine) owned.push((mine = { entry: newEntry(m, merged.apiVersion, time), fields: new Set() }));
  mine.fields = applied;
  mine.entry = { ...mine.entry, time, apiVersion: merged.apiVersion };
  merged.metadata.managedFields = entriesOf(owned, merged);
}

/** The dotted path structured-merge-diff prints: `.data.a`, `.spec.containers[name="c"].image`. */
function printPath(p: Path): string {
  let s = '';
  for (const seg of p) {
    if (seg === '.') continue;
    if (seg.startsWith('f:')) s += `.${seg.slice(2)}`;
    else if (seg.startsWith('k:')) s += `[${Object.entries(JSON.parse(seg.slice(2)) as Record<string, Json>).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    else if (seg.startsWith('v:')) s += `[=${seg.slice(2)}]`;
  }
  return s;
}

function conflictError(conflicts: { manager: string; path: Path }[]): ApiError {
  const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${JSON.stringify(c.manager)}: ${printPath(c.path)}`, field: printPath(c.path) }));
  const list = causes.map((c) => `- ${c.message}`).join('\n');
  return new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.length === 1 ? causes[0]!.message : `\n${list}`}`, { causes });
}
