import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The real-node tests (test/real-node/), one file at a time (each is a whole node): `npm test`'s last pass, or
// alone with `npm run test:real-node`.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/real-node/**/*.test.ts'],
    exclude: configDefaults.exclude,
    maxWorkers: 1,
    // Not the main pass's: it clears the real-programs record and the conformance line (npm test runs this last).
    globalSetup: [],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    reporters: ['default', ['json', { outputFile: '.vitest-report-real-node.json' }]],
  },
});
