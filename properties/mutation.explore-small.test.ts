/**
 * Goal: a small `explore` of every correct design, in both proof tiers (1 PE, then 2 PEs), holds: the first
 * SMALL_STATES distinct states of the BFS (a shortest-paths prefix of the proof tier's search, at the same
 * documented configurations, models/proofs.ts) violate no invariant and deadlock nowhere.
 * Method: BFS (src/explore/bfs.ts) with a distinct-state limit instead of exhaustion, so the file costs seconds
 * where the proof tier costs minutes. It is the exhaustive search's cheap cut for the mutation gate
 * (vitest.mutate.config.ts, docs/mutation.md): a mutant of models/ that breaks a state near the initial one in
 * any design is killed here even when no seeded campaign happens to schedule it. It also runs in `npm test`
 * (once: the gate runs no test of its own that `npm test` does not).
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../src/explore/bfs.ts';
import type { AnyModel } from '../src/core/model.ts';
import { proofCases } from '../models/proofs.ts';
import { SEED } from './support/seed.ts';

/** Distinct states per design: enough for every event kind to occur, small enough for well under a second each. */
export const SMALL_STATES = 1500;

describe(`a small explore of every correct design (seed: ${SEED}, ${SMALL_STATES} states each)`, () => {
  for (const c of proofCases()) {
    const label = `${c.model.id} ${JSON.stringify(c.row)} (${c.pes} PE${c.pes === 1 ? '' : 's'})`;
    it(label, () => {
      const r = explore(c.model as unknown as AnyModel, c.model.design(c.options, []), c.config, { maxDepth: 1000, maxStates: SMALL_STATES });
      expect(r.violation === null ? null : `${r.violation.invariant}: ${r.violation.message}`).toBeNull();
      expect(['stateLimit', 'exhausted']).toContain(r.status);
      expect(r.deadlocked).toBe(0);
      expect(r.distinct).toBeGreaterThan(Math.min(SMALL_STATES, 100));
      // The frontier is saved as word images (the model's state round-trips through its image: explore falls
      // back to objects silently otherwise, e.g. a stage-2 top level of the wrong length, pagetable.ts s2New).
      expect(r.storage).toBe('words');
    });
  }
});
