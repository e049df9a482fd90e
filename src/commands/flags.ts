/**
 * The one parser for numeric flags: a whole number within a range, or a usage error (exit 2) that names the
 * flag, what was given and the range. Commander calls it while parsing, before any work starts.
 */
import { InvalidArgumentError } from 'commander';

interface WholeNumberRange {
  min: number;
  max: number;
  /** "seconds", "nodes": read after the range in the message. */
  unit?: string;
}

/** Checks one value; the message completes commander's "option '--x <n>' argument 'abc' is invalid." */
export function parseWholeNumber(text: string, range: WholeNumberRange): number {
  const t = text.trim();
  const n = /^[+-]?\d+$/.test(t) ? Number(t) : Number.NaN;
  const want = `a whole number from ${range.min} to ${range.max}${range.unit ? ` (${range.unit})` : ''}`;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`It must be ${want}.`);
  if (n < range.min || n > range.max) throw new InvalidArgumentError(`It must be ${want}, not ${n}.`);
  return n;
}

/** A commander argParser for a whole number in [min, max]. */
export function wholeNumber(min: number, max: number, unit?: string): (value: string) => number {
  return (value) => parseWholeNumber(value, { min, max, unit });
}
