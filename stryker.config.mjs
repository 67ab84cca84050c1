// @ts-check
/**
 * `npm run mutate`: StrykerJS over models/ with the mutation gate (vitest.mutate.config.ts) as the test suite.
 * docs/mutation.md has the commands, the measured times, the scores and the survivor list.
 *
 * What is mutated: the machine (models/machine/) and the mechanisms (dirty-bitmap, dirty-ring, hw-dirty, hdbss,
 * pta): everything that decides what the modelled kernel or hardware does and what the invariants check,
 * including the schema declarations (models/<x>/schema.ts: their kinds and `pack` hooks decide what explore
 * merges; the copies, save/load and pack they derive live in src/core/schema.ts, which is not mutated). Left out:
 * - models/oracle/**: the oracle is the judge, not the judged (a mutant there tests the invariants' own code);
 * - tests (*.test.ts) and migrations (migrations.ts: trace format upgrades, not behaviour);
 * - views (view.ts): the renderings of show, diff and bisect; no verdict reads them;
 * - models/proofs.ts (data: the proof tier's configurations) and models/index.ts (the registry's list).
 *
 * One file: `npm run mutate -- --mutate models/dirty-bitmap/bitmap.ts`. A --mutate on the command line replaces
 * the list below, exclusions included, so one mechanism needs them again (a comma-separated list):
 * `npm run mutate -- --mutate 'models/dirty-ring/**\/*.ts,!models/**\/*.test.ts,!models/**\/migrations.ts,!models/**\/view.ts'`.
 *
 * Per-test coverage: each mutant runs only the gate tests that executed it in the dry run. Incremental: the
 * results are kept in reports/stryker-incremental.json (checked in), so a full run can span several sittings
 * and a later run re-tests only mutants whose code or covering tests changed. The HTML and JSON reports go
 * under reports/mutation/ (git-ignored).
 *
 * Concurrency 1: the machine has 2 cores shared with other work; raise it with `--concurrency 2` on an idle
 * machine (each Stryker worker runs one vitest with one worker).
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  mutate: [
    'models/**/*.ts',
    '!models/**/*.test.ts',
    '!models/oracle/**',
    '!models/**/migrations.ts',
    '!models/**/view.ts',
    '!models/proofs.ts',
    '!models/index.ts',
  ],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 1,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // A mutant that loops (a loop bound turned around) is stopped and counted as a timeout (killed).
  timeoutMS: 30_000,
  timeoutFactor: 2,
  thresholds: { high: 90, low: 85, break: null },
};
