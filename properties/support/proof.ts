/**
 * `dtsim explore --proof` as tests: every case of models/proofs.ts for the given models and tier, each exhausted
 * with no violation and no deadlock, its size and its coverage of `dtsim check`'s situations pinned (split over
 * files so vitest runs them on both cores). A case the tier documents as not exhaustible (`open`) is not run here
 * (it would only spend its budget to say NOT exhausted: `dtsim explore --proof --tier 2` shows it).
 */
import { expect, it } from 'vitest';
import { explore } from '../../src/explore/bfs.ts';
import { CoverageProbe } from '../../src/explore/coverage.ts';
import { proofCases, type ProofCase, type ProofTier } from '../../models/proofs.ts';
import { MODELS } from '../../models/index.ts';
import { situationsOf } from '../../src/cli/jobs.ts';

/**
 * The measured sizes (distinct states, depth) of every case, as in docs/explore-and-compare.md's proof table:
 * a change means the model's semantics or its canonical encoding changed. If that was intended, update both.
 */
export const FIGURES: { readonly [key: string]: readonly [number, number] } = {
  'dirty-bitmap {}': [6_108, 39],
  'dirty-bitmap {"manualProtect":true}': [6_702, 40],
  'dirty-bitmap {"manualProtect":true,"initiallySet":true}': [3_290, 28],
  'dirty-bitmap {"eagerSplit":true}': [6_108, 39],
  'dirty-bitmap {"manualProtect":true,"clearCalls":"varied"}': [11_442, 39],
  'dirty-bitmap {"kvmTlbi":"events"}': [8_286, 42],
  'dirty-bitmap {"manualProtect":true,"kvmTlbi":"events"}': [8_900, 43],
  'dirty-ring {}': [58_750, 64],
  'dirty-ring {"ringEntries":4}': [32_101, 51],
  'dirty-ring {"ringEntries":256}': [58_750, 64],
  'dirty-ring {"ringWithBitmap":false}': [58_691, 64],
  'dirty-ring {"ringEntries":4,"ringWithBitmap":false}': [31_947, 51],
  'dirty-ring {"adversary":true}': [1_881_766, 72],
  'dirty-ring {"ringStart":4294967288}': [58_750, 64],
  'dirty-ring {"weakMemory":true}': [233_732, 76],
  'dirty-ring {"kvmTlbi":"events"}': [88_732, 69],
  'hdbss {}': [304_619, 49],
  'hdbss {"manualProtect":true}': [330_011, 47],
  'hdbss {"hdbssEntries":4}': [413_359, 55],
  'hdbss {"hdbssAborts":true}': [455_619, 49],
  'hdbss {"kicks":false,"enableRequest":false}': [170_891, 42],
  'hdbss {"hdbssDisable":true}': [578_302, 49],
  'hdbss {"producer":"dbm"}': [36_392, 38],
  'hdbss {"producer":"dbm","manualProtect":true}': [40_405, 39],
  'hdbss {"consumer":"ring"}': [1_239_880, 64],
  'hdbss {"consumer":"ring","hdbssEntries":4}': [35_558, 62],
  'hdbss {"weakMemory":true}': [597_889, 51],
  'hdbss {"kvmTlbi":"events"}': [511_638, 53],
  'pta {}': [503_763, 52],
  'pta {"manualProtect":true}': [568_760, 52],
  'pta {"consumer":"ring"}': [76_511, 49],
  'pta {"deviceRecords":2}': [503_763, 52],
  'pta {"kvmTlbi":"events"}': [654_109, 55],
  'dirty-bitmap {} 2 PEs': [32_209, 45],
  'dirty-bitmap {"manualProtect":true} 2 PEs': [35_970, 46],
  'dirty-bitmap {"manualProtect":true,"initiallySet":true} 2 PEs': [19_556, 39],
  'dirty-bitmap {"eagerSplit":true} 2 PEs': [32_209, 45],
  'dirty-bitmap {"manualProtect":true,"clearCalls":"varied"} 2 PEs': [63_270, 43],
  'dirty-bitmap {"kvmTlbi":"events"} 2 PEs': [45_373, 48],
  'dirty-bitmap {"manualProtect":true,"kvmTlbi":"events"} 2 PEs': [49_206, 49],
  'dirty-ring {} 2 PEs': [354_388, 73],
  'dirty-ring {"ringEntries":4} 2 PEs': [158_889, 57],
  'dirty-ring {"ringEntries":256} 2 PEs': [354_388, 73],
  'dirty-ring {"ringWithBitmap":false} 2 PEs': [354_193, 73],
  'dirty-ring {"ringEntries":4,"ringWithBitmap":false} 2 PEs': [158_388, 57],
  'dirty-ring {"adversary":true} 2 PEs': [64_419, 55],
  'dirty-ring {"ringStart":4294967288} 2 PEs': [354_388, 73],
  'dirty-ring {"weakMemory":true} 2 PEs': [310_330, 67],
  'dirty-ring {"kvmTlbi":"events"} 2 PEs': [512_750, 77],
  'hdbss {} 2 PEs': [26_485, 32],
  'hdbss {"manualProtect":true} 2 PEs': [25_509, 31],
  'hdbss {"hdbssEntries":4} 2 PEs': [26_485, 32],
  'hdbss {"hdbssAborts":true} 2 PEs': [34_777, 32],
  'hdbss {"kicks":false,"enableRequest":false} 2 PEs': [16_335, 26],
  'hdbss {"hdbssDisable":true} 2 PEs': [64_260, 33],
  'hdbss {"producer":"dbm"} 2 PEs': [4_457, 24],
  'hdbss {"producer":"dbm","manualProtect":true} 2 PEs': [4_491, 24],
  'hdbss {"consumer":"ring"} 2 PEs': [102_292, 43],
  'hdbss {"consumer":"ring","hdbssEntries":4} 2 PEs': [195_570, 64],
  'hdbss {"weakMemory":true} 2 PEs': [36_337, 34],
  'hdbss {"kvmTlbi":"events"} 2 PEs': [51_371, 36],
  'pta {} 2 PEs': [39_034, 36],
  'pta {"manualProtect":true} 2 PEs': [36_657, 36],
  'pta {"consumer":"ring"} 2 PEs': [440_246, 51],
  'pta {"deviceRecords":2} 2 PEs': [39_034, 36],
  'pta {"kvmTlbi":"events"} 2 PEs': [51_037, 38],
  // Tier 2 (2 vCPUs x 2 PEs x 2 pages, stolen time and the ITS save on): the designs that exhaust.
  'dirty-bitmap {} tier 2': [1_232_735, 51],
  'dirty-bitmap {"manualProtect":true} tier 2': [1_398_231, 52],
  'dirty-bitmap {"manualProtect":true,"initiallySet":true} tier 2': [461_062, 42],
  'dirty-bitmap {"eagerSplit":true} tier 2': [1_232_735, 51],
  'dirty-bitmap {"manualProtect":true,"clearCalls":"varied"} tier 2': [2_478_760, 52],
  'dirty-bitmap {"kvmTlbi":"events"} tier 2': [1_654_669, 53],
  'dirty-bitmap {"manualProtect":true,"kvmTlbi":"events"} tier 2': [1_823_573, 54],
  'hdbss {"producer":"dbm"} tier 2': [3_378_178, 43],
  'hdbss {"producer":"dbm","manualProtect":true} tier 2': [3_649_053, 44],
};

