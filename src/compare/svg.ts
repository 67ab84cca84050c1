/**
 * The `compare --html` page: one self-contained HTML file (inline SVG and CSS, no script, no network) drawing
 * harvest work per collection against dirty pages per collection, one line per design, and the tables.
 */
import type { CurvePoint } from './compare.ts';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** An SVG line chart of the curves (linear axes from 0). */
export function curvesSvg(title: string, curves: readonly { name: string; points: readonly CurvePoint[] }[], xLabel: string, yLabel: string): string {
  const W = 720; const H = 420; const L = 70; const R = 190; const T = 40; const B = 55;
  const xs = curves.flatMap((c) => c.points.map((p) => p.x));
  const ys = curves.flatMap((c) => c.points.map((p) => p.y));
  const xMax = niceMax(Math.max(0, ...xs));
  const yMax = niceMax(Math.max(0, ...ys));
  const px = (x: number): number => L + (x / xMax) * (W - L - R);
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`);
  out.push(`<text x="8" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const xv = (xMax * i) / 5; const yv = (yMax * i) / 5;
    out.push(`<line x1="${px(xv)}" y1="${T}" x2="${px(xv)}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<line x1="${L}" y1="${py(yv)}" x2="${W - R}" y2="${py(yv)}" stroke="#eee"/>`);
    out.push(`<text x="${px(xv)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${+xv.toFixed(2)}</text>`);
    out.push(`<text x="${L - 6}" y="${py(yv) + 4}" text-anchor="end" font-size="11">${+yv.toFixed(2)}</text>`);
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#000"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#000"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(`<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(yLabel)}</text>`);
  curves.forEach((c, i) => {
    const col = COLORS[i % COLORS.length] as string;
    const pts = c.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${col}" stroke-width="2" points="${pts}"/>`);
    for (const p of c.points) {
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${col}"><title>${esc(`${c.name} ${p.workload}: ${p.x.toFixed(2)} pages, ${p.y.toFixed(2)} work`)}</title></circle>`);
    }
    out.push(`<rect x="${W - R + 15}" y="${T + i * 20}" width="12" height="12" fill="${col}"/>`);
    out.push(`<text x="${W - R + 32}" y="${T + i * 20 + 10}" font-size="12">${esc(c.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** The whole page: a heading, the parameters line, the charts and pre-formatted tables. */
export function comparePage(title: string, params: string, charts: readonly string[], tables: readonly { title: string; text: string }[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}pre{font-size:12px;background:#f7f7f7;padding:8px;overflow-x:auto}
figure{margin:16px 0}</style></head>
<body><h1>${esc(title)}</h1><p><code>${esc(params)}</code></p>
${charts.map((c) => `<figure>${c}</figure>`).join('\n')}
${tables.map((t) => `<h2>${esc(t.title)}</h2><pre>${esc(t.text)}</pre>`).join('\n')}
</body></html>
`;
}

/** A series of a scale plot: a design and its points (x, y), each with a tooltip. */
export interface Series {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number; readonly tip: string }[];
}

function ticks(max: number): number[] {
  return [0, 1, 2, 3, 4, 5].map((i) => (max * i) / 5);
}

function fmtTick(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(2)}k`;
  return String(+v.toFixed(2));
}

/**
 * A labelled chart frame shared by the scale plots: title, grid, both axes with tick labels (`g.axis-x`,
 * `g.axis-y`), axis titles and the legend (`g.legend`, one entry per series). `data-plot` names the plot for
 * tests and readers; everything is inline SVG (no script, no font or network fetch).
 */
function frame(id: string, title: string, xLabel: string, yLabel: string, xTicks: readonly { v: number; label: string }[], yMax: number,
  names: readonly string[], px: (x: number) => number, body: string): string {
  const { W, H, L, R, T, B } = GEOM;
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" data-plot="${esc(id)}">`);
  out.push(`<text x="8" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push('<g class="axis-x">');
  for (const t of xTicks) {
    out.push(`<line x1="${px(t.v).toFixed(1)}" y1="${T}" x2="${px(t.v).toFixed(1)}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text class="tick" x="${px(t.v).toFixed(1)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${esc(t.label)}</text>`);
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#000"/>`);
  out.push(`<text class="title" x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">${esc(xLabel)}</text></g>`);
  out.push('<g class="axis-y">');
  for (const v of ticks(yMax)) {
    out.push(`<line x1="${L}" y1="${py(v).toFixed(1)}" x2="${W - R}" y2="${py(v).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text class="tick" x="${L - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmtTick(v)}</text>`);
  }
  out.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#000"/>`);
  out.push(`<text class="title" x="16" y="${(T + H - B) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(yLabel)}</text></g>`);
  out.push(body);
  out.push('<g class="legend">');
  names.forEach((n, i) => {
    const col = COLORS[i % COLORS.length] as string;
    out.push(`<rect x="${W - R + 15}" y="${T + i * 20}" width="12" height="12" fill="${col}"/>`);
    out.push(`<text x="${W - R + 32}" y="${T + i * 20 + 10}" font-size="12">${esc(n)}</text>`);
  });
  out.push('</g></svg>');
  return out.join('\n');
}

const GEOM = { W: 760, H: 420, L: 70, R: 170, T: 40, B: 55 } as const;

/**
 * A line chart, one polyline per series (`g.series[data-series]`), linear y from 0; x linear from 0, or by rank
 * (`categorical`: the distinct x values evenly spaced, labelled with their values: dirty rates that span decades).
 */
export function lineChart(id: string, title: string, xLabel: string, yLabel: string, series: readonly Series[], categorical = false): string {
  const { W, H, L, R, T, B } = GEOM;
  const xsAll = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y))));
  let px: (x: number) => number;
  let xTicks: { v: number; label: string }[];
  if (categorical) {
    const pos = new Map(xsAll.map((x, i) => [x, i]));
    const n = Math.max(1, xsAll.length - 1);
    px = (x) => L + 20 + ((pos.get(x) ?? 0) / n) * (W - L - R - 40);
    xTicks = xsAll.map((x) => ({ v: x, label: fmtTick(x) }));
  } else {
    const xMax = niceMax(Math.max(0, ...xsAll));
    px = (x) => L + (x / xMax) * (W - L - R);
    xTicks = ticks(xMax).map((v) => ({ v, label: fmtTick(v) }));
  }
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const body = series.map((s, i) => {
    const col = COLORS[i % COLORS.length] as string;
    const pts = s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    const dots = s.points.map((p) => `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${col}"><title>${esc(p.tip)}</title></circle>`).join('');
    return `<g class="series" data-series="${esc(s.name)}"><polyline fill="none" stroke="${col}" stroke-width="2" points="${pts}"/>${dots}</g>`;
  }).join('\n');
  return frame(id, title, xLabel, yLabel, xTicks, yMax, series.map((s) => s.name), px, body);
}

