import fc from 'fast-check';
import { fcSeed } from './seed.ts';

// Every property uses the run's seed unless it passes its own (per-property labels give independent streams).
// Safety net, not an assertion: a property whose runs or shrinking go on past 3 minutes (no property takes more
// than ~20 s here) stops there; a failure found so far is still reported (with its counterexample), and a
// property with no failure passes on the runs it made. A synchronous hang would otherwise outlive vitest's
// test timeout and the CI budget (a livelocked model under shrinking did exactly that once).
fc.configureGlobal({ seed: fcSeed('global'), interruptAfterTimeLimit: 180_000, markInterruptAsFailure: false });
