/**
 * The lab's Kubernetes API over HTTPS (node:https): bearer-token authentication, discovery, the REST verbs
 * on every served resource and subresource, watch streams, pods/log, Tables for kubectl, Status errors.
 * It translates HTTP to LabStore calls and nothing more: apiserver semantics live in the store.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import {
  ApiError,
  type ApiRequestInfo,
  type DeleteOptions,
  type KubeObject,
  type LabStore,
  type PodLogs,
  type RequestInterceptor,
  type ResourceType,
  type Verb,
} from '../store/types.js';
import { patchTypeOf } from '../store/patch.js';
import { apiVersionOf } from '../store/resources.js';
import { AUTHZ_GROUP, answerSelfReview, apiGroup, apiGroupList, apiResourceList, apiVersions, authzResourceList, versionInfo } from './discovery.js';
import { toTable, wantsTable } from './table.js';
import type { AdminHandler } from '../types.js';
import { answerAdmin } from './admin.js';
import { formatLogLine, selectLogLines, streamContainerLog, type LogQuery } from './container-log.js';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_ANSWER, openApiV2, openApiV2Protobuf, openApiV3Index, openApiV3Doc } from './openapi.js';
import { decodeKubeProtobuf, isProtobuf } from './protobuf.js';
import { ITEMS_PER_YIELD, MAX_REQUEST_BODY_BYTES, checkObjectShape, depthExceeds, flowDepthExceeds, tooDeep, yieldToEventLoop } from '../store/limits.js';
import { checkPatchBody } from '../store/patch.js';
import { checkFieldSelector } from '../store/selectors.js';

interface ApiServerOptions {
  store: LabStore;
  logs: PodLogs;
  token: string;
  certPem: string;
  keyPem: string;
  host?: string;
  port?: number;
}

interface ApiServer {
  url: string;
  port: number;
  addInterceptor(fn: RequestInterceptor): () => void;
  addAdminRoute(name: string, handler: AdminHandler): void;
  close(): Promise<void>;
}

interface Route {
  rt: ResourceType;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function send(res: ServerResponse, code: number, body: unknown, contentType = 'application/json', extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

function sendBytes(res: ServerResponse, code: number, body: Buffer, contentType: string): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private', 'Content-Length': body.length });
  res.end(body);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
  // kube-apiserver sets Retry-After alongside details.retryAfterSeconds (429s and 503s); client-go honours the header.
  const retry = err.details?.retryAfterSeconds;
  const extra: Record<string, string> = retry !== undefined ? { 'Retry-After': String(retry) } : {};
  // A body too large may still be arriving: close the connection rather than read the rest of it.
  if (err.code === 413) extra.Connection = 'close';
  send(res, err.code, err.toStatus(), 'application/json', extra);
}

/** Items written or replayed between two turns of the event loop. */
const LIST_BATCH = 4 * ITEMS_PER_YIELD;

