/**
 * The one parser for numeric flags: a whole number within a range, or a usage error (exit 2) that names the
 * flag, what was given and the range. Commander calls it while parsing, before any work starts.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

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

/** The flags every command takes, defined once: cli.ts adds them to the program; commandNamed reads them. */
export function addGlobalOptions(program: Command): Command {
  return program
    .option('-f, --file <cluster.yaml>', 'cluster spec', 'cluster.yaml')
    .option('--json', 'print the report as JSON on stdout (and nothing else there)', false)
    .option('--state-dir <dir>', 'where run records live (default: .groundwork beside the spec)')
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .addOption(new Option('-y, --yes', 'never prompt; answer from the spec and flags').default(false));
}
