/**
 * The one door to the Kubernetes API (STYLE 3). client-node does what is hard to get right — reading kubeconfig
 * files, contexts, client certificates, tokens and exec/OIDC credential plugins — and is loaded lazily. Requests
 * themselves go over one keep-alive HTTPS agent as plain JSON: validation lists hundreds of pods with hundreds
 * of containers, and client-node's typed models (Date objects, per-field serializers) cost more than they give us.
 */
import { dialRefusal } from '../net/loopback-guard.js';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UserError, fileError } from '../errors.js';
import { KubeApiError, KubeUnreachableError, isNotFound, parseStatus } from './errors.js';
import { knownKind, objectPath, queryString, type KindInfo, type KubeObject } from './paths.js';
import { DEFAULT_RETRY, isIdempotent, retryDelayMs, type RetryPolicy } from './retry.js';

export interface ListResult<T = KubeObject> {
  items: T[];
  resourceVersion: string;
}

interface RequestOptions {
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Return the body as text instead of parsing JSON (pod logs, /readyz). */
  text?: boolean;
  timeoutMs?: number;
  /**
   * Retry on 429/503 even though the method is not idempotent. Only for requests the server refuses before doing
   * anything (a create: a retried one that meets 409 AlreadyExists found its own first attempt).
   */
  retryUnsafe?: boolean;
  /** Told how many times the request was sent, once it succeeded (a latency sample that waited out Retry-After is not one). */
  onAttempts?: (attempts: number) => void;
  /** Told the server's `Warning:` headers (RFC 7234 299 warnings: admission's, deprecations), texts only. */
  onWarnings?: (warnings: string[]) => void;
}

