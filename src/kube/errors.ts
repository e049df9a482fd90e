/**
 * Kubernetes API failures as errors by who must act (STYLE 7). Pure: no client-node import, so that code that only
 * needs to recognise these errors does not pay for loading the client.
 */
import { UserError } from '../errors.js';

/** A Status object as the API server returns it. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

/** The API answered with an error status (401, 403, 404, 409, 422, 5xx...). */
export class KubeApiError extends UserError {
  readonly code: number;
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  /** The Status object (or the raw body) the server sent: evidence for reports. */
  readonly status: KubeStatus;
  /** The Retry-After header of a 429/503, as sent. */
  retryAfter?: string;
  /** How many times the request was sent before this answer was final. */
  attempts?: number;
  constructor(method: string, path: string, code: number, status: KubeStatus) {
    const reason = status.reason ?? (code === 0 ? 'Unreachable' : `HTTP${code}`);
    // A refusal leads with what was refused in RBAC's words: an authorizer's own message need not name them.
    const refused = code === 403 ? `may not ${formatRbacRequest(describeRequest(method, path))}: ` : '';
    const message = `${refused}${method} ${path}: ${code} ${reason}${status.message ? `: ${status.message}` : ''}`;
    super(message, hintsFor(code, method, path));
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
    this.method = method;
    this.path = path;
    this.status = status;
  }
}

/** The API server could not be reached at all (refused, TLS failure, DNS, timeout). */
export class KubeUnreachableError extends UserError {
  readonly server: string;
  constructor(server: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`cannot reach the Kubernetes API server at ${server}: ${msg}`, {
      cause,
      why: 'every check needs the API server',
      fix: 'check that the cluster is up and that --kubeconfig/--context point at it (kubectl --kubeconfig F get --raw /readyz)',
    });
    this.name = 'KubeUnreachableError';
    this.server = server;
  }
}

/** A request in RBAC's words: the verb and the resource (with group and namespace), or a non-resource URL. */
interface RbacRequest {
  verb: string;
  resource?: string;
  group?: string;
  namespace?: string;
  nonResourceURL?: string;
}

/**
 * Pure: which RBAC verb and resource a REST call needs (the API server's request-info rules): GET of one object is
 * `get`, of a collection `list` (`watch` with watch=true), POST `create`, PUT `update`, PATCH `patch`, DELETE of one
 * object `delete`, of a collection `deletecollection`; subresources read as `pods/log`.
 */
export function describeRequest(method: string, apiPath: string): RbacRequest {
  const [pathname, query = ''] = apiPath.split('?');
  const parts = pathname!.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return { verb: method.toLowerCase(), nonResourceURL: pathname };
  }
  if (rest.length === 0) return { verb: 'get', nonResourceURL: pathname };
  let namespace: string | undefined;
  // namespaces/NS/RESOURCE...: a namespaced resource; namespaces or namespaces/NAME alone: the Namespace itself.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, sub] = rest;
  const watch = /(^|&)watch=(?!false\b|0\b)[^&]*/.test(query);
  const m = method.toUpperCase();
  const verb =
    m === 'GET' || m === 'HEAD' ? (name ? 'get' : watch ? 'watch' : 'list')
    : m === 'POST' ? 'create'
    : m === 'PUT' ? 'update'
    : m === 'PATCH' ? 'patch'
    : m === 'DELETE' ? (name ? 'delete' : 'deletecollection')
    : m.toLowerCase();
  return { verb, resource: sub ? `${resource}/${sub}` : resource, group, namespace: namespace ?? (resource === 'namespaces' ? name : undefined) };
}

/** "create pods in namespace x", "list storageclasses (API group storage.k8s.io)", "get /readyz". */
export function formatRbacRequest(r: RbacRequest): string {
  if (r.nonResourceURL) return `${r.verb} ${r.nonResourceURL}`;
  return `${r.verb} ${r.resource}${r.group ? ` (API group ${r.group})` : ''}${r.namespace && r.resource !== 'namespaces' ? ` in namespace ${r.namespace}` : ''}`;
}

function hintsFor(code: number, method: string, path: string): { why?: string; fix?: string } {
  if (code === 401) return { why: 'the API server did not accept the credentials in the kubeconfig', fix: 'refresh the kubeconfig (expired token or certificate?)' };
  if (code === 403) {
    const r = describeRequest(method, path);
    const canI = r.nonResourceURL ? `kubectl auth can-i ${r.verb} ${r.nonResourceURL}` : `kubectl auth can-i ${r.verb} ${r.resource}${r.group ? `.${r.group}` : ''}${r.namespace && r.resource !== 'namespaces' ? ` -n ${r.namespace}` : ''}`;
    return {
      why: `the kubeconfig's user may not ${formatRbacRequest(r)}`,
      fix: `grant it (\`${canI}\` says yes once it is): the ClusterRole \`groundwork validate --print-rbac\` prints holds every permission validate needs; or use an admin kubeconfig`,
    };
  }
  if (code === 404) return { why: 'the object or API does not exist on this cluster' };
  if (code === 422) return { why: 'the API server rejected the object as invalid' };
  if (code >= 500) return { why: 'the API server failed to handle the request', fix: 'check the control plane (kube-apiserver, etcd) and try again' };
  return {};
}

/** Parses a response body into a Status when it is one (client-node's ApiException.body is a JSON string). */
export function parseStatus(body: unknown): KubeStatus {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  if (body && typeof body === 'object') return body as KubeStatus;
  return {};
}

/**
 * Any error from talking to the API (our client's KubeApiError, client-node's ApiException with .code and a JSON
 * string .body, a network failure) as a UserError the report can show.
 */
export function toKubeError(err: unknown, method = 'GET', path = '', server = ''): Error {
  if (err instanceof KubeApiError || err instanceof KubeUnreachableError) return err;
  const e = err as { code?: unknown; body?: unknown; name?: string };
  if (e && typeof e.code === 'number' && e.code >= 100 && e.code < 600) {
    return new KubeApiError(method, path, e.code, parseStatus(e.body));
  }
  if (e && e.name === 'AbortError') return err as Error;
  return new KubeUnreachableError(server || '(unknown server)', err);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 409 && err.reason === 'AlreadyExists';
}
