/** A StepContext for unit tests of single Steps: a real temp run dir, a real exec, a fresh redactor. */
import { mkdtempSync, mkdirSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createExec, type AuditEntry, type ExecFactoryOptions } from '../../src/exec/index.js';
import { Redactor } from '../../src/run/secret.js';
import type { StepContext } from '../../src/run/types.js';

export interface TestContext extends StepContext {
  audit: AuditEntry[];
  lines: string[];
}

export function createTestContext(opts: { env?: ExecFactoryOptions['env']; dryRun?: boolean; signal?: AbortSignal } = {}): TestContext {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'gw-test-'));
  const runDir = path.join(stateDir, 'runs', 'test');
  mkdirSync(runDir, { recursive: true });
  const redactor = new Redactor();
  const audit: AuditEntry[] = [];
  const lines: string[] = [];
  const signal = opts.signal ?? new AbortController().signal;
  return {
    runDir,
    stateDir,
    signal,
    redactor,
    dryRun: opts.dryRun ?? false,
    exec: createExec({ audit: { record: (e) => audit.push(e) }, redactor, signal, env: opts.env }),
    log: (l) => lines.push(redactor.redact(l)),
    values: {},
    audit,
    lines,
    async registerSecretFile(file: string) {
      chmodSync(file, 0o600);
      redactor.addSecretText(readFileSync(file, 'utf8'));
    },
  };
}