/** The texts of `Warning: 299 - "text"` headers (several may come in one header, comma-separated). */
function parseWarningHeaders(raw: string | string[] | undefined): string[] {
  const all = Array.isArray(raw) ? raw.join(', ') : (raw ?? '');
  const out: string[] = [];
  for (const m of all.matchAll(/\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  return out;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  signal?: AbortSignal;
}

interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  signal?: AbortSignal;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
type WatchHandler = (type: WatchEventType, obj: KubeObject) => void;

/** Where the kubeconfig is: the flag, then $KUBECONFIG (first file of the list), then ~/.kube/config. */
export function resolveKubeconfigPath(file: string | undefined, env: Record<string, string | undefined>): string {
  return kubeconfigFiles(file, env)[0]!;
}

/**
 * The kubeconfig files to read, as kubectl's loading rules have them: the flag (one file), else every file of
 * $KUBECONFIG (a PATH-style list, duplicates dropped), else ~/.kube/config.
 */
function kubeconfigFiles(file: string | undefined, env: Record<string, string | undefined>): string[] {
  if (file) return [file];
  const fromEnv = [...new Set((env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== ''))];
  if (fromEnv.length > 0) return fromEnv;
  return [path.join(env.HOME ?? homedir(), '.kube', 'config')];
}

interface KubeconfigPart {
  clusters: { name: string }[];
  users: { name: string }[];
  contexts: { name: string }[];
  currentContext: string;
}

/**
 * Merges kubeconfig files as kubectl does (client-go clientcmd): the first file to define a cluster, user or
 * context name wins, and the first non-empty current-context wins. Each part's relative paths are already
 * resolved against its own file. Pure.
 */
function mergeKubeconfigs<T extends KubeconfigPart>(parts: readonly T[]): { clusters: T['clusters']; users: T['users']; contexts: T['contexts']; currentContext: string } {
  const firstByName = <X extends { name: string }>(lists: X[][]): X[] => {
    const seen = new Map<string, X>();
    for (const list of lists) for (const x of list) if (!seen.has(x.name)) seen.set(x.name, x);
    return [...seen.values()];
  };
  return {
    clusters: firstByName(parts.map((p) => p.clusters)),
    users: firstByName(parts.map((p) => p.users)),
    contexts: firstByName(parts.map((p) => p.contexts)),
    currentContext: parts.find((p) => p.currentContext)?.currentContext ?? '',
  };
}

interface AuthState {
  headers: Record<string, string>;
  at: number;
}

/** A connection to one cluster (one kubeconfig context). */
export class KubeClient {
  readonly server: string;
  readonly contextName: string;
  private readonly kc: import('@kubernetes/client-node').KubeConfig;
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  private readonly timeoutMs: number;
  private auth?: AuthState;
  private readonly kinds = new Map<string, KindInfo>();
  readonly retry: RetryPolicy;

  /** Trusts the same CA but presents no client certificate: what an anonymous caller sees (the security suite). */
  private readonly anonymousAgent?: http.Agent;

  constructor(kc: import('@kubernetes/client-node').KubeConfig, agent: http.Agent, server: string, timeoutMs: number, retry: RetryPolicy = DEFAULT_RETRY, anonymousAgent?: http.Agent) {
    this.kc = kc;
    this.anonymousAgent = anonymousAgent;
    this.retry = retry;
    this.agent = agent;
    this.server = server.replace(/\/+$/, '');
    this.contextName = kc.getCurrentContext();
    this.mod = this.server.startsWith('http://') ? http : https;
    this.timeoutMs = timeoutMs;
  }

  /** Credentials can come from plugins that expire; re-ask client-node every minute (it caches tokens itself). */
  private async headers(): Promise<Record<string, string>> {
    if (this.auth && Date.now() - this.auth.at < 60_000) return this.auth.headers;
    const o: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (o.auth) headers.Authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    this.auth = { headers, at: Date.now() };
    return headers;
  }

  /**
   * One API request. Error statuses become KubeApiError; a connection failure KubeUnreachableError. Idempotent
   * requests (and those marked retryUnsafe) that meet 429/503 are asked again after Retry-After, within the
   * client's retry budget; the error that ends the budget carries `attempts`.
   */
  async request<T = unknown>(method: string, apiPath: string, opts: RequestOptions = {}): Promise<T> {
    const mayRetry = opts.retryUnsafe === true || isIdempotent(method);
    return this.retrying(() => this.send<T>(method, apiPath, opts), { mayRetry, signal: opts.signal, onAttempts: opts.onAttempts });
  }

  /**
   * The one retry loop (requests and watch connections): `once` again after each 429/503 retryDelayMs allows,
   * within the client's budget. The KubeApiError that ends it carries `attempts`; an abort during a wait rejects
   * with an AbortError.
   */
  private async retrying<T>(once: () => Promise<T>, o: { mayRetry: boolean; signal?: AbortSignal; onAttempts?: (n: number) => void }): Promise<T> {
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await once();
        o.onAttempts?.(attempt + 1);
        return r;
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        err.attempts = attempt + 1;
        const delay = o.mayRetry ? retryDelayMs(err.code, err.retryAfter, attempt, waited, this.retry) : undefined;
        if (delay === undefined) throw err;
        await sleep(delay, o.signal);
        waited += delay;
      }
    }
  }

  private async send<T>(method: string, apiPath: string, opts: RequestOptions): Promise<T> {
    const headers: Record<string, string> = { ...(await this.headers()), Accept: opts.text ? '*/*' : 'application/json' };
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    if (payload !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const url = new URL(this.server + apiPath);
    return new Promise<T>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(abortError());
      const req = this.mod.request(url, { method, headers, agent: this.agent, timeout: opts.timeoutMs ?? this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubeUnreachableError(this.server, e)));
        res.on('end', () => {
          opts.signal?.removeEventListener('abort', onAbort);
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (opts.onWarnings && res.headers.warning !== undefined) opts.onWarnings(parseWarningHeaders(res.headers.warning));
          if (code >= 400) {
            return reject(apiErrorOf(method, apiPath, code, text, res.headers));
          }
          if (opts.text) return resolve(text as T);
          try {
            resolve((text === '' ? {} : JSON.parse(text)) as T);
          } catch {
            reject(new KubeApiError(method, apiPath, code, { message: `response is not JSON: ${text.slice(0, 200)}` }));
          }
        });
      });
      const onAbort = () => {
        req.destroy(abortError());
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round((opts.timeoutMs ?? this.timeoutMs) / 1000)}s`)));
      req.on('error', (e) => {
        opts.signal?.removeEventListener('abort', onAbort);
        reject(e.name === 'AbortError' ? e : new KubeUnreachableError(this.server, e));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** The REST path facts of a kind: static for the common ones, discovery for the rest. */
  async kindInfo(apiVersion: string, kind: string): Promise<KindInfo> {
    const known = knownKind(apiVersion, kind) ?? this.kinds.get(`${apiVersion}/${kind}`);
    if (known) return known;
    const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.request<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>('GET', prefix);
    const r = list.resources?.find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) throw new UserError(`the cluster does not serve ${kind} in ${apiVersion}`, { fix: 'install the CRD or the API that provides it' });
    const info = { resource: r.name, namespaced: r.namespaced };
    this.kinds.set(`${apiVersion}/${kind}`, info);
    return info;
  }

  async pathOf(obj: Pick<KubeObject, 'apiVersion' | 'kind'> & { metadata?: { name?: string; namespace?: string } }, withName = true): Promise<string> {
    const info = await this.kindInfo(obj.apiVersion, obj.kind);
    return objectPath(obj.apiVersion, info, obj.metadata?.namespace, withName ? obj.metadata?.name : undefined);
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', await this.pathOf({ apiVersion, kind, metadata: { name, namespace } }), { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Every object of a kind (following `continue` pages). */
  async list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts: ListOptions = {}): Promise<ListResult<T>> {
    const base = await this.pathOf({ apiVersion, kind, metadata: { namespace: opts.namespace } }, false);
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.request<{ items?: T[]; metadata?: { resourceVersion?: string; continue?: string } }>(
        'GET',
        base + queryString({ labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: 500, continue: cont }),
        { signal: opts.signal },
      );
      // List items carry no apiVersion/kind; put them back so objects can be passed on (delete, get).
      for (const it of page.items ?? []) items.push({ ...it, apiVersion: it.apiVersion ?? apiVersion, kind: it.kind ?? kind });
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /**
   * Creates. A 429/503 is refused before anything is stored, so it is asked again; when a retried create meets
   * 409 AlreadyExists, an earlier attempt got through after all (its answer lost): the object is returned.
   */
  async create<T extends KubeObject = KubeObject>(obj: T, signal?: AbortSignal): Promise<T> {
    try {
      return await this.request<T>('POST', await this.pathOf(obj, false), { body: obj, signal, retryUnsafe: true });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 409 && err.reason === 'AlreadyExists' && (err.attempts ?? 1) > 1 && obj.metadata?.name) {
        const got = await this.get<T>(obj.apiVersion, obj.kind, obj.metadata.name, obj.metadata.namespace, signal);
        if (got) return got;
      }
      throw err;
    }
  }

  /** Server-side apply (create or update), field manager "groundwork". */
  async apply<T extends KubeObject = KubeObject>(obj: T, signal?: AbortSignal): Promise<T> {
    const p = (await this.pathOf(obj)) + queryString({ fieldManager: 'groundwork', force: true });
    return this.request<T>('PATCH', p, { body: obj, contentType: 'application/apply-patch+yaml', signal });
  }

  async patchMerge<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, namespace: string | undefined, patch: unknown, signal?: AbortSignal): Promise<T> {
    const p = await this.pathOf({ apiVersion, kind, metadata: { name, namespace } });
    return this.request<T>('PATCH', p, { body: patch, contentType: 'application/merge-patch+json', signal });
  }

  /** Deletes; true when it existed. */
  async delete(apiVersion: string, kind: string, name: string, namespace?: string, opts: DeleteOptions = {}): Promise<boolean> {
    const p = await this.pathOf({ apiVersion, kind, metadata: { name, namespace } });
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: opts.propagationPolicy ?? 'Background', gracePeriodSeconds: opts.gracePeriodSeconds };
    try {
      await this.request('DELETE', p, { body, signal: opts.signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * A GET with no credentials at all (no token, no client certificate), as anyone who reaches the port could send:
   * the status code and the start of the body. Never retried; 0 when the connection failed.
   */
  async anonymousGet(apiPath: string, signal?: AbortSignal): Promise<{ code: number; body: string }> {
    const agent = this.anonymousAgent ?? this.agent;
    return new Promise((resolve) => {
      const req = this.mod.request(new URL(this.server + apiPath), { method: 'GET', agent, headers: { Accept: 'application/json' }, timeout: this.timeoutMs, signal }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body = (body + c.toString('utf8')).slice(0, 4000)));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ code: 0, body: '' }));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve({ code: 0, body: '' }));
      req.end();
    });
  }

  /** Raw GET of a non-resource path as text: /readyz, /livez, /version. */
  async raw(apiPath: string, signal?: AbortSignal, onAttempts?: (attempts: number) => void): Promise<string> {
    return this.request<string>('GET', apiPath, { text: true, signal, onAttempts });
  }

  /** A container's log (all of it, or the last `tailLines`). */
  async podLogs(namespace: string, pod: string, container?: string, opts: { tailLines?: number; signal?: AbortSignal } = {}): Promise<string> {
    const p = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log${queryString({ container, tailLines: opts.tailLines })}`;
    return this.request<string>('GET', p, { text: true, signal: opts.signal });
  }

  /**
   * Watches a kind from `resourceVersion` (reconnecting when the server ends the stream) until `signal` aborts.
   * Resolves when the first connection is established. A 410 Expired ends the watch with onGone (list again).
   */
  async watch(apiVersion: string, kind: string, opts: ListOptions & { resourceVersion: string; onGone?: () => void; onError?: (e: Error) => void }, onEvent: WatchHandler): Promise<void> {
    const base = await this.pathOf({ apiVersion, kind, metadata: { namespace: opts.namespace } }, false);
    let rv = opts.resourceVersion;
    const signal = opts.signal;
    // An overloaded server refuses a watch like any request (429/503, Retry-After): connect again in the budget.
    const connect = (): Promise<void> =>
      this.retrying(connectOnce, { mayRetry: true, signal }).catch((e: unknown) => {
        // Stopped while waiting to connect again: the watch ends quietly, as when stopped while connected.
        if (signal?.aborted && (e as Error).name === 'AbortError') return;
        throw e;
      });
    const connectOnce = (): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        void this.headers().then((headers) => {
          if (signal?.aborted) return resolve();
          const q = queryString({ watch: 1, resourceVersion: rv, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, allowWatchBookmarks: true, timeoutSeconds: 300 });
          const req = this.mod.request(new URL(this.server + base + q), { method: 'GET', headers: { ...headers, Accept: 'application/json' }, agent: this.agent }, (res) => {
            if ((res.statusCode ?? 0) >= 400) {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                reject(apiErrorOf('WATCH', base, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), res.headers));
              });
              return;
            }
            resolve();
            let buf = '';
            let gone = false;
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              buf += chunk;
              let i: number;
              while ((i = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, i).trim();
                buf = buf.slice(i + 1);
                if (line === '') continue;
                let ev: { type: WatchEventType; object: KubeObject };
                try {
                  ev = JSON.parse(line) as typeof ev;
                } catch {
                  continue;
                }
                if (ev.type === 'ERROR') {
                  const st = ev.object as unknown as { code?: number };
                  if (st.code === 410) {
                    gone = true;
                    opts.onGone?.();
                  }
                  continue;
                }
                rv = ev.object?.metadata?.resourceVersion ?? rv;
                if (ev.type === 'BOOKMARK') continue;
                onEvent(ev.type, { ...ev.object, apiVersion: ev.object.apiVersion ?? apiVersion, kind: ev.object.kind ?? kind });
              }
            });
            res.on('error', () => undefined);
            res.on('close', () => {
              signal?.removeEventListener('abort', onAbort);
              // The server ends watches now and then (timeoutSeconds); carry on from the last version seen.
              if (!signal?.aborted && !gone) {
                setTimeout(() => {
                  connect().catch((e: Error) => opts.onError?.(e));
                }, 50);
              }
            });
          });
          const onAbort = () => req.destroy();
          signal?.addEventListener('abort', onAbort, { once: true });
          req.on('error', (e) => {
            signal?.removeEventListener('abort', onAbort);
            if (signal?.aborted) return resolve();
            reject(new KubeUnreachableError(this.server, e));
          });
          req.end();
        }, reject);
      });
    await connect();
  }

  /** Frees the sockets (the process can exit without waiting for keep-alive timeouts). */
  close(): void {
    this.agent.destroy();
    this.anonymousAgent?.destroy();
  }
}

