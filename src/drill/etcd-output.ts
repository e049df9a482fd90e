/**
 * Parsers for what etcdctl (3.4, 3.5, 3.6) and etcdutl (3.5+) print with `-w json`, and key bucketing by
 * Kubernetes resource. Pure: tested with recorded outputs of each version.
 *
 * etcdctl prints Go's encoding/json: uint64 ids are plain numbers (they lose precision in JavaScript; we never
 * use them), int64 revisions and uint32 hashes are safe. Fields that newer versions add are optional.
 */
import { z } from 'zod';

const int = z.union([z.number(), z.string().regex(/^-?\d+$/)]).transform((v) => Number(v));

const snapshotStatusSchema = z.object({
  hash: int,
  revision: int,
  totalKey: int,
  totalSize: int,
  /** etcdutl 3.6+: the storage version of the snapshot ("" or absent before). */
  version: z.string().optional(),
});

export interface SnapshotStatus {
  /** crc32 (Castagnoli) over every bucket of the bolt db, as etcd prints it. */
  hash: number;
  revision: number;
  /** Every key of every bolt bucket (MVCC revisions plus etcd's own meta keys), not the number of live keys. */
  totalKey: number;
  totalSize: number;
  version?: string;
}

export class OutputParseError extends Error {
  constructor(what: string, text: string, cause?: unknown) {
    const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    super(`could not read ${what} output: ${shown.trim() || '(empty)'}`, cause === undefined ? undefined : { cause });
    this.name = 'OutputParseError';
  }
}

