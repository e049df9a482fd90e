/**
 * TCP reachability from this machine: connect, then close. Bounded concurrency and a short timeout per attempt
 * so that one black-holed host costs one timeout, not one per port in series. UDP is not probed: a UDP "connect"
 * proves nothing, and we say so rather than pretend.
 */
import net from 'node:net';
import { dialRefusal } from '../net/loopback-guard.js';

type ReachStatus = 'open' | 'refused' | 'timeout' | 'unreachable' | 'error';

export interface ReachTarget {
  host: string;
  port: number;
}

export interface ReachResult extends ReachTarget {
  status: ReachStatus;
  ms: number;
  /** errno code (ECONNREFUSED, EHOSTUNREACH, ...) when not open. */
  code?: string;
}

interface ReachOptions {
  timeoutMs?: number;
  concurrency?: number;
  signal?: AbortSignal;
  /** Called as each probe finishes (completion order), e.g. for progress. */
  onResult?: (r: ReachResult, index: number) => void;
}

export const DEFAULT_REACH_TIMEOUT_MS = 1500;
export const DEFAULT_REACH_CONCURRENCY = 64;

export function probeTcp(target: ReachTarget, timeoutMs = DEFAULT_REACH_TIMEOUT_MS, signal?: AbortSignal): Promise<ReachResult> {
  const start = process.hrtime.bigint();
  const ms = () => Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100;
  const refusal = dialRefusal(target.host);
  if (refusal) return Promise.resolve({ ...target, status: 'error', ms: 0, code: refusal });
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (status: ReachStatus, code?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ ...target, status, ms: ms(), ...(code ? { code } : {}) });
    };
    const onAbort = () => finish('error', 'ABORTED');
    const timer = setTimeout(() => finish('timeout', 'ETIMEDOUT'), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish('open'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? 'ERROR';
      finish(code === 'ECONNREFUSED' ? 'refused' : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'unreachable' : 'error', code);
    });
  });
}

/** Probe every target, at most `concurrency` at a time; results in the order of `targets`. */
export async function probeAll(targets: ReachTarget[], opts: ReachOptions = {}): Promise<ReachResult[]> {
  const out: ReachResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      out[i] = await probeTcp(targets[i]!, opts.timeoutMs, opts.signal);
      opts.onResult?.(out[i]!, i);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? DEFAULT_REACH_CONCURRENCY, targets.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}
