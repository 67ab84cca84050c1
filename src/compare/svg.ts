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
