/**
 * Goal: the proof configurations (models/proofs.ts, tier 1 and tier 2 together) reach every situation that
 * `dtsim check` must reach for each design (its coverage table: a GAP there is a finding), or the situation is a
 * documented exception with a reason; and the explorations' coverage probe is right: a situation it reports at
 * depth d is reachable in exactly d events and no fewer, and one it reports never reached is unreachable.
 * Method: the pins of properties/support/proof.ts (FIGURES: the cases that exhaust; GAPS: what each never
 * reaches), which the proof steps (`npm run test:proof`, `npm run test:proof2`) check against the explorations
 * themselves; here, only data (fast, in `npm test`). The probe against `explore --reach` (the shortest path to a
 * state satisfying a predicate, every field counting) on small dirty-bitmap spaces.
 */
import { describe, expect, it } from 'vitest';
import { coverageException, PROOF_COVERAGE_EXCEPTIONS, PROOF_TIERS, proofCases } from '../models/proofs.ts';
import { MODELS } from '../models/index.ts';
import { situationsOf } from '../src/cli/jobs.ts';
import { explore } from '../src/explore/bfs.ts';
import { CoverageProbe } from '../src/explore/coverage.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';
import type { MachineState } from '../models/machine/state.ts';
import { FIGURES, GAPS, proofKey } from './support/proof.ts';

const cases = PROOF_TIERS.flatMap((t) => proofCases(MODELS, t));

describe('explore --proof coverage of dtsim check\'s situations', () => {
  it('every case that exhausts is pinned (FIGURES), and its gaps name situations that apply to it', () => {
    for (const c of cases) {
      const key = proofKey(c);
      if (c.open !== null) {
        expect(FIGURES[key], `${key} is documented as not exhaustible: it has no figures`).toBeUndefined();
        expect(c.open.measured.length, key).toBeGreaterThan(20);
        continue;
      }
      expect(FIGURES[key], `${key}: no pinned figures`).toBeDefined();
      const applies = situationsOf(c.model.id, c.model.design(c.row).options).map((s) => s.id);
      for (const g of GAPS[key] ?? []) expect(applies, `${key}: GAPS names ${g}`).toContain(g);
    }
    // Check's rule: the design's options, defaults included (hdbss's default row has a 2-entry buffer, so it owes
    // the HDBSS-full fault), of the matrix row, not of the narrowing.
    const hdbss = MODELS.find((m) => m.id === 'hdbss')!;
    expect(situationsOf('hdbss', hdbss.design({}).options).map((s) => s.id)).toEqual(expect.arrayContaining(['hdbss-full-fault', 'hdbss-put-undrained']));
    const keys = new Set(cases.map(proofKey));
    for (const k of [...Object.keys(FIGURES), ...Object.keys(GAPS)]) expect(keys.has(k), `${k} is no proof case`).toBe(true);
  });

  it('tier 2 keeps its point in every case: 2 vCPUs, 2 PEs, at least 2 pages, stolen time and the ITS save on; every matrix row is a case', () => {
    const t2 = proofCases(MODELS, 2);
    expect(t2.length).toBe(MODELS.reduce((a, m) => a + m.preset.matrix.length, 0));
    for (const c of t2) {
      const k = proofKey(c);
      expect([c.tier, c.config.vcpus, c.config.pes, c.config.stolenTime, c.config.itsPages.length > 0, c.config.slots.reduce((a, x) => a + x.npages, 0) >= 2], k)
        .toEqual([2, 2, 2, true, true, true]);
      // A design left open says what was measured, and runs to a bounded budget.
      if (c.open !== null) expect(c.open.maxStates, k).toBeGreaterThan(0);
    }
  });

  it('every situation of every design is reached by one of its proof configurations (tier 1 or 2), or is a documented exception', () => {
    const missing: string[] = [];
    const needed = new Set<number>();
    for (const m of MODELS) {
      for (const row of m.preset.matrix) {
        const mine = cases.filter((c) => c.model.id === m.id && JSON.stringify(c.row) === JSON.stringify(row) && c.open === null);
        for (const s of situationsOf(m.id, m.design(row).options)) {
          if (mine.some((c) => !(GAPS[proofKey(c)] ?? []).includes(s.id))) continue;
          const ex = coverageException(m.id, row, s.id);
          if (ex) needed.add(PROOF_COVERAGE_EXCEPTIONS.indexOf(ex));
          else missing.push(`${m.id} ${JSON.stringify(row)}: ${s.id} (${s.label})`);
        }
      }
    }
    expect(missing, 'reached by dtsim check, by no proof configuration, and not a documented exception').toEqual([]);
    // An exception no longer needed goes (the list says only what is true).
    const unused = PROOF_COVERAGE_EXCEPTIONS.filter((_x, i) => !needed.has(i)).map((x) => `${x.model} ${JSON.stringify(x.row)}: ${x.situation}`);
    expect(unused, 'documented exceptions that a proof configuration now reaches').toEqual([]);
    for (const x of PROOF_COVERAGE_EXCEPTIONS) expect(x.why.length, `${x.model} ${x.situation}`).toBeGreaterThan(20);
  });

  it('the probe: the depth it reports is the least number of events to the situation (explore --reach agrees), GAP when unreachable', () => {
    const config = (pes: number) => dirtyBitmap.parseConfig({ ...dirtyBitmap.defaultConfig as object, vcpus: 1, pes, slots: [{ base: 0, npages: 2 }],
      blocks: false, tlbEntries: 1, stolenTime: false, itsPages: [1], rounds: 1, storePages: [] });
    for (const pes of [1, 2]) {
      const pc = config(pes);
      if (!pc.ok) throw new Error(pc.error.message);
      const design = dirtyBitmap.design();
      const sits = situationsOf('dirty-bitmap', design.options);
      const probe = new CoverageProbe(dirtyBitmap.metrics.bind(dirtyBitmap), sits);
      const r = explore(dirtyBitmap, design, pc.config, { maxDepth: 1000, observe: probe.observe });
      expect(r.status).toBe('exhausted');
      // Observing never changes the search.
      const plain = explore(dirtyBitmap, design, pc.config, { maxDepth: 1000 });
      expect([plain.distinct, plain.generated, plain.depth]).toEqual([r.distinct, r.generated, r.depth]);
      const got = probe.result();
      expect(Object.keys(got).sort()).toEqual(sits.map((s) => s.id).sort());
      for (const s of sits) {
        // A reached one: a shortest path to a state with the counter set has exactly that many events (the
        // reach search stops there; an unreached one would explore the whole space with counters: see below).
        if (got[s.id] === null) continue;
        const q = explore(dirtyBitmap, design, pc.config, { maxDepth: 1000, encoding: 'generic',
          reach: (st: MachineState) => ((st.stats as { [k: string]: number })[s.stat] ?? 0) > 0 });
        expect([s.id, q.status, q.reached?.events.length], `${pes} PE(s)`).toEqual([s.id, 'reached', got[s.id]]);
      }
      // Never reached only where it cannot happen: one PE, no vCPU can move (the space was exhausted); two: it can.
      expect(Object.entries(got).filter(([, d]) => d === null).map(([id]) => id)).toEqual(pes === 1 ? ['vcpu-migrated'] : []);
    }
  });
});
