/**
 * Named faults: ways a real cluster breaks, switched on at start (`--fault NAME`) or at run time (the admin
 * route /lab/faults or `groundwork lab fault add|clear NAME`). A fault changes what the controllers and the
 * API server do, so a client sees only what it would see on a broken cluster (pods not Ready, probe timeouts,
 * Pending claims, 503s), never a flag saying "fault".
 */
import { isLoopback } from '../net/loopback-guard.js';
import { UserError } from '../errors.js';
import { ApiError, type ApiRequestInfo, type RequestInterceptor } from './store/types.js';
import type { AdminHandler } from './types.js';

/** The kubeconfig cluster extension holding the lab's admin URL on the real API (src/lab/index.ts writes it). */
export const LAB_ADMIN_EXTENSION = 'groundwork.dev/lab-admin';

export interface FaultInfo {
  name: string;
  /** `node-not-ready:<node>` takes a node name; api-latency milliseconds; api-errors a percentage. */
  arg?: 'node' | 'ms' | 'percent';
  description: string;
}

export const FAULTS: readonly FaultInfo[] = [
  { name: 'netpol-not-enforced', description: 'the CNI ignores NetworkPolicies: traffic they should block flows' },
  { name: 'netpol-ingress-not-enforced', description: 'the CNI applies only Egress rules: Ingress isolation (and default-deny ingress) is ignored' },
  { name: 'netpol-egress-not-enforced', description: 'the CNI applies only Ingress rules: Egress isolation (and default-deny egress) is ignored' },
  { name: 'cross-node-traffic-dropped', description: 'pod traffic between different nodes is dropped (broken overlay/MTU): connects time out' },
  { name: 'dns-down', description: 'CoreDNS pods run but never become Ready; name lookups time out' },
  { name: 'no-default-storageclass', description: 'no StorageClass is marked default: claims without storageClassName stay Pending' },
  { name: 'provisioner-stuck', description: 'the volume provisioner never provisions: claims stay Pending' },
  { name: 'node-not-ready', arg: 'node', description: 'the node\'s kubelet stops posting status: Ready=Unknown, unreachable taints, lease not renewed' },
  { name: 'cni-not-ready', description: 'the CNI DaemonSet never becomes ready: nodes NotReady (network plugin not initialized)' },
  { name: 'api-latency', arg: 'ms', description: 'every API request is delayed by <ms> milliseconds' },
  { name: 'api-errors', arg: 'percent', description: 'that percentage of API requests fail with 503 ServiceUnavailable' },
];

export interface Fault {
  name: string;
  arg?: string;
  /** As typed: `node-not-ready:w-1`. */
  raw: string;
}

/** Parses `NAME` or `NAME:ARG`; throws a UserError naming the known faults. */
export function parseFault(raw: string): Fault {
  const s = raw.trim();
  const i = s.indexOf(':');
  const name = i < 0 ? s : s.slice(0, i);
  const arg = i < 0 ? undefined : s.slice(i + 1);
  const info = FAULTS.find((f) => f.name === name);
  const known = FAULTS.map((f) => (f.arg ? `${f.name}:<${f.arg}>` : f.name)).join(', ');
  if (!info) throw new UserError(`unknown fault "${s}"`, { fix: `use one of: ${known}`, exitCode: 2 });
  if (!info.arg) {
    if (arg !== undefined) throw new UserError(`fault "${name}" takes no argument (got "${s}")`, { exitCode: 2 });
    return { name, raw: name };
  }
  if (arg === undefined || arg === '') throw new UserError(`fault "${name}" needs an argument: ${name}:<${info.arg}>`, { exitCode: 2 });
  if (info.arg === 'ms' && !/^\d{1,6}$/.test(arg)) throw new UserError(`fault "${s}": <ms> must be a whole number of milliseconds`, { exitCode: 2 });
  if (info.arg === 'percent' && !(/^\d{1,3}$/.test(arg) && Number(arg) <= 100)) {
    throw new UserError(`fault "${s}": <percent> must be a whole number from 0 to 100`, { exitCode: 2 });
  }
  return { name, arg, raw: `${name}:${arg}` };
}

