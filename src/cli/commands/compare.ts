/**
 * `dtsim compare`: every chosen model's default design on the same seeded workloads (sparse and dense
 * dirtying, 1..N vCPUs), a table per design, and with --html the harvest-work-versus-dirty-rate curves.
 */
import { COLUMNS, harvestCurves, runCompare, type CompareItem, type CompareRow } from '../../compare/compare.ts';
import { comparePage, curvesSvg } from '../../compare/svg.ts';
import type { EventBase } from '../../core/model.ts';
import { UsageError } from '../errors.ts';
import { checkOutputs, writeOutput } from '../io.ts';
import { intFlag, MODELS, seedFlag } from '../registry.ts';
import type { MachineModel } from '../registry-types.ts';
import type { Parsed } from '../main.ts';
import { defaultSeed, table } from './check.ts';
import { formatCount, progressFor } from '../progress.ts';
import { cmdCompareScale } from './compare-scale.ts';

interface Workload {
  readonly name: string;
  readonly vcpus: number;
  readonly storePages: number[];
  readonly curve: boolean;
}

/** Sparse: 4 pages spread over the slot; dense: every page; curve-k: k pages spread (all vCPUs). */
export function workloads(pages: number, maxVcpus: number): Workload[] {
  const spread = (k: number): number[] => (k >= pages ? [] : Array.from({ length: k }, (_, i) => Math.floor((i * pages) / k)));
  const out: Workload[] = [];
  for (let v = 1; v <= maxVcpus; v++) {
    out.push({ name: `sparse-${v}v`, vcpus: v, storePages: spread(4), curve: false });
    out.push({ name: `dense-${v}v`, vcpus: v, storePages: [], curve: false });
  }
  for (let k = 1; k < pages; k *= 2) out.push({ name: `curve-${k}p`, vcpus: maxVcpus, storePages: spread(k), curve: true });
  out.push({ name: `curve-${pages}p`, vcpus: maxVcpus, storePages: [], curve: true });
  return out;
}

function fmtNum(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

export async function cmdCompare(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`compare: unexpected argument '${p.positionals[0]}'`);
  if (v['preset'] !== undefined) return cmdCompareScale(p);
  for (const f of ['workers', 'check-every', 'csv'] as const) {
    if (v[f] !== undefined) throw new UsageError(`--${f}: only with --preset (the scale comparison, docs/compare.md)`);
  }
  const chosen = [...((v['model'] as string[] | undefined) ?? []), ...((v['models'] as string[] | undefined) ?? [])];
  const ids = (chosen.length ? chosen : MODELS.map((m) => m.id)).flatMap((s) => s.split(',')).filter((s) => s !== '');
  const models: MachineModel[] = [];
  for (const id of ids) {
    const m = MODELS.find((x) => x.id === id);
    if (!m) throw new UsageError(`--model: unknown model '${id}' (one of: ${MODELS.map((x) => x.id).join(', ')})`);
    models.push(m);
  }
  const maxVcpus = intFlag('vcpus', v['vcpus'], 2, 1, 8);
  const pages = intFlag('pages', v['pages'], 128, 2, 4096);
  const runs = intFlag('runs', v['runs'], 4, 1, 10_000);
  const maxEvents = intFlag('events', v['events'], 400, 1, 1_000_000);
  const seed = seedFlag(v['seed'], defaultSeed());
  const html = v['html'] as string | undefined;
  const rules = { force: v['force'] === true, inputs: [] };
  if (html) checkOutputs([{ flag: '--html', file: html }], rules);
  const json = v['json'] === true;
  const wls = workloads(pages, maxVcpus);
  if (!json) {
    process.stdout.write(`dtsim compare: models=${models.map((m) => m.id).join(',')} seed=${seed} runs=${runs} events=${maxEvents} `
      + `pages=${pages} vcpus=1..${maxVcpus} workloads=${wls.length}\n`);
  }
  const items: CompareItem<unknown, EventBase, unknown>[] = [];
  for (const m of models) {
    for (const w of wls) {
      const pc = m.parseConfig({ ...(m.defaultConfig as object), vcpus: w.vcpus, pes: w.vcpus, slots: [{ base: 0, npages: pages }],
        blocks: false, stolenTime: true, itsPages: [pages - 1], rounds: 3, storePages: w.storePages });
      if (!pc.ok) throw new UsageError(`compare: ${m.id}: ${pc.error.field}: ${pc.error.message}`);
      items.push({ design: m.id, workload: w.name, model: m as never, spec: m.design(), config: pc.config,
        storePages: w.storePages.length || pages });
    }
  }
  // Progress (a TTY only): design x workload cells done (each runs --runs seeds).
  const progress = progressFor({ json, quiet: v['quiet'] === true });
  progress.update(() => `compare: 0/${items.length} cells, 0 of ${formatCount(items.length * runs)} runs`);
  const rows = runCompare(items, seed, runs, maxEvents, (d, n) => {
    progress.update(() => `compare: ${d}/${n} cells, ${formatCount(d * runs)} of ${formatCount(n * runs)} runs`);
  });
  progress.done();
  const bad = rows.filter((r) => r.violations > 0);
  const tables: { title: string; text: string }[] = [];
  for (const m of models) {
    const mine = rows.filter((r) => r.design === m.id && !wls.find((w) => w.name === r.workload)?.curve);
    const header = ['workload', ...COLUMNS.map((c) => c.label)];
    const body = mine.map((r) => [r.workload, ...COLUMNS.map((c) => fmtNum(c.value(r.totals) / r.runs))]);
    tables.push({ title: `${m.id} (${JSON.stringify(m.design().options)}), per run`, text: table([header, ...body]) });
  }
  const curves = harvestCurves(rows, (w) => w.startsWith('curve-'));
  if (html) {
    const svg = curvesSvg(`Harvest work per collection vs dirty pages per collection (${maxVcpus} vCPUs, ${pages} pages)`, curves,
      'dirty pages reported per collection', 'harvest work per collection (bitmap words + entries read)');
    writeOutput({ flag: '--html', file: html }, comparePage('dtsim compare', `dtsim compare --model ${ids.join(',')} --seed ${seed} --runs ${runs} --events ${maxEvents} --pages ${pages} --vcpus ${maxVcpus}`,
      [svg], tables), rules);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'compare', seed, runs, maxEvents, pages, maxVcpus,
      rows: rows.map((r: CompareRow) => ({ ...r, perRun: Object.fromEntries(COLUMNS.map((c) => [c.label, c.value(r.totals) / r.runs])) })),
      curves, html: html ?? null })}\n`);
  } else {
    for (const t of tables) process.stdout.write(`\n${t.title}\n${t.text}`);
    process.stdout.write('\nharvest work per collection vs dirty pages per collection (curve workloads):\n');
    for (const c of curves) process.stdout.write(`  ${c.name.padEnd(14)} ${c.points.map((q) => `${q.x.toFixed(1)}->${q.y.toFixed(1)}`).join('  ')}\n`);
    if (html) process.stdout.write(`html: ${html}\n`);
    for (const r of bad) process.stdout.write(`VIOLATION: ${r.design} on ${r.workload}: ${r.violations}/${r.runs} runs broke an invariant (replay with dtsim run)\n`);
  }
  return bad.length ? 1 : 0;
}
