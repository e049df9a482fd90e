import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The lab-based tests a second time, on the real control plane (issue 13): `npm test` runs
 * `vitest run --config vitest.lab-real.config.ts` after the main pass. Each file starts its labs through
 * test/helpers/lab-api.ts, which reads GROUNDWORK_TEST_LAB_API. Tests about the embedded API server itself (its
 * HTTP handling, protobuf, tables, store) are not here: there is no embedded API on this pass to test.
 */
export const LAB_BASED_FILES = [
  'test/validate/lab.test.ts',
  'test/validate/cli.test.ts',
  'test/rehearse/settle-gate.test.ts',
  'test/rehearse/independence.test.ts',
  'test/addons/backup-lab.test.ts',
  'test/ui/wizard-rehearsal.test.ts',
  'test/kube/client.test.ts',
  'test/validate/truthful.test.ts',
];

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: LAB_BASED_FILES,
    env: { ...base.test?.env, GROUNDWORK_TEST_LAB_API: 'real' },
    // Not the main pass's: it clears the real-programs record and the conformance line this pass adds to.
    globalSetup: [],
    reporters: ['default', ['json', { outputFile: '.vitest-report-lab-real.json' }]],
  },
});
