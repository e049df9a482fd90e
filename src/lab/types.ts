/**
 * The lab as a library: what `startLab()` (src/lab/index.ts) takes and returns, and the hook through which
 * the controllers (src/lab/controllers/index.ts, `startControllers`) plug in.
 *
 * Start order: store → Node objects (one per LabNode, Ready, InternalIP 127.0.100.N) → HTTPS server →
 * `controllers(ctx)` → returned Lab. Stop order: controllers' stop function → server → store.
 */
import type { Spec } from '../spec/schema.js';
import type { LabStore, PodLogs, RequestInterceptor } from './store/types.js';

export type LabCni = 'cilium' | 'calico' | 'flannel' | 'none';

/** Which API server the lab's node side is a client of: a real control plane, or the in-process one. */
export type LabApi = 'real' | 'embedded';

/** One simulated node. */
export interface LabNode {
  name: string;
  role: 'control-plane' | 'worker';
  /** InternalIP; always loopback (127.0.100.N) so that nothing connecting to a node leaves this machine. */
  address: string;
  labels?: Record<string, string>;
  /** "key=value:NoSchedule" or "key:NoSchedule" */
  /** Parsed at the spec edge (src/spec/fields.ts); undefined: a control plane gets the usual NoSchedule taint. */
  taints?: readonly import('../spec/fields.js').Taint[];
  /** Defaults: cpu "4", memory "8Gi", pods "110", ephemeral-storage "50Gi". */
  capacity?: Record<string, string>;
  /** The kubelet API's port on `address` (status.daemonEndpoints); default 10250. */
  kubeletPort?: number;
}

/** Everything a controller needs. */
export interface LabContext {
  /** 'real': a real kube-apiserver with its controller manager and scheduler does the control plane's work
   *  (scheduling, workloads, endpoints, GC, admission); the controllers run only the node side. Default 'embedded'. */
  api?: LabApi;
  store: LabStore;
  logs: PodLogs;
  nodes: LabNode[];
  network: { podCIDR: string; serviceCIDR: string; nodeMaskSize: number; cni: LabCni; clusterDomain: string };
  /** Faults requested at start (`--fault NAME`, repeatable), raw strings like 'node-not-ready:w-1'. */
  faults: string[];
  /** Register a function run before every API request (faults: api-latency, api-errors). Returns an unregister
   *  function. On the real API it registers nothing: that server's requests are not the lab's to hook. */
  addInterceptor(fn: RequestInterceptor): () => void;
  /** Register an admin handler under https://.../lab/<name> (authenticated like the API), e.g. 'faults'.
   *  The handler gets the method, the path below /lab/<name>, and the parsed JSON body (or undefined);
   *  it returns a JSON-serialisable value (200) or throws ApiError. */
  addAdminRoute(name: string, handler: AdminHandler): void;
  /** Aborted when the lab stops. */
  signal: AbortSignal;
}

export type AdminHandler = (method: string, subpath: string, body: unknown) => Promise<unknown> | unknown;

/** Starts the controllers; resolves to a function that stops them (awaited on lab stop). */
export type StartControllers = (ctx: LabContext) => Promise<() => Promise<void>>;

export interface LabOptions {
  /** Default 'embedded'. 'real' starts a real control plane (src/lab/real/control-plane.ts) unless `controlPlane`
   *  is given, and runs the store as a mirror of its API (src/lab/store/mirror.ts). */
  api?: LabApi;
  /** api 'real': the running control plane to join (tests share one per file); the lab does not stop it. */
  controlPlane?: import('./real/control-plane.js').RealControlPlane;
  /** api 'real' without `controlPlane`: options for the one the lab starts (e.g. `record` for a run's leftovers). */
  controlPlaneOptions?: import('./real/control-plane.js').RealControlPlaneOptions;
  /** All nodes (control planes included). Default 3 (1 control plane + 2 workers) unless `spec` given. */
  nodes?: number;
  controlPlanes?: number;
  cni?: LabCni;
  faults?: string[];
  /** Shape the lab from a cluster spec (node names, roles, labels, taints, network). Node addresses are
   *  replaced by 127.0.100.N: the lab never uses the spec's addresses. */
  spec?: Spec;
  /** etcd client URL (http://127.0.0.1:2379): objects live in etcd under /registry/...; default: memory. */
  etcd?: string;
  /** Where to write the kubeconfig (0600). Default: a file in a fresh temp dir. */
  kubeconfigPath?: string;
  /** 0 = a free port (default). */
  port?: number;
  /** Host to bind; always a loopback address. Default 127.0.0.1. */
  host?: string;
  /** Controllers to start. Default: none (a bare API server), `startLab` callers pass `startControllers`. */
  controllers?: StartControllers;
  /** Don't create Node objects at start (the controllers do it). Default false: the lab creates them. */
  skipNodeObjects?: boolean;
  /** Watch events kept for resume; a watch from an older resourceVersion gets 410 Expired. Default 20,000. */
  watchHistorySize?: number;
  /** Bookmark interval for watches with allowWatchBookmarks (ms). Default 5000. */
  bookmarkIntervalMs?: number;
}

export interface Lab {
  api: LabApi;
  /** https://127.0.0.1:PORT */
  url: string;
  kubeconfigPath: string;
  /** The bearer token in the kubeconfig (a secret: never print it); '' on the real API (a client certificate). */
  token: string;
  /** The real API's etcd client URL (the drill's source); undefined on the embedded API. */
  etcdUrl?: string;
  /** The CA certificate (PEM) clients trust. */
  caPem: string;
  store: LabStore;
  logs: PodLogs;
  nodes: LabNode[];
  context: LabContext;
  stop(): Promise<void>;
}
