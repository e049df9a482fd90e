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
  constructor(method: string, path: string, code: number, status: KubeStatus) {
    const reason = status.reason ?? (code === 0 ? 'Unreachable' : `HTTP${code}`);
    const message = `${method} ${path}: ${code} ${reason}${status.message ? `: ${status.message}` : ''}`;
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

function hintsFor(code: number, method: string, path: string): { why?: string; fix?: string } {
  if (code === 401) return { why: 'the API server did not accept the credentials in the kubeconfig', fix: 'refresh the kubeconfig (expired token or certificate?)' };
  if (code === 403)
    return {
      why: `the kubeconfig's user may not ${method} ${path}`,
      fix: 'grant the permissions `groundwork validate --print-rbac` prints, or use an admin kubeconfig',
    };
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
