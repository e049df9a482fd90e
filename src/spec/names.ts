/**
 * Name rules with no library behind them, for the spec's schema and for the paths that must stay light (the ssh
 * argv builder on every drill run loads neither zod nor croner through here).
 */

/** POSIX-ish login names (useradd's default rule): lower case, digits, `_`, `.`, `-`, not first; at most 32. */
export const SSH_USER = /^[a-z_][a-z0-9_.-]{0,31}$/;

/**
 * Kubernetes' name shapes (apimachinery's validation), lengths checked apart: an RFC 1123 label (at most 63),
 * an RFC 1123 subdomain (at most 253), and the name part of a qualified name or label value (at most 63).
 * The spec's schema and the lab's API validation both use these.
 */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function isDnsSubdomain(v: string): boolean {
  return v.length <= 253 && DNS1123_SUBDOMAIN.test(v);
}

/** A DNS name: labels of letters, digits and inner `-`, dot-separated; at most 253 characters. */
const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isDnsName(v: string): boolean {
  return DNS_NAME.test(v);
}
