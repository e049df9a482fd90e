/**
 * Name rules with no library behind them, for the spec's schema and for the paths that must stay light (the ssh
 * argv builder on every drill run loads neither zod nor croner through here).
 */

/** POSIX-ish login names (useradd's default rule): lower case, digits, `_`, `.`, `-`, not first; at most 32. */
export const SSH_USER = /^[a-z_][a-z0-9_.-]{0,31}$/;

/** A DNS name: labels of letters, digits and inner `-`, dot-separated; at most 253 characters. */
const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isDnsName(v: string): boolean {
  return DNS_NAME.test(v);
}
