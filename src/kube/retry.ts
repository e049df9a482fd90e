/**
 * When to ask the API server again. An overloaded kube-apiserver (max-in-flight, priority and fairness) or one
 * restarting answers 429 TooManyRequests or 503 ServiceUnavailable with a Retry-After header, before it has done
 * anything with the request; client-go (and so kubectl) waits that long and retries up to 10 times. We do the
 * same for requests that are safe to repeat, within a budget so a dead server still fails in bounded time.
 * Pure: the client owns the clock.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. client-go's default is 10. */
  maxRetries: number;
  /** Total time spent waiting between attempts of one request (ms). */
  budgetMs: number;
  /** A Retry-After above this is clamped (ms): a misconfigured server must not park us for an hour. */
  maxDelayMs: number;
  /** Wait when the server gave no Retry-After (ms); doubled per attempt up to maxDelayMs. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 10, budgetMs: 60_000, maxDelayMs: 10_000, baseDelayMs: 500 };

/** Requests whose repetition cannot change the outcome: reads, PUT, DELETE, and PATCH (apply and merge patches are declarative). */
export function isIdempotent(method: string): boolean {
  return ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].includes(method.toUpperCase());
}

/** Seconds or an HTTP date, as RFC 9110 allows; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/**
 * How long to wait before attempt `attempt + 1` (attempt counts retries already made, from 0), or undefined when
 * the answer is final: not a retryable status, retries used up, or the wait would overrun the budget.
 * 429 and 503 are retried with or without Retry-After; other 5xx only when the server asks with Retry-After.
 */
export function retryDelayMs(code: number, retryAfter: string | undefined, attempt: number, waitedMs: number, policy: RetryPolicy = DEFAULT_RETRY): number | undefined {
  const asked = parseRetryAfter(retryAfter);
  const retryable = code === 429 || code === 503 || (code >= 500 && asked !== undefined);
  if (!retryable || attempt >= policy.maxRetries) return undefined;
  const delay = Math.min(policy.maxDelayMs, asked ?? policy.baseDelayMs * 2 ** attempt);
  if (waitedMs + delay > policy.budgetMs) return undefined;
  return delay;
}
