/**
 * Regression (found by the property seed seedH8 in hdbss.ring-feed-holds): a vCPU preempted between an
 * HDBSS-full fault and its handler was put with the fault still pending; once the VMM stopped the VM nothing
 * could load it again, so the final collection waited forever (INV-LIVE). The put's drain now resolves the
 * pending fault (the store re-executes after the next load). This replays that exact fast-check run (fixed seed,
 * the failure was at run 40) and asserts every run completes.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { hdbss } from '../models/hdbss/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { choicesArb } from './support/models.ts';
import { SEED } from './support/seed.ts';

const CONFIG = { ...DEFAULT_CONFIG, slots: [{ base: 0, npages: 8 }], storePages: [1, 2, 3], itsPages: [5] };

describe(`hdbss into the ring: a vCPU put with a pending HDBSS-full fault (seed: ${SEED}; regression seed fixed)`, () => {
  it('every run of the seed that deadlocked completes its migration', () => {
    const design = hdbss.design({ consumer: 'ring', hdbssEntries: 1 }, []);
    let finished = 0;
    fc.assert(fc.property(choicesArb(600), (ch) => {
      const r = runChoices(hdbss, design, CONFIG, ch, 20_000);
      expect(r.outcome.status, `${r.outcome.invariant ?? ''} ${r.outcome.message ?? ''}`).toBe('ok');
      expect(hdbss.isFinal(r.outcome.state)).toBe(true);
      finished++;
    }), { seed: -1326811276, numRuns: 60, endOnFailure: true });
    expect(finished).toBe(60);
  });
});
