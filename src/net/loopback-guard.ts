/**
 * A safety net for our own machines: with GROUNDWORK_LOOPBACK_ONLY=1 (set by the test runner, the benches
 * and CI) nothing in groundwork dials an address outside 127.0.0.0/8 or ::1, even when a spec with
 * real-looking example addresses is run by mistake. Operators never set it.
 */
import ipaddr from 'ipaddr.js';

const LOOPBACK_ONLY_ENV = 'GROUNDWORK_LOOPBACK_ONLY';

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  try {
    return ipaddr.process(host).range() === 'loopback';
  } catch {
    return false;
  }
}

/** A reason not to dial `host`, or undefined when dialling is allowed. */
export function dialRefusal(host: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const v = env[LOOPBACK_ONLY_ENV];
  if (!v || v === '0' || isLoopback(host)) return undefined;
  return `not dialled: ${LOOPBACK_ONLY_ENV}=${v} allows only loopback addresses, and ${host} is not one`;
}