export interface FaultRegistry {
  /** Adds a fault (replacing one of the same name and argument kind, e.g. a new api-latency). */
  add(raw: string): Fault;
  /** Clears one fault (`NAME` clears every `NAME:*`), or all with no argument. Returns what was cleared. */
  clear(raw?: string): string[];
  list(): string[];
  has(name: string): boolean;
  /** Arguments of every active fault with that name (node names for node-not-ready). */
  args(name: string): string[];
  isNodeNotReady(node: string): boolean;
  /** Delay to add to an API request (api-latency). */
  apiDelayMs(): number;
  /** Should this API request fail with 503 (api-errors)? */
  shouldFail503(): boolean;
  /** Called after every change. Returns an unsubscribe function. */
  onChange(fn: () => void): () => void;
}

export interface FaultOptions {
  /** For api-errors; injectable so tests are deterministic. */
  random?: () => number;
  /** The lab's node names: a node fault must name one of them. */
  nodes?: () => readonly string[];
  /** The API the lab runs on: on 'real', the api-* faults are refused (its requests are not the lab's to hook). */
  api?: 'real' | 'embedded';
}

const EMBEDDED_ONLY = ['api-latency', 'api-errors'];

export function createFaultRegistry(initial: readonly string[] = [], opts: FaultOptions = {}): FaultRegistry {
  const random = opts.random ?? Math.random;
  const active = new Map<string, Fault>();
  const listeners = new Set<() => void>();
  const changed = (): void => {
    for (const fn of listeners) fn();
  };
  const keyOf = (f: Fault): string => (f.name === 'node-not-ready' ? f.raw : f.name);
  const reg: FaultRegistry = {
    add(raw) {
      const f = parseFault(raw);
      if (opts.api === 'real' && EMBEDDED_ONLY.includes(f.name)) {
        throw new UserError(`fault "${f.raw}" needs the embedded API: on --api real the requests go to a real kube-apiserver, which the lab does not sit in front of`, {
          exitCode: 2,
          fix: 'start the lab with --api embedded to rehearse a slow or failing API server',
        });
      }
      const nodes = opts.nodes?.();
      if (f.name === 'node-not-ready' && nodes && !nodes.includes(f.arg ?? '')) {
        throw new UserError(`fault "${f.raw}": this lab has no node "${f.arg}"`, { exitCode: 2, fix: `name one of its nodes: ${nodes.join(', ')}` });
      }
      active.set(keyOf(f), f);
      changed();
      return f;
    },
    clear(raw) {
      let gone: string[];
      if (raw === undefined) {
        gone = [...active.values()].map((f) => f.raw);
        active.clear();
      } else {
        const s = raw.trim();
        gone = [...active.entries()].filter(([, f]) => f.raw === s || f.name === s).map(([k]) => k);
        gone = gone.map((k) => {
          const f = active.get(k)!;
          active.delete(k);
          return f.raw;
        });
      }
      if (gone.length > 0) changed();
      return gone;
    },
    list: () => [...active.values()].map((f) => f.raw).sort(),
    has: (name) => [...active.values()].some((f) => f.name === name),
    args: (name) => [...active.values()].filter((f) => f.name === name).map((f) => f.arg ?? ''),
    isNodeNotReady: (node) => active.has(`node-not-ready:${node}`),
    apiDelayMs: () => Number(active.get('api-latency')?.arg ?? 0),
    shouldFail503() {
      const p = Number(active.get('api-errors')?.arg ?? 0);
      return p > 0 && random() * 100 < p;
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  for (const raw of initial) reg.add(raw);
  return reg;
}

/** True for requests that must keep working under api-* faults: the admin routes that clear them. */
function isExempt(info: ApiRequestInfo): boolean {
  return info.path.startsWith('/lab/');
}

/**
 * The API server's request hook for api-latency and api-errors (register with LabContext.addInterceptor).
 * A 503 looks like an overloaded kube-apiserver's: Status ServiceUnavailable with Retry-After.
 */
export function createFaultInterceptor(faults: FaultRegistry, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))): RequestInterceptor {
  return async (info) => {
    if (isExempt(info)) return;
    const delay = faults.apiDelayMs();
    if (delay > 0) await sleep(delay);
    if (faults.shouldFail503()) {
      throw new ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', { retryAfterSeconds: 1 });
    }
  };
}

