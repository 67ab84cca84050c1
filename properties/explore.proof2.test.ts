/**
 * Goal: proof tier 2 (models/proofs.ts PROOF_TIER2_BASE): every correct design of the check matrix holds every
 * invariant in every reachable state with two vCPUs racing on two PEs over two pages, stolen time and the ITS
 * save on; each case exhausted, no deadlock, its size and its coverage of check's situations pinned
 * (properties/support/proof.ts). This file: dirty-bitmap and dirty-ring; explore.proof2-hw.test.ts: hdbss and pta.
 * Designs documented as not exhaustible at this tier (`open`) are not run (`dtsim explore --proof --tier 2`
 * shows them NOT exhausted). `npm run test:proof2`, its own step of .ci/run (tens of millions of states).
 */
import { describe } from 'vitest';
import { SEED } from './support/seed.ts';
import { proofTests } from './support/proof.ts';

describe(`explore --proof --tier 2: dirty-bitmap and dirty-ring designs with 2 vCPUs x 2 PEs exhausted (seed ${SEED}: deterministic)`, () => {
  proofTests(['dirty-bitmap', 'dirty-ring'], 2);
});
