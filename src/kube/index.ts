/**
 * src/kube: the ONLY module that imports @kubernetes/client-node (lazily, inside loadKubeConfig).
 * Stable surface for validate/ and addons/ (rollout gates):
 *   loadKubeConfig(file?, context?) → KubeClient { get, list, create, apply, patchMerge, delete, raw, podLogs, watch, close }
 *   waitFor(kube, apiVersion, kind, { namespace, labelSelector, timeoutMs, signal }, check) / waitGone(...)
 *   createNamespace / deleteNamespace / listEvents
 *   errors: KubeApiError (.code .reason .status), KubeUnreachableError, toKubeError (also for client-node's ApiException)
 */
import type { KubeClient } from './client.js';
import { isAlreadyExists } from './errors.js';
import type { KubeObject } from './paths.js';
import { waitGone } from './wait.js';

export { KubeClient, loadKubeConfig, resolveKubeconfigPath, type ListOptions, type ListResult, type WatchEventType, type LoadOptions } from './client.js';
export { KubeApiError, KubeUnreachableError, toKubeError, isNotFound, isAlreadyExists, parseStatus, type KubeStatus } from './errors.js';
export type { KubeObject } from './paths.js';
export { WaitTimeout, waitFor, waitGone, type WaitOptions } from './wait.js';

/** Creates a namespace with labels; an existing one is an error unless `reuse`. */
export async function createNamespace(kube: KubeClient, name: string, labels: Record<string, string>, opts: { signal?: AbortSignal; reuse?: boolean } = {}): Promise<KubeObject> {
  try {
    return await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }, opts.signal);
  } catch (err) {
    if (opts.reuse && isAlreadyExists(err)) return (await kube.get('v1', 'Namespace', name))!;
    throw err;
  }
}

/** Deletes a namespace (Foreground) and, with `wait`, waits until it is gone. false when it did not exist. */
export async function deleteNamespace(kube: KubeClient, name: string, opts: { wait?: boolean; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
  const existed = await kube.delete('v1', 'Namespace', name, undefined, { propagationPolicy: 'Foreground', signal: opts.signal });
  if (existed && opts.wait) await waitGone(kube, 'v1', 'Namespace', name, undefined, { timeoutMs: opts.timeoutMs ?? 120_000, signal: opts.signal });
  return existed;
}

/** An Event, flattened to what a report shows. */
export interface EventSummary {
  type: string;
  reason: string;
  message: string;
  object: string;
  count: number;
  at?: string;
}

export function summarizeEvent(e: KubeObject): EventSummary {
  const io = (e.involvedObject ?? e.regarding ?? {}) as { kind?: string; name?: string };
  return {
    type: String(e.type ?? ''),
    reason: String(e.reason ?? ''),
    message: String(e.message ?? e.note ?? ''),
    object: `${io.kind ?? ''}/${io.name ?? ''}`,
    count: Number(e.count ?? 1),
    at: (e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp) as string | undefined,
  };
}

/** Events in a namespace, oldest first; optionally only those about one object. */
export async function listEvents(kube: KubeClient, namespace: string, opts: { name?: string; kind?: string; signal?: AbortSignal } = {}): Promise<EventSummary[]> {
  const sel = [opts.name ? `involvedObject.name=${opts.name}` : undefined, opts.kind ? `involvedObject.kind=${opts.kind}` : undefined].filter(Boolean).join(',');
  const l = await kube.list('v1', 'Event', { namespace, fieldSelector: sel || undefined, signal: opts.signal });
  const out = l.items.map(summarizeEvent);
  // The lab or an older server may ignore the field selector: filter here too.
  return out
    .filter((e) => (!opts.name || e.object.endsWith(`/${opts.name}`)) && (!opts.kind || e.object.startsWith(`${opts.kind}/`)))
    .sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
}
