// @ts-check
/**
 * `npm run mutate:explore`: Stryker with the explore part of the gate only (vitest.mutate-explore.config.ts),
 * for issue 18 item 4: which mutants the full gate kills does `explore` alone also kill? Everything else is
 * stryker.config.mjs's, but the incremental file and the reports go under reports/mutation/explore/
 * (git-ignored): the checked-in reports/stryker-incremental.json holds the full gate's results only.
 * Run it on a file the full gate has scored: `npm run mutate:explore -- --mutate models/machine/tlb.ts`.
 * docs/mutation.md has the figures.
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  vitest: { configFile: 'vitest.mutate-explore.config.ts', related: false },
  incrementalFile: 'reports/mutation/explore/stryker-incremental.json',
  htmlReporter: { fileName: 'reports/mutation/explore/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/explore/mutation.json' },
};
