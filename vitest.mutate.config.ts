import { defineConfig } from 'vitest/config';

/**
 * The mutation gate: the tests StrykerJS runs against each mutant of models/ (`npm run mutate`,
 * stryker.config.mjs, docs/mutation.md). It measures what the checker catches (invariants, the seeded
 * campaigns, the saved traces, explore), not what hand-written unit tests pin, so the models' own unit tests
 * (models/**\/*.test.ts) are left out on purpose. Every file here also runs in `npm test` (once: the gate adds no
 * step to it), at the larger budgets there; here the budgets are small and fixed so that a whole gate run stays
 * well under a minute of one core (measured: docs/mutation.md) and gives the same verdict on every run:
 *
 * - GATE_ENV.DTSIM_SEED: a fixed seed (12 characters: seed.ts keeps 12), whatever the CI or the shell says (Stryker's incremental file records
 *   which test killed which mutant: a moving seed would make that record meaningless).
 * - the conformance properties at DTSIM_CONFORMANCE_RUNS runs each (25 in `npm test`);
 * - the correct designs hold campaigns at DTSIM_PROPERTY_RUNS runs each (200 in `npm test`), on the check
 *   configuration and on a memslot of several bitmap words (models.wide-slot-holds.test.ts);
 * - the varied VMM's KVM_CLEAR_DIRTY_LOG calls (dirty-bitmap.varied-clears.test.ts: multi-word, unaligned,
 *   refused, bits not set or outside the range, on two slots of several words) at the same budget;
 * - every correct design with 2 MiB block mappings on one 515-page memslot (models.block-mappings-hold.test.ts,
 *   5 runs a design: the check configuration maps no block);
 * - every correct design with guest loads and stand-alone TLBIs (models.loads-hold.test.ts, at the same budget:
 *   the check configuration has neither, so no store meets a read-only or writable-clean TLB copy there);
 * - each mechanism's `pendingIndex` (the invariants' path for guests of 4096 pages and more, which no campaign
 *   here reaches) answering as its per-page `pending` along runs of every design (models.pending-index.test.ts);
 * - a PTA device of bounded storage never holding more than its bound, and filling (pta.device-bound.test.ts);
 * - check's situations counted: every model's designs together reach each of its coverage table's situations in
 *   check's own campaign at DTSIM_SITUATION_RUNS runs a design (models.situations-reached.test.ts; 30 in `npm
 *   test`): a model that stops counting one makes check report a GAP, so the gate must see it too;
 * - every documented value of every option, one option away from the defaults (models.every-option-value.test.ts,
 *   DTSIM_OPTION_RUNS runs a value; 10 in `npm test`): values outside the check matrix (dirty-ring's 4096- and
 *   65536-entry rings) initialise and hold (hole R1 of ring.ts, docs/mutation.md);
 * - the knob and trace replays (traces/**: every knob's regression trace replays to its invariant, every
 *   correct trace to `ok`), unchanged;
 * - a small `explore` of every correct design in both proof tiers (SMALL_STATES distinct states each).
 *
 * One worker: Stryker runs its own concurrency (one vitest per Stryker worker), so a gate run inside it must not
 * fan out further on this 2-core machine.
 */
export const GATE_FILES = [
  'properties/models.conformance.test.ts',
  'properties/models.correct-designs-hold.test.ts',
  'properties/models.wide-slot-holds.test.ts',
  'properties/dirty-bitmap.varied-clears.test.ts',
  'properties/models.block-mappings-hold.test.ts',
  'properties/models.loads-hold.test.ts',
  'properties/models.pending-index.test.ts',
  'properties/pta.device-bound.test.ts',
  'properties/models.situations-reached.test.ts',
  'properties/models.every-option-value.test.ts',
  'properties/traces.replay-to-expect.test.ts',
  'properties/mutation.explore-small.test.ts',
];

export const GATE_ENV = {
  DTSIM_SEED: 'mutate-gate1',
  DTSIM_CONFORMANCE_RUNS: '5',
  DTSIM_PROPERTY_RUNS: '30',
  DTSIM_SITUATION_RUNS: '20',
  DTSIM_OPTION_RUNS: '3',
};

export default defineConfig({
  test: {
    include: GATE_FILES,
    // setup-mutate.ts: stop a property at its first failure (no shrinking: a killed mutant is all Stryker needs).
    setupFiles: ['properties/support/setup.ts', 'properties/support/setup-mutate.ts'],
    env: GATE_ENV,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'threads',
    maxWorkers: 1,
  },
});
