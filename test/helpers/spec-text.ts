/**
 * Table tests of spec and playbook text: a valid base text edited piece by piece, and the issues the parser
 * reports for the result, as the operator reads them (file:line:col path: message).
 */
import { expect } from 'vitest';
import { EXIT, SpecError, formatIssue } from '../../src/errors.js';

/** Replaces exact pieces of `base`, in order; fails loudly when a piece is not there (so a table cannot rot). */
export function editText(base: string, ...pairs: [string, string][]): string {
  let text = base;
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`not in the base text: ${from}`);
    text = text.replace(from, to);
  }
  return text;
}

/**
 * The formatted issues of the SpecError that `parse` throws: a usage error (exit 2) whose message is those
 * lines. Any other error, or none, fails the test.
 */
export function specIssues(parse: () => unknown): string[] {
  try {
    parse();
  } catch (e) {
    // A SpecError, never a raw internal error, whatever the bytes.
    expect(e).toBeInstanceOf(SpecError);
    expect((e as SpecError).exitCode).toBe(EXIT.usage);
    const lines = (e as SpecError).issues.map(formatIssue);
    expect((e as SpecError).message).toBe(lines.join('\n'));
    return lines;
  }
  throw new Error('expected a SpecError');
}
