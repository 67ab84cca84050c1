/**
 * `dtsim compare --preset NAME`: the designs of every model with a workload hook, on a preset grid of guest sizes
 * and dirty rates at the scale users migrate (src/compare/scale.ts, docs/compare.md), one worker-pool job per
 * grid point. Prints the headline table; `--html OUT` writes the page with the plots (OUT a folder, or ending in
 * `/`: OUT/index.html), `--csv FILE` the table, `--json` everything on stdout. Exit 1 when a run broke an
 * invariant (its figures are never shown), 2 on bad flags.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gridOf, PRESETS, type ScaleResult } from '../../compare/scale.ts';
import { gridCsv, gridPlots, headlineRows } from '../../compare/report.ts';
import { comparePage } from '../../compare/svg.ts';
import { UsageError } from '../errors.ts';
import { checkOutputs, writeOutput, type Output } from '../io.ts';
import { intFlag, MODELS, seedFlag } from '../registry.ts';
import type { Parsed } from '../main.ts';
import { defaultSeed, table } from './check.ts';
import { formatCount, progressFor } from '../progress.ts';
import { defaultWorkers, runPool } from '../pool.ts';
import type { Job } from '../jobs.ts';
import { statSync } from 'node:fs';

/** Bytes of a page on the migration link (the workload's cost model, docs/compare.md). */
const PAGE_BYTES = 4096;

/** `--html OUT`: a folder (existing, or named with a trailing `/`) gets `index.html`; anything else is the file. */
export function htmlTarget(out: string): string {
  if (out.endsWith('/')) return join(out, 'index.html');
  const st = statSync(out, { throwIfNoEntry: false });
  return st?.isDirectory() ? join(out, 'index.html') : out;
}

/** Flags of the small-grid `compare` that a preset fixes itself (given together: a usage error, not ignored). */
const NOT_WITH_PRESET = ['vcpus', 'pages', 'runs', 'events'] as const;

export async function cmdCompareScale(p: Parsed): Promise<number> {
  const v = p.values;
  const name = v['preset'] as string;
  const preset = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (!preset) throw new UsageError(`--preset: unknown preset '${name}' (one of: ${Object.keys(PRESETS).join(', ')})`);
  for (const f of NOT_WITH_PRESET) if (v[f] !== undefined) throw new UsageError(`--${f}: not with --preset (the preset sets guest sizes, vCPUs and run lengths; see docs/compare.md)`);
  const chosen = [...((v['model'] as string[] | undefined) ?? []), ...((v['models'] as string[] | undefined) ?? [])].flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const id of chosen) if (!MODELS.some((m) => m.id === id)) throw new UsageError(`--model: unknown model '${id}' (one of: ${MODELS.map((x) => x.id).join(', ')})`);
  const models = MODELS.filter((m) => m.workload && (chosen.length === 0 || chosen.includes(m.id)));
  const seed = seedFlag(v['seed'], defaultSeed());
  const checkEvery = intFlag('check-every', v['check-every'], preset.checkEvery, 1, 1_000_000_000);
  const workers = intFlag('workers', v['workers'], defaultWorkers(), 1, 256);
  const json = v['json'] === true;
  const rules = { force: v['force'] === true, inputs: [] };
  const outs: Output[] = [];
  const html = typeof v['html'] === 'string' ? htmlTarget(v['html']) : undefined;
  const csv = typeof v['csv'] === 'string' ? v['csv'] : undefined;
  if (html !== undefined) outs.push({ flag: '--html', file: html });
  if (csv !== undefined) outs.push({ flag: '--csv', file: csv });
  checkOutputs(outs, rules);
  const points = gridOf(preset, models, seed);
  const command = `dtsim compare --preset ${preset.name} --seed ${seed} --check-every ${checkEvery}${chosen.length ? ` --model ${chosen.join(',')}` : ''}`;
  const invariantsLine = `invariants: every invariant checked on the initial state, every ${formatCount(checkEvery)} events, at each collection boundary and at the end of every run`;
  if (!json) {
    process.stdout.write(`dtsim compare: preset=${preset.name} (${preset.description}) seed=${seed} points=${points.length} workers=${workers}\n${invariantsLine}\n`);
  }
  // The pool takes the costliest points first (a guest's bulk copy plus its stores over it, in pages), so the last
  // jobs to finish are short ones and the workers end together; results are put back in grid order.
  const cost = (i: number): number => { const w = points[i]!.spec; return w.pages * (1 + (w.vcpus * w.storesPerSec * PAGE_BYTES) / (w.bandwidthMBps * 1e6)); };
  const order = points.map((_, i) => i).sort((a, b) => cost(b) - cost(a) || a - b);
  const jobs: Job[] = order.map((i) => ({ kind: 'scale', point: points[i]!, checkEvery }));
  const progress = progressFor({ json, quiet: v['quiet'] === true });
  progress.update(() => `compare: 0/${points.length} grid points`);
  const t0 = performance.now();
  const res = await runPool(jobs, workers, (d, n) => progress.update(() => `compare: ${d}/${n} grid points`));
  progress.done();
  const wallS = (performance.now() - t0) / 1000;
  const results = new Array<ScaleResult>(points.length);
  res.forEach((r, k) => {
    if (r.kind !== 'scale') throw new Error('[dtsim] compare: a worker returned another kind of result');
    results[order[k]!] = r.result;
  });
  const bad = results.filter((r) => r.status !== 'ok');
  const rows = headlineRows(results);
  const text = table(rows);
  const events = results.reduce((a, r) => a + r.events, 0);
  if (html !== undefined) {
    writeOutput({ flag: '--html', file: html }, comparePage(`dtsim compare --preset ${preset.name}`, command, gridPlots(results),
      [{ title: `Headline (${invariantsLine}; ${formatCount(events)} events in ${wallS.toFixed(1)} s on ${workers} workers)`, text }]), rules);
  }
  if (csv !== undefined) writeOutput({ flag: '--csv', file: csv }, gridCsv(results), rules);
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'compare', preset: preset.name, seed, checkEvery, workers, wallSeconds: wallS, events,
      results, html: html ?? null, csv: csv ?? null })}\n`);
  } else {
    process.stdout.write(`\n${text}`);
    process.stdout.write(`\n${formatCount(events)} events in ${wallS.toFixed(1)} s (${workers} workers)\n`);
    if (html !== undefined) process.stdout.write(`html: ${html}\n`);
    if (csv !== undefined) process.stdout.write(`csv: ${csv}\n`);
    for (const r of bad) {
      process.stdout.write(`VIOLATION: ${r.point.variant} on ${r.point.workload}: ${r.violation?.invariant} detected at event ${r.violation?.detectedAtEvent}: ${r.violation?.message}\n`);
    }
  }
  return bad.length ? 1 : 0;
}
