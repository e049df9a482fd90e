/**
 * The etcd backend: objects live in a real etcd under `/registry/<resource>/<namespace>/<name>` as JSON
 * (kube-apiserver stores protobuf there; JSON keeps the keys and revisions identical in shape and is readable
 * with `etcdctl get`). resourceVersion = the key's mod revision, so a lab restarted on the same etcd — or on a
 * restored snapshot — serves the same objects and versions.
 *
 * It talks to etcd 3.4's gRPC-gateway JSON API (POST /v3/kv/range, /v3/kv/txn on the client URL) with fetch:
 * no etcd client dependency. Writes are compare-and-swap transactions on the mod revision.
 */
import { Store, type Backend, type StoreOptions } from './store.js';
import { ApiError, type KubeObject } from './types.js';
import { checkObjectShape, isJsonMap } from './limits.js';

const PREFIX = '/registry/';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  buf[buf.length - 1]++;
  return buf.toString('utf8');
}

interface RangeResponse {
  header?: { revision?: string };
  kvs?: { key: string; value?: string; mod_revision?: string }[];
  more?: boolean;
}

interface TxnResponse {
  header?: { revision?: string };
  succeeded?: boolean;
}

export class EtcdBackend implements Backend {
  private readonly base: string;
  constructor(url: string) {
    const u = new URL(url);
    if (!/^127\./.test(u.hostname) && u.hostname !== 'localhost' && u.hostname !== '[::1]') {
      // The lab's world is this machine.
      throw new RangeError(`the lab only talks to an etcd on loopback, not ${u.hostname}`);
    }
    this.base = url.replace(/\/+$/, '');
  }

  private async call<T>(path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    } catch (e) {
      throw new Error(`cannot reach etcd at ${this.base}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    // etcd's own size limit (--max-request-bytes): the client's object is too big, not the lab broken.
    if (!res.ok && text.includes('request is too large')) throw new ApiError(413, 'RequestEntityTooLarge', 'etcdserver: request is too large');
    if (!res.ok) throw new Error(`etcd ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  async load(): Promise<{ objects: KubeObject[]; revision: number }> {
    const objects: KubeObject[] = [];
    const end = b64(prefixEnd(PREFIX));
    let key = b64(PREFIX);
    let revision = 0;
    for (;;) {
      const r = await this.call<RangeResponse>('/v3/kv/range', { key, range_end: end, limit: 1000, ...(revision ? { revision } : {}) });
      if (!revision) revision = Number(r.header?.revision ?? 0);
      const kvs = r.kvs ?? [];
      for (const kv of kvs) {
        try {
          const obj = JSON.parse(unb64(kv.value ?? '')) as KubeObject;
          if (!isJsonMap(obj) || !isJsonMap(obj.metadata)) continue;
          obj.metadata.resourceVersion = String(kv.mod_revision ?? '0');
          objects.push(obj);
        } catch {
          // Not ours (e.g. a real apiserver's protobuf): skip it.
        }
      }
      if (!r.more || kvs.length === 0) break;
      key = b64(`${unb64(kvs[kvs.length - 1].key)}\0`);
    }
    return { objects, revision };
  }

  private async txn(key: string, expectRev: number, op: Record<string, unknown>): Promise<number | 'conflict'> {
    const r = await this.call<TxnResponse>('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(expectRev) }],
      success: [op],
    });
    if (!r.succeeded) return 'conflict';
    return Number(r.header?.revision ?? 0);
  }

  async put(key: string, obj: KubeObject, expectRev: number): Promise<number | 'conflict'> {
    checkObjectShape(obj);
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    const value = JSON.stringify({ ...obj, metadata: meta });
    return this.txn(key, expectRev, { request_put: { key: b64(key), value: b64(value) } });
  }

  remove(key: string, expectRev: number): Promise<number | 'conflict'> {
    return this.txn(key, expectRev, { request_delete_range: { key: b64(key) } });
  }

  async close(): Promise<void> {}
}

export async function createEtcdStore(url: string, opts: StoreOptions = {}): Promise<Store> {
  const s = new Store(new EtcdBackend(url), opts);
  await s.init();
  return s;
}
