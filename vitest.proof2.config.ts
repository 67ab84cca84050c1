import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { PROOF_TIER2 } from './vitest.config.ts';

/**
 * `npm run test:proof2`: proof tier 2 alone (every correct design of the check matrix with two vCPUs racing on
 * two PEs, stolen time and the ITS save on, explored to exhaustion at its documented configuration, or
 * documented as not exhaustible: models/proofs.ts; each row's size and coverage pinned in
 * properties/support/proof.ts). Millions of states a design: `.ci/run` runs it as its own step after `npm test`
 * and `npm run test:proof` (budget about 20 minutes on 2 cores; about 3 minutes of CPU at 7c09960); kept out of both.
 */
export default defineConfig({
  test: {
    include: PROOF_TIER2,
    setupFiles: ['properties/support/setup.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    pool: 'threads',
    maxWorkers: Math.max(1, availableParallelism()),
  },
});
