import { defineConfig } from 'vitest/config';
import { GATE_ENV } from './vitest.mutate.config.ts';

/**
 * The explore part of the mutation gate alone (issue 18 item 4, docs/mutation.md "What explore alone kills"):
 * only properties/mutation.explore-small.test.ts, a small BFS of every correct design in both proof tiers, with
 * the gate's environment. `npm run mutate:explore` (stryker.explore.config.mjs) runs Stryker with it on a file
 * the full gate already scored, so the two results compare mutant by mutant: a mutant killed by the gate but
 * not here is one that only the seeded campaigns, the conformance properties or the trace replays catch.
 * Not part of `npm test` (its one test file is, already).
 */
export default defineConfig({
  test: {
    include: ['properties/mutation.explore-small.test.ts'],
    setupFiles: ['properties/support/setup.ts', 'properties/support/setup-mutate.ts'],
    env: GATE_ENV,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'threads',
    maxWorkers: 1,
  },
});
