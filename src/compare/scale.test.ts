/**
 * `dtsim compare --preset` engine (src/compare/scale.ts, models/machine/workload.ts): every design variant runs a
 * whole migration at a per-event cost independent of the guest, invariants stay on whatever the sampling, the
 * results depend on the seed only, and the report carries every plot.
 */
import { describe, expect, it } from 'vitest';
import { MODELS } from '../cli/registry.ts';
import { gridOf, PRESETS, runScalePoint, workloadOf, type ScalePoint } from './scale.ts';
import { gridCsv, gridPlots, headlineRows } from './report.ts';
import { LIMITS } from '../../models/machine/state.ts';
import { candidates } from '../../models/machine/machine.ts';
import { pending, pendingIndexOf } from '../../models/machine/invariants.ts';

const small = PRESETS['small']!;
const modelOf = (id: string) => MODELS.find((m) => m.id === id)!;

function point(model: string, variant: string, bugs: string[] = [], rate = 20_000): ScalePoint {
  const m = modelOf(model);
  const v = m.workload!.variants.find((x) => x.label === variant)!;
  const w = workloadOf(small, small.sizes[0]!, rate);
  return { model, variant, options: v.options, bugs, workload: w.name, spec: w.spec, seed: 'scale-test' };
}

describe('compare at scale', () => {
  it('offers guests of at least 16 vCPUs and 4M pages (LIMITS) and a realistic preset that covers them', () => {
    expect(LIMITS.vcpus).toBeGreaterThanOrEqual(16);
    expect(LIMITS.pages).toBeGreaterThanOrEqual(1 << 22);
    const big = PRESETS['realistic']!;
    expect(Math.max(...big.sizes.map((s) => s.pages))).toBeGreaterThanOrEqual(1 << 22);
    expect(Math.max(...big.sizes.map((s) => s.vcpus))).toBeGreaterThanOrEqual(16);
    const labels = MODELS.flatMap((m) => (m.workload?.variants ?? []).map((v) => v.label));
    for (const l of ['bitmap', 'ring-4096', 'ring-65536', 'hdbss-512', 'hdbss-4096', 'pta-4096']) expect(labels).toContain(l);
    for (const m of MODELS) {
      for (const v of m.workload?.variants ?? []) expect(m.parseOptions(v.options).ok, `${m.id} ${v.label}`).toBe(true);
      if (m.workload) expect(m.parseConfig(m.workload.config(workloadOf(big, big.sizes[big.sizes.length - 1]!, big.rates[0]!).spec)).ok).toBe(true);
    }
  });

  it('the workload enabled set has no per-page kinds: its size does not grow with the guest', () => {
    const m = modelOf('hdbss');
    const sizes = [1 << 12, 1 << 18].map((pages) => {
      const spec = { ...workloadOf(small, small.sizes[0]!, 1000).spec, pages, workingSet: pages };
      const pc = m.parseConfig(m.workload!.config(spec));
      if (!pc.ok) throw new Error(pc.error.message);
      const s = m.init(m.design(), pc.config);
      // Into the run: vCPUs loaded and in the guest, logging on.
      const d = m.workload!.start(s, spec, 'x');
      const storing = (): boolean => s.vcpus.some((v) => v.run === 'guest' && v.store < 0);
      for (let i = 0; i < 10_000 && (i < 40 || !storing()); i++) { const e = d.next(s); if (e) m.apply(s, e); }
      expect(storing()).toBe(true);
      return { full: m.enabled(s).length, scale: candidates(s, false).length };
    });
    expect(sizes[1]!.full).toBeGreaterThan(sizes[0]!.full); // the checker's set: one per page
    expect(sizes[1]!.scale).toBe(sizes[0]!.scale);
  });

  it('every design variant completes a migration with every invariant holding, checked at each collection boundary', () => {
    for (const m of MODELS) {
      for (const v of m.workload?.variants ?? []) {
        const r = runScalePoint(m as never, point(m.id, v.label), 1_000_000);
        expect(r.status, `${v.label}: ${r.violation?.message}`).toBe('ok');
        // initial state + one per collection (rounds + the final one) + the end, even with sampling off.
        expect(r.checks).toBeGreaterThanOrEqual(small.rounds + 3);
        expect(r.rounds.length).toBe(small.rounds + 1);
        expect(r.measures['reports']).toBeGreaterThan(0);
        expect(r.figures['pagesSent']).toBeGreaterThanOrEqual(small.sizes[0]!.pages);
        expect(r.figures['downtimeMs']).toBeGreaterThanOrEqual(0);
        expect(Object.keys(r.perVcpu)).toHaveLength(small.sizes[0]!.vcpus);
      }
    }
  });

  it('the gathered pending index answers exactly as the per-page pending, for every page, along runs of every record-holding design', () => {
    for (const [id, variant] of [['dirty-ring', 'ring-4096'], ['hdbss', 'hdbss-512'], ['pta', 'pta-4096']] as const) {
      const m = modelOf(id);
      const p = point(id, variant);
      const pc = m.parseConfig(m.workload!.config(p.spec));
      if (!pc.ok) throw new Error(pc.error.message);
      const s = m.init(m.design(p.options), pc.config);
      const d = m.workload!.start(s, p.spec, p.seed);
      let compared = 0;
      let held = 0;
      for (let i = 0; i < 6000; i++) {
        const e = d.next(s);
        if (!e) break;
        m.apply(s, e);
        if (i % 500 !== 499) continue;
        const idx = pendingIndexOf(s);
        for (let g = 0; g < s.totalPages; g++) {
          const a = pending(s, g, 0);
          expect(pending(s, g, 0, idx), `${variant} event ${i} page ${g}`).toBe(a);
          if (a) held++;
        }
        compared++;
      }
      expect(compared).toBeGreaterThan(3);
      expect(held, variant).toBeGreaterThan(0);
    }
  });

  it('a run that loses a page is reported violated with no figures, however sparse the sampling', () => {
    for (const every of [1_000_000_000, 1000]) {
      const r = runScalePoint(modelOf('dirty-bitmap') as never, point('dirty-bitmap', 'bitmap', ['vmm-no-final-sync']), every);
      expect(r.status).toBe('violated');
      expect(r.violation?.invariant).toMatch(/^INV-(NOLOSS|FINAL)$/);
      expect(r.measures).toEqual({});
      expect(r.figures).toEqual({});
      expect(headlineRows([r])[1]!.join(' ')).toContain('VIOLATED');
      expect(gridPlots([r]).join('')).not.toContain('data-series');
    }
  });

  it('results depend on the seed only (same seed: same figures; another seed: other stores)', () => {
    const a = runScalePoint(modelOf('dirty-ring') as never, point('dirty-ring', 'ring-4096'), 1000);
    const b = runScalePoint(modelOf('dirty-ring') as never, point('dirty-ring', 'ring-4096'), 1000);
    expect({ ...b, wallMs: 0 }).toEqual({ ...a, wallMs: 0 });
    const c = runScalePoint(modelOf('dirty-ring') as never, { ...point('dirty-ring', 'ring-4096'), seed: 'other' }, 1000);
    expect(c.measures).not.toEqual(a.measures);
  });

  it('the grid covers sizes x rates x variants, and the report has the three kinds of plot and a CSV row per point', () => {
    const models = MODELS.filter((m) => m.id === 'dirty-bitmap' || m.id === 'dirty-ring');
    const grid = gridOf(small, models, 'g');
    expect(grid).toHaveLength(small.sizes.length * small.rates.length * 4);
    const results = grid.filter((p) => p.workload.startsWith('32MiB')).map((p) => runScalePoint(modelOf(p.model) as never, p, 1_000_000));
    const plots = gridPlots(results);
    const ids = plots.map((p) => /data-plot="([^"]+)"/.exec(p)?.[1]);
    expect(ids).toEqual(['cost-32MiB-4v', 'exits-rate-32MiB-4v', 'convergence', 'exits-per-vcpu']);
    for (const p of plots) for (const d of ['bitmap', 'bitmap-manual', 'ring-4096', 'ring-65536']) expect(p).toContain(`data-series="${d}"`);
    expect(gridCsv(results).trim().split('\n')).toHaveLength(results.length + 1);
  });
});
