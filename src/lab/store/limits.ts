/**
 * The limits kube-apiserver and etcd put on what a client may send and store, in one place, and the checks
 * that enforce them. Numbers are upstream's:
 * - request bodies: 3 MiB (genericapiserver `MaxRequestBodyBytes`), 413 "Request entity too large: limit is 3145728";
 * - stored objects: etcd's `--max-request-bytes` default, 1.5 MiB. The lab measures the object's JSON (etcd holds
 *   protobuf, a little smaller), and answers 413 RequestEntityTooLarge where kube-apiserver passes etcd's
 *   "etcdserver: request is too large" through as a 500 (kubernetes#112152 asks for a 4xx: a client must not retry);
 * - JSON patches: 10,000 operations (413, handlers/patch.go `maxJSONPatchOperations`) and 3 MiB of values copied by
 *   `copy` operations (`JSONPatchMaxCopyBytes`, json-patch's AccumulatedCopySizeLimit; 422);
 * - nesting: Go's JSON decoder stops at 10,000 levels; the lab stops at MAX_JSON_DEPTH, well below the depth at which
 *   its own recursive steps (structuredClone, the YAML parser, schema validation) would run out of stack. No
 *   Kubernetes object comes near it;
 * - paged lists: a paged list is read at its first page's resourceVersion for LIST_SNAPSHOT_TTL_MS (kube-apiserver
 *   compacts etcd every 5 minutes, `--etcd-compaction-interval`), at most MAX_LIST_SNAPSHOTS lists at once; a
 *   continue token older than that is 410 Expired (src/lab/store/ordered.ts);
 * - the lab's size: MAX_LAB_NODES nodes (`--nodes`), on 127.0.100.1 ... 127.0.103.250.
 */
import { ApiError } from './types.js';

export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
export const MAX_JSON_PATCH_OPERATIONS = 10_000;
export const MAX_JSON_PATCH_COPY_BYTES = 3 * 1024 * 1024;
export const MAX_JSON_DEPTH = 500;
export const LIST_SNAPSHOT_TTL_MS = 5 * 60_000;
export const MAX_LIST_SNAPSHOTS = 64;
export const MAX_LAB_NODES = 1000;

/** The loopback address of the lab's i-th node (from 0): 127.0.100.1 ... 127.0.100.250, then 127.0.101.1 ... */
export function labNodeAddress(i: number): string {
  return `127.0.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** The lab's pod range when the spec names none: kubeadm's 10.244.0.0/16 holds 256 /24 node ranges; more
 *  nodes get 10.244.0.0/14 (1,024), still clear of the default service range 10.96.0.0/12. */
export function defaultLabPodCidr(nodes: number): string {
  return nodes > 256 ? '10.244.0.0/14' : '10.244.0.0/16';
}

export function isJsonMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Go's name for a JSON value's type, as encoding/json's "cannot unmarshal X into ..." errors spell it. */
export function goJsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return 'object';
}

/** The first bytes of a value's JSON, for error messages (never echo a 3 MiB body back). */
export function summarizeJson(v: unknown, max = 64): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** The 400 for a body nested deeper than the lab reads. */
export function tooDeep(): ApiError {
  return new ApiError(400, 'BadRequest', `the request body nests deeper than ${MAX_JSON_DEPTH} levels: json: exceeded max depth`);
}

/**
 * Whether JSON or YAML text opens more than `max` flow collections (`[`, `{`) at once, counted outside
 * double-quoted strings. A cheap scan before a parser that recurses per level gets to see the text.
 */
export function flowDepthExceeds(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Nesting depth of a parsed value (a scalar is 0, `{}` is 1), without recursion; stops counting past `max`. */
export function depthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return false;
}

/** Lets the event loop run (timers, other requests) in the middle of a long loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Loops over this many items between yields. */
export const ITEMS_PER_YIELD = 64;

/** The 413 an object too large to store gets (etcd's message, the apiserver's reason). */
export function objectTooLarge(bytes: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `etcdserver: request is too large (the object is ${bytes} bytes as JSON; the limit is ${MAX_OBJECT_BYTES})`);
}

/** The message kube-apiserver gives when a body that must be an object is some other JSON value. */
export function notAnObjectMessage(v: unknown): string {
  return `couldn't get version/kind; json parse error: json: cannot unmarshal ${goJsonType(v)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`;
}

/**
 * The shape every stored object has: a JSON object whose kind and apiVersion are strings and whose metadata is
 * an object, not too deep. Throws the 400 a decoder would give otherwise.
 */
export function checkObjectShape(obj: unknown, kind?: string): asserts obj is Record<string, unknown> & { metadata?: Record<string, unknown> } {
  if (!isJsonMap(obj)) {
    const must = kind ? ` (must be of type ${kind})` : '';
    throw new ApiError(400, 'BadRequest', `the object provided is unrecognized${must}: ${notAnObjectMessage(obj)} (${summarizeJson(obj, 30)})`);
  }
  if (obj.metadata !== undefined && !isJsonMap(obj.metadata)) {
    throw new ApiError(400, 'BadRequest', `json: cannot unmarshal ${goJsonType(obj.metadata)} into Go struct field ${kind ?? ''}.metadata of type v1.ObjectMeta`);
  }
  if (depthExceeds(obj)) throw tooDeep();
}
