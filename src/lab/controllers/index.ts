/**
 * The lab's cluster behaviour, in-process against the store, in two halves:
 * - the node side, always: node registration, heartbeats and Leases, a kubelet per node (pod lifecycle, probes,
 *   pod IPs), the network model and NetworkPolicy enforcement, DNS (CoreDNS and kube-dns), the CNI DaemonSet,
 *   the volume provisioner, and the faults that break them;
 * - the control plane's side, only on the embedded API (ctx.api 'embedded'): scheduler, Deployments,
 *   ReplicaSets, DaemonSets, Jobs, CronJobs, endpoints, node lifecycle taints, Service IPAM and default
 *   StorageClass admission. On the real API kube-controller-manager and kube-scheduler do these.
 *
 * Wiring (src/lab/index.ts): `startLab({ ..., controllers: startControllers })`. startControllers registers
 * the api-latency/api-errors interceptor (ctx.addInterceptor) and the /lab/faults admin route itself.
 * Tests that want to flip faults or speed time up use `createControllers({ faults, timeScale, ... })`.
 *
 * Shape: every controller is a level-triggered reconcile over the store's current state. Watch events,
 * timers (a container's end, a restart back-off) and fault changes request a pass; passes never overlap and
 * coalesce, so a burst of 5,000 pod creations costs a handful of passes.
 */
import { createFaultAdminHandler, createFaultInterceptor, createFaultRegistry } from '../faults.js';
import type { LabContext, StartControllers } from '../types.js';
import { POD_WORLD_RESOURCES } from '../store/resources.js';
import { reconcileEndpoints } from './endpoints.js';
import { runKubelets } from './kubelet.js';
import {
  createServiceAdmission,
  createServiceAllocator,
  ensureAddons,
  ensureBaseObjects,
  heartbeat,
  markPodsOnLostNodes,
  reconcileNodes,
  reserveExistingServiceIps,
} from './nodes.js';
import { createEventRecorder, type ControllerOptions, type Runtime } from './runtime.js';
import { reconcileCronJobs } from './cronjobs.js';
import { runScheduler } from './scheduler.js';
import { applyStorageFaults, createClaimAdmission, ensureStorageClasses, reclaimVolumes, reconcileClaims } from './storage.js';
import { reconcileDaemonSets, reconcileDeployments, reconcileJobs, reconcileReplicaSets } from './workloads.js';

export type { ControllerOptions } from './runtime.js';

/** The most a pass asked for by events waits after the last one (a pass's own duration below that). */
const PASS_SPACING_MAX_MS = 250;

/** The pods' world, and the workloads the controllers expand into pods. */
const WATCHED = [...POD_WORLD_RESOURCES, 'replicasets.apps', 'jobs.batch', 'cronjobs.batch'];

export interface ControllerHandle {
  runtime: Runtime;
  /** Resolves after the next full reconcile pass has finished (tests use it to wait without sleeping blindly). */
  settle(): Promise<void>;
  /** Errors controllers hit (other than the usual 404/409 races), newest last, at most 20. */
  errors(): unknown[];
}

