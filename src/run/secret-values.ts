/**
 * The values inside a secret file worth redacting on their own. Redactor.add(fileText) registers the text and
 * each whole line, so a YAML secrets file (talosctl gen secrets, kubeadm certs) would only be redacted line by
 * line: a log that quotes just the token would leak it. Every scalar of 12+ characters counts as secret;
 * redacting a harmless long value is the cheap mistake.
 */
import { parseAllDocuments, visit, isScalar } from 'yaml';

const MIN = 12;

export function secretValuesOf(text: string): string[] {
  const out = new Set<string>();
  try {
    for (const doc of parseAllDocuments(text)) {
      if (!('contents' in doc)) continue;
      visit(doc, {
        Scalar(_key, node) {
          if (isScalar(node) && typeof node.value === 'string' && node.value.trim().length >= MIN) out.add(node.value.trim());
        },
      });
    }
  } catch {
    /* not YAML: the whole-text and per-line registration still apply */
  }
  // KEY=value lines (env files, join commands written to a file).
  for (const m of text.matchAll(/^[A-Za-z_][\w.-]*[ \t]*[=:][ \t]*(\S.{10,})$/gm)) out.add(m[1]!.trim().replace(/^["']|["']$/g, ''));
  return [...out];
}
