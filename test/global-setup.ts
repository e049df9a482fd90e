/** Runs once before the test files: a fresh record of which tests used which real program (see helpers/real-tools.ts). */
import { rmSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  rmSync(path.resolve(import.meta.dirname, '..', '.real-tools-usage'), { recursive: true, force: true });
}
