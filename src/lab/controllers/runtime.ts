/**
 * What every controller loop shares: the lab context, faults, options, a clock, wake-ups, events, and the
 * in-memory state a real node would keep on disk (volume contents, running containers).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FaultRegistry } from '../faults.js';
import type { LabContext } from '../types.js';
import { ApiError, type KubeObject, type LabStore, type OwnerReference, type PodLogs } from '../store/types.js';
import type { Allocator } from './ipam.js';

export type Obj = Record<string, any>;

export interface ControllerOptions {
  /** The fault registry; default: one made from ctx.faults. Tests pass their own to flip faults. */
  faults?: FaultRegistry;
  /** Multiplies probe timeouts and `sleep N` (tests use 0.01). Default 1: a blocked connect waits its timeout. */
  timeScale?: number;
  /** ContainerCreating -> Running. Default 300 ms. */
  startDelayMs?: number;
  /** Lease renewal period. Default 10 s (kubelet's nodeLeaseDurationSeconds 40 / 4). */
  heartbeatMs?: number;
  /** First CrashLoopBackOff delay, doubling up to 5 min like the kubelet. Default 10 s. */
  restartBackoffMs?: number;
  /** Full reconcile even without events (a safety net: events, timers and fault changes drive passes). Default 10 s. */
  resyncMs?: number;
  now?: () => Date;
}

type ResolvedOptions = Required<Omit<ControllerOptions, 'faults'>>;

export interface ContainerRun {
  name: string;
  state: 'waiting' | 'running' | 'terminated';
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  restartCount: number;
  /** When the running program ends (epoch ms); undefined = runs until deleted. */
  finishAt?: number;
  /** Printed when it ends. */
  finalLog?: string;
  /** When a crashed container starts again. */
  restartAt?: number;
  lastTerminated?: Obj;
  serves: number[];
}

export interface PodRun {
  uid: string;
  stage: 'creating' | 'init' | 'running' | 'done';
  /** Init containers, run one after another before the app containers. */
  init: ContainerRun[];
  /** How many init containers have succeeded. */
  initDone: number;
  /** Set when an init container failed under restartPolicy Never: the pod fails. */
  initFailed?: boolean;
  createdAt: number;
  /** The node whose kubelet runs it (its podCIDR slice gave the IP). */
  node?: string;
  ip?: string;
  containers: ContainerRun[];
  startedEvents: boolean;
  warned: Set<string>;
  /** What we last wrote, and the resourceVersion it got: unchanged status and no other writer -> no write. */
  lastSig?: string;
  lastRv?: string;
  /** Runtime.faultsVersion when the status was last written (health depends on faults). */
  lastFaults?: number;
}

export interface Runtime {
  ctx: LabContext;
  store: LabStore;
  logs: PodLogs;
  faults: FaultRegistry;
  opts: ResolvedOptions;
  now(): Date;
  /** Ask for a reconcile pass in `ms` (or at once). */
  wake(ms?: number): void;
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string, host?: string): Promise<void>;
  /** Volume contents: volume key -> path inside the volume -> file content. */
  volumes: Map<string, Map<string, string>>;
  podAllocators: Map<string, Allocator>;
  serviceAllocator: Allocator;
  runs: Map<string, PodRun>;
  nodeNames: string[];
  /** Bumped on every fault change, so steady-state work can be skipped safely between changes. */
  faultsVersion: number;
}

export function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
export function microTime(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}
export function randomSuffix(n = 5): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
}
export function shortHash(v: unknown, n = 10): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...createHash('sha256').update(JSON.stringify(v)).digest()].slice(0, n).map((b) => alphabet[b % alphabet.length]).join('');
}

/** Ignore the races every controller has (object deleted or changed under us); they retry on the next pass. */
export async function quietly<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && (e.code === 404 || e.code === 409 || e.code === 410)) return undefined;
    throw e;
  }
}

export async function ensure(store: LabStore, obj: KubeObject): Promise<void> {
  try {
    await store.create(obj, { skipValidation: true });
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 409)) throw e;
  }
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. Mutates `conds`. */
export function setCondition(conds: Obj[], type: string, status: string, now: Date, reason?: string, message?: string, extra: Obj = {}): Obj[] {
  const i = conds.findIndex((c) => c.type === type);
  const old = i >= 0 ? conds[i] : undefined;
  const next: Obj = { type, status, ...extra, lastTransitionTime: old && old.status === status ? old.lastTransitionTime : iso(now) };
  if (old && 'lastProbeTime' in old) next.lastProbeTime = old.lastProbeTime;
  if (reason) next.reason = reason;
  if (message) next.message = message;
  if (i >= 0) conds[i] = next;
  else conds.push(next);
  return conds;
}

export function ownerRef(o: KubeObject): OwnerReference {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name!, uid: o.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

export function isOwnedBy(o: KubeObject, owner: KubeObject): boolean {
  return (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.controller);
}

export function isTerminal(pod: KubeObject): boolean {
  const phase = (pod.status as Obj | undefined)?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isPodReady(pod: KubeObject): boolean {
  return ((pod.status as Obj | undefined)?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
}

/** Creates (or bumps the count of) a core/v1 Event like the component that would emit it. */
export function createEventRecorder(store: LabStore, now: () => Date): Runtime['event'] {
  const seen = new Map<string, { name: string; at: number }>();
  // The same event again within a minute is dropped (controllers re-run often); later ones bump its count,
  // like the client-go event correlator.
  return async (obj, type, reason, message, component, host) => {
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}|${type}|${reason}|${message}`;
    const t = now();
    const prev = seen.get(key);
    if (prev && t.getTime() - prev.at < 60_000) return;
    const existing = prev?.name;
    if (existing) seen.set(key, { name: existing, at: t.getTime() });
    if (existing && store.get('events', ns, existing)) {
      await quietly(
        store.mutate('events', ns, existing, (e) => {
          e.count = Number(e.count ?? 1) + 1;
          e.lastTimestamp = iso(t);
        }, { skipValidation: true }),
      );
      return;
    }
    const name = `${obj.metadata.name}.${(t.getTime() * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`;
    seen.set(key, { name, at: t.getTime() });
    await quietly(
      store.create(
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace: ns },
          involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
          reason,
          message,
          type,
          source: host ? { component, host } : { component },
          firstTimestamp: iso(t),
          lastTimestamp: iso(t),
          count: 1,
          reportingComponent: component,
          reportingInstance: host ?? '',
        },
        { skipValidation: true },
      ),
    );
  };
}
