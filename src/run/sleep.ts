import { Cancelled } from '../errors.js';

/** Waits `ms`, or less if the signal aborts first (the caller then checks signal.aborted). Never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

let lastTurn = 0;
/**
 * Gives the event loop a turn (signal handlers, timers, renderers) when the caller has held it for more than
 * `everyMs`. Long loops whose awaits all resolve at once (a dry run of thousands of steps) call it per item, so
 * a Ctrl-C or SIGTERM is seen within milliseconds instead of after the loop.
 */
export async function breathe(everyMs = 20): Promise<void> {
  const now = performance.now();
  if (now - lastTurn < everyMs) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastTurn = performance.now();
}

const NEVER = new AbortController().signal;

/** The one poll loop (gates, the rehearsal's settle wait, leftovers' process stops). */
export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Default: never aborted. */
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * Polls `look` until `isDone(view)` or the timeout; returns the last view either way. A failed look (API hiccup)
 * is retried until the timeout and then rethrown.
 */
export async function pollUntil<T>(look: () => Promise<T>, isDone: (v: T) => boolean, o: PollOptions): Promise<{ view: T; done: boolean }> {
  const now = o.now ?? Date.now;
  const deadline = now() + o.timeoutMs;
  let lastErr: unknown;
  let view: T | undefined;
  for (;;) {
    if (o.signal?.aborted) throw new Cancelled();
    try {
      view = await look();
      lastErr = undefined;
      if (isDone(view)) return { view, done: true };
    } catch (err) {
      if (o.signal?.aborted) throw new Cancelled();
      lastErr = err;
    }
    if (now() >= deadline) {
      if (view === undefined) throw lastErr;
      return { view, done: false };
    }
    await sleep(Math.min(o.intervalMs ?? 1000, Math.max(0, deadline - now())), o.signal ?? NEVER);
  }
}
