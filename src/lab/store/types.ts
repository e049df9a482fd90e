/**
 * The lab store: the contract between the lab's API server (src/lab/server/*) and the in-process
 * controllers (src/lab/controllers/*). Controllers never talk HTTP to the lab: they call this interface.
 *
 * Shape, in short:
 * - Resources are named like kube-apiserver names them in etcd and RBAC: `pods`, `nodes`, `deployments.apps`,
 *   `networkpolicies.networking.k8s.io`, `leases.coordination.k8s.io`, `events` (core), `events.events.k8s.io`.
 *   `resourceKey(obj)` / `RESOURCES` (src/lab/store/resources.ts) map kinds to these names.
 * - Reads (`get`, `list`) are synchronous: both stores serve reads from memory (the etcd store keeps a full
 *   cache, like the apiserver's watch cache). Writes are async (the etcd store waits for etcd).
 * - Every write bumps one global resourceVersion (memory: a counter; etcd: the etcd mod revision) and emits a
 *   WatchEvent to watchers of that resource, in order.
 * - Errors are `ApiError` (code, reason, message, causes) — the HTTP layer turns them into `Status` objects:
 *   404 NotFound, 409 AlreadyExists / Conflict (stale metadata.resourceVersion), 410 Expired (watch too old),
 *   422 Invalid (schema), 400 BadRequest.
 * - Objects handed out are the store's own copies, deep-frozen (changing one throws a TypeError):
 *   `structuredClone` first, or use `mutate()`, which clones, applies your function and retries on conflict.
 * - Deleting: `delete()` honours finalizers (sets deletionTimestamp, removes when finalizers empty), deletes
 *   a pod on a node gracefully (Terminating until its kubelet confirms with grace period 0), and records the
 *   propagation policy (Foreground: the owner gets the `foregroundDeletion` finalizer; Orphan: `orphan`).
 *   The garbage collector (src/lab/controllers/garbage-collector.ts) then deletes or releases dependents.
 *   Deleting a Namespace marks it Terminating; the namespace controller (controllers/namespaces.ts) empties
 *   it and removes its `kubernetes` finalizer, and with it the namespace.
 * - Pod logs are not API objects: `PodLogs` (lab.logs) holds the lines the kubelet simulation writes and
 *   serves `GET /api/v1/namespaces/NS/pods/NAME/log`.
 */

import type { KubeObject } from '../../kube/paths.js';

export type { KubeObject, OwnerReference } from '../../kube/paths.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** One served resource type (what discovery advertises). */
export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, lower case: 'pods'. */
  resource: string;
  kind: string;
  /** Singular, lower case: 'pod'. */
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Subresources served: 'status', 'log', 'scale', 'binding', 'eviction'. */
  subresources: string[];
  verbs: Verb[];
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  /** For BOOKMARK only metadata.resourceVersion matters; for ERROR a Status object. */
  object: KubeObject;
}

export interface ListOptions {
  /** Kubernetes label selector syntax: `app=web,tier!=db,env in (a,b),!legacy`. */
  labelSelector?: string;
  /** Field selector: metadata.name, metadata.namespace, spec.nodeName, status.phase, type, involvedObject.* ... */
  fieldSelector?: string;
  /** Pagination (kubectl asks for limit=500 and follows `continue`): pages come in key order
   *  (namespace/name), every page at the first page's resourceVersion; 410 Expired once that is too old. */
  limit?: number;
  continue?: string;
  /** As the API's ListOptions: unset = the latest; '0' = any (the latest); N = not older than N, or exactly N
   *  with resourceVersionMatch=Exact (or a limit and no match, the legacy rule). N newer than the store's is
   *  504 Timeout "Too large resource version"; an exact N the store no longer holds is 410 Expired. */
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  /** Set when `limit` cut the list short. */
  continue?: string;
  remainingItemCount?: number;
}

type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
  dryRun?: boolean;
}

