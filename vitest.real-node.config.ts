import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:real-node`: the real-node tests only (test/real-node/), one file at a time (each is a whole node).
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/real-node/**/*.test.ts'],
    exclude: configDefaults.exclude,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    reporters: ['default'],
  },
});
