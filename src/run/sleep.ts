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
