/**
 * Read-modify-write with retry on 409 Conflict, the one loop behind LabStore.mutate (the memory store and the
 * mirror of a real API server): `fn` gets a private clone; returning undefined with nothing changed skips the write.
 */
import { ApiError, type KubeObject } from './types.js';

export async function readModifyWrite(
  /** The current object; `attempt` 0 is the first read, later ones follow a conflict. */
  read: (attempt: number) => KubeObject | Promise<KubeObject>,
  write: (next: KubeObject) => Promise<KubeObject>,
  fn: (obj: KubeObject) => KubeObject | undefined | void,
  retries: number,
): Promise<KubeObject> {
  for (let attempt = 0; ; attempt++) {
    const cur = await read(attempt);
    const copy = structuredClone(cur);
    const r = fn(copy);
    if (r === undefined && sameJson(copy, cur)) return cur;
    const next = r ?? copy;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    try {
      return await write(next);
    } catch (e) {
      if (e instanceof ApiError && e.code === 409 && attempt < retries) continue;
      throw e;
    }
  }
}

/**
 * JSON.stringify(a) === JSON.stringify(b), without building either string: stops at the first difference
 * (key order, values, and what JSON leaves out — undefined and functions — all count as stringify counts them).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return jsonScalar(a) === jsonScalar(b);
  if (typeof (a as { toJSON?: unknown }).toJSON === 'function' || typeof (b as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(a) === JSON.stringify(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(arrayItem(a[i]), arrayItem(bb[i]))) return false;
    return true;
  }
  const ka = jsonKeys(a as Record<string, unknown>);
  const kb = jsonKeys(b as Record<string, unknown>);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return false;
    if (!sameJson((a as Record<string, unknown>)[ka[i]!], (b as Record<string, unknown>)[kb[i]!])) return false;
  }
  return true;
}

function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}
function jsonKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).filter((k) => !omitted(o[k]));
}
/** Inside an array, what JSON omits elsewhere is written as null. */
function arrayItem(v: unknown): unknown {
  return omitted(v) ? null : v;
}
function jsonScalar(v: unknown): string | undefined {
  return JSON.stringify(v);
}
