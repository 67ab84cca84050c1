/**
 * Goal: a design with no bug knob never violates an invariant (INV-NOLOSS stepwise, INV-FINAL at the end,
 * INV-ARMED, INV-FLUSH, and every mechanism invariant) and always completes its migration.
 * Method: fast-check choice sequences drive every design of every model's option matrix; the run is then
 * driven to completion (stop, final collection, final copy); invariants are checked after every event.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb, matrixCases } from './support/models.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150);

describe(`correct designs hold every invariant (seed: ${SEED})`, () => {
  for (const c of matrixCases()) {
    it(c.label, () => {
      fc.assert(fc.property(choicesArb(240), (ch) => {
        const r = runChoices(c.model, c.design, c.config, ch);
        if (r.outcome.status !== 'ok') {
          throw new Error(`${r.outcome.status}: ${r.outcome.invariant ?? ''} after event ${r.outcome.eventIndex}: ${r.outcome.message}`);
        }
        expect(c.model.isFinal(r.outcome.state)).toBe(true);
      }), { seed: fcSeed(`hold/${c.label}`), numRuns: RUNS });
    });
  }
});
