/**
 * `dtsim explore --proof` as tests: every case of models/proofs.ts for the given models, each exhausted with no
 * violation and no deadlock (split over two files so vitest runs them on both cores).
 */
import { expect, it } from 'vitest';
import { explore } from '../../src/explore/bfs.ts';
import { proofCases } from '../../models/proofs.ts';
import { MODELS } from '../../models/index.ts';

export function proofTests(modelIds: readonly string[]): void {
  for (const c of proofCases(MODELS.filter((m) => modelIds.includes(m.id)))) {
    it(`${c.model.id} ${JSON.stringify(c.row)}${c.why ? ` (narrowed: ${JSON.stringify(c.options)}, ${JSON.stringify(c.config.slots)})` : ''}`, () => {
      const r = explore(c.model, c.model.design(c.options), c.config, { maxDepth: 1000, maxStates: 5_000_000 });
      expect([r.status, r.violation?.invariant ?? null, r.deadlocked], r.message).toEqual(['exhausted', null, 0]);
      // Not vacuous: the design ran to completed migrations (terminal, final states) over a non-trivial space.
      expect(r.terminal).toBeGreaterThan(0);
      expect(r.distinct).toBeGreaterThan(1000);
    }, 600_000);
  }
}
