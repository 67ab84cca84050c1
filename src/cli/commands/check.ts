/**
 * `dtsim check`: the main job. Property campaigns over every model's option matrix against the oracle, on all
 * cores (worker threads), shardable across machines (`--shard i/n`), mergeable (`--merge DIR`).
 */
import { performance } from 'node:perf_hooks';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mergeResults, type ResultJson } from '../../check/campaign.ts';
import { makeTrace, serializeTrace } from '../../trace/format.ts';
import type { JsonValue } from '../../core/model.ts';
import { collisionBound } from '../../explore/pack.ts';
import { UsageError, BadInputError } from '../errors.ts';
import { freshPath, readText, writeAtomic } from '../io.ts';
import { intFlag, MODELS, seedFlag } from '../registry.ts';
import type { Parsed } from '../main.ts';
import type { CheckJob } from '../jobs.ts';
import { mergeCheckChunks, situationsOf, splitCheckJobs } from '../jobs.ts';
import { defaultWorkers, runPool } from '../pool.ts';
import { shrink } from '../../workflow/shrink.ts';
import { machineConfigCandidates } from '../machine-view.ts';
import type { MachineEvent } from '../../../models/machine/model-events.ts';
import type { MachineConfig } from '../../../models/machine/state.ts';

export function designLabel(model: string, options: { readonly [k: string]: JsonValue }, defaults: { readonly [k: string]: JsonValue }): string {
  const diff = Object.entries(options).filter(([k, v]) => JSON.stringify(defaults[k]) !== JSON.stringify(v));
  return diff.length ? `${model}{${diff.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : model;
}

/** Saves a campaign's first failing run as a trace that replays to its violation; returns the path. */
export function saveFailure(dir: string, r: ResultJson, note: string): string {
  const f = r.firstFailure!;
  const path = freshPath(dir, `${r.model}-${f.invariant}-${f.seed}`);
  const trace = makeTrace({ design: r.design, config: r.config, seed: f.seed, choices: f.choices, events: f.events, note,
    expect: { status: 'violated', eventIndex: f.eventIndex, invariant: f.invariant } });
  writeAtomic(path, serializeTrace(trace));
  return path;
}

/** Shrinks a campaign failure (bounded) and saves it next to the original; null if it could not be shrunk. */
export function saveShrunk(dir: string, r: ResultJson, from: string): { path: string; events: number } | null {
  const f = r.firstFailure!;
  const m = MODELS.find((x) => x.id === r.model);
  if (!m) return null;
  const pc = m.parseConfig(r.config);
  if (!pc.ok) return null;
  const out = shrink(m, r.design, pc.config, f.events as MachineEvent[], f.choices, { drivable: true, maxTests: 3000,
    configCandidates: (c) => machineConfigCandidates(c as MachineConfig) });
  if (!out.ok) return null;
  const s = out.result;
  const path = freshPath(dir, `${r.model}-${f.invariant}-${f.seed}-min`);
  writeAtomic(path, serializeTrace(makeTrace({ design: r.design, config: s.config as unknown as JsonValue, seed: f.seed, choices: s.choices,
    events: s.events, note: `shrunk from ${from}`, expect: { status: 'violated', eventIndex: s.eventIndex, invariant: s.violation.invariant } })));
  return { path, events: s.events.length };
}

export function defaultSeed(): string {
  return process.env['DTSIM_SEED'] ?? (Date.now() % 1e9).toString(36);
}

function parseShard(v: unknown): { shard: number; shards: number } {
  if (v === undefined) return { shard: 0, shards: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(String(v));
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard: expected i/n with 0 <= i < n, got '${String(v)}'`);
  return { shard: Number(m[1]), shards: Number(m[2]) };
}

