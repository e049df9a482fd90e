/**
 * Parsers for what etcdctl (3.4, 3.5, 3.6) and etcdutl (3.5+) print with `-w json`, and key bucketing by
 * Kubernetes resource. Pure: tested with recorded outputs of each version.
 *
 * etcdctl prints Go's encoding/json: uint64 ids are plain numbers (they lose precision in JavaScript; we never
 * use them), int64 revisions and uint32 hashes are safe. Fields that newer versions add are optional.
 */
/** An integer as Go prints it: a JSON number, or (int64 in some printers) a string of digits. */
function int(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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
  const j = firstJson(text, 'snapshot status');
  const o = isObject(j) ? j : {};
  const [hash, revision, totalKey, totalSize] = [int(o.hash), int(o.revision), int(o.totalKey), int(o.totalSize)];
  if (hash === undefined || revision === undefined || totalKey === undefined || totalSize === undefined) throw new OutputParseError('snapshot status', text);
  // etcdutl 3.6+: the storage version of the snapshot ("" or absent before).
  const version = typeof o.version === 'string' && o.version !== '' ? o.version : undefined;
  return { hash, revision, totalKey, totalSize, ...(version ? { version } : {}) };
}

export interface HashKv {
  endpoint: string;
  hash: number;
  /** The member's revision when it answered. */
  revision: number;
  /** -1 when the member never compacted. */
  compactRevision: number;
  hashRevision?: number;
}

/** One entry per endpoint, each `{Endpoint, <field>: {header: {revision}, ...}}`; the inner object, checked. */
function perEndpoint(text: string, what: string, field: string): Array<{ endpoint: string; body: Record<string, unknown>; revision: number }> {
  const j = firstJson(text, what);
  if (!Array.isArray(j)) throw new OutputParseError(what, text);
  return j.map((e: unknown) => {
    const body = isObject(e) ? e[field] : undefined;
    const header = isObject(body) ? body.header : undefined;
    const revision = isObject(header) ? int(header.revision) : undefined;
    if (!isObject(e) || typeof e.Endpoint !== 'string' || !isObject(body) || revision === undefined) throw new OutputParseError(what, text);
    return { endpoint: e.Endpoint, body, revision };
  });
}

export function parseHashKv(text: string): HashKv[] {
  return perEndpoint(text, 'endpoint hashkv', 'HashKV').map(({ endpoint, body, revision }) => {
    const hash = int(body.hash);
    if (hash === undefined) throw new OutputParseError('endpoint hashkv', text);
    // etcd 3.6+: the revision the hash covers.
    const hashRevision = int(body.hash_revision);
    return { endpoint, hash, revision, compactRevision: int(body.compact_revision) ?? -1, ...(hashRevision !== undefined ? { hashRevision } : {}) };
  });
}

export interface EndpointStatus {
  endpoint: string;
  version: string;
  revision: number;
  dbSize: number;
  dbSizeInUse?: number;
}

export function parseEndpointStatus(text: string): EndpointStatus[] {
  return perEndpoint(text, 'endpoint status', 'Status').map(({ endpoint, body, revision }) => {
    const dbSize = int(body.dbSize);
    if (typeof body.version !== 'string' || dbSize === undefined) throw new OutputParseError('endpoint status', text);
    const dbSizeInUse = int(body.dbSizeInUse);
    return { endpoint, version: body.version, revision, dbSize, ...(dbSizeInUse !== undefined ? { dbSizeInUse } : {}) };
  });
}

export interface KeyPage {
  revision: number;
  /** Keys as raw bytes decoded to strings (latin1 keeps every byte; Kubernetes keys are ASCII). */
  keys: string[];
  more: boolean;
  /** Keys in the whole requested range, not just this page. */
  count: number;
}

/**
 * `etcdctl get ... --keys-only -w json` read as it streams, never held whole: every key (base64 in the JSON) is
 * handed to `onKey` as it arrives, and the header's revision, `more` and `count` are read on the way. Go prints
 * the response as `{"header":{...},"kvs":[{"key":"<base64>",...},...],"more":...,"count":N}`; base64 holds no
 * quote, so a key can never be mistaken for the fields around it.
 */
const BASE64 = /^[A-Za-z0-9+/=]*$/;

