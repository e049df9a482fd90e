/**
 * What to redact from a secret file. A YAML secrets file (talosctl gen secrets, kubeconfig, talosconfig) is
 * redacted value by value: every value under a secret-ish key, and every long base64-looking value — not line by
 * line, which would turn ordinary words ("etcd:", "apiVersion: v1") into [redacted] everywhere. A plain file (a
 * token, an env file) is redacted whole, line by line, and by its KEY=value values.
 */
import { createRequire } from 'node:module';

/**
 * yaml (about 50 ms to load) only when a secret file is registered: every command loads the redactor, few
 * register a file (a drill never does). yaml's Node entry is CommonJS, so require gives the same module.
 */
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
}

/** Keys under which Talos, kubeadm and kubeconfig files keep key material, tokens and secrets. */
const SECRET_KEY = /(key|token|secret|password|data|crt|cert|ca|id)$/i;
/** A value this long of base64 characters is key material whatever its key is called. */
const BASE64ISH = /^[A-Za-z0-9+/=_-]{32,}$/;
const MIN = 8;

interface SecretValues {
  /** YAML with mappings: redact `values` only. Plain: redact the whole text and its lines too. */
  structured: boolean;
  values: string[];
}

export function secretValuesOf(text: string): SecretValues {
  const out = new Set<string>();
  let structured = false;
  try {
    const { parseAllDocuments, visit, isScalar, isPair, isMap, isSeq } = yaml();
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) throw new Error('not YAML');
    for (const doc of docs) {
      if (isMap(doc.contents) || isSeq(doc.contents)) structured = true;
      visit(doc, {
        Pair(_k, pair) {
          if (!isPair(pair) || !isScalar(pair.value) || typeof pair.value.value !== 'string') return;
          const key = isScalar(pair.key) ? String(pair.key.value) : '';
          const v = pair.value.value.trim();
          if (v.length >= MIN && (SECRET_KEY.test(key) || BASE64ISH.test(v))) out.add(v);
        },
        Scalar(_k, node) {
          if (typeof node.value === 'string' && BASE64ISH.test(node.value.trim())) out.add(node.value.trim());
        },
      });
    }
  } catch {
    structured = false;
  }
  if (!structured) {
    // KEY=value lines (env files, join commands written to a file).
    for (const m of text.matchAll(/^[A-Za-z_][\w.-]*[ \t]*[=:][ \t]*(\S.{6,})$/gm)) out.add(m[1]!.trim().replace(/^["']|["']$/g, ''));
  }
  return { structured, values: [...out] };
}