/** An error status as a KubeApiError, with the Retry-After the server sent. */
function apiErrorOf(method: string, apiPath: string, code: number, body: string, headers: http.IncomingHttpHeaders): KubeApiError {
  const e = new KubeApiError(method, apiPath, code, parseStatus(body));
  const ra = headers['retry-after'];
  e.retryAfter = Array.isArray(ra) ? ra[0] : ra;
  return e;
}

/** Waits, or rejects with an AbortError when the signal fires first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(): Error {
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Per-request timeout (ms). Default 30 s. */
  requestTimeoutMs?: number;
  /** Retries on 429/503 (default: 10 retries, 60 s of waiting per request, as client-go). */
  retry?: RetryPolicy;
  /** Talk to this URL instead of the cluster's server, with the same CA and credentials (e.g. a lab's admin listener). */
  server?: string;
  /**
   * Talk to the `server` of the current cluster's extension of this name, when the kubeconfig has one (kubectl keeps
   * cluster extensions, client-node drops them): how a lab on the real API says where its admin listener is.
   */
  serverExtension?: string;
}

/** The `server` of the named extension of the current cluster, read from the kubeconfig file itself. */
function extensionServer(file: string, clusterName: string, extension: string): string | undefined {
  type Doc = { clusters?: { name?: string; cluster?: { extensions?: { name?: string; extension?: { server?: unknown } }[] } }[] };
  let doc: Doc | undefined;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) as Doc;
  } catch {
    return undefined; // client-node read it already; a problem here is reported as that one was
  }
  const ext = doc?.clusters?.find((c) => c.name === clusterName)?.cluster?.extensions?.find((x) => x?.name === extension);
  return typeof ext?.extension?.server === 'string' ? ext.extension.server : undefined;
}

