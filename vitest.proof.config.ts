import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { PROOF_TIER } from './vitest.config.ts';

/**
 * `npm run test:proof`: the exhaustive proof tier alone (every correct design of the check matrix explored to
 * exhaustion at its documented configurations, each row's state count pinned in properties/support/proof.ts).
 * It guards correctness, so `.ci/run` runs it as its own step right after `npm test`; kept out of `npm test` to
 * hold that within about 5 minutes on 2 cores.
 */
export default defineConfig({
  test: {
    include: PROOF_TIER,
    setupFiles: ['properties/support/setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'threads',
    maxWorkers: Math.max(1, availableParallelism()),
  },
});