export interface WriteOptions {
  /** Write only the status (ignores spec changes) or only the spec (ignores status changes, the default). */
  subresource?: 'status';
  dryRun?: boolean;
  /** Skip schema validation (controllers writing objects they built themselves may pass true for speed). */
  skipValidation?: boolean;
  /** `Strict` (kubectl's default): fields the kind does not declare are a 400 BadRequest, like the
   *  apiserver's strict decoding. Otherwise unknown fields are kept. */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** The field manager of a client's write (metadata.managedFields records it); unset: managedFields kept as
   *  they are (the lab's own controllers). */
  fieldManager?: string;
  /** Server-side apply: take fields other managers own instead of failing with 409 Conflict. */
  force?: boolean;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

export type Admission = (obj: KubeObject, old: KubeObject | undefined, op: 'create' | 'update') => void | KubeObject | Promise<void | KubeObject>;

/** Watch callback. Called synchronously in resourceVersion order; keep it fast, never throw. */
export type WatchHandler = (e: WatchEvent) => void;

export interface WatchOptions {
  /** Resume after this resourceVersion: replays later events; throws ApiError 410 Expired when too old.
   *  Undefined or '0': no replay (call list first for the current state). */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Deliver BOOKMARK events carrying the latest resourceVersion, every `bookmarkIntervalMs` (store option, default 5 s). */
  bookmarks?: boolean;
}

export interface LabStore {
  /** Resource names for kinds: lookups like `resourceFor('Deployment', 'apps/v1')` → 'deployments.apps'. */
  readonly resources: ResourceRegistry;

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(resource: string, namespace?: string, opts?: ListOptions): ListResult;
  /** Assigns uid, resourceVersion, creationTimestamp, generation, name from generateName; 409 AlreadyExists. */
  create(obj: KubeObject, opts?: WriteOptions): Promise<KubeObject>;
  /** Replaces the object; 409 Conflict when metadata.resourceVersion is set and stale; 404 when missing. */
  update(obj: KubeObject, opts?: WriteOptions): Promise<KubeObject>;
  patch(resource: string, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts?: WriteOptions): Promise<KubeObject>;
  /** Read-modify-write with retry on conflict. `fn` gets a private clone; return it (or a new object), or
   *  `undefined` to skip the write. Returns the stored object (or the current one when skipped). */
  mutate(resource: string, namespace: string | undefined, name: string, fn: (obj: KubeObject) => KubeObject | undefined | void, opts?: WriteOptions): Promise<KubeObject>;
  /** Returns the object as deleted (or as marked with deletionTimestamp when finalizers hold it). 404 when missing. */
  delete(resource: string, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<KubeObject>;
  /** Watches one resource (optionally one namespace). Returns a function that stops the watch. */
  watch(resource: string, namespace: string | undefined, opts: WatchOptions, onEvent: WatchHandler): () => void;
  /** The current (latest) resourceVersion. */
  currentResourceVersion(): string;
  /** Mutating admission, run on create and update (before defaults and validation), like an admission
   *  webhook: e.g. IPAM assigns Service ClusterIPs at create as kube-apiserver does. May throw ApiError
   *  (e.g. 422 when the ClusterIP is outside the range). `old` is undefined on create. Returns an unregister function. */
  addAdmission(resource: string, fn: Admission): () => void;
  /** Flushes and disconnects (etcd); memory: no-op. */
  close(): Promise<void>;
}

export interface ResourceRegistry {
  all(): ResourceType[];
  /** By resource name 'pods' | 'deployments.apps' | ... */
  byName(resource: string): ResourceType | undefined;
  /** By kind and apiVersion ('v1', 'apps/v1'). */
  byKind(kind: string, apiVersion: string): ResourceType | undefined;
  /** The store name of a type: 'pods', 'deployments.apps'. */
  nameOf(t: ResourceType): string;
  /** The store name for an object: resourceKey({kind:'Deployment', apiVersion:'apps/v1'}) → 'deployments.apps'. */
  nameForObject(obj: Pick<KubeObject, 'kind' | 'apiVersion'>): string;
}

export interface LogLine {
  time: string;
  line: string;
}

/** Container logs, written by the kubelet simulation, read by `kubectl logs` (with -f, --tail, --timestamps). */
export interface PodLogs {
  append(namespace: string, pod: string, container: string, line: string, time?: Date): void;
  read(namespace: string, pod: string, container: string): LogLine[];
  /** Calls onLine for every later line; returns a stop function. */
  follow(namespace: string, pod: string, container: string, onLine: (l: LogLine) => void): () => void;
  /** Forget a pod's logs (called when the pod is deleted). */
  drop(namespace: string, pod: string): void;
}

/** What one API request is, as the server understood it; given to request interceptors (faults). */
export interface ApiRequestInfo {
  verb: Verb | 'proxy' | 'discovery';
  method: string;
  path: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Runs before every authenticated API request. Throw an ApiError (e.g. 503) to fail the request,
 *  or await to delay it. Used by src/lab/faults.ts for api-latency and api-errors. */
export type RequestInterceptor = (info: ApiRequestInfo) => Promise<void> | void;

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** An error the API returns as a `Status` object. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  /** A list's 410 for an expired continue token carries a token for the rest of the list (Status metadata.continue). */
  continueToken?: string;
  constructor(code: number, reason: string, message: string, details?: ApiError['details']) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): KubeObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: this.continueToken ? { continue: this.continueToken } : {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      // Go omits an empty group (the core group) from StatusDetails.
      ...(this.details ? { details: this.details.group === '' ? (({ group: _, ...d }) => d)(this.details) : this.details } : {}),
      code: this.code,
    };
  }
}