/**
 * The admin route /lab/faults:
 *   GET    /lab/faults          -> { faults: ["dns-down", ...], known: [...] }
 *   POST   /lab/faults {name}   -> { faults } (400 on an unknown fault)
 *   DELETE /lab/faults/<name>   -> { cleared, faults }     DELETE /lab/faults -> clears all
 */
export function createFaultAdminHandler(faults: FaultRegistry): AdminHandler {
  return (method, subpath, body) => {
    const name = decodeURIComponent(subpath.replace(/^\/+/, ''));
    const known = FAULTS.map((f) => (f.arg ? `${f.name}:<${f.arg}>` : f.name));
    try {
      if (method === 'GET') return { faults: faults.list(), known };
      if (method === 'POST' || method === 'PUT') {
        const raw = name !== '' ? name : typeof (body as { name?: unknown })?.name === 'string' ? (body as { name: string }).name : '';
        faults.add(raw);
        return { faults: faults.list() };
      }
      if (method === 'DELETE') {
        const cleared = faults.clear(name === '' ? undefined : name);
        if (name !== '' && cleared.length === 0) throw new ApiError(404, 'NotFound', `fault "${name}" is not active`);
        return { cleared, faults: faults.list() };
      }
    } catch (e) {
      if (e instanceof UserError) throw new ApiError(400, 'BadRequest', [e.message, e.fix].filter(Boolean).join('; '));
      throw e;
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on /lab/faults`);
  };
}

export interface FaultChangeResult {
  faults: string[];
  cleared?: string[];
}

/**
 * Adds (POST), clears (DELETE; no name = all) or lists (GET) faults of a running lab through its admin route, via
 * the kube door with the kubeconfig's credentials: the embedded API serves /lab/faults itself; on the real API the
 * lab's admin listener (its URL in the kubeconfig) does. The service behind `groundwork lab fault add|clear|list`.
 */
export async function changeLabFaults(kubeconfigPath: string, action: 'add' | 'clear' | 'list', name?: string): Promise<FaultChangeResult> {
  if (action === 'add') {
    if (!name) throw new UserError('which fault? e.g. `groundwork lab fault add dns-down`', { exitCode: 2 });
    parseFault(name);
  }
  // The kube door reads the kubeconfig: on the real API its cluster extension names the lab's admin listener.
  const { loadKubeConfig, KubeApiError } = await import('../kube/index.js');
  const kube = await loadKubeConfig(kubeconfigPath, undefined, { serverExtension: LAB_ADMIN_EXTENSION, requestTimeoutMs: 10_000, retry: { maxRetries: 0, budgetMs: 0, maxDelayMs: 0, baseDelayMs: 0 } });
  // The lab only ever listens on loopback; never send its credentials anywhere else.
  if (!isLoopback(new URL(kube.server).hostname.replace(/^\[|\]$/g, ''))) {
    kube.close();
    throw new UserError(`${kubeconfigPath} points at ${new URL(kube.server).host}, which is not a lab (labs listen on 127.0.0.1)`, { fix: 'pass --kubeconfig with the file `groundwork lab up` wrote' });
  }
  const method = action === 'add' ? 'POST' : action === 'clear' ? 'DELETE' : 'GET';
  const path = action === 'clear' && name ? `/lab/faults/${encodeURIComponent(name)}` : '/lab/faults';
  try {
    const json = await kube.request<{ faults?: string[]; cleared?: string[] }>(method, path, action === 'add' ? { body: { name } } : {});
    return { faults: json?.faults ?? [], ...(json?.cleared ? { cleared: json.cleared } : {}) };
  } catch (e) {
    if (e instanceof KubeApiError) {
      throw new UserError(`the lab refused: ${e.status.message ?? `HTTP ${e.code}`}`, { exitCode: e.code === 400 ? 2 : 1 });
    }
    throw new UserError(`no lab answers at ${kube.server}`, { why: (e as Error).message, fix: 'start one with `groundwork lab up` (it prints the kubeconfig to use)', cause: e });
  } finally {
    kube.close();
  }
}
