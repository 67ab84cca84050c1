/**
 * What `dtsim compare --preset` shows of a grid's results: the headline table (text and CSV) and the plots
 * (cost vs dirty rate per design, convergence per round, exits per vCPU). Pure: the CLI writes them.
 */
import { HEADLINE, vcpuExitsPerSec, type ScaleResult } from './scale.ts';
import { barChart, lineChart, type Series } from './svg.ts';

function cell(v: number | string): string {
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** The headline rows (header first), one per grid point; a violated or stuck run shows its invariant, no figures. */
export function headlineRows(results: readonly ScaleResult[]): string[][] {
  const rows: string[][] = [HEADLINE.map((h) => h.label)];
  for (const r of results) {
    if (r.status !== 'ok') {
      rows.push([r.point.workload, r.point.variant, `${r.status.toUpperCase()} ${r.violation?.invariant ?? ''} at event ${r.violation?.detectedAtEvent ?? '?'}`]);
      continue;
    }
    rows.push(HEADLINE.map((h) => cell(h.value(r))));
  }
  return rows;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV of the grid: the headline columns plus the check sampling, the violation and the model id. */
export function gridCsv(results: readonly ScaleResult[]): string {
  const head = ['model', ...HEADLINE.map((h) => h.label), 'check every', 'checks', 'violation'];
  const lines = [head.map(csvField).join(',')];
  for (const r of results) {
    const vals = HEADLINE.map((h) => (r.status === 'ok' || h.label === 'workload' || h.label === 'design' || h.label === 'status' || h.label === 'events' ? cell(h.value(r)) : ''));
    lines.push([r.point.model, ...vals, String(r.checkEvery), String(r.checks), r.violation ? `${r.violation.invariant}: ${r.violation.message}` : ''].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Sizes in grid order (the part of a workload name before the rate). */
function sizesOf(results: readonly ScaleResult[]): string[] {
  return [...new Set(results.map((r) => sizeOf(r)))];
}
function sizeOf(r: ScaleResult): string {
  return r.point.workload.replace(/-[^-]*\/s$/, '');
}
function designsOf(results: readonly ScaleResult[]): string[] {
  return [...new Set(results.map((r) => r.point.variant))];
}

/**
 * The plots, each an inline SVG: per guest size, harvest work per collection and vCPU exits per second against
 * the dirty rate (one line per design); for the largest guest at its highest rate, the pages reported in each
 * round (convergence) and the exits of each vCPU. Runs that broke an invariant are left out of every plot.
 */
export function gridPlots(results: readonly ScaleResult[]): string[] {
  const ok = results.filter((r) => r.status === 'ok');
  const charts: string[] = [];
  const designs = designsOf(ok);
  for (const size of sizesOf(ok)) {
    const mine = ok.filter((r) => sizeOf(r) === size);
    const series = (y: (r: ScaleResult) => number, tip: string): Series[] => designs.map((d) => ({
      name: d,
      points: mine.filter((r) => r.point.variant === d).map((r) => ({ x: r.point.spec.storesPerSec, y: y(r), tip: `${d} ${r.point.workload}: ${y(r).toFixed(1)} ${tip}` })),
    }));
    charts.push(lineChart(`cost-${size}`, `Harvest work per collection vs dirty rate (${size})`, 'guest stores per second per vCPU',
      'harvest work per collection (words + entries read)', series((r) => (r.measures['harvestWork'] ?? 0) / Math.max(1, r.measures['collections'] ?? 0), 'units'), true));
    charts.push(lineChart(`exits-rate-${size}`, `vCPU exits per second vs dirty rate (${size})`, 'guest stores per second per vCPU',
      'exits per simulated second per vCPU (faults + full exits)', series(vcpuExitsPerSec, 'exits/s'), true));
  }
  const last = ok.length ? ok[ok.length - 1] as ScaleResult : null;
  if (last) {
    const at = ok.filter((r) => r.point.workload === last.point.workload);
    charts.push(lineChart('convergence', `Convergence: pages reported per collection round (${last.point.workload})`, 'collection round',
      'dirty pages reported in the round', at.map((r) => ({ name: r.point.variant, points: r.rounds.map((x) => ({ x: x.round, y: x.reports, tip: `${r.point.variant} round ${x.round}: ${x.reports} pages at ${x.atMs.toFixed(1)} ms` })) })), true));
    const cats = Object.keys(last.perVcpu);
    charts.push(barChart('exits-per-vcpu', `Exits per vCPU (${last.point.workload})`, 'vCPU', 'exits (write faults + ring-full + hdbss-full)', cats,
      at.map((r) => ({ name: r.point.variant, values: cats.map((c) => { const a = r.perVcpu[c] ?? {}; return (a['writeFaults'] ?? 0) + (a['ringFullExits'] ?? 0) + (a['hdbssFullFaults'] ?? 0); }) }))));
  }
  return charts;
}
