/**
 * Goal: as explore.proof2.test.ts (proof tier 2: 2 vCPUs x 2 PEs, stolen time and the ITS save on), for hdbss
 * and pta.
 */
import { describe } from 'vitest';
import { SEED } from './support/seed.ts';
import { proofTests } from './support/proof.ts';

describe(`explore --proof --tier 2: hdbss and pta designs with 2 vCPUs x 2 PEs exhausted (seed ${SEED}: deterministic)`, () => {
  proofTests(['hdbss', 'pta'], 2);
});