/** A StartControllers with options (faults registry, time scale, periods). */
export function createControllers(options: ControllerOptions = {}, onStart?: (h: ControllerHandle) => void): StartControllers {
  return async (ctx: LabContext) => {
    const now = options.now ?? (() => new Date());
    const faults = options.faults ?? createFaultRegistry(ctx.faults, { nodes: () => ctx.nodes.map((n) => n.name), api: ctx.api });
    const opts = {
      timeScale: options.timeScale ?? 1,
      startDelayMs: options.startDelayMs ?? 300,
      heartbeatMs: options.heartbeatMs ?? 10_000,
      restartBackoffMs: options.restartBackoffMs ?? 10_000,
      resyncMs: options.resyncMs ?? 10_000,
      now,
    };
    let stopped = false;
    let running: Promise<void> | undefined;
    let dirty = false;
    let passTimer: NodeJS.Timeout | undefined;
    let passAt = Infinity;
    // How long the last pass took: passes that events ask for are spaced by as much (at most PASS_SPACING_MAX_MS),
    // so a burst of changes on a big lab is taken in batches, with the API answering in between.
    let lastPassMs = 0;
    const spacing = (): number => Math.min(lastPassMs, PASS_SPACING_MAX_MS);
    const waiters: (() => void)[] = [];
    const errors: unknown[] = [];
    const noteError = (e: unknown): void => {
      errors.push(e);
      if (errors.length > 20) errors.shift();
    };

    const rt: Runtime = {
      ctx,
      store: ctx.store,
      logs: ctx.logs,
      faults,
      opts,
      now,
      wake: (ms = 0) => requestPass(ms),
      event: createEventRecorder(ctx.store, now),
      volumes: new Map(),
      podAllocators: new Map(),
      serviceAllocator: createServiceAllocator(ctx.network.serviceCIDR),
      runs: new Map(),
      nodeNames: ctx.nodes.map((n) => n.name),
      faultsVersion: 0,
    };

    function requestPass(ms = 0): void {
      if (stopped) return;
      const at = Date.now() + Math.max(ms, 2);
      if (running) {
        if (ms <= 0) dirty = true;
      }
      if (at >= passAt) return;
      if (passTimer) clearTimeout(passTimer);
      passAt = at;
      passTimer = setTimeout(() => {
        passTimer = undefined;
        passAt = Infinity;
        void runPass();
      }, Math.max(ms, 2));
    }

    async function runPass(): Promise<void> {
      if (stopped) return;
      if (running) {
        dirty = true;
        return;
      }
      dirty = false;
      const started = Date.now();
      running = (async () => {
        // On the real API its controller manager and scheduler do the control plane's part: only the node side runs.
        const controlPlane = ctx.api !== 'real';
        const steps = [
          () => reconcileNodes(rt),
          ...(controlPlane ? [() => Promise.all(markPodsOnLostNodes(rt))] : []),
          () => reconcileClaims(rt),
          () => reclaimVolumes(rt),
          ...(controlPlane
            ? [
                () => reconcileDeployments(rt),
                () => reconcileReplicaSets(rt),
                () => reconcileDaemonSets(rt),
                () => reconcileCronJobs(rt),
                () => reconcileJobs(rt),
                () => runScheduler(rt),
              ]
            : []),
          () => runKubelets(rt),
          ...(controlPlane ? [() => reconcileEndpoints(rt)] : []),
        ];
        for (const step of steps) {
          if (stopped) return;
          try {
            await step();
          } catch (e) {
            // One controller's failure must not stop the others; try again soon, like a requeue.
            noteError(e);
            requestPass(500);
          }
        }
      })();
      await running;
      running = undefined;
      lastPassMs = Date.now() - started;
      if (dirty) requestPass(spacing());
      else for (const w of waiters.splice(0)) w();
    }

    // Admission: Service ClusterIPs and default StorageClass, as kube-apiserver does at create (the real one does its own).
    reserveExistingServiceIps(rt);
    const unregister = ctx.api !== 'real'
      ? [
          ctx.store.addAdmission('services', createServiceAdmission(rt)),
          ctx.store.addAdmission('persistentvolumeclaims', createClaimAdmission(rt)),
          ctx.addInterceptor(createFaultInterceptor(faults)),
        ]
      : [];
    ctx.addAdminRoute('faults', createFaultAdminHandler(faults));

    await ensureBaseObjects(rt);
    await reconcileNodes(rt);
    await heartbeat(rt);
    await ensureStorageClasses(rt);
    await ensureAddons(rt);

    const unwatch = WATCHED.map((r) =>
      ctx.store.watch(r, undefined, {}, (e) => {
        if (r === 'pods' && e.type === 'DELETED' && e.object.metadata.namespace && e.object.metadata.name) {
          ctx.logs.drop(e.object.metadata.namespace, e.object.metadata.name);
        }
        if (r === 'services' && e.type === 'DELETED') {
          const ip = (e.object.spec as { clusterIP?: string } | undefined)?.clusterIP;
          if (ip && ip !== 'None') rt.serviceAllocator.release(ip);
        }
        requestPass(Math.max(5, spacing()));
      }),
    );
    const offFaults = faults.onChange(() => {
      rt.faultsVersion++;
      void applyStorageFaults(rt).catch(noteError);
      requestPass(0);
    });
    const hb = setInterval(() => void heartbeat(rt).catch(noteError), opts.heartbeatMs);
    const resync = setInterval(() => requestPass(0), opts.resyncMs);
    hb.unref();
    resync.unref();
    requestPass(0);

    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      clearInterval(hb);
      clearInterval(resync);
      if (passTimer) clearTimeout(passTimer);
      for (const u of unwatch) u();
      offFaults();
      for (const u of unregister) u();
      await running;
      for (const w of waiters.splice(0)) w();
    };
    ctx.signal.addEventListener('abort', () => void stop(), { once: true });
    onStart?.({
      runtime: rt,
      settle: () =>
        new Promise<void>((resolve) => {
          waiters.push(resolve);
          requestPass(0);
        }),
      errors: () => [...errors],
    });
    return stop;
  };
}

/** The lab's controllers with real-world timings and the faults given at start (ctx.faults). */
export const startControllers: StartControllers = createControllers();
