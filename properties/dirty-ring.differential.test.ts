/**
 * Claim (differential): on the same workloads (configuration and choice sequence) dirty-bitmap and dirty-ring
 * (small and real-size rings, with and without the backup bitmap) both agree with the oracle: every run
 * completes, holds every invariant, and the destination ends with exactly guest memory for every page.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';
import { dirtyRing } from '../models/dirty-ring/index.ts';
import { copiedVersion, memVersion } from '../models/oracle/oracle.ts';
import { workloads } from '../src/testing/index.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 80);
const DESIGNS = [
  { m: dirtyBitmap, d: dirtyBitmap.design({}, []) },
  { m: dirtyRing, d: dirtyRing.design({}, []) },
  { m: dirtyRing, d: dirtyRing.design({ ringEntries: 4, ringWithBitmap: false }, []) },
  { m: dirtyRing, d: dirtyRing.design({ ringEntries: 256 }, []) },
];

describe(`dirty-bitmap and dirty-ring agree with the oracle on the same workloads (seed: ${SEED})`, () => {
  it('no page lost by either, every run completes', () => {
    let ringReports = 0;
    fc.assert(fc.property(workloads(dirtyRing), choicesArb(200), (config, ch) => {
      for (const { m, d } of DESIGNS) {
        const r = runChoices(m, d, config, ch);
        const o = r.outcome;
        if (o.status !== 'ok') throw new Error(`${m.id} ${JSON.stringify(d.options)}: ${o.invariant} after event ${o.eventIndex}: ${o.message}`);
        expect(m.isFinal(o.state), `${m.id} completes`).toBe(true);
        for (const sl of o.state.slots) {
          for (let g = sl.base; g < sl.base + sl.npages; g++) {
            expect(copiedVersion(o.state.oracle, g), `${m.id}: page ${g}`).toBe(memVersion(o.state.oracle, g));
          }
        }
        if (m === dirtyRing) ringReports += o.state.stats.reports;
      }
    }), { seed: fcSeed('ring-differential'), numRuns: RUNS });
    expect(ringReports).toBeGreaterThan(0);
  });
});
