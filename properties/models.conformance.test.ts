/**
 * Goal: every model in the registry behaves like a model: deterministic, JSON round trip, prefix consistency,
 * explore's recycling copy (copyInto) equal to a fresh copy,
 * fast replay path equal to the immer path, precise enabled/isEnabled and rejection of non-enabled events,
 * invariants holding on init. Method: fast-check choice sequences against every design of every option matrix.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb, matrixCases } from './support/models.ts';
import {
  copyIntoEqualsClone, deterministic, invariantsHoldOnInit, prefixConsistent, rejectsWhatIsNotEnabled, replaysAfterJsonRoundTrip,
} from './support/conformance.ts';

const RUNS = 25;

describe(`model conformance (seed: ${SEED})`, () => {
  for (const c of matrixCases()) {
    describe(c.label, () => {
      it('invariants hold on the initial state', () => invariantsHoldOnInit(c));
      it('is deterministic', () => {
        fc.assert(fc.property(choicesArb(), (ch) => deterministic(c, ch)), { seed: fcSeed(`det/${c.label}`), numRuns: RUNS });
      });
      it('replays after a JSON round trip, fast path == immer path', () => {
        fc.assert(fc.property(choicesArb(), (ch) => replaysAfterJsonRoundTrip(c, ch)), { seed: fcSeed(`json/${c.label}`), numRuns: RUNS });
      });
      it('replaying a prefix then the rest equals replaying all', () => {
        fc.assert(fc.property(choicesArb(), fc.nat(), (ch, k) => prefixConsistent(c, ch, k)), { seed: fcSeed(`prefix/${c.label}`), numRuns: RUNS });
      });
      it('copyInto over another state of the run equals clone (every field but the documented stale metrics)', () => {
        fc.assert(fc.property(choicesArb(), fc.nat(), (ch, k) => copyIntoEqualsClone(c, ch, k)), { seed: fcSeed(`copy/${c.label}`), numRuns: RUNS });
      });
      it('enabled agrees with isEnabled; a non-enabled event is rejected with its index', () => {
        fc.assert(fc.property(choicesArb(), fc.nat(), (ch, k) => rejectsWhatIsNotEnabled(c, ch, k)), { seed: fcSeed(`rej/${c.label}`), numRuns: RUNS });
      });
    });
  }
});
