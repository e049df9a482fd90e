/**
 * Runs once before the test files: a fresh record of which tests used which real program (see
 * helpers/real-tools.ts), and no conformance line left from an earlier run (test/conformance writes it).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  rmSync(path.resolve(import.meta.dirname, '..', '.real-tools-usage'), { recursive: true, force: true });
  rmSync(path.resolve(import.meta.dirname, '..', '.conformance-summary.txt'), { force: true });
}
