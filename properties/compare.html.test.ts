/**
 * `dtsim compare --preset --html` in a real browser (Debian's chromium, driven by playwright-core, as
 * properties/show.html.test.ts): the page loads offline with no error, and every plot renders with its axes
 * (tick labels laid out on both axes, the axis titles), its legend (one entry per design) and its series: each
 * series' marks have a laid-out box, and the plot rasterised in the page paints pixels of every series' colour.
 *
 * Needs /usr/bin/chromium (apt-get install -y chromium). Without it the browser test is skipped locally and
 * fails under CI (CI set).
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveChromium, headlessBrowser } from './support/chromium.ts';
import { MODELS } from '../src/cli/registry.ts';
import { gridOf, PRESETS, runScalePoint } from '../src/compare/scale.ts';
import { gridPlots, headlineRows } from '../src/compare/report.ts';
import { comparePage } from '../src/compare/svg.ts';
import { table } from '../src/cli/commands/check.ts';

const chromiumHere = haveChromium('compare.html.test');

/** The small preset's grid for two models (every plot kind, two sizes, eight designs would be slower to run). */
function page(): { html: string; plots: number } {
  const models = MODELS.filter((m) => m.id === 'dirty-bitmap' || m.id === 'dirty-ring');
  const results = gridOf(PRESETS['small']!, models, 'html-test').map((p) => runScalePoint(MODELS.find((m) => m.id === p.model)! as never, p, 1_000_000));
  const plots = gridPlots(results);
  return { html: comparePage('dtsim compare --preset small', 'test', plots, [{ title: 'Headline', text: table(headlineRows(results)) }]), plots: plots.length };
}

/** What the page script below measures of one plot (it runs in the browser: plain JavaScript, no DOM types here). */
interface Plot {
  readonly id: string;
  readonly xTicks: number;
  readonly yTicks: number;
  readonly titles: number;
  readonly legend: number;
  readonly series: readonly { readonly name: string; readonly marks: number; readonly w: number; readonly h: number; readonly color: string; readonly painted: number }[];
}

describe.skipIf(!chromiumHere)('compare --preset --html in headless Chromium', () => {
  const env = headlessBrowser('dtsim-compare-html-');

  it('renders every plot with its axes, legend and series, offline', async () => {
    const { html, plots } = page();
    expect(plots).toBe(2 * 2 + 2);
    const file = join(env.dir(), 'index.html');
    writeFileSync(file, html);
    const p = await env.browser().newPage();
    const requests: string[] = [];
    p.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) requests.push(r.url()); });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(`file://${file}`);
    const report = await p.evaluate<Plot[]>(`(async () => {
      const out = [];
      for (const svg of Array.from(document.querySelectorAll('svg[data-plot]'))) {
        const laidOut = (sel) => Array.from(svg.querySelectorAll(sel)).filter((e) => { const b = e.getBBox(); return b.width > 0 && b.height > 0 && (e.textContent ?? '').trim() !== ''; }).length;
        // Rasterise the plot as the browser draws it, and count the pixels of each series' colour.
        const img = new Image();
        const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' }));
        await new Promise((res, rej) => { img.onload = () => res(); img.onerror = () => rej(new Error('svg did not load')); img.src = url; });
        const c = document.createElement('canvas');
        c.width = svg.width.baseVal.value; c.height = svg.height.baseVal.value;
        const ctx = c.getContext('2d');
        ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height); ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        const painted = (hex) => {
          const r = parseInt(hex.slice(1, 3), 16); const g = parseInt(hex.slice(3, 5), 16); const b = parseInt(hex.slice(5, 7), 16);
          let n = 0;
          for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - r) < 8 && Math.abs(px[i + 1] - g) < 8 && Math.abs(px[i + 2] - b) < 8) n++;
          return n;
        };
        out.push({
          id: svg.dataset['plot'] ?? '',
          xTicks: laidOut('g.axis-x text.tick'), yTicks: laidOut('g.axis-y text.tick'),
          titles: laidOut('g.axis-x text.title') + laidOut('g.axis-y text.title'),
          legend: laidOut('g.legend text'),
          series: Array.from(svg.querySelectorAll('g.series')).map((g) => {
            const b = g.getBBox();
            const mark = g.querySelector('polyline, rect');
            const color = mark?.getAttribute('stroke') ?? mark?.getAttribute('fill') ?? '';
            return { name: g.dataset['series'] ?? '', marks: g.querySelectorAll('circle, rect').length, w: b.width, h: b.height, color, painted: painted(color) };
          }),
        });
      }
      return out;
    })()`);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(report.map((r) => r.id)).toEqual(['cost-16MiB-2v', 'exits-rate-16MiB-2v', 'cost-32MiB-4v', 'exits-rate-32MiB-4v', 'convergence', 'exits-per-vcpu']);
    for (const r of report) {
      expect(r.xTicks, r.id).toBeGreaterThanOrEqual(2);
      expect(r.yTicks, r.id).toBeGreaterThanOrEqual(2);
      expect(r.titles, r.id).toBe(2);
      expect(r.series.map((s) => s.name), r.id).toEqual(['bitmap', 'bitmap-manual', 'ring-4096', 'ring-65536']);
      expect(r.legend, r.id).toBe(r.series.length);
      for (const s of r.series) {
        expect(s.marks, `${r.id} ${s.name}`).toBeGreaterThan(0);
        expect(s.w + s.h, `${r.id} ${s.name}`).toBeGreaterThan(0);
        expect(s.painted, `${r.id} ${s.name} (${s.color})`).toBeGreaterThan(0);
      }
    }
    await p.close();
  });
});
