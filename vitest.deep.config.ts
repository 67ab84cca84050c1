import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { DEEP } from './vitest.config.ts';

/**
 * `npm run test:deep`: the longest explorations and campaigns (DEEP in vitest.config.ts), left out of `npm test` to
 * keep it within about 5 minutes on 2 cores; `.ci/run` runs this step right after `npm test`.
 */
export default defineConfig({
  test: {
    include: DEEP,
    setupFiles: ['properties/support/setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'threads',
    maxWorkers: Math.max(1, availableParallelism()),
  },
});
