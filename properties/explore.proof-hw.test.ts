/**
 * Goal: as explore.proof.test.ts, for hdbss and pta (hdbss's ring consumer row is the largest space: 1.2M states).
 */
import { describe } from 'vitest';
import { SEED } from './support/seed.ts';
import { proofTests } from './support/proof.ts';

describe(`explore --proof: hdbss and pta designs exhausted at their documented configurations (seed ${SEED}: deterministic)`, () => {
  proofTests(['hdbss', 'pta']);
});