function bodyTooLarge(): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_REQUEST_BODY_BYTES}`);
}

/** Reads a request body of at most 3 MiB (kube-apiserver's MaxRequestBodyBytes); 413 beyond, without reading on. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BODY_BYTES) throw bodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_REQUEST_BODY_BYTES) throw bodyTooLarge();
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** JSON, YAML or protobuf into a value no deeper than the lab reads (400 otherwise, before any deep work). */
function parseBody(body: Buffer, contentType: string | undefined): unknown {
  if (isProtobuf(contentType) && body.length > 0) {
    const obj = decodeKubeProtobuf(body);
    if (depthExceeds(obj)) throw tooDeep();
    return obj;
  }
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  // The YAML parser recurses per flow level: count them before it sees the text.
  if (flowDepthExceeds(text)) throw tooDeep();
  let value: unknown;
  try {
    value = (contentType ?? '').includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'BadRequest', `the body of the request was in an unknown format: ${(e as Error).message.split('\n')[0]}`);
  }
  // Block-style YAML nests by indentation, which the scan above does not count.
  if (depthExceeds(value)) throw tooDeep();
  return value;
}

/** A boolean query parameter as Go's strconv.ParseBool reads it: the Python client sends `watch=True`. */
function boolParam(q: URLSearchParams, k: string): boolean {
  const v = q.get(k);
  return v === '1' || v === 't' || v === 'T' || v === 'true' || v === 'TRUE' || v === 'True';
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { store, logs } = opts;
  const host = opts.host ?? '127.0.0.1';
  const interceptors: RequestInterceptor[] = [];
  const admin = new Map<string, AdminHandler>();
  const tokenBuf = Buffer.from(`Bearer ${opts.token}`);
  const openStreams = new Set<ServerResponse>();
  let serverAddress = `${host}:0`;

  function authenticated(req: IncomingMessage): boolean {
    const h = Buffer.from(req.headers.authorization ?? '');
    return h.length === tokenBuf.length && timingSafeEqual(h, tokenBuf);
  }

  /** Splits /api/v1/... and /apis/g/v/... into a Route, or undefined when it isn't a resource path. */
  function route(segs: string[]): Route | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 3) {
      group = '';
      version = segs[1];
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 4 && segs[1] !== AUTHZ_GROUP) {
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else return undefined;
    const find = (resource: string) => store.resources.all().find((t) => t.group === group && t.version === version && t.resource === resource);
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const rt = find(rest[2]);
      if (rt?.namespaced) return { rt, resource: store.resources.nameOf(rt), namespace: rest[1], name: rest[3], subresource: rest[4] };
    }
    const rt = find(rest[0]);
    if (!rt) throw resourceNotFound();
    return { rt, resource: store.resources.nameOf(rt), name: rest[1], subresource: rest[2] };
  }

  function verbOf(method: string, r: Route, q: URLSearchParams): Verb {
    if (method === 'GET') return boolParam(q, 'watch') && !r.subresource ? 'watch' : r.name ? 'get' : 'list';
    if (method === 'POST') return 'create';
    if (method === 'PUT') return 'update';
    if (method === 'PATCH') return 'patch';
    if (method === 'DELETE') return r.name ? 'delete' : 'deletecollection';
    throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }

  async function handleDiscovery(req: IncomingMessage, res: ServerResponse, segs: string[]): Promise<boolean> {
    const p = `/${segs.join('/')}`;
    const types = store.resources.all();
    if (p === '/version') return send(res, 200, versionInfo()), true;
    if (p === '/healthz' || p === '/livez' || p === '/readyz') return send(res, 200, 'ok', 'text/plain; charset=utf-8'), true;
    if (p === '/api') return send(res, 200, apiVersions(serverAddress)), true;
    if (p === '/apis') return send(res, 200, apiGroupList(types)), true;
    if (segs[0] === 'api' && segs.length === 2) {
      if (!types.some((t) => t.group === '' && t.version === segs[1])) throw resourceNotFound();
      return send(res, 200, apiResourceList(types, '', segs[1])), true;
    }
    if (segs[0] === 'apis' && segs[1] === AUTHZ_GROUP) {
      if (segs.length === 2) return send(res, 200, apiGroup(AUTHZ_GROUP, ['v1'])), true;
      if (segs.length === 3 && segs[2] === 'v1') return send(res, 200, authzResourceList()), true;
      const kind = segs[3] === 'selfsubjectaccessreviews' ? 'SelfSubjectAccessReview' : segs[3] === 'selfsubjectrulesreviews' ? 'SelfSubjectRulesReview' : undefined;
      if (segs.length === 4 && segs[2] === 'v1' && kind) {
        if (req.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const body = parseBody(await readBody(req), req.headers['content-type']) as Record<string, unknown> | undefined;
        return send(res, 201, answerSelfReview(kind, body)), true;
      }
      throw resourceNotFound();
    }
    if (segs[0] === 'apis' && segs.length === 2) {
      const vs = [...new Set(types.filter((t) => t.group === segs[1]).map((t) => t.version))];
      if (vs.length === 0) throw resourceNotFound();
      return send(res, 200, apiGroup(segs[1], vs)), true;
    }
    if (segs[0] === 'apis' && segs.length === 3) {
      if (!types.some((t) => t.group === segs[1] && t.version === segs[2])) throw resourceNotFound();
      return send(res, 200, apiResourceList(types, segs[1], segs[2])), true;
    }
    if (p === '/openapi/v2') {
      if ((req.headers.accept ?? '').includes(OPENAPI_V2_PROTOBUF)) return sendBytes(res, 200, openApiV2Protobuf(), OPENAPI_V2_PROTOBUF_ANSWER), true;
      return send(res, 200, openApiV2(types)), true;
    }
    if (p === '/openapi/v3') return send(res, 200, openApiV3Index(types)), true;
    if (segs[0] === 'openapi' && segs[1] === 'v3' && segs.length >= 4) {
      const gv = segs.slice(2).join('/');
      const doc = openApiV3Doc(types, gv);
      if (!doc) throw resourceNotFound();
      return send(res, 200, doc), true;
    }
    return false;
  }

  function deleteOptionsOf(q: URLSearchParams, body: unknown): DeleteOptions {
    const b = (body ?? {}) as DeleteOptions & { orphanDependents?: boolean };
    const policy = (q.get('propagationPolicy') ?? b.propagationPolicy ?? (b.orphanDependents ? 'Orphan' : undefined)) as DeleteOptions['propagationPolicy'];
    return {
      propagationPolicy: policy,
      preconditions: b.preconditions,
      gracePeriodSeconds: q.has('gracePeriodSeconds') ? Number(q.get('gracePeriodSeconds')) : b.gracePeriodSeconds,
      dryRun: q.get('dryRun') === 'All' || (Array.isArray((b as { dryRun?: string[] }).dryRun) && (b as { dryRun?: string[] }).dryRun!.includes('All')),
    };
  }

  function listKind(rt: ResourceType): string {
    return `${rt.kind}List`;
  }

  function renderList(req: IncomingMessage, rt: ResourceType, q: URLSearchParams, r: ReturnType<LabStore['list']>): unknown {
    if (wantsTable(req.headers.accept)) {
      return toTable(rt.kind, r.items, { resourceVersion: r.resourceVersion, continue: r.continue, includeObject: q.get('includeObject') ?? undefined });
    }
    // Built from each object's cached JSON: a 5,000-pod list is then a join, not a 4 MB stringify.
    const head = JSON.stringify({
      kind: listKind(rt),
      apiVersion: apiVersionOf(rt),
      metadata: { resourceVersion: r.resourceVersion, ...(r.continue ? { continue: r.continue, remainingItemCount: r.remainingItemCount } : {}) },
    });
    return `${head.slice(0, -1)},"items":[${r.items.map(jsonOf).join(',')}]}`;
  }

  /**
   * A long list: one body of each object's JSON bytes (cached per stored object, so a list of unchanged objects
   * copies bytes, with no strings built and nothing to collect). JSON not yet cached is made LIST_BATCH objects
   * at a time with the event loop free in between. The items' bytes joined are kept too, per resource and query,
   * and sent again as they are while the list holds the very same objects (stored objects never change: a write
   * makes a new one): a repeated `list pods -A` of 5,000 pods then copies and allocates nothing.
   */
  const listBodies = new Map<string, { items: readonly KubeObject[]; body: Buffer }>();
  async function streamList(res: ServerResponse, rt: ResourceType, r: ReturnType<LabStore['list']>, cacheKey: string): Promise<void> {
    const head = JSON.stringify({
      kind: listKind(rt),
      apiVersion: apiVersionOf(rt),
      metadata: { resourceVersion: r.resourceVersion, ...(r.continue ? { continue: r.continue, remainingItemCount: r.remainingItemCount } : {}) },
    });
    const cached = listBodies.get(cacheKey);
    let items: Buffer;
    if (cached && sameObjects(cached.items, r.items)) items = cached.body;
    else {
      const parts: Buffer[] = [];
      let made = 0;
      for (const [i, o] of r.items.entries()) {
        if (i > 0) parts.push(COMMA);
        let b = bytesCache.get(o);
        if (b === undefined) {
          b = Buffer.from(jsonOf(o));
          bytesCache.set(o, b);
          if (++made % LIST_BATCH === 0) {
            await yieldToEventLoop();
            if (res.destroyed) return;
          }
        }
        parts.push(b);
      }
      items = Buffer.concat(parts);
      listBodies.delete(cacheKey);
      listBodies.set(cacheKey, { items: r.items, body: items });
      // A few queries' bodies, the most recent ones (a Map keeps insertion order).
      if (listBodies.size > MAX_LIST_BODIES) listBodies.delete(listBodies.keys().next().value!);
    }
    const start = Buffer.from(`${head.slice(0, -1)},"items":[`);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': start.length + items.length + LIST_END.length });
    res.write(start);
    res.write(items);
    res.end(LIST_END);
  }

  function renderOne(req: IncomingMessage, rt: ResourceType, q: URLSearchParams, o: KubeObject): unknown {
    if (wantsTable(req.headers.accept)) return toTable(rt.kind, [o], { resourceVersion: o.metadata.resourceVersion, includeObject: q.get('includeObject') ?? undefined });
    return jsonOf(o);
  }

  async function handleWatch(req: IncomingMessage, res: ServerResponse, r: Route, q: URLSearchParams): Promise<void> {
    const rt = r.rt;
    const table = wantsTable(req.headers.accept);
    const includeObject = q.get('includeObject') ?? undefined;
    const rv = q.get('resourceVersion') ?? undefined;
    checkFieldSelector(r.resource, q.get('fieldSelector') ?? undefined);
    const fieldSelector = [q.get('fieldSelector'), r.name ? `metadata.name=${r.name}` : undefined].filter(Boolean).join(',') || undefined;
    const labelSelector = q.get('labelSelector') ?? undefined;
    const bookmarks = boolParam(q, 'allowWatchBookmarks');
    let headerSent = false;
    const write = (type: string, object: unknown) => {
      if (!headerSent) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
        headerSent = true;
      }
      if (res.writableEnded || res.destroyed) return;
      res.write(`{"type":${JSON.stringify(type)},"object":${typeof object === 'object' && object !== null && 'metadata' in object && (object as KubeObject).kind !== 'Table' ? jsonOf(object as KubeObject) : JSON.stringify(object)}}\n`);
    };
    const toWire = (o: KubeObject, type: string): unknown => {
      if (!table || type === 'BOOKMARK' || type === 'ERROR') return o;
      return toTable(rt.kind, [o], { resourceVersion: o.metadata.resourceVersion, includeObject });
    };
    // rv unset or "0": synthetic ADDED events for the current state first (apiserver's "Get State and Start at Most Recent").
    const replay = rv === undefined || rv === '' || rv === '0';
    let stop: () => void;
    const pending: { type: string; object: KubeObject }[] = [];
    let initial = replay;
    try {
      stop = store.watch(r.resource, r.namespace, { resourceVersion: replay ? undefined : rv, labelSelector, fieldSelector, bookmarks }, (e) => {
        if (initial) pending.push(e);
        else write(e.type, toWire(e.object, e.type));
      });
    } catch (e) {
      if (e instanceof ApiError && e.code === 410) {
        // Like the apiserver: a 200 stream carrying one ERROR event with the 410 Status.
        write('ERROR', e.toStatus());
        res.end();
        return;
      }
      throw e;
    }
    openStreams.add(res);
    const timeout = q.has('timeoutSeconds') ? Number(q.get('timeoutSeconds')) * 1000 : 30 * 60_000;
    const timer = setTimeout(() => res.end(), timeout);
    let closed = false;
    const done = () => {
      closed = true;
      clearTimeout(timer);
      stop();
      openStreams.delete(res);
    };
    res.on('close', done);
    req.on('close', done);
    if (replay) {
      const items = store.list(r.resource, r.namespace, { labelSelector, fieldSelector }).items;
      // A long replay lets other requests in between batches; events meanwhile wait in `pending`.
      for (const [i, o] of items.entries()) {
        if (i > 0 && i % LIST_BATCH === 0) {
          await yieldToEventLoop();
          if (closed) return;
        }
        write('ADDED', toWire(o, 'ADDED'));
      }
      initial = false;
      const listed = new Set(items.map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`));
      for (const e of pending) {
        if (e.type === 'ADDED' && listed.has(`${e.object.metadata.namespace}/${e.object.metadata.name}@${e.object.metadata.resourceVersion}`)) continue;
        write(e.type, toWire(e.object, e.type));
      }
    }
    if (!headerSent) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
      headerSent = true;
      res.flushHeaders();
    }
  }

  async function handleLog(req: IncomingMessage, res: ServerResponse, r: Route, q: URLSearchParams): Promise<void> {
    const pod = store.get('pods', r.namespace, r.name!);
    if (!pod) throw new ApiError(404, 'NotFound', `pods "${r.name}" not found`, { name: r.name, kind: 'pods' });
    const spec = pod.spec as { containers?: { name: string }[]; initContainers?: { name: string }[] };
    const names = (spec.containers ?? []).map((c) => c.name);
    let container = q.get('container') ?? undefined;
    if (!container) {
      const def = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
      if (def) container = def;
      else if (names.length === 1) container = names[0];
      else throw new ApiError(400, 'BadRequest', `a container name must be specified for pod ${r.name}, choose one of: [${names.join(' ')}]`);
    }
    if (!names.includes(container) && !(spec.initContainers ?? []).some((c) => c.name === container)) {
      throw new ApiError(400, 'BadRequest', `container ${container} is not valid for pod ${r.name}`);
    }
    const status = pod.status as { containerStatuses?: { name: string; state?: { waiting?: { reason?: string } } }[] } | undefined;
    const cs = status?.containerStatuses?.find((c) => c.name === container);
    const lines = logs.read(r.namespace!, r.name!, container);
    if (lines.length === 0 && (!cs || cs.state?.waiting)) {
      throw new ApiError(400, 'BadRequest', `container "${container}" in pod "${r.name}" is waiting to start: ${cs?.state?.waiting?.reason ?? 'ContainerCreating'}`);
    }
    const query: LogQuery = {
      timestamps: boolParam(q, 'timestamps'),
      follow: boolParam(q, 'follow'),
      ...(q.has('sinceSeconds') ? { sinceSeconds: Number(q.get('sinceSeconds')) } : {}),
      ...(q.has('tailLines') ? { tailLines: Number(q.get('tailLines')) } : {}),
    };
    if (!query.follow) {
      send(res, 200, selectLogLines(lines, query).map((l) => formatLogLine(l, query)).join(''), 'text/plain');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    openStreams.add(res);
    streamContainerLog(res, { store, logs, namespace: r.namespace!, pod: r.name!, container, query, onEnd: () => openStreams.delete(res) });
  }

  async function handleResource(req: IncomingMessage, res: ServerResponse, r: Route, q: URLSearchParams, verb: Verb): Promise<void> {
    const { rt, resource } = r;
    const dryRun = q.get('dryRun') === 'All';
    const fv = q.get('fieldValidation');
    const fieldValidation = fv === 'Strict' || fv === 'Warn' || fv === 'Ignore' ? fv : undefined;
    // Who makes a write, for metadata.managedFields: the request's fieldManager (kubectl always names one). A
    // write that names none records nothing (kube-apiserver would use the User-Agent; the diff costs time on
    // long lists); a server-side apply without one is refused below.
    const fieldManager = q.get('fieldManager') || undefined;
    const sub = r.subresource;
    if (sub && !rt.subresources.includes(sub)) throw resourceNotFound();
    if (sub === 'log') {
      if (verb !== 'get') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      return handleLog(req, res, r, q);
    }
    if (sub === 'binding' || sub === 'eviction') {
      if (verb !== 'create') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = parseBody(await readBody(req), req.headers['content-type']) as { target?: { name?: string } } | undefined;
      if (sub === 'binding') {
        const node = body?.target?.name;
        if (!node) throw new ApiError(422, 'Invalid', 'Binding "" is invalid: target.name: Required value', { causes: [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }] });
        await store.mutate('pods', r.namespace, r.name!, (p) => {
          const spec = p.spec as { nodeName?: string };
          if (spec.nodeName) throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${r.name}": pod ${r.name} is already assigned to node "${spec.nodeName}"`);
          spec.nodeName = node;
        });
      } else {
        await store.delete('pods', r.namespace, r.name!, {});
      }
      return send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }
    if (sub === 'scale') return handleScale(req, res, r, q, verb);
    const subresource = sub === 'status' ? ('status' as const) : undefined;
    if (sub && sub !== 'status') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    switch (verb) {
      case 'get': {
        const o = store.get(resource, r.namespace, r.name!);
        if (!o) throw notFound(rt, r.name!);
        return send(res, 200, renderOne(req, rt, q, o));
      }
      case 'list': {
        checkFieldSelector(resource, q.get('fieldSelector') ?? undefined);
        const limit = q.has('limit') ? Number(q.get('limit')) : undefined;
        const list = store.list(resource, r.namespace, {
          labelSelector: q.get('labelSelector') ?? undefined,
          fieldSelector: q.get('fieldSelector') ?? undefined,
          limit,
          continue: q.get('continue') ?? undefined,
          resourceVersion: q.get('resourceVersion') ?? undefined,
          resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
        });
        if (wantsTable(req.headers.accept) || list.items.length <= LIST_BATCH) return send(res, 200, renderList(req, rt, q, list));
        return streamList(res, rt, list, `${rt.group}/${resource}/${r.namespace ?? ''}?${q.toString()}`);
      }
      case 'watch':
        return handleWatch(req, res, r, q);
      case 'create': {
        if (r.name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const body = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
        if (body === undefined) throw new ApiError(400, 'BadRequest', 'the request body is empty');
        checkObjectShape(body, rt.kind);
        body.metadata ??= {};
        body.kind ??= rt.kind;
        body.apiVersion ??= apiVersionOf(rt);
        checkKind(rt, body);
        if (rt.namespaced) {
          if (body.metadata.namespace && r.namespace && body.metadata.namespace !== r.namespace) {
            throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
          }
          body.metadata.namespace = r.namespace ?? body.metadata.namespace;
        }
        const created = await store.create(body, { dryRun, fieldValidation, fieldManager });
        return send(res, 201, created);
      }
      case 'update': {
        const body = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
        if (body === undefined) throw new ApiError(400, 'BadRequest', 'the request body is empty');
        checkObjectShape(body, rt.kind);
        checkKind(rt, body);
        body.metadata ??= {};
        if (body.metadata.name && body.metadata.name !== r.name) throw new ApiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        body.metadata.name = r.name;
        if (rt.namespaced) body.metadata.namespace = r.namespace;
        const updated = await store.update(body, { subresource, dryRun, fieldValidation, fieldManager });
        return send(res, 200, updated);
      }
      case 'patch': {
        const type = patchTypeOf(req.headers['content-type']);
        if (!type) throw new ApiError(415, 'UnsupportedMediaType', '415: Unsupported Media Type', {});
        const raw = await readBody(req);
        if (type === 'apply' && !q.get('fieldManager')) {
          throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
            group: 'meta.k8s.io',
            kind: 'PatchOptions',
            causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
          });
        }
        const body = parseBody(raw, type === 'apply' ? 'yaml' : 'json');
        // A body of the wrong JSON type is refused before any work (an array must never replace the object).
        checkPatchBody(type, body);
        const existed = store.get(resource, r.namespace, r.name!) !== undefined;
        if (type === 'apply') checkObjectShape(body, rt.kind);
        const patched = await store.patch(resource, r.namespace, r.name!, type, body, { subresource, dryRun, fieldValidation, fieldManager, force: boolParam(q, 'force') });
        return send(res, existed ? 200 : 201, patched);
      }
      case 'delete': {
        const body = parseBody(await readBody(req), req.headers['content-type']);
        const deleted = await store.delete(resource, r.namespace, r.name!, deleteOptionsOf(q, body));
        return send(res, 200, deleted);
      }
      case 'deletecollection': {
        const body = parseBody(await readBody(req), req.headers['content-type']);
        const opts = deleteOptionsOf(q, body);
        checkFieldSelector(resource, q.get('fieldSelector') ?? undefined);
        const list = store.list(resource, r.namespace, { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined });
        const items: KubeObject[] = [];
        for (const [i, o] of list.items.entries()) {
          // Each delete settles in microtasks: let /readyz and other requests in between.
          if (i > 0 && i % ITEMS_PER_YIELD === 0) await yieldToEventLoop();
          try {
            items.push(await store.delete(resource, o.metadata.namespace, o.metadata.name!, opts));
          } catch (e) {
            if (!(e instanceof ApiError && e.code === 404)) throw e;
          }
        }
        return send(res, 200, { kind: listKind(rt), apiVersion: apiVersionOf(rt), metadata: { resourceVersion: store.currentResourceVersion() }, items });
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  async function handleScale(req: IncomingMessage, res: ServerResponse, r: Route, q: URLSearchParams, verb: Verb): Promise<void> {
    const toScale = (o: KubeObject) => {
      const spec = o.spec as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
      const st = o.status as { replicas?: number } | undefined;
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
        spec: { replicas: spec.replicas ?? 0 },
        status: { replicas: st?.replicas ?? 0, selector: Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') },
      };
    };
    const cur = store.get(r.resource, r.namespace, r.name!);
    if (!cur) throw notFound(r.rt, r.name!);
    if (verb === 'get') return send(res, 200, toScale(cur));
    const body = parseBody(await readBody(req), req.headers['content-type']);
    let replicas: number | undefined;
    if (verb === 'update') replicas = (body as { spec?: { replicas?: number } })?.spec?.replicas;
    else if (verb === 'patch') {
      const type = patchTypeOf(req.headers['content-type']) ?? 'merge';
      const { applyPatch } = await import('../store/patch.js');
      replicas = (applyPatch(type, toScale(cur), body) as { spec?: { replicas?: number } }).spec?.replicas;
    } else throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const updated = await store.mutate(r.resource, r.namespace, r.name!, (o) => {
      (o.spec as { replicas?: number }).replicas = replicas;
    }, { dryRun: q.get('dryRun') === 'All' });
    return send(res, 200, toScale(updated));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'https://lab');
    } catch {
      url = undefined;
    }
    // Like kube-apiserver's system:public-info-viewer: health and version need no credential, all else does.
    // Authentication comes first, on the raw path: nothing about the URL is decoded for an anonymous client.
    const publicInfo = req.method === 'GET' && url !== undefined && ['/version', '/healthz', '/livez', '/readyz'].includes(url.pathname);
    if (!publicInfo && !authenticated(req)) {
      throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    }
    if (!url) throw new ApiError(400, 'BadRequest', 'the request URL cannot be parsed');
    let segs: string[];
    try {
      segs = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    } catch {
      throw new ApiError(400, 'BadRequest', `invalid URL escape in the request path: ${JSON.stringify(url.pathname.slice(0, 200))}`);
    }
    const info: ApiRequestInfo = { verb: 'discovery', method: req.method ?? 'GET', path: url.pathname };
    let r: Route | undefined;
    if (segs[0] !== 'lab') {
      r = route(segs);
      if (r) {
        info.verb = verbOf(req.method ?? 'GET', r, url.searchParams);
        Object.assign(info, { resource: r.resource, subresource: r.subresource, namespace: r.namespace, name: r.name });
      }
    }
    for (const fn of interceptors) await fn(info);
    if (segs[0] === 'lab' && segs.length >= 2) {
      const out = await answerAdmin(admin, req.method ?? 'GET', segs, async () => parseBody(await readBody(req), req.headers['content-type']));
      if (out === undefined) throw resourceNotFound();
      return send(res, 200, out);
    }
    if (!r) {
      if (await handleDiscovery(req, res, segs)) return;
      throw resourceNotFound();
    }
    return handleResource(req, res, r, url.searchParams, info.verb as Verb);
  }

  const server = https.createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
    // A client that hangs up mid-stream is normal (kubectl get -w, Ctrl-C): never let it crash the lab.
    res.on('error', () => undefined);
    handle(req, res).catch((e: unknown) => sendError(res, e));
  });
  server.keepAliveTimeout = 65_000;
  // Small JSON answers must not wait for Nagle's algorithm.
  server.on('secureConnection', (sock) => sock.setNoDelay(true));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `${host}:${port}`;
  return {
    url: `https://${host}:${port}`,
    port,
    addInterceptor(fn) {
      interceptors.push(fn);
      return () => {
        const i = interceptors.indexOf(fn);
        if (i >= 0) interceptors.splice(i, 1);
      };
    },
    addAdminRoute(name, handler) {
      admin.set(name, handler);
    },
    async close() {
      for (const s of openStreams) s.end();
      openStreams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Stored objects never change (a write makes a new object), so their JSON is cached by identity. */
const jsonCache = new WeakMap<KubeObject, string>();
/** The same JSON as UTF-8 bytes, for long lists. */
const bytesCache = new WeakMap<KubeObject, Buffer>();
/** How many long lists' items bytes are kept (see streamList). */
const MAX_LIST_BODIES = 8;

/** The same objects in the same order (identity: stored objects are never changed in place). */
function sameObjects(a: readonly KubeObject[], b: readonly KubeObject[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const COMMA = Buffer.from(',');
const LIST_END = Buffer.from(']}');
function jsonOf(o: KubeObject): string {
  let j = jsonCache.get(o);
  if (j === undefined) {
    j = JSON.stringify(o);
    jsonCache.set(o, j);
  }
  return j;
}

function checkKind(rt: ResourceType, body: KubeObject): void {
  if (body.kind !== rt.kind || body.apiVersion !== apiVersionOf(rt)) {
    throw new ApiError(400, 'BadRequest', `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(rt)})`);
  }
}

function notFound(rt: ResourceType, name: string): ApiError {
  const res = rt.group === '' ? rt.resource : `${rt.resource}.${rt.group}`;
  return new ApiError(404, 'NotFound', `${res} "${name}" not found`, { name, group: rt.group, kind: rt.resource });
}

/** kube-apiserver's NotFound for a path it does not serve (a generic server response: empty details). */
function resourceNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}
