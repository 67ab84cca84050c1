/**
 * Goal: every model in the registry behaves like a model: deterministic, JSON round trip, prefix consistency,
 * explore's recycling copy (copyInto) equal to a fresh copy,
 * fast replay path equal to the immer path (at the end, and in lockstep after every event), precise enabled/isEnabled and rejection of non-enabled events,
 * invariants holding on init. Method: fast-check choice sequences against every design of every option matrix.
 */
import { describe, expect, it } from 'vitest';
import { runChoices } from '../src/core/engine.ts';
import type { AnyModel, EventBase } from '../src/core/model.ts';
import type { MachineState } from '../models/machine/state.ts';
import fc from 'fast-check';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb, matrixCases } from './support/models.ts';
import {
  copyIntoEqualsClone, deterministic, fastEqualsImmerEveryEvent, invariantsHoldOnInit, lockstepFastEqualsImmer, prefixConsistent, rejectsWhatIsNotEnabled, replaysAfterJsonRoundTrip,
} from './support/conformance.ts';

/** Runs per property; the mutation gate (vitest.mutate.config.ts) sets DTSIM_CONFORMANCE_RUNS to a small fixed budget. */
const RUNS = Number(process.env['DTSIM_CONFORMANCE_RUNS'] ?? 25);
/** The lockstep property compares after every event: fewer runs (10 in `npm test`). */
const LOCK_RUNS = Math.min(10, RUNS);

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
      it('fast path (derived clone, reducers in place) == immer reference after every event', () => {
        fc.assert(fc.property(choicesArb(), (ch) => fastEqualsImmerEveryEvent(c, ch)), { seed: fcSeed(`lock/${c.label}`), numRuns: LOCK_RUNS });
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

  it('the lockstep check has teeth: a fast-path copy that drops a field is caught at the event that exposes it', () => {
    const c = matrixCases()[0]!;
    const m = c.model as unknown as AnyModel;
    const broken: AnyModel = { ...m, clone: (s) => { const k = m.clone!(s) as MachineState; k.vmm.round = 0; return k; } };
    const run = runChoices(c.model, c.design, c.config, Array.from({ length: 400 }, (_, i) => i * 7));
    expect((run.outcome.state as MachineState).vmm.round).toBeGreaterThan(0);
    expect(() => lockstepFastEqualsImmer(broken, c.design, c.config, run.events as EventBase[])).toThrow(/fast path differs from immer after event \d+/);
    expect(lockstepFastEqualsImmer(m, c.design, c.config, run.events as EventBase[])).toBe(run.events.length);
  });
});
