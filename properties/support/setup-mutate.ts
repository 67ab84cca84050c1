import fc from 'fast-check';

// The mutation gate only (vitest.mutate.config.ts, after setup.ts): a property stops at its first failure,
// without shrinking. Stryker needs to know that a mutant is killed, not the smallest run that kills it; shrinking
// a campaign's counterexample runs into setup.ts's 3-minute limit, per killed mutant (the first measured run,
// docs/mutation.md). Every other setting of setup.ts is kept.
fc.configureGlobal({ ...fc.readConfigureGlobal(), endOnFailure: true });