function readMerge(dir: string): { seed: string; results: ResultJson[] } {
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort(); } catch {
    throw new BadInputError(dir, null, '', 'cannot read this folder');
  }
  if (names.length === 0) throw new BadInputError(dir, null, '', 'no .json shard results in this folder');
  const parts: ResultJson[] = [];
  let seed: string | null = null;
  for (const n of names) {
    const f = join(dir, n);
    let doc: unknown;
    try { doc = JSON.parse(readText(f)); } catch (e) { if (e instanceof BadInputError) throw e; throw new BadInputError(f, null, '', 'not valid JSON'); }
    const d = doc as { command?: unknown; seed?: unknown; results?: unknown };
    if (d.command !== 'check' || typeof d.seed !== 'string' || !Array.isArray(d.results)) {
      throw new BadInputError(f, null, 'command', 'not a `dtsim check --json` result');
    }
    if (seed !== null && d.seed !== seed) throw new BadInputError(f, null, 'seed', `seed ${d.seed} differs from ${seed}: shards of one campaign share a seed`);
    seed = d.seed;
    for (let i = 0; i < d.results.length; i++) {
      const r = d.results[i] as ResultJson;
      if (typeof r !== 'object' || r === null || typeof r.label !== 'string' || typeof r.runs !== 'number' || typeof r.metrics !== 'object') {
        throw new BadInputError(f, null, `results[${i}]`, 'not a campaign result');
      }
      parts.push(r);
    }
  }
  return { seed: seed!, results: mergeResults(parts) };
}

