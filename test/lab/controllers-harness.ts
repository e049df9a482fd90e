/**
 * Controllers against the real memory store, in-process, without HTTP: a LabContext like startLab builds,
 * fast timings, a fault registry the test holds, and helpers to wait for the cluster to get somewhere.
 */
import { createMemoryStore } from '../../src/lab/store/store.js';
import { createPodLogs } from '../../src/lab/logs.js';
import { createControllers, type ControllerHandle, type ControllerOptions } from '../../src/lab/controllers/index.js';
import { createFaultRegistry, type FaultRegistry } from '../../src/lab/faults.js';
import type { LabCni, LabContext, LabNode, AdminHandler } from '../../src/lab/types.js';
import type { KubeObject, LabStore, PodLogs, RequestInterceptor } from '../../src/lab/store/types.js';

export interface Harness {
  store: LabStore;
  logs: PodLogs;
  faults: FaultRegistry;
  handle: ControllerHandle;
  interceptors: RequestInterceptor[];
  admin: Map<string, AdminHandler>;
  nodes: LabNode[];
  stop(): Promise<void>;
  waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  pod(ns: string, name: string): KubeObject | undefined;
  logText(ns: string, pod: string, container?: string): string;
  apply(obj: KubeObject): Promise<KubeObject>;
}

export function labNodes(workers = 2, controlPlanes = 1): LabNode[] {
  const out: LabNode[] = [];
  for (let i = 0; i < controlPlanes; i++) out.push({ name: `cp-${i + 1}`, role: 'control-plane', address: `127.0.100.${out.length + 1}` });
  for (let i = 0; i < workers; i++) out.push({ name: `w-${i + 1}`, role: 'worker', address: `127.0.100.${out.length + 1}` });
  return out;
}

export async function startHarness(opts: { nodes?: LabNode[]; cni?: LabCni; faults?: string[]; controllerOptions?: ControllerOptions } = {}): Promise<Harness> {
  const store = await createMemoryStore();
  const logs = createPodLogs();
  const faults = createFaultRegistry(opts.faults ?? []);
  const interceptors: RequestInterceptor[] = [];
  const admin = new Map<string, AdminHandler>();
  const abort = new AbortController();
  const nodes = opts.nodes ?? labNodes();
  const ctx: LabContext = {
    store,
    logs,
    nodes,
    network: { podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeMaskSize: 24, cni: opts.cni ?? 'cilium', clusterDomain: 'cluster.local' },
    faults: opts.faults ?? [],
    addInterceptor: (fn) => {
      interceptors.push(fn);
      return () => interceptors.splice(interceptors.indexOf(fn), 1);
    },
    addAdminRoute: (name, h) => void admin.set(name, h),
    signal: abort.signal,
  };
  let handle!: ControllerHandle;
  const start = createControllers({ faults, timeScale: 0.01, startDelayMs: 5, heartbeatMs: 50, restartBackoffMs: 20, resyncMs: 10_000, ...opts.controllerOptions }, (h) => (handle = h));
  const stopControllers = await start(ctx);
  const waitFor = async <T,>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = fn();
      if (v !== undefined && v !== false) return v as T;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    store,
    logs,
    faults,
    handle,
    interceptors,
    admin,
    nodes,
    waitFor,
    pod: (ns, name) => store.get('pods', ns, name),
    logText: (ns, pod, container) => {
      const p = store.get('pods', ns, pod);
      const c = container ?? ((p?.spec as { containers: { name: string }[] })?.containers[0]?.name ?? '');
      return logs.read(ns, pod, c).map((l) => l.line).join('\n');
    },
    apply: (obj) => store.create(obj),
    async stop() {
      abort.abort();
      await stopControllers();
      await store.close();
      // A controller that threw (beyond the usual 404/409 races) is a bug even when the test passed.
      const errs = handle.errors();
      if (errs.length > 0) throw new Error(`controllers hit errors: ${errs.map((e) => (e instanceof Error ? e.stack : String(e))).join('\n')}`);
    },
  };
}

export function phaseOf(o: KubeObject | undefined): string | undefined {
  return (o?.status as { phase?: string } | undefined)?.phase;
}

export function conditionOf(o: KubeObject | undefined, type: string): { status: string; reason?: string; message?: string } | undefined {
  return ((o?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === type);
}

export function podObj(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}, ns = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec };
}