/**
 * The situations of `dtsim check` (that apply to the case's matrix row) that the case's exhaustive exploration
 * never reaches; a case not listed reaches every one. Checked by each case's test below (the exploration's
 * coverage probe, src/explore/coverage.ts); properties/explore.coverage.test.ts reads these to check that every
 * situation of a design is reached by one of its cases in tier 1 or tier 2 (or is a documented exception).
 */
export const GAPS: { readonly [key: string]: readonly string[] } = {
  // Tier 1 at 1 PE: one vCPU on one PE never moves.
  'dirty-bitmap {}': ['vcpu-migrated'],
  'dirty-bitmap {"manualProtect":true}': ['vcpu-migrated'],
  'dirty-bitmap {"manualProtect":true,"initiallySet":true}': ['vcpu-migrated'],
  'dirty-bitmap {"eagerSplit":true}': ['vcpu-migrated'],
  'dirty-bitmap {"manualProtect":true,"clearCalls":"varied"}': ['vcpu-migrated'],
  'dirty-bitmap {"kvmTlbi":"events"}': ['vcpu-migrated'],
  'dirty-bitmap {"manualProtect":true,"kvmTlbi":"events"}': ['vcpu-migrated'],
  'dirty-ring {}': ['soft-full-exit', 'vcpu-migrated'],
  'dirty-ring {"ringEntries":4}': ['vcpu-migrated'],
  'dirty-ring {"ringEntries":256}': ['vcpu-migrated'],
  'dirty-ring {"ringWithBitmap":false}': ['soft-full-exit', 'vcpu-migrated'],
  'dirty-ring {"ringEntries":4,"ringWithBitmap":false}': ['vcpu-migrated'],
  'dirty-ring {"adversary":true}': ['vcpu-migrated'],
  'dirty-ring {"ringStart":4294967288}': ['soft-full-exit', 'vcpu-migrated'],
  'dirty-ring {"weakMemory":true}': ['soft-full-exit', 'vcpu-migrated'],
  'dirty-ring {"kvmTlbi":"events"}': ['soft-full-exit', 'vcpu-migrated'],
  'hdbss {}': ['vcpu-migrated'],
  'hdbss {"manualProtect":true}': ['vcpu-migrated'],
  'hdbss {"hdbssEntries":4}': ['vcpu-migrated'],
  'hdbss {"hdbssAborts":true}': ['vcpu-migrated'],
  'hdbss {"kicks":false,"enableRequest":false}': ['hdbss-full-fault', 'vcpu-migrated'],
  'hdbss {"hdbssDisable":true}': ['vcpu-migrated'],
  'hdbss {"producer":"dbm"}': ['vcpu-migrated'],
  'hdbss {"producer":"dbm","manualProtect":true}': ['vcpu-migrated'],
  'hdbss {"consumer":"ring"}': ['vcpu-migrated'],
  'hdbss {"consumer":"ring","hdbssEntries":4}': ['reset-coalesced', 'vcpu-migrated'],
  'hdbss {"weakMemory":true}': ['vcpu-migrated'],
  'hdbss {"kvmTlbi":"events"}': ['vcpu-migrated'],
  'pta {}': ['vcpu-migrated'],
  'pta {"manualProtect":true}': ['vcpu-migrated'],
  'pta {"consumer":"ring"}': ['vcpu-migrated'],
  'pta {"deviceRecords":2}': ['vcpu-migrated'],
  'pta {"kvmTlbi":"events"}': ['vcpu-migrated'],
  // Tier 1 at 2 PEs.
  'dirty-ring {} 2 PEs': ['soft-full-exit'],
  'dirty-ring {"ringWithBitmap":false} 2 PEs': ['soft-full-exit'],
  'dirty-ring {"ringStart":4294967288} 2 PEs': ['soft-full-exit'],
  'dirty-ring {"kvmTlbi":"events"} 2 PEs': ['soft-full-exit'],
  'hdbss {} 2 PEs': ['hdbss-full-fault'],
  'hdbss {"manualProtect":true} 2 PEs': ['hdbss-full-fault'],
  'hdbss {"kicks":false,"enableRequest":false} 2 PEs': ['hdbss-full-fault'],
  'hdbss {"hdbssDisable":true} 2 PEs': ['hdbss-full-fault'],
  'hdbss {"weakMemory":true} 2 PEs': ['hdbss-full-fault'],
  'hdbss {"kvmTlbi":"events"} 2 PEs': ['hdbss-full-fault'],
  'hdbss {"consumer":"ring"} 2 PEs': ['reset-coalesced'],
  'hdbss {"consumer":"ring","hdbssEntries":4} 2 PEs': ['reset-coalesced'],
};