/**
 * Reads a kubeconfig (the file, $KUBECONFIG or ~/.kube/config) and picks a context (the given one or the file's
 * current-context). Problems are UserErrors naming the flag that fixes them.
 */
type ClientNode = Pick<typeof import('@kubernetes/client-node'), 'KubeConfig'>;

/**
 * client-node's KubeConfig, the only part of it the door uses. `npm run build` also writes
 * dist/kube/client-node.bundle.js (src/kube/build-bundle.mjs): KubeConfig and its auth plugins in one file,
 * without the generated API clients and models the package's entry loads (~1.5 s of 826 modules; issue 17).
 * It is used only when newer than tsc's client.js, so a bundle left behind by an older build never runs; from
 * src (tests) there is no bundle and the package loads as it is.
 */
async function loadClientNode(): Promise<ClientNode> {
  const bundle = new URL('./client-node.bundle.js', import.meta.url);
  try {
    if (statSync(bundle).mtimeMs >= statSync(new URL(import.meta.url)).mtimeMs) return (await import(bundle.href)) as ClientNode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return import('@kubernetes/client-node');
}

export async function loadKubeConfig(file?: string, context?: string, opts: LoadOptions = {}): Promise<KubeClient> {
  const env = opts.env ?? process.env;
  const listed = kubeconfigFiles(file, env);
  // As kubectl: files of a $KUBECONFIG list that don't exist are skipped; a --kubeconfig that doesn't is an error.
  const files = listed.filter((f) => existsSync(f));
  const kubeconfig = files.join(path.delimiter) || listed.join(path.delimiter);
  if (files.length === 0) {
    throw new UserError(`no kubeconfig at ${kubeconfig}`, {
      exitCode: 2,
      fix: 'pass --kubeconfig FILE (or set KUBECONFIG) pointing at the cluster to test',
    });
  }
  for (const f of files) {
    try {
      if (statSync(f).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      closeSync(openSync(f, 'r'));
    } catch (e) {
      throw fileError('kubeconfig', f, e, { fix: 'pass --kubeconfig FILE (or set KUBECONFIG) pointing at the cluster to test' });
    }
  }
  const { KubeConfig } = await loadClientNode();
  const read = (f: string) => {
    const one = new KubeConfig();
    try {
      one.loadFromFile(f);
    } catch (err) {
      // Never the parser's message: it quotes the offending line, which may hold a token.
      const mark = (err as { mark?: { line?: number; column?: number } }).mark;
      const where = mark?.line !== undefined ? `:${mark.line + 1}:${(mark.column ?? 0) + 1}` : '';
      throw new UserError(`cannot read kubeconfig ${f}${where}: not a valid kubeconfig`, { exitCode: 2, fix: 'pass a valid kubeconfig with --kubeconfig' });
    }
    return one;
  };
  let kc = read(files[0]!);
  if (files.length > 1) {
    const merged = mergeKubeconfigs(files.map(read));
    kc = new KubeConfig();
    kc.loadFromOptions(merged);
  }
  if (context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context)) {
      throw new UserError(`context "${context}" is not in ${kubeconfig}`, { exitCode: 2, fix: `use one of: ${names.join(', ') || '(none)'}` });
    }
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new UserError(`kubeconfig ${kubeconfig} has no current context`, { exitCode: 2, fix: 'pass --context NAME' });
  }
  const server = opts.server ?? (opts.serverExtension ? files.map((f) => extensionServer(f, cluster.name, opts.serverExtension!)).find(Boolean) : undefined) ?? cluster.server;
  let serverHost = '';
  try {
    serverHost = new URL(server).hostname.replace(/^\[|\]$/g, '');
  } catch {
    throw new UserError(`kubeconfig ${kubeconfig}: the cluster's server "${server}" is not a URL`, { exitCode: 2 });
  }
  const refusal = dialRefusal(serverHost, env);
  if (refusal) throw new UserError(`kubeconfig ${kubeconfig}: ${refusal}`, { exitCode: 2 });
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const agentOpts: https.AgentOptions = {
    keepAlive: true,
    maxSockets: 32,
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    servername: o.servername,
    rejectUnauthorized: o.rejectUnauthorized,
  };
  const agent = server.startsWith('http://') ? new http.Agent({ keepAlive: true, maxSockets: 32 }) : new https.Agent(agentOpts);
  const anonymous = server.startsWith('http://') ? undefined : new https.Agent({ keepAlive: false, ca: o.ca, servername: o.servername, rejectUnauthorized: o.rejectUnauthorized });
  return new KubeClient(kc, agent, server, opts.requestTimeoutMs ?? 30_000, opts.retry, anonymous);
}