export async function cmdCheck(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`check: unexpected argument '${p.positionals[0]}'`);
  const json = v['json'] === true;
  const outDir = (v['out-dir'] as string | undefined) ?? 'out/failures';
  let seed: string;
  let results: ResultJson[];
  let header = '';
  const t0 = performance.now();
  if (typeof v['merge'] === 'string') {
    const m = readMerge(v['merge']);
    seed = m.seed;
    results = m.results;
    header = `dtsim check --merge ${v['merge']}: seed=${seed} designs=${results.length} (distinct states are summed over shards: an upper bound)`;
  } else {
    const ids = (v['model'] as string[] | undefined) ?? MODELS.map((m) => m.id);
    for (const id of ids) if (!MODELS.some((x) => x.id === id)) throw new UsageError(`--model: unknown model '${id}' (one of: ${MODELS.map((x) => x.id).join(', ')})`);
    const runs = intFlag('runs', v['runs'], 250, 1);
    const maxEvents = intFlag('events', v['events'], 300, 1);
    const budget = intFlag('time-budget', v['time-budget'], 0, 0);
    const workers = intFlag('workers', v['workers'], defaultWorkers(), 1, 256);
    const { shard, shards } = parseShard(v['shard']);
    seed = seedFlag(v['seed'], defaultSeed());
    const bugs = (v['bug'] as string[] | undefined) ?? [];
    const jobs: CheckJob[] = [];
    for (const m of MODELS.filter((x) => ids.includes(x.id))) {
      if (bugs.some((b) => !m.preset.bugs.some((k) => k.id === b))) continue;
      for (const opts of bugs.length ? [{}] : m.preset.matrix) {
        const design = m.design(opts, bugs);
        jobs.push({ kind: 'check', model: m.id, options: design.options, bugs,
          label: designLabel(m.id, design.options, m.defaultOptions) + bugs.map((b) => `+${b}`).join(''),
          runs, seed, maxEvents, timeBudgetMs: 0, shard, shards });
      }
    }
    if (jobs.length === 0) throw new UsageError(`--bug: no selected model has the knob(s) ${bugs.join(', ')} (see: dtsim bugs --list)`);
    // Each design's runs are split into chunks across the workers (run i keeps its seed; merged back below).
    // A time budget is shared by all chunks: each gets its slice of (budget x workers).
    const chunks = splitCheckJobs(jobs, workers);
    const perJob = budget > 0 ? (budget * 1000 * Math.min(workers, chunks.length)) / chunks.length : 0;
    const jobsB = chunks.map((j) => ({ ...j, timeBudgetMs: perJob }));
    header = `dtsim check: seed=${seed} runs=${runs} events=${maxEvents} time-budget=${budget || 'none'}${budget ? 's' : ''} workers=${workers} shard=${shard}/${shards} models=${ids.join(',')} designs=${jobs.length}`;
    if (!json) process.stdout.write(`${header}\n`);
    const tty = process.stderr.isTTY && !json;
    const out = await runPool(jobsB, workers, tty ? (d, t) => process.stderr.write(`\r  chunks done: ${d}/${t}   `) : undefined);
    if (tty) process.stderr.write('\r\x1b[K');
    results = mergeCheckChunks(out.flatMap((r) => (r.kind === 'check' ? [r] : [])));
  }
  const wall = (performance.now() - t0) / 1000;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'check', seed, wallSeconds: Math.round(wall * 10) / 10, results })}\n`);
    return results.some((r) => r.violations > 0) ? 1 : 0;
  }
  if (typeof v['merge'] === 'string') process.stdout.write(`${header}\n`);
  const rows: string[][] = [['design', 'runs', 'events', 'states', 'violations', 'reports', 'unjustified', 'duplicates', 'faults', 'time']];
  for (const r of results) {
    const m = r.metrics;
    rows.push([r.label, String(r.runs), String(r.events), String(r.distinctStates), String(r.violations), String(m['reports'] ?? 0),
      `${((m['unjustifiedRate'] ?? 0) * 100).toFixed(1)}%`, m['ringEntries'] ? `${((m['duplicateRate'] ?? 0) * 100).toFixed(1)}%` : '-',
      String(m['writeFaults'] ?? 0), `${(r.timeMs / 1000).toFixed(1)}s`]);
  }
  process.stdout.write(table(rows));
  // Coverage: situations reached per design (counts), a gap where one was never reached.
  const sitIds: string[] = [];
  for (const r of results) for (const s of situationsOf(r.model)) if (!sitIds.includes(s.id)) sitIds.push(s.id);
  const crow: string[][] = [['coverage', ...sitIds]];
  const gaps: string[] = [];
  for (const r of results) {
    const applies = new Set(situationsOf(r.model, r.design.options).map((s) => s.id));
    crow.push([r.label, ...sitIds.map((id) => {
      if (!applies.has(id)) return '.';
      const n = r.coverage[id] ?? 0;
      if (n === 0) gaps.push(`${r.label}: ${id}`);
      return n === 0 ? 'GAP' : String(n);
    })]);
  }
  process.stdout.write(`\n${table(crow)}`);
  const totalStates = results.reduce((a, r) => a + r.distinctStates, 0);
  const labels = new Map<string, string>();
  for (const r of results) for (const s of situationsOf(r.model)) labels.set(s.id, s.label);
  process.stdout.write(`situations: ${sitIds.map((id) => `${id} = ${labels.get(id)}`).join('; ')} ('.' = not applicable)\n`);
  process.stdout.write(`distinct states: 64-bit fingerprints; collision probability <= ${collisionBound(totalStates).toExponential(1)}\n`);
  if (gaps.length) process.stdout.write(`coverage gaps (never reached): ${gaps.join('; ')}\n`);
  let failed = 0;
  for (const r of results) {
    if (r.violations === 0) continue;
    failed++;
    const f = r.firstFailure!;
    const cmd = `dtsim run --model ${r.model}${Object.entries(r.design.options).map(([k, x]) => ` --option ${k}=${JSON.stringify(x)}`).join('')}`
      + `${r.design.bugs.map((b) => ` --bug ${b}`).join('')} --seed ${f.seed} --events ${v['events'] ?? 300}`;
    const path = saveFailure(outDir, r, cmd);
    const min = saveShrunk(outDir, r, path);
    process.stdout.write(`VIOLATION ${r.label}: ${f.invariant} (run ${f.runIndex}, seed ${f.seed}) after event ${f.eventIndex}: ${f.message}\n`
      + `  trace: ${path}\n  replay: npx dtsim replay ${path}\n  re-run: npx ${cmd}\n`
      + (min ? `  shrunk (${min.events} events): ${min.path}\n  replay: npx dtsim replay ${min.path}\n` : ''));
  }
  process.stdout.write(failed ? `${failed} design(s) violated an invariant (${wall.toFixed(1)}s)\n` : `all ${results.length} designs hold every invariant (${wall.toFixed(1)}s)\n`);
  return failed ? 1 : 0;
}

export function table(rows: string[][]): string {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, i) => { w[i] = Math.max(w[i] ?? 0, c.length); });
  return rows.map((r, ri) => {
    // Numbers (and percentages, durations) right-aligned; text left-aligned.
    const line = r.map((c, i) => (i > 0 && /^-?[\d.]+(%|s|x)?$/.test(c) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
    return ri === 0 ? `${line}\n${w.map((x) => '-'.repeat(x)).join('  ')}` : line;
  }).join('\n') + '\n';
}
