import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // A real node (issue 21) needs root, containerd and a kubelet build: `npm test` runs them last
    // (vitest.real-node.config.ts), one file at a time; `npm run test:real-node` runs only them.
    exclude: [...configDefaults.exclude, 'test/real-node/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Colour libraries treat any FORCE_COLOR as on; tests compare plain text.
    env: { NO_COLOR: '1', FORCE_COLOR: '', GROUNDWORK_LOOPBACK_ONLY: '1' },
    pool: 'forks',
    // Vitest 4 runs CPUs-1 workers: one on a 2-core machine. Most test time is waiting on real processes
    // (etcd, kubectl, the lab), so use at least two.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ['test/global-setup.ts'],
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
  },
});
