/**
 * Goal: every correct design holds every invariant when the guest's memory is mapped with 2 MiB blocks. The
 * check configuration has `blocks: false`, so a block mapping, its TLB entry (one entry covering 512 pages,
 * tlb.ts `T_BLOCK`), the write fault that splits it under logging and the TLB invalidation of the whole block
 * were reached in the mutation gate only by the knob traces (B8, B9 and their ring and HDBSS twins) and not at
 * all by a correct design: mutation testing of models/machine/tlb.ts showed it (docs/mutation.md, hole T1: a
 * block entry that covers only its first page, `tlbCovers`'s block branch, passed the campaigns and the small
 * explore; the properties hdbss.block-mappings-hold and pta.correct-holds-under-migration-and-rollover cover
 * two models only and are not in the gate).
 * Method: as properties/models.correct-designs-hold.test.ts (choice sequences, driven to completion, invariants
 * after every event), for every design of every model's option matrix, on the check configuration with block
 * mappings and one 515-page memslot (a whole block and a 3-page tail mapped with pages), stores on both ends
 * of the block, inside it and on the tail, the ITS table on the tail. 515 pages make every invariant scan 27
 * times the check configuration's, so the budget is a sixth of the other campaigns' (at most 8 runs).
 * Non-vacuity: in every model, a guest store retires through a writable TLB entry of a 2 MiB block (the
 * entry tlb.ts's block branch of `tlbCovers` matches for a page other than the block's first).
 * Open (OPEN_ROWS, skipped here and named in docs/mutation.md): none now. The file's first finding, F-B1 (HDBSS
 * with the dirty ring consumer: a hardware record of a whole block drained into the vCPU's ring as 512 entries
 * wrapped a ring of 16 and overwrote entries not yet harvested, INV-BLOCK at event 39 of the gate's seed), is
 * fixed in models/hdbss/reducer.ts (with the ring, blocks get no DBM at the enable and split on their first
 * write fault) and kept as the knob `hdbss-ring-block-dbm`.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MachineState } from '../models/machine/state.ts';
import type { MachineEvent } from '../models/machine/model-events.ts';
import { tlbCovers, tlbFlags, T_BLOCK, T_W } from '../models/machine/tlb.ts';
import { runChoices } from '../src/core/engine.ts';
import { MODELS } from '../models/index.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { BLOCK_SLOT, choicesArb, matrixCases, type DesignCase } from './support/models.ts';
import { assertDesignHolds } from './support/failures.ts';

/**
 * A sixth of the campaigns' budget (515 pages), at most 8: the gate's 30 give 5 runs a design, npm test 8 (its
 * 200 would give 34: about 5 minutes of one core for the 27 designs).
 */
const RUNS = Math.min(8, Math.ceil(Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 200) / 6));


function blocked(c: DesignCase): DesignCase {
  const pc = c.model.parseConfig({ ...(c.config as object), ...BLOCK_SLOT });
  if (!pc.ok) throw new Error(`${c.label}: ${pc.error.field}: ${pc.error.message}`);
  return { ...c, label: `${c.label} blocks`, config: pc.config };
}

/** Rows that lose pages with blocks today (the header's Open): model id and option row, as in the matrix. */
export const OPEN_ROWS: readonly string[] = [];

/** Stores that retired through a writable block TLB entry, at a page other than the block's first. */
function blockTlbStores(c: DesignCase, choices: readonly number[]): number {
  let n = 0;
  runChoices(c.model, c.design, c.config, choices, 100_000, {
    onStep: (s: MachineState, e: MachineEvent) => {
      if (e.type !== 'guest/storeRetired' || e.gfn % 512 === 0) return;
      const pe = s.pes[s.vcpus[e.vcpu]!.pe];
      if (pe?.tlb.some((t) => (tlbFlags(t) & (T_BLOCK | T_W)) === (T_BLOCK | T_W) && tlbCovers(t, e.gfn))) n++;
    },
  });
  return n;
}

describe(`correct designs hold with 2 MiB block mappings (seed: ${SEED})`, () => {
  const cases = matrixCases().map(blocked);
  for (const c of cases) {
    const open = OPEN_ROWS.some((r) => `${r} blocks` === c.label);
    (open ? it.skip : it)(c.label, () => {
      assertDesignHolds(c, choicesArb(240), { seed: fcSeed(`blocks/${c.label}`), numRuns: RUNS });
    });
  }
  it('non-vacuity: in every model a store retires through a writable block TLB entry', () => {
    for (const m of MODELS) {
      const c = cases.find((x) => x.model === m)!;
      // The first sampled run that reaches one is enough (usually the first or second; for hdbss at model version 2
      // some seeds need more: 20 runs missed once, for the CI seed a8f5b8b75f25). `some` stops at the first.
      const runs = fc.sample(choicesArb(240), { seed: fcSeed(`blocks-reach/${m.id}`), numRuns: 300 });
      expect(runs.some((ch) => blockTlbStores(c, ch) > 0), m.id).toBe(true);
    }
  });
});
