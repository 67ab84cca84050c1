/**
 * Goal: as explore.proof.test.ts, for hdbss (its ring consumer row is the largest space: 1.2M states).
 */
import { describe } from 'vitest';
import { SEED } from './support/seed.ts';
import { proofTests } from './support/proof.ts';

describe(`explore --proof: hdbss designs exhausted at their documented configuration (seed ${SEED}: deterministic)`, () => {
  proofTests(['hdbss']);
});
