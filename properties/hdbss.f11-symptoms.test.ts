/**
 * Goal: pin why the F11 knob (hdbss/hdbss-drain-no-dsb: the drain reads the HDBSS entries with no DSB) declares
 * INV-NOLOSS as an alternative to INV-ARMED (BugKnob.alsoExpect), so that the alternative stays a measured fact,
 * not a way to make a flaky test pass.
 * - The lost entry leaves its page writable-dirty with no record: INV-ARMED, the knob's expected invariant.
 * - If an MMU-notifier unmap of that page comes between the store and the drain, the page is protected when the
 *   drain skips its entry (with HDBSS the unmap keeps no dirty state of its own: the outstanding entry is the
 *   record), so INV-ARMED holds and the loss shows as INV-NOLOSS: data that nothing will report again.
 * Method: the same search as the catalogue test (fast-check choice sequences, 1,000 runs, first failure) from
 * SEARCHES seeds derived from this run's seed; every counterexample found must be INV-ARMED or INV-NOLOSS, and
 * every INV-NOLOSS one must have an `mmu/rangeUnmapped` of the violated page after that page's last
 * `hw/dirtyStateUpdated` (the hardware store whose entry was lost). Non-vacuity: INV-ARMED is seen (the knob's
 * main symptom), both invariants are seen, and the search finds the knob on at least 90% of the seeds. Measured on 7ec6423 over 200 seeds:
 * ARMED 138, NOLOSS 62, every NOLOSS with the unmap.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { knobFoundAs } from '../src/core/model.ts';
import { MODELS } from '../models/index.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';

const SEARCHES = 40;

describe(`F11 (hdbss-drain-no-dsb) shows as INV-ARMED, or as INV-NOLOSS after an unmap (seed: ${SEED})`, () => {
  it(`${SEARCHES} searches of 1,000 runs`, () => {
    const m = MODELS.find((x) => x.id === 'hdbss')!;
    const b = m.preset.bugs.find((x) => x.id === 'hdbss-drain-no-dsb')!;
    expect(b.expect).toBe('INV-ARMED');
    expect(Object.keys(b.alsoExpect ?? {})).toEqual(['INV-NOLOSS']);
    const design = m.design({}, [b.id]);
    const config = { ...m.defaultConfig, ...(b.config ?? {}) };
    const seen: Record<string, number> = {};
    let found = 0;
    for (let i = 0; i < SEARCHES; i++) {
      const res = fc.check(fc.property(choicesArb(240), (ch) => runChoices(m, design, config, ch).outcome.status === 'ok'),
        { seed: fcSeed(`f11-symptoms/${i}`), numRuns: 1000, endOnFailure: true });
      if (!res.failed) continue;
      found++;
      const r = runChoices(m, design, config, res.counterexample![0]);
      expect(r.outcome.status).toBe('violated');
      if (r.outcome.status !== 'violated') continue;
      const inv = r.outcome.invariant;
      expect(knobFoundAs(b, inv), `search ${i}: ${inv}: ${r.outcome.message}`).toBe(true);
      seen[inv] = (seen[inv] ?? 0) + 1;
      if (inv !== 'INV-NOLOSS') continue;
      const page = r.outcome.violation.pages[0];
      const upTo = r.events.slice(0, r.outcome.eventIndex + 1) as readonly { readonly type: string; readonly gfn?: number }[];
      let lastStore = -1;
      upTo.forEach((e, k) => { if (e.type === 'hw/dirtyStateUpdated' && e.gfn === page) lastStore = k; });
      expect(lastStore, `search ${i}: no hardware store to page ${page}`).toBeGreaterThanOrEqual(0);
      const unmapAfter = upTo.some((e, k) => k > lastStore && e.type === 'mmu/rangeUnmapped' && e.gfn === page);
      expect(unmapAfter, `search ${i}: INV-NOLOSS on page ${page} with no unmap after its last store: ${r.outcome.message}`).toBe(true);
    }
    expect(found, `found in ${found} of ${SEARCHES} searches; seen ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(Math.ceil(SEARCHES * 0.9));
    expect(seen['INV-ARMED'] ?? 0, JSON.stringify(seen)).toBeGreaterThan(0);
    // About a third of the searches end in INV-NOLOSS (P(none in 40) < 1e-6): the alternative is real.
    expect(seen['INV-NOLOSS'] ?? 0, JSON.stringify(seen)).toBeGreaterThan(0);
    console.log(`F11 symptoms over ${SEARCHES} searches: found ${found}, ${JSON.stringify(seen)}`);
  });
});
