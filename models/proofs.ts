/**
 * The documented small configurations of `dtsim explore --proof`: for every correct design of every model's
 * option matrix (the designs `dtsim check` runs), the configuration at which exhaustive exploration proves that
 * no reachable state violates any invariant. Most designs are explored at PROOF_BASE. A design whose space is
 * infinite as modelled, or too large to exhaust at PROOF_BASE on one core, is narrowed here, and the narrowing
 * says why: a smaller ring, a bounded device, one page. A narrowed design keeps every behaviour of its
 * matrix row (the same code paths: soft-full exits, resets, device reads), at a smaller size.
 *
 * Data only (no semantics): which designs to explore, at what size, with the figures measured.
 */
import type { JsonValue } from '../src/core/model.ts';
import type { MachineConfig } from './machine/state.ts';
import type { MachineModel } from './machine/model.ts';
import { MODELS } from './index.ts';

type Options = { readonly [k: string]: JsonValue };

/** 1 vCPU, 1 PE, one 2-page memslot, a 1-entry TLB, one pre-copy round, the ITS save writing page 1, no stolen time. */
export const PROOF_BASE: Partial<MachineConfig> = {
  vcpus: 1, pes: 1, slots: [{ base: 0, npages: 2 }], blocks: false, tlbEntries: 1, stolenTime: false, itsPages: [1],
  rounds: 1, storePages: [],
};

const ONE_PAGE: Partial<MachineConfig> = { slots: [{ base: 0, npages: 1 }], itsPages: [0] };

export interface ProofNarrowing {
  readonly model: string;
  /** The matrix row (exactly as in the preset) this narrowing applies to; '*': every row without its own. */
  readonly row: Options | '*';
  /** The tier (PEs) it applies to: 1 (PROOF_BASE, default) or 2. */
  readonly pes?: 1 | 2;
  /** Options merged over the row (a smaller ring, a bounded device). */
  readonly options?: Options;
  /** Configuration merged over PROOF_BASE. */
  readonly config?: Partial<MachineConfig>;
  readonly why: string;
}

export const PROOF_NARROWINGS: readonly ProofNarrowing[] = [
  { model: 'dirty-ring', row: { adversary: true }, options: { ringEntries: 4 },
    why: 'the adversary re-flags harvested entries: with 16 entries the space passes 5M states (depth 71); 4 entries keep every reset path' },
  { model: 'hdbss', row: { consumer: 'ring' }, options: { ringEntries: 4 },
    why: 'ring consumer: with 16 entries the order of up to 8 live entries over 2 pages passes 3.3M states (depth 34)' },
  { model: 'hdbss', row: { consumer: 'ring', hdbssEntries: 4 }, options: { ringEntries: 8 }, config: ONE_PAGE,
    why: 'ring consumer: 8 entries, the smallest ring KVM accepts for a 4-entry buffer (reserve 4 + 4), and one page (with 2 pages: over 5M states at depth 56)' },
  { model: 'pta', row: {}, options: { deviceRecords: 2 },
    why: 'unbounded device storage is not finite as modelled (one record per hardware update, an unmap re-arms a page as often as it happens); a 2-record device back-pressures' },
  { model: 'pta', row: { manualProtect: true }, options: { deviceRecords: 2 },
    why: 'as the default row: a 2-record device' },
  { model: 'pta', row: { consumer: 'ring' }, options: { ringEntries: 4, deviceRecords: 2 }, config: ONE_PAGE,
    why: 'ring consumer: a 2-record device, 4 ring entries and one page (with 2 pages: 4M states at depth 36, still growing 1.3x per two levels)' },
  // The 2-PE tier: a vCPU that moves between PEs (stale TLB entries on the PE it left, per-PE HDBSS registers,
  // VMIDs per PE). Narrowed further where 2 PEs multiply the 1-PE space past a test's budget.
  { model: 'dirty-ring', pes: 2, row: { adversary: true }, options: { ringEntries: 4 }, config: ONE_PAGE,
    why: 'as at 1 PE (4 entries), and one page (2 pages: over 2M states)' },
  { model: 'hdbss', pes: 2, row: '*', config: ONE_PAGE,
    why: 'one page (2 pages: about 1M states a design, 20-30 s each)' },
  { model: 'hdbss', pes: 2, row: { consumer: 'ring' }, options: { ringEntries: 4 }, config: ONE_PAGE,
    why: 'as at 1 PE (4 entries), and one page' },
  { model: 'hdbss', pes: 2, row: { consumer: 'ring', hdbssEntries: 4 }, options: { ringEntries: 8 }, config: ONE_PAGE,
    why: 'as at 1 PE (8 entries, one page)' },
  { model: 'pta', pes: 2, row: '*', options: { deviceRecords: 2 }, config: ONE_PAGE,
    why: 'a 2-record device as at 1 PE, and one page (2 pages: over 2M states)' },
  { model: 'pta', pes: 2, row: { consumer: 'ring' }, options: { ringEntries: 4, deviceRecords: 2 }, config: ONE_PAGE,
    why: 'as at 1 PE (a 2-record device, 4 ring entries, one page)' },
];

export interface ProofCase {
  readonly model: MachineModel;
  /** The tier: 1 PE (PROOF_BASE) or 2 PEs (PROOF_BASE with a second PE the vCPU can move to). */
  readonly pes: 1 | 2;
  /** The matrix row, as in the preset. */
  readonly row: Options;
  /** The design's options as explored: the row, then the narrowing's options. */
  readonly options: Options;
  readonly config: MachineConfig;
  /** Why the design is narrowed (null: explored at PROOF_BASE). */
  readonly why: string | null;
}

const same = (a: Options | '*', b: Options): boolean => a !== '*' && JSON.stringify(a) === JSON.stringify(b);

/** The narrowing of one row in one tier: the row's own, else the model's '*' one, else none. */
export function narrowingOf(model: string, row: Options, pes: 1 | 2): ProofNarrowing | undefined {
  const mine = PROOF_NARROWINGS.filter((x) => x.model === model && (x.pes ?? 1) === pes);
  return mine.find((x) => same(x.row, row)) ?? mine.find((x) => x.row === '*');
}

/**
 * Every correct design of the models' matrices at its documented small configurations: the 1-PE tier
 * (PROOF_BASE), then the 2-PE tier (a second PE), each in matrix order.
 */
export function proofCases(models: readonly MachineModel[] = MODELS): ProofCase[] {
  const out: ProofCase[] = [];
  for (const pes of [1, 2] as const) {
    for (const m of models) {
      for (const row of m.preset.matrix) {
        const n = narrowingOf(m.id, row, pes);
        const pc = m.parseConfig({ ...(m.defaultConfig as object), ...PROOF_BASE, pes, ...(n?.config ?? {}) });
        if (!pc.ok) throw new Error(`[dtsim] proof configuration of ${m.id} ${JSON.stringify(row)}: ${pc.error.field}: ${pc.error.message}`);
        out.push({ model: m, pes, row, options: { ...row, ...(n?.options ?? {}) }, config: pc.config, why: n?.why ?? null });
      }
    }
  }
  return out;
}
