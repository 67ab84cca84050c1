/**
 * `designs(model)` (the public arbitrary) generates only designs the model accepts. On d365c85 it drew every
 * combination of option values, and for hdbss a 4-entry ring fed by a 4-entry HDBSS buffer made `design()` throw
 * inside the user's property (CI seed -1403706150 of properties/library.oracle.test.ts).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { designs } from './index.ts';
import { dirtyBitmap, dirtyRing, hdbss, pta } from '../../models/index.ts';

describe('designs(model)', () => {
  for (const model of [dirtyBitmap, dirtyRing, hdbss, pta]) {
    it(`${model.id}: every generated design is one the model accepts (design() does not throw), over 2,000 samples`, () => {
      const seen = new Set<string>();
      for (const d of fc.sample(designs(model), { numRuns: 2000, seed: 7 })) {
        expect(() => model.design(d.options, d.bugs)).not.toThrow();
        seen.add(JSON.stringify(d.options));
      }
      expect(seen.size).toBeGreaterThan(1);
    });
  }
  it('hdbss: the refused combination (consumer ring, 4-entry ring, 4-entry buffer) is never drawn, and ring designs still are', () => {
    const refused = hdbss.preset.checkOptions!;
    let ring = 0;
    for (const d of fc.sample(designs(hdbss), { numRuns: 2000, seed: 11 })) {
      expect(refused(d.options, [])).toBeNull();
      if (d.options['consumer'] === 'ring') ring++;
    }
    expect(ring).toBeGreaterThan(0);
    expect(() => hdbss.design({ consumer: 'ring', ringEntries: 4, hdbssEntries: 4 })).toThrow(/smaller than its reserve/);
  });
});
