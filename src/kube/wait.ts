/**
 * Waiting for the cluster: watch a kind (list, then watch from that version) until a check over all the objects
 * says done, with a timeout and the run's AbortSignal. On timeout the last state seen is kept, because the
 * evidence of a failure is exactly that state.
 */
import { Cancelled } from '../errors.js';
import { formatDuration } from '../duration.js';
import type { KubeClient, ListOptions } from './client.js';
import type { KubeObject } from './paths.js';

/** The wait ran out of time; `last` is what the objects looked like then. */
export class WaitTimeout extends Error {
  readonly last: Map<string, KubeObject>;
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number, last: Map<string, KubeObject>) {
    super(`${what}: not done within ${formatDuration(timeoutMs)}`);
    this.name = 'WaitTimeout';
    this.last = last;
    this.timeoutMs = timeoutMs;
  }
}

export interface WaitOptions extends ListOptions {
  timeoutMs: number;
  /** Named in the timeout error. */
  what?: string;
  /** Re-list this often as a safety net under the watch (ms). Default 10 s: lists of big pods are not free. */
  resyncMs?: number;
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/**
 * Resolves with the first non-undefined value `check` returns over the current objects (keyed "ns/name").
 * Throws WaitTimeout after timeoutMs and Cancelled when the signal aborts.
 */
export async function waitFor<T>(
  kube: KubeClient,
  apiVersion: string,
  kind: string,
  opts: WaitOptions,
  check: (objects: Map<string, KubeObject>) => T | undefined,
): Promise<T> {
  const objects = new Map<string, KubeObject>();
  const stop = new AbortController();
  const outer = opts.signal;
  if (outer?.aborted) throw new Cancelled();
  const onOuter = () => stop.abort();
  outer?.addEventListener('abort', onOuter, { once: true });
  let settle!: (v: { ok: true; value: T } | { ok: false; err: unknown }) => void;
  const done = new Promise<{ ok: true; value: T } | { ok: false; err: unknown }>((r) => (settle = r));
  let finished = false;
  const finish = (v: { ok: true; value: T } | { ok: false; err: unknown }) => {
    if (finished) return;
    finished = true;
    settle(v);
  };
  const evaluate = () => {
    if (finished) return;
    try {
      const v = check(objects);
      if (v !== undefined) finish({ ok: true, value: v });
    } catch (err) {
      finish({ ok: false, err });
    }
  };
  const relist = async () => {
    const l = await kube.list(apiVersion, kind, { ...opts, signal: stop.signal });
    objects.clear();
    for (const o of l.items) objects.set(keyOf(o), o);
    evaluate();
    return l.resourceVersion;
  };
  const timer = setTimeout(() => finish({ ok: false, err: new WaitTimeout(opts.what ?? `waiting for ${kind}`, opts.timeoutMs, objects) }), opts.timeoutMs);
  const onAbort = () => finish({ ok: false, err: new Cancelled() });
  stop.signal.addEventListener('abort', onAbort, { once: true });
  const resync = setInterval(() => {
    relist().catch(() => undefined);
  }, opts.resyncMs ?? 10_000);

  const startWatch = async (): Promise<void> => {
    const rv = await relist();
    if (finished) return;
    await kube.watch(
      apiVersion,
      kind,
      {
        ...opts,
        resourceVersion: rv,
        signal: stop.signal,
        onGone: () => {
          if (!finished) startWatch().catch(() => undefined);
        },
      },
      (type, obj) => {
        if (type === 'DELETED') objects.delete(keyOf(obj));
        else objects.set(keyOf(obj), obj);
        evaluate();
      },
    );
  };
  startWatch().catch((err) => {
    // No watch (a proxy that does not stream, RBAC without watch): the resync loop still polls.
    if (objects.size === 0 && (err as { code?: number }).code === 403) finish({ ok: false, err });
  });

  try {
    const r = await done;
    if (!r.ok) throw r.err;
    return r.value;
  } finally {
    clearTimeout(timer);
    clearInterval(resync);
    outer?.removeEventListener('abort', onOuter);
    stop.abort();
  }
}

/** Waits until the object is gone (404). */
export async function waitGone(kube: KubeClient, apiVersion: string, kind: string, name: string, namespace: string | undefined, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  await waitFor(kube, apiVersion, kind, { namespace: kind === 'Namespace' ? undefined : namespace, fieldSelector: `metadata.name=${name}`, timeoutMs: opts.timeoutMs, signal: opts.signal, what: `${kind} ${name} to be deleted`, resyncMs: 1000 }, (objs) => (objs.size === 0 ? true : undefined));
}
