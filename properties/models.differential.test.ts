/**
 * Goal (differential): the four models, run on the same workload (configuration and choice sequence), all agree
 * with the oracle: none loses a page (INV-NOLOSS stepwise, INV-FINAL) and every run completes; and, checked here
 * directly from the oracle's versions rather than through the invariant, the destination holds exactly guest
 * memory for every page of every memslot at the end.
 * Method: fast-check workloads x choice sequences, each run against the default design of every model.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { MODELS } from '../models/index.ts';
import { workloads } from '../src/testing/index.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';
import { saveCounterexample } from './support/failures.ts';
import { copiedVersion, memVersion } from '../models/oracle/oracle.ts';

describe(`all models agree with the oracle on the same workloads (seed: ${SEED})`, () => {
  it('dirty-bitmap, dirty-ring, pta and hdbss lose no page on the same choice sequences', () => {
    const base = MODELS[0]!;
    fc.assert(fc.property(workloads(base), choicesArb(200), (config, ch) => {
      for (const m of MODELS) {
        const design = m.design({}, []);
        const r = runChoices(m, design, config, ch);
        if (r.outcome.status !== 'ok' || !m.isFinal(r.outcome.state)) {
          const { message } = saveCounterexample({ label: `differential-${m.id}`, model: m, design, config }, ch, `differential-${m.id}`);
          throw new Error(`${m.id}: ${message}`);
        }
        const st = r.outcome.state;
        for (const sl of st.slots) {
          for (let g = sl.base; g < sl.base + sl.npages; g++) {
            expect(copiedVersion(st.oracle, g), `${m.id}: page ${g}`).toBe(memVersion(st.oracle, g));
          }
        }
      }
    }), { seed: fcSeed('differential'), numRuns: 60 });
  });
});