function firstJson(text: string, what: string): unknown {
  // etcdctl 3.5 prints a deprecation notice on stderr only; stdout is one JSON document, but be lenient about
  // a leading log line by starting at the first bracket.
  const i = text.search(/[[{]/);
  if (i < 0) throw new OutputParseError(what, text);
  try {
    return JSON.parse(text.slice(i));
  } catch (e) {
    throw new OutputParseError(what, text, e);
  }
}

export function parseSnapshotStatus(text: string): SnapshotStatus {
  const r = snapshotStatusSchema.safeParse(firstJson(text, 'snapshot status'));
  if (!r.success) throw new OutputParseError('snapshot status', text, r.error);
  const { version, ...rest } = r.data;
  return version ? { ...rest, version } : rest;
}

const headerSchema = z.object({ revision: int }).passthrough();

const hashKvSchema = z.array(
  z.object({
    Endpoint: z.string(),
    HashKV: z.object({
      header: headerSchema,
      hash: int,
      compact_revision: int.optional(),
      /** etcd 3.6+: the revision the hash covers. */
      hash_revision: int.optional(),
    }),
  }),
);

export interface HashKv {
  endpoint: string;
  hash: number;
  /** The member's revision when it answered. */
  revision: number;
  /** -1 when the member never compacted. */
  compactRevision: number;
  hashRevision?: number;
}

export function parseHashKv(text: string): HashKv[] {
  const r = hashKvSchema.safeParse(firstJson(text, 'endpoint hashkv'));
  if (!r.success) throw new OutputParseError('endpoint hashkv', text, r.error);
  return r.data.map((e) => ({
    endpoint: e.Endpoint,
    hash: e.HashKV.hash,
    revision: e.HashKV.header.revision,
    compactRevision: e.HashKV.compact_revision ?? -1,
    ...(e.HashKV.hash_revision !== undefined ? { hashRevision: e.HashKV.hash_revision } : {}),
  }));
}

const endpointStatusSchema = z.array(
  z.object({
    Endpoint: z.string(),
    Status: z
      .object({
        header: headerSchema,
        version: z.string(),
        dbSize: int,
        dbSizeInUse: int.optional(),
        raftIndex: int.optional(),
        isLearner: z.boolean().optional(),
        /** etcd 3.6+ */
        storageVersion: z.string().optional(),
        dbSizeQuota: int.optional(),
      })
      .passthrough(),
  }),
);

export interface EndpointStatus {
  endpoint: string;
  version: string;
  revision: number;
  dbSize: number;
  dbSizeInUse?: number;
}

export function parseEndpointStatus(text: string): EndpointStatus[] {
  const r = endpointStatusSchema.safeParse(firstJson(text, 'endpoint status'));
  if (!r.success) throw new OutputParseError('endpoint status', text, r.error);
  return r.data.map((e) => ({
    endpoint: e.Endpoint,
    version: e.Status.version,
    revision: e.Status.header.revision,
    dbSize: e.Status.dbSize,
    ...(e.Status.dbSizeInUse !== undefined ? { dbSizeInUse: e.Status.dbSizeInUse } : {}),
  }));
}

const rangeSchema = z.object({
  header: headerSchema,
  kvs: z.array(z.object({ key: z.string() }).passthrough()).optional(),
  more: z.boolean().optional(),
  count: int.optional(),
});

export interface KeyPage {
  revision: number;
  /** Keys as raw bytes decoded to strings (latin1 keeps every byte; Kubernetes keys are ASCII). */
  keys: string[];
  more: boolean;
  /** Keys in the whole requested range, not just this page. */
  count: number;
}

/** One page of `etcdctl get ... --keys-only -w json` (keys are base64 in JSON output). */
export function parseKeyPage(text: string): KeyPage {
  const r = rangeSchema.safeParse(firstJson(text, 'get'));
  if (!r.success) throw new OutputParseError('get', text, r.error);
  return {
    revision: r.data.header.revision,
    keys: (r.data.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString('latin1')),
    more: r.data.more ?? false,
    count: r.data.count ?? 0,
  };
}

/** `etcdctl version` / `etcdutl version` / `etcd --version`: the x.y.z it names first. */
export function parseToolVersion(text: string): string | undefined {
  return /(?:version|Version):\s*v?(\d+\.\d+\.\d+)/.exec(text)?.[1];
}

/** True when `snapshot restore --help` offers the revision bump Kubernetes restores need (etcdutl 3.5.10+, 3.6). */
export function supportsBumpRevision(helpText: string): boolean {
  return /--bump-revision\b/.test(helpText) && /--mark-compacted\b/.test(helpText);
}

export const OTHER_PREFIX = '(outside /registry)';

/** Built-in API groups: kube-apiserver keeps their resources at /registry/<resource>/, never under the group. */
const BUILTIN_GROUPS = new Set([
  'apps',
  'batch',
  'policy',
  'autoscaling',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'node.k8s.io',
  'certificates.k8s.io',
  'admissionregistration.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'events.k8s.io',
  'resource.k8s.io',
]);

/** `deployments.apps` (a resource qualified by a built-in group, as the lab names them) rather than an API group. */
function isResourceDotGroup(segment: string): boolean {
  const dot = segment.indexOf('.');
  return dot > 0 && BUILTIN_GROUPS.has(segment.slice(dot + 1));
}

/**
 * The /registry/<resource> prefix a Kubernetes key belongs to. Core and most built-in resources sit at
 * /registry/<resource>/...; API groups that are stored under their group name (CRDs, aggregated APIs) sit at
 * /registry/<group.with.dots>/<resource>/..., so a segment with a dot takes the next one too.
 */
export function prefixOfKey(key: string): string {
  if (!key.startsWith('/registry/')) return OTHER_PREFIX;
  const parts = key.slice('/registry/'.length).split('/');
  const first = parts[0] ?? '';
  if (first === '') return '/registry/';
  if (first.includes('.') && !isResourceDotGroup(first) && parts.length > 2 && parts[1]) return `/registry/${first}/${parts[1]}`;
  return `/registry/${first}`;
}

/** Counts keys by prefix one key at a time, so a listing never has to be held whole. */
export class KeyCounter {
  readonly counts = new Map<string, number>();
  total = 0;
  add(key: string): void {
    const p = prefixOfKey(key);
    this.counts.set(p, (this.counts.get(p) ?? 0) + 1);
    this.total++;
  }
  /** Sorted by prefix, for stable reports. */
  toRecord(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

export interface CountDifference {
  prefix: string;
  expected: number;
  actual: number;
}

/** Prefixes whose counts differ, in prefix order. Keys listed in `ignore` (e.g. our sentinel's bucket) are left out. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): CountDifference[] {
  const prefixes = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return prefixes
    .map((prefix) => ({ prefix, expected: expected[prefix] ?? 0, actual: actual[prefix] ?? 0 }))
    .filter((d) => d.expected !== d.actual);
}
