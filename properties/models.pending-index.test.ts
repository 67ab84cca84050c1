/**
 * Goal: the scale path of the invariants answers as the per-page path. On a guest of at least INDEX_MIN_PAGES
 * pages (4096; `dtsim compare --preset` runs millions) INV-ARMED and INV-NOLOSS ask `pending` through a
 * `PendingIndex` gathered once per state (models/machine/invariants.ts), whose mechanism part is each
 * mechanism's `pendingIndex` (the set of pages its rings, HDBSS buffers or PTA device records hold); below it
 * they ask each mechanism's per-page `pending`. No campaign, explore or trace of the mutation gate runs a guest
 * that large, so `pendingIndex` was judged by nothing: mutation testing of models/pta/pta.ts showed its whole
 * body without coverage (docs/mutation.md, hole P1): a `pendingIndex` that forgot the readable records, or
 * counted a block record as one page, would make INV-NOLOSS miss a loss (or flag a correct design) at scale only.
 * Method: every correct design of every model's option matrix, on the check configuration and with block
 * mappings (a record of a 2 MiB block covers 512 pages), driven by choice sequences; after every event, for
 * every page of the guest: each mechanism's `pendingIndex(s)(g)` equals its `pending(s, g)`, and `pending`
 * through `pendingIndexOf(s)` equals `pending` without it, for every memslot page.
 * Non-vacuity: across each model's runs some state has a page a mechanism's `pendingIndex` holds (every model
 * with a `pendingIndex` hook: dirty-ring, hdbss, pta).
 * And after every event of every saved trace in traces/ (its own design: knob traces included, up to a rejected
 * event): the campaigns' few runs a design rarely meet the rare states, such as an HDBSS buffer with FSC != 0
 * (an aborted append), where `pending` says every page is pending; a `pendingIndex` that ignored FSC survived
 * mutation testing of hdbss.ts (#179, docs/mutation.md) until traces/pinned/hdbss-sync-fsc-fallback.json and
 * hdbss-abort-first-resumed.json were walked here.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventBase } from '../src/core/model.ts';
import { FSC_OK, indexOf } from '../models/hdbss/state.ts';
import type { MachineState } from '../models/machine/state.ts';
import { mechanismsOf } from '../models/machine/selected.ts';
import { pending, pendingIndexOf } from '../models/machine/invariants.ts';
import { runChoices } from '../src/core/engine.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { readSavedTrace, savedTraceFiles } from './support/saved-traces.ts';
import { BLOCK_SLOT, choicesArb, matrixCases, type DesignCase } from './support/models.ts';

/**
 * A tenth of the campaigns' budget, at most 4: the gate's 30 give 3 runs a design and configuration, npm test 4
 * (each state compares every page of the guest for every mechanism: 29 designs x 2 configurations x 3 runs took
 * 71 s here at load average 8-10).
 */
const RUNS = Math.min(4, Math.ceil(Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 200) / 10));

/** The first disagreement in state `s`, or null; `held` counts pages some mechanism's index holds. */
function disagreement(s: MachineState, held: { n: number }): string | null {
  for (const m of mechanismsOf(s)) {
    if (!m.pendingIndex || !m.pending) continue;
    const f = m.pendingIndex(s);
    for (let g = 0; g < s.totalPages; g++) {
      const a = f(g);
      if (a !== m.pending(s, g)) return `${m.id}: pendingIndex says ${a} for page ${g}, pending says ${!a}`;
      if (a) held.n++;
    }
  }
  const idx = pendingIndexOf(s);
  for (let si = 0; si < s.slots.length; si++) {
    const sl = s.slots[si]!;
    for (let g = sl.base; g < sl.base + sl.npages; g++) {
      if (pending(s, g, si, idx) !== pending(s, g, si)) return `pending of page ${g} through pendingIndexOf differs`;
    }
  }
  return null;
}

function check(c: DesignCase, label: string): number {
  const held = { n: 0 };
  const runs = fc.sample(choicesArb(240), { seed: fcSeed(`pending-index/${label}`), numRuns: RUNS });
  for (const ch of runs) {
    let bad: string | null = null;
    let at = -1;
    runChoices(c.model, c.design, c.config, ch, 100_000, {
      onStep: (s: MachineState) => {
        at++;
        if (bad === null) bad = disagreement(s, held);
      },
    });
    expect(bad === null ? null : `${label}, after event ${at}: ${bad as string}`).toBeNull();
  }
  return held.n;
}

describe(`each mechanism's pendingIndex answers as its pending (seed: ${SEED})`, () => {
  const heldBy = new Map<string, number>();
  for (const c of matrixCases()) {
    const withBlocks = c.model.parseConfig({ ...(c.config as object), ...BLOCK_SLOT });
    if (!withBlocks.ok) throw new Error(`${c.label}: ${withBlocks.error.field}: ${withBlocks.error.message}`);
    it(c.label, () => {
      const n = check(c, c.label) + check({ ...c, config: withBlocks.config }, `${c.label} blocks`);
      heldBy.set(c.model.id, (heldBy.get(c.model.id) ?? 0) + n);
    });
  }
  it('non-vacuity: every model with a pendingIndex hook held a page in some state', () => {
    for (const id of ['dirty-ring', 'hdbss', 'pta']) expect(heldBy.get(id) ?? 0, id).toBeGreaterThan(0);
  });
});

describe('each mechanism\'s pendingIndex answers as its pending after every event of every saved trace', () => {
  it('traces/**', () => {
    let walked = 0;
    let fscStates = 0;
    for (const f of savedTraceFiles()) {
      const { trace: t, model: m } = readSavedTrace(f);
      if (!['dirty-ring', 'hdbss', 'pta'].includes(t.design.model)) continue;
      // The fast path's own way: the reducer's recipes on a private, mutable state.
      const s = m.init(t.design, t.config) as MachineState;
      const held = { n: 0 };
      let at = 0;
      for (const e of t.events as EventBase[]) {
        if (!m.isEnabled(s, e)) break;
        m.apply(s, e);
        const bad = disagreement(s, held);
        expect(bad === null ? null : `${f}, after event ${at}: ${bad}`).toBeNull();
        // (The page-table scan designs of the hdbss model have no HDBSS state.)
        if (s.ext['hdbss'] !== undefined && s.vcpus.some((_, v) => indexOf(s, v).fsc !== FSC_OK)) fscStates++;
        at++;
      }
      walked++;
    }
    expect(walked).toBeGreaterThan(20);
    // Non-vacuity: some trace reaches an HDBSS buffer with FSC != 0 (the state #179 needs).
    expect(fscStates).toBeGreaterThan(0);
  });
});
