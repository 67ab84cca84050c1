import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * `npm test`: the suite, on every core. vitest's default is one worker less than the cores, which on the 2-core
 * machines this project runs on is a single worker: the files ran one after another (about 11.5 minutes on a
 * fresh clone). The exhaustive proof tier (properties/explore.proof*.test.ts, every correct design explored to
 * exhaustion at its documented configurations: about 4.5 minutes of one core) is its own step, `npm run
 * test:proof` (vitest.proof.config.ts), which `.ci/run` runs right after `npm test`; tier 2 (PROOF_TIER2) another,
 * `npm run test:proof2`, after it.
 */
export const PROOF_TIER = ['properties/explore.proof.test.ts', 'properties/explore.proof-hw.test.ts'];
/**
 * Proof tier 2 (two vCPUs on two PEs, stolen time and the ITS save on: millions of states a design; budget about
 * 20 minutes on 2 cores): `npm run test:proof2` (vitest.proof2.config.ts), the step of `.ci/run` after test:proof.
 * Split over files so vitest runs them on both cores.
 */
export const PROOF_TIER2 = ['properties/explore.proof2.test.ts', 'properties/explore.proof2-hw.test.ts'];

/**
 * The deep step (`npm run test:deep`, vitest.deep.config.ts; `.ci/run` runs it right after `npm test`): the longest
 * explorations and campaigns, kept out of `npm test` so that it stays within about 5 minutes on 2 cores (it had
 * grown to about 6 with issue 16's models). Each guards correctness (soundness of the hardware and ring
 * encodings against unencoded search, F17's ring overflow, the trace reader's fuzz campaign, the block-mapping
 * campaigns, explore's CLI with its matrix and both proof tiers' tables), so CI runs them on every change.
 */
export const DEEP = [
  'properties/explore.hw.test.ts',
  'properties/explore.ring.test.ts',
  'properties/explore.f17.test.ts',
  'properties/trace.reader-never-crashes.test.ts',
  'properties/hdbss.block-mappings-hold.test.ts',
  'properties/explore.cli.test.ts',
  'properties/explore.bfs-deep.test.ts',
];

export default defineConfig({
  test: {
    include: ['properties/**/*.test.ts', 'models/**/*.test.ts', 'src/**/*.test.ts', 'traces/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...PROOF_TIER, ...PROOF_TIER2, ...DEEP],
    setupFiles: ['properties/support/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'threads',
    maxWorkers: Math.max(1, availableParallelism()),
  },
});
