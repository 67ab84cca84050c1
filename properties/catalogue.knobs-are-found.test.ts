/**
 * Goal: the bug catalogue is a test of the checker. Every knob of every model is found from this run's seed by
 * the property suite within the default budget, and its first violation is the invariant the catalogue names (or
 * one of the alternatives the knob declares with a reason, `alsoExpect`);
 * a negative control (expect: null) is never flagged within the same budget.
 * Method: fast-check choice sequences (runChoices) against the design with the knob, on the model's check
 * configuration merged with the knob's; fast-check shrinks the counterexample, which must still violate the
 * same invariant. Shrinking is left to `dtsim bugs` and `dtsim shrink` (endOnFailure keeps this test fast).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { knobFoundAs } from '../src/core/model.ts';
import { MODELS } from '../models/index.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb, searchKnob } from './support/models.ts';

export const KNOB_BUDGET = Number(process.env['DTSIM_KNOB_RUNS'] ?? 1000);

describe(`bug catalogue: every knob is found (seed: ${SEED}, budget ${KNOB_BUDGET} runs)`, () => {
  for (const m of MODELS) {
    for (const b of m.preset.bugs) {
      const design = m.design({}, [b.id]);
      const config = { ...m.defaultConfig, ...(b.config ?? {}) };
      if (b.expect === null) {
        it(`${m.id}/${b.id} (${b.ref}) is a negative control: never flagged`, () => {
          fc.assert(fc.property(choicesArb(240), (ch) => {
            const r = runChoices(m, design, config, ch);
            if (r.outcome.status !== 'ok') throw new Error(`flagged: ${r.outcome.invariant} after ${r.outcome.eventIndex}: ${r.outcome.message}`);
          }), { seed: fcSeed(`knob/${b.id}`), numRuns: Math.min(KNOB_BUDGET, 300) });
        });
        continue;
      }
      it(`${m.id}/${b.id} (${b.ref}) violates ${b.expect}`, () => {
        const r = searchKnob(m, b, fcSeed(`knob/${b.id}`), KNOB_BUDGET);
        expect(r, `${b.id} not found in ${KNOB_BUDGET} runs`).not.toBeNull();
        expect(r!.outcome.status).toBe('violated');
        // The expected invariant, or one the knob declares with a reason (BugKnob.alsoExpect: F11 and F5).
        expect(knobFoundAs(b, r!.outcome.invariant), `found ${r!.outcome.invariant}, expected ${b.expect}${b.alsoExpect ? ` or ${Object.keys(b.alsoExpect).join(' or ')}` : ''}`).toBe(true);
      });
    }
  }
});