/** A grouped bar chart: x categories (`cats`), one bar per series in each (`g.series[data-series]`), y from 0. */
export function barChart(id: string, title: string, xLabel: string, yLabel: string, cats: readonly string[], series: readonly { name: string; values: readonly number[] }[]): string {
  const { W, H, L, R, T, B } = GEOM;
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const slot = (W - L - R) / Math.max(1, cats.length);
  const bw = Math.max(1, (slot * 0.8) / Math.max(1, series.length));
  const px = (i: number): number => L + slot * (i + 0.5);
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const every = Math.max(1, Math.ceil(cats.length / 16));
  const xTicks = cats.map((c, i) => ({ v: i, label: i % every === 0 ? c : '' }));
  const body = series.map((s, k) => {
    const col = COLORS[k % COLORS.length] as string;
    const bars = s.values.map((v, i) => {
      const x = px(i) - (slot * 0.4) + k * bw;
      return `<rect x="${x.toFixed(1)}" y="${py(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(0, H - B - py(v)).toFixed(1)}" fill="${col}"><title>${esc(`${s.name} ${cats[i]}: ${fmtTick(v)}`)}</title></rect>`;
    }).join('');
    return `<g class="series" data-series="${esc(s.name)}">${bars}</g>`;
  }).join('\n');
  return frame(id, title, xLabel, yLabel, xTicks, yMax, series.map((s) => s.name), px, body);
}