/** A case's key in FIGURES and GAPS: `model row`, then ` 2 PEs` (tier 1's 2-PE part) or ` tier 2`. */
export function proofKey(c: Pick<ProofCase, 'tier' | 'pes' | 'row'> & { readonly model: { readonly id: string } }): string {
  return `${c.model.id} ${JSON.stringify(c.row)}${c.tier === 2 ? ' tier 2' : c.pes === 2 ? ' 2 PEs' : ''}`;
}

export function proofTests(modelIds: readonly string[], tier: ProofTier = 1): void {
  for (const c of proofCases(MODELS.filter((m) => modelIds.includes(m.id)), tier)) {
    if (c.open !== null) continue;
    const part = tier === 2 ? ', tier 2' : c.pes === 2 ? ', 2 PEs' : '';
    it(`${c.model.id} ${JSON.stringify(c.row)}${part}${c.why ? ` (narrowed: ${JSON.stringify(c.options)}, ${JSON.stringify(c.config.slots)})` : ''}`, () => {
      const probe = new CoverageProbe(c.model.metrics.bind(c.model), situationsOf(c.model.id, c.model.design(c.row).options));
      const r = explore(c.model, c.model.design(c.options), c.config, { maxDepth: 1000, maxStates: tier === 2 ? 0 : 5_000_000, observe: probe.observe });
      expect([r.status, r.violation?.invariant ?? null, r.deadlocked], r.message).toEqual(['exhausted', null, 0]);
      // Not vacuous: the design ran to completed migrations (terminal, final states) over a non-trivial space.
      expect(r.terminal).toBeGreaterThan(0);
      expect(r.distinct).toBeGreaterThan(1000);
      const key = proofKey(c);
      expect([r.distinct, r.depth], `${key}: the state space changed (update docs/explore-and-compare.md and FIGURES if intended)`)
        .toEqual(FIGURES[key]);
      const gaps = Object.entries(probe.result()).filter(([, d]) => d === null).map(([id]) => id).sort();
      expect(gaps, `${key}: the situations it never reaches changed (update GAPS if intended)`).toEqual([...(GAPS[key] ?? [])].sort());
    }, tier === 2 ? 1_800_000 : 600_000);
  }
}
