/**
 * Goal: `compare` runs every design on the same seeded workloads deterministically, reports the harvest work
 * each consumer really does (bitmap words for the bitmap, entries for the ring), and draws a self-contained page.
 * Method: small workloads through runCompare (the engine's seeded simulator) and the SVG page builder.
 */
import { describe, expect, it } from 'vitest';
import { COLUMNS, harvestCurves, harvestWork, runCompare, type CompareItem } from '../src/compare/compare.ts';
import { comparePage, curvesSvg } from '../src/compare/svg.ts';
import type { EventBase } from '../src/core/model.ts';
import { MODELS } from '../models/index.ts';
import { SEED } from './support/seed.ts';

function items(pages: number, storeCounts: readonly number[]): CompareItem<unknown, EventBase, unknown>[] {
  const out: CompareItem<unknown, EventBase, unknown>[] = [];
  for (const m of MODELS) {
    for (const k of storeCounts) {
      const storePages = k >= pages ? [] : Array.from({ length: k }, (_, i) => Math.floor((i * pages) / k));
      const pc = m.parseConfig({ ...(m.defaultConfig as object), vcpus: 1, pes: 1, slots: [{ base: 0, npages: pages }], blocks: false,
        itsPages: [pages - 1], rounds: 2, storePages });
      if (!pc.ok) throw new Error(pc.error.message);
      out.push({ design: m.id, workload: `curve-${k}`, model: m as never, spec: m.design(), config: pc.config, storePages: k });
    }
  }
  return out;
}

describe(`compare (seed: ${SEED})`, () => {
  const its = items(200, [1, 200]);
  const rows = runCompare(its, SEED, 2, 250);

  it('every correct design holds on every workload, and the run is deterministic', () => {
    for (const r of rows) expect(r.violations, `${r.design} on ${r.workload}`).toBe(0);
    const again = runCompare(its, SEED, 2, 250);
    expect(again).toEqual(rows);
  });

  it('harvest work is bitmap words for the bitmap (every GET reads the whole slot) and entries for the ring', () => {
    const bm = rows.filter((r) => r.design === 'dirty-bitmap');
    expect(bm.length).toBeGreaterThan(0);
    for (const r of bm) {
      const words = r.totals['bitmapWordsRead'] ?? 0;
      const getsPerCollection = Math.ceil(200 / 64);
      expect(words).toBeGreaterThanOrEqual(getsPerCollection * (r.totals['collections'] ?? 0));
      expect(harvestWork(r.totals)).toBe(words);
    }
    const ring = rows.find((r) => r.design === 'dirty-ring' && r.workload === 'curve-200');
    if (ring) expect(ring.totals['ringHarvested'] ?? 0).toBeGreaterThan(0);
  });

  it('the page is one self-contained file with an SVG curve per design and the tables', () => {
    const curves = harvestCurves(rows, (w) => w.startsWith('curve-'));
    expect(curves.map((c) => c.name).sort()).toEqual(MODELS.map((m) => m.id).sort());
    for (const c of curves) expect(c.points).toHaveLength(2);
    const page = comparePage('t', 'p', [curvesSvg('x', curves, 'a', 'b')], [{ title: 'T', text: COLUMNS.map((c) => c.label).join(' ') }]);
    expect(page).toContain('<svg');
    expect(page.match(/<polyline/g)?.length).toBe(curves.length);
    expect(page).not.toMatch(/<script|src=|href=|@import|url\(/);
  });
});
