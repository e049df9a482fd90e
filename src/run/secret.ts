import { inspect } from 'node:util';
import { secretValuesOf } from './secret-values.js';
import { REDACTED, findSecretShapes, redactSecretShapes } from './secret-shapes.js';

export { REDACTED };

/**
 * A secret value (STYLE 11). It prints, serialises and inspects as [redacted]; only reveal() gives the value,
 * and the places that call it (argv for a process, a 0600 file) are few and greppable.
 */
export class Secret {
  readonly #value: string;
  readonly name: string;
  constructor(value: string, name = 'secret') {
    this.#value = value;
    this.name = name;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * Knows every secret value seen in a run and scrubs it from any text before that text is logged, audited or
 * reported; then scrubs what looks like a secret nobody registered (secret-shapes.ts: a join command a failing
 * kubeadm printed, a private key). Values shorter than 4 characters are not registered: they would redact
 * ordinary words.
 */
export class Redactor {
  readonly #values = new Set<string>();
  /** #values longest first, sorted once per change rather than once per string redacted. */
  #sorted?: string[];

  /** A secret value: the whole of it and, for multi-line values, each line (a PEM block, a token file). */
  add(value: string | Secret | undefined | null): void {
    const v = value instanceof Secret ? value.reveal() : value;
    if (!v) return;
    for (const piece of [v, ...v.split(/\r?\n/)]) this.#addExact(piece);
  }

  #addExact(piece: string): void {
    const t = piece.trim();
    if (t.length >= 4 && !this.#values.has(t)) {
      this.#values.add(t);
      this.#sorted = undefined;
    }
  }

  /** The contents of a secret file: see secretValuesOf for what counts as secret in it. */
  addSecretText(text: string): void {
    const { structured, values } = secretValuesOf(text);
    if (structured) {
      this.#addExact(text);
      for (const v of values) this.add(v);
    } else {
      this.add(text);
      for (const v of values) this.#addExact(v);
    }
  }

  /** Registers every secret of recognisable shape in tool output, before any of it is shown or kept. */
  scan(text: string): void {
    for (const v of findSecretShapes(text)) this.#addExact(v);
  }

  get size(): number {
    return this.#values.size;
  }

  redact(text: string): string {
    if (!text) return text;
    let out = text;
    // Longest first so a value that contains another is replaced whole.
    this.#sorted ??= [...this.#values].sort((a, b) => b.length - a.length);
    for (const v of this.#sorted) {
      if (out.includes(v)) out = out.split(v).join(REDACTED);
    }
    return redactSecretShapes(out);
  }

  /** Deep-redacts strings inside plain data (for reports and audit entries). */
  redactDeep<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value instanceof Secret) return REDACTED as T;
    // Plain data only: a Date (or any class instance) is kept as it is, not flattened to {}.
    const proto = value && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
    if (value && typeof value === 'object' && (proto === Object.prototype || proto === null)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = this.redactDeep(v);
      return out as T;
    }
    return value;
  }
}
