/**
 * Goal: the correct designs hold every invariant in every reachable state of their documented small
 * configurations (models/proofs.ts): `dtsim explore --proof` as a test, one case per design of every model's
 * check matrix, each exhausted (not cut by a limit), no deadlock, and every narrowing documented. This file:
 * dirty-bitmap and dirty-ring; explore.proof-hw.test.ts: hdbss and pta (about 1.5 min of CPU each).
 * Method: explore (BFS) over each case, the same code the CLI runs. That a design with a knob fails the same
 * exploration is shown per knob in explore.bfs.test.ts ("every knob ..."); that a design left open fails the
 * proof, in explore.cli.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PROOF_NARROWINGS, proofCases } from '../models/proofs.ts';
import { MODELS } from '../models/index.ts';
import { SEED } from './support/seed.ts';
import { proofTests } from './support/proof.ts';

describe(`explore --proof: every correct design exhausted at its documented configuration (seed ${SEED}: deterministic)`, () => {
  it('every narrowing names a row of its model\'s matrix, and says why; every matrix row is a case', () => {
    for (const n of PROOF_NARROWINGS) {
      const m = MODELS.find((x) => x.id === n.model);
      expect(m, n.model).toBeDefined();
      if (n.row !== '*') expect(m!.preset.matrix.map((r) => JSON.stringify(r)), `${n.model} ${JSON.stringify(n.row)}`).toContain(JSON.stringify(n.row));
      expect(n.why.length).toBeGreaterThan(10);
    }
    // Two tiers (1 PE, 2 PEs), every matrix row in each.
    const cases = proofCases();
    expect(cases.length).toBe(2 * MODELS.reduce((a, m) => a + m.preset.matrix.length, 0));
    expect(cases.filter((c) => c.pes === 2).every((c) => c.config.pes === 2)).toBe(true);
    expect(cases.filter((c) => c.pes === 1).every((c) => c.config.pes === 1)).toBe(true);
  });

  proofTests(['dirty-bitmap', 'dirty-ring']);
});