export class KeyListing {
  private buf = '';
  private head = '';
  private revision?: number;
  private more = false;
  private count?: number;
  private seen = 0;
  constructor(private readonly onKey: (key: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    if (this.head.length < 200) this.head += text.slice(0, 200 - this.head.length);
    this.buf += text;
    const re = /"(key|revision|more|count)"\s*:\s*("([A-Za-z0-9+/=]*)"|true|false|-?\d+)/g;
    let m: RegExpExecArray | null;
    let done = 0;
    // Go writes `"key":"<base64>"` with no spaces: those keys are taken by index (a listing of the whole keyspace
    // is mostly them), until the first header field or a key written any other way, which the regex reads.
    const KEY = '"key":"';
    const field = Math.min(...['"revision"', '"more"', '"count"'].map((f) => this.buf.indexOf(f)).map((i) => (i < 0 ? Infinity : i)));
    for (let at = this.buf.indexOf(KEY); at >= 0 && at < field && this.buf.indexOf('"key"', done) === at; at = this.buf.indexOf(KEY, done)) {
      const close = this.buf.indexOf('"', at + KEY.length);
      if (close < 0) break;
      const b64 = this.buf.slice(at + KEY.length, close);
      if (!BASE64.test(b64)) break;
      this.seen++;
      this.onKey(Buffer.from(b64, 'base64').toString('latin1'));
      done = close + 1;
    }
    re.lastIndex = done;
    while ((m = re.exec(this.buf))) {
      // A number at the very end of the buffer may go on in the next chunk.
      if (m[3] === undefined && re.lastIndex === this.buf.length) break;
      done = re.lastIndex;
      if (m[1] === 'key' && m[3] !== undefined) {
        this.seen++;
        this.onKey(Buffer.from(m[3], 'base64').toString('latin1'));
      } else if (m[1] === 'revision' && this.revision === undefined) this.revision = int(m[2]);
      else if (m[1] === 'more') this.more = m[2] === 'true';
      else if (m[1] === 'count') this.count = int(m[2]);
    }
    // Keep a field the chunk boundary cut: from its name when it has one, else the tail a name may start in.
    const rest = this.buf.slice(done);
    const cut = Math.max(...['"key"', '"revision"', '"more"', '"count"'].map((f) => rest.lastIndexOf(f)));
    this.buf = cut >= 0 ? rest.slice(cut) : rest.slice(-16);
  }

  /** The listing's header figures; throws when the output was no listing, or `count` disagrees with the keys seen. */
  end(): { revision: number; more: boolean; count: number; keys: number } {
    if (this.revision === undefined) throw new OutputParseError('get', this.head);
    const count = this.count ?? 0;
    if (!this.more && count !== this.seen) throw new OutputParseError('get', `${this.head} (${this.seen} keys read, the server counted ${count})`);
    return { revision: this.revision, more: this.more, count, keys: this.seen };
  }
}

/** One whole page of `etcdctl get ... --keys-only -w json`, through the same reader. */
export function parseKeyPage(text: string): KeyPage {
  const keys: string[] = [];
  const listing = new KeyListing((k) => keys.push(k));
  listing.push(text);
  const { revision, more, count } = listing.end();
  return { revision, keys, more, count };
}

/** `etcdctl version` / `etcdutl version` / `etcd --version`: the x.y.z it names first. */
export function parseToolVersion(text: string): string | undefined {
  return /(?:version|Version):\s*v?(\d+\.\d+\.\d+)/.exec(text)?.[1];
}

/** Orders two x.y[.z] versions by major and minor only (-1, 0, 1): what etcd's data and tool compatibility follow. */
export function compareMinor(a: string, b: string): number {
  const [am = 0, an = 0] = a.replace(/^v/, '').split('.').map(Number);
  const [bm = 0, bn = 0] = b.replace(/^v/, '').split('.').map(Number);
  return Math.sign(am - bm || an - bn);
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
const REGISTRY = '/registry/';

export function prefixOfKey(key: string): string {
  if (!key.startsWith(REGISTRY)) return OTHER_PREFIX;
  // Called once per key of the whole keyspace: slashes found by index, the prefix sliced off the key (no split).
  const a = key.indexOf('/', REGISTRY.length);
  const first = a < 0 ? key.slice(REGISTRY.length) : key.slice(REGISTRY.length, a);
  if (first === '') return REGISTRY;
  if (a >= 0 && first.includes('.') && !isResourceDotGroup(first)) {
    // /registry/<group>/<resource>/...: a non-empty resource segment with something after it.
    const b = key.indexOf('/', a + 1);
    if (b > a + 1) return key.slice(0, b);
  }
  return a < 0 ? key : key.slice(0, a);
}


/** Counts keys by prefix one key at a time, so a listing never has to be held whole. */
export class KeyCounter {
  readonly #counts = new Map<string, number>();
  // A listing comes in key order: keys of one prefix arrive together, counted here before they go into the map.
  #run: { prefix: string; n: number } | undefined;
  total = 0;
  add(key: string): void {
    const p = prefixOfKey(key);
    this.total++;
    if (this.#run?.prefix === p) this.#run.n++;
    else {
      this.#flush();
      this.#run = { prefix: p, n: 1 };
    }
  }
  #flush(): void {
    if (this.#run) this.#counts.set(this.#run.prefix, (this.#counts.get(this.#run.prefix) ?? 0) + this.#run.n);
    this.#run = undefined;
  }
  get counts(): ReadonlyMap<string, number> {
    this.#flush();
    return this.#counts;
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
