/**
 * Secrets recognised by their shape, for text whose secrets nobody registered: a tool that fails before its
 * output could be parsed (a failing `kubeadm init` that printed its join command), an error rendered outside a
 * run. The Redactor applies these after the values it knows; renderError applies them to everything it prints.
 * No imports: cli.ts loads this on every start.
 *
 * Shapes (kept narrow so ordinary words, digests and hostnames survive):
 * - a kubeadm bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}` standing alone;
 * - the value after a secret-bearing flag: --token, --certificate-key, --discovery-token(-ca-cert-hash),
 *   --tls-bootstrap-token, --password, --client-key(-data);
 * - the value after `token:`, `certificate key:`, `password:`, `secret:`, `client-key-data:` (YAML, logs);
 * - the 64-hex certificate key kubeadm prints on the line after "Using certificate key:";
 * - `Bearer <token>`;
 * - a PEM private key block.
 */

export const REDACTED = '[redacted]';

const SHAPES: Array<[RegExp, string]> = [
  [/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g, REDACTED],
  [/(certificate key:?\s*\n\s*)[a-f0-9]{64}\b/gi, `$1${REDACTED}`],
  [
    /(--(?:token|certificate-key|discovery-token|discovery-token-ca-cert-hash|tls-bootstrap-token|password|client-key|client-key-data)(?:=|\s+))(?!\[redacted\])("?)[^\s"'\\]+\2/g,
    `$1${REDACTED}`,
  ],
  [
    /(\b(?:token|bootstrapToken|bootstraptoken|certificate[ _-]?key|certificateKey|password|secret|client-key-data)["']?\s*[:=][ \t]*)(?!\[redacted\])(["']?)[^\s"',}\]]{8,}\2/gi,
    `$1${REDACTED}`,
  ],
  [/(\bBearer\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}/g, `$1${REDACTED}`],
  [/(?<![A-Za-z0-9_.-])[a-z0-9]{6}\.[a-z0-9]{16}(?!\.?[A-Za-z0-9_-])/g, REDACTED],
];

/** Values of recognisable shape found in `text` (for registering them, so later mentions are redacted too). */
export function findSecretShapes(text: string): string[] {
  const out = new Set<string>();
  if (!text) return [];
  for (const m of text.matchAll(/(?<![A-Za-z0-9_.-])[a-z0-9]{6}\.[a-z0-9]{16}(?!\.?[A-Za-z0-9_-])/g)) out.add(m[0]);
  for (const m of text.matchAll(/--(?:token|certificate-key|discovery-token-ca-cert-hash|tls-bootstrap-token)(?:=|\s+)("?)([^\s"'\\]+)\1/g)) {
    if (m[2] !== REDACTED && m[2]!.length >= 8) out.add(m[2]!);
  }
  for (const m of text.matchAll(/certificate key:?\s*\n\s*([a-f0-9]{64})\b/gi)) out.add(m[1]!);
  return [...out];
}

/** Replaces every recognisable secret in `text` with [redacted]. */
export function redactSecretShapes(text: string): string {
  // The shortest shape is a flag and one character (`--token=x`): a shorter text has none (a report's many
  // short strings, the connectivity matrix's cells, skip six regular expressions each).
  if (!text || text.length < 9) return text;
  let out = text;
  for (const [re, to] of SHAPES) out = out.replace(re, to);
  return out;
}
