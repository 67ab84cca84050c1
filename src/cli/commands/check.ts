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
import { classifyShardFile, type SavedFailure } from '../shard-file.ts';
import { quote } from '../../core/untrusted.ts';
import { verdictExit, worstVerdict } from '../verdict.ts';
import { readText, writeFresh } from '../io.ts';
import { intFlag, MODELS, seedFlag } from '../registry.ts';
import type { Parsed } from '../main.ts';
import type { CheckJob } from '../jobs.ts';
import { mergeCheckChunks, situationsOf, splitCheckJobs } from '../jobs.ts';
import { defaultWorkers, runPool } from '../pool.ts';
import { formatCount, progressFor } from '../progress.ts';
import { shrink } from '../../workflow/shrink.ts';
import type { MachineEvent } from '../../../models/index.ts';

export type { SavedFailure } from '../shard-file.ts';

export function designLabel(model: string, options: { readonly [k: string]: JsonValue }, defaults: { readonly [k: string]: JsonValue }): string {
  const diff = Object.entries(options).filter(([k, v]) => JSON.stringify(defaults[k]) !== JSON.stringify(v));
  return diff.length ? `${model}{${diff.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : model;
}

/** Saves a campaign's first failing run as a trace that replays to its violation (a fresh file: never overwrites); returns the path. */
export function saveFailure(dir: string, r: ResultJson, note: string): string {
  const f = r.firstFailure!;
  const trace = makeTrace({ design: r.design, config: r.config, seed: f.seed, choices: f.choices, events: f.events, note,
    expect: { status: 'violated', eventIndex: f.eventIndex, invariant: f.invariant } });
  return writeFresh(dir, `${r.model}-${f.invariant}-${f.seed}`, serializeTrace(trace));
}

/** Shrinks a campaign failure (bounded) and saves it next to the original; null if it could not be shrunk. */
export function saveShrunk(dir: string, r: ResultJson, from: string): { path: string; events: number } | null {
  const f = r.firstFailure!;
  const m = MODELS.find((x) => x.id === r.model);
  if (!m) return null;
  const pc = m.parseConfig(r.config);
  if (!pc.ok) return null;
  const out = shrink(m, r.design, pc.config, f.events as MachineEvent[], f.choices, { drivable: true, maxTests: 3000,
    configCandidates: (c) => m.configCandidates?.(c) ?? [] });
  if (!out.ok) return null;
  const s = out.result;
  const path = writeFresh(dir, `${r.model}-${f.invariant}-${f.seed}-min`, serializeTrace(makeTrace({ design: r.design, config: s.config as unknown as JsonValue,
    seed: f.seed, choices: s.choices, events: s.events, note: `shrunk from ${from}`,
    expect: { status: 'violated', eventIndex: s.eventIndex, invariant: s.violation.invariant } })));
  return { path, events: s.events.length };
}

/** The `dtsim run` command line that re-runs a campaign's failing run from its derived seed. */
function rerunCommand(r: ResultJson, maxEvents: number): string {
  const f = r.firstFailure!;
  return `dtsim run --model ${r.model}${Object.entries(r.design.options).map(([k, x]) => ` --option ${k}=${JSON.stringify(x)}`).join('')}`
    + `${r.design.bugs.map((b) => ` --bug ${b}`).join('')} --seed ${f.seed} --events ${maxEvents}`;
}

/** Saves and shrinks the first failing run of a failing design (text and --json alike); nothing goes to stdout. */
export function saveAndShrink(dir: string, r: ResultJson, maxEvents: number): SavedFailure {
  const f = r.firstFailure!;
  const rerun = rerunCommand(r, maxEvents);
  const trace = saveFailure(dir, r, rerun);
  const min = saveShrunk(dir, r, trace);
  return { label: r.label, model: r.model, invariant: f.invariant, seed: f.seed, runIndex: f.runIndex, eventIndex: f.eventIndex, message: f.message,
    trace, replay: `dtsim replay ${trace}`, rerun,
    shrunk: min ? { trace: min.path, events: min.events, replay: `dtsim replay ${min.path}` } : null };
}

/** The lines `check` prints for a saved failure. */
function failureText(s: SavedFailure): string {
  return `VIOLATION ${s.label}: ${s.invariant} (run ${s.runIndex}, seed ${s.seed}) after event ${s.eventIndex}: ${s.message}\n`
    + `  trace: ${s.trace}\n  replay: npx ${s.replay}\n  re-run: npx ${s.rerun}\n`
    + (s.shrunk ? `  shrunk (${s.shrunk.events} events): ${s.shrunk.trace}\n  replay: npx ${s.shrunk.replay}\n` : '');
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

/**
 * Reads the shard results of a folder (`*.json` at its top; each checked by `classifyShardFile`, shard-file.ts):
 * the merged results, every failure a shard saved (in file order), the events per run the shards used (null when
 * the shard files predate that field, or disagree), and how many saved traces were skipped (a shard's --out-dir,
 * or an earlier merge's, may be the merge folder itself), and which shards are there (`MergeShards`). Exported
 * for the fuzz property (properties/check.merge-never-crashes.test.ts). Bad input throws `BadInputError` naming
 * the file and field: among them a shard index given by two files (the same shard copied twice, e.g.
 * `shard-0.json` and `shard-0 (1).json`, would be summed twice: runs and violations doubled), naming both, and
 * files of different shard counts (shards of different campaigns).
 */
export function readMerge(dir: string): { seed: string; results: ResultJson[]; failures: SavedFailure[]; maxEvents: number | null; skippedTraces: number;
  shards: MergeShards } {
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort(); } catch {
    throw new BadInputError(dir, null, '', 'cannot read this folder');
  }
  const parts: ResultJson[] = [];
  const failures: SavedFailure[] = [];
  let maxEvents: number | null | undefined;
  let seed: string | null = null;
  let skippedTraces = 0;
  // Shard index -> the file that gave it; the count of the first file that recorded one (and that file).
  const byIndex = new Map<number, string>();
  let shardCount: { count: number; file: string } | null = null;
  let unchecked = 0;
  for (const n of names) {
    const f = join(dir, n);
    const c = classifyShardFile(readText(f));
    switch (c.kind) {
      case 'trace': skippedTraces++; continue;
      case 'bad': throw new BadInputError(f, c.issue.line, c.issue.field, c.issue.message);
      case 'shard': break;
      default: { const never: never = c; return never; }
    }
    const d = c.doc;
    if (seed !== null && d.seed !== seed) throw new BadInputError(f, null, 'seed', `seed ${quote(d.seed)} differs from ${quote(seed)}: shards of one campaign share a seed`);
    seed = d.seed;
    if (d.shard === null) unchecked++;
    else {
      if (shardCount !== null && d.shard.count !== shardCount.count) {
        throw new BadInputError(f, null, 'shard.count', `${d.shard.count} shards, but ${shardCount.file} is one of ${shardCount.count}: shards of one campaign share --shard i/n's n`);
      }
      shardCount ??= { count: d.shard.count, file: f };
      const other = byIndex.get(d.shard.index);
      if (other !== undefined) {
        throw new BadInputError(f, null, 'shard.index', `shard ${d.shard.index}/${d.shard.count} is also ${other}: the same shard given twice would be counted twice (remove one)`);
      }
      byIndex.set(d.shard.index, f);
    }
    parts.push(...d.results);
    // Shards written by an older dtsim have no `failures`: their failing designs are saved at the merge.
    if (d.failures) failures.push(...d.failures);
    maxEvents = maxEvents === undefined || maxEvents === d.maxEvents ? d.maxEvents : null;
  }
  if (seed === null) {
    throw new BadInputError(dir, null, '', `no .json shard results in this folder${skippedTraces ? ` (only ${skippedTraces} saved trace(s))` : ''}`);
  }
  const present = [...byIndex.keys()].sort((a, b) => a - b);
  const missing = shardCount === null ? [] : Array.from({ length: shardCount.count }, (_, i) => i).filter((i) => !byIndex.has(i));
  return { seed, results: mergeResults(parts), failures, maxEvents: maxEvents ?? null, skippedTraces,
    shards: { count: shardCount?.count ?? null, present, missing, unchecked, incomplete: missing.length > unchecked } };
}

/**
 * Which shards a merge read. `count` is the n of `--shard i/n` the files record (null: no file records it, all
 * were written before the field existed); `present` the indices found, `missing` those of 0..n-1 not found;
 * `unchecked` the files with no recorded index (older files: merged as before, their index unknown). The merge is
 * `incomplete` (inconclusive, exit 4, unless a violation was found: 1) when more shards are missing than there are
 * unchecked files that could be them: the merged table would claim a campaign that was not run.
 */
export interface MergeShards {
  readonly count: number | null;
  readonly present: readonly number[];
  readonly missing: readonly number[];
  readonly unchecked: number;
  readonly incomplete: boolean;
}

/** The lines a merge prints about its shards (none when every shard of 0..n-1 is there, each once). */
function shardLines(s: MergeShards): string {
  let out = '';
  if (s.unchecked > 0) {
    out += `shard indices of ${s.unchecked} file${s.unchecked === 1 ? '' : 's'} could not be checked (written before dtsim recorded --shard i/n): `
      + `a shard given twice or missing among them is not detected${!s.incomplete && s.missing.length
        ? ` (shard${s.missing.length === 1 ? '' : 's'} ${s.missing.join(', ')} of ${s.count} not recorded by any other file)` : ''}\n`;
  }
  if (s.incomplete) {
    out += `NOT complete: shard${s.missing.length === 1 ? '' : 's'} ${s.missing.join(', ')} of ${s.count} missing`
      + ' (the table covers only the shards present; run the missing ones with the same --seed and arguments)\n';
  }
  return out;
}

export async function cmdCheck(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`check: unexpected argument '${p.positionals[0]}'`);
  const json = v['json'] === true;
  const progress = progressFor({ json, quiet: v['quiet'] === true });
  const outDir = (v['out-dir'] as string | undefined) ?? 'out/failures';
  let seed: string;
  let results: ResultJson[];
  // Failures the shards of a merge saved (listed, not saved again), and the events per run of the campaign.
  let shardFailures: SavedFailure[] = [];
  let maxEvents = intFlag('events', v['events'], 300, 1);
  let header = '';
  // A merge: saved traces found among the shard results (skipped, counted, printed).
  let skippedTraces: number | null = null;
  // A merge: which shards it read. A campaign: which shard it is (an unsharded one is shard 0 of 1).
  let mergeShards: MergeShards | null = null;
  let thisShard = { index: 0, count: 1 };
  const t0 = performance.now();
  if (typeof v['merge'] === 'string') {
    const m = readMerge(v['merge']);
    seed = m.seed;
    results = m.results;
    shardFailures = m.failures;
    skippedTraces = m.skippedTraces;
    mergeShards = m.shards;
    if (m.maxEvents !== null && v['events'] === undefined) maxEvents = m.maxEvents;
    header = `dtsim check --merge ${v['merge']}: seed=${seed} designs=${results.length} (distinct states are summed over shards: an upper bound)`
      + (m.skippedTraces ? `; skipped ${m.skippedTraces} saved trace${m.skippedTraces === 1 ? '' : 's'} (not shard results)` : '');
  } else {
    const ids = (v['model'] as string[] | undefined) ?? MODELS.map((m) => m.id);
    for (const id of ids) if (!MODELS.some((x) => x.id === id)) throw new UsageError(`--model: unknown model '${id}' (one of: ${MODELS.map((x) => x.id).join(', ')})`);
    const runs = intFlag('runs', v['runs'], 250, 1);
    const budget = intFlag('time-budget', v['time-budget'], 0, 0);
    const workers = intFlag('workers', v['workers'], defaultWorkers(), 1, 256);
    const { shard, shards } = parseShard(v['shard']);
    thisShard = { index: shard, count: shards };
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
    // Progress (a TTY only): designs whose every chunk is done, violations, runs done of those asked, chunks.
    const chunksOf = new Map<string, number>();
    for (const c of jobsB) chunksOf.set(c.label, (chunksOf.get(c.label) ?? 0) + 1);
    const asked = jobsB.reduce((a, c) => a + c.runs, 0);
    let runsDone = 0;
    let violations = 0;
    let designsDone = 0;
    const line = (d: number): string => `check: ${designsDone}/${jobs.length} designs, ${violations} violations, ${formatCount(runsDone)} of ${formatCount(asked)} runs, ${d}/${jobsB.length} chunks`;
    progress.update(() => line(0));
    const out = await runPool(jobsB, workers, (d, _t, r, i) => {
      if (r.kind === 'check') { runsDone += r.result.runs; violations += r.result.violations; }
      const label = jobsB[i]!.label;
      const left = chunksOf.get(label)! - 1;
      chunksOf.set(label, left);
      if (left === 0) designsDone++;
      progress.update(() => line(d), d === jobsB.length);
    });
    results = mergeCheckChunks(out.flatMap((r) => (r.kind === 'check' ? [r] : [])));
  }
  const wall = (performance.now() - t0) / 1000;
  // Every failing design's first failing run is saved and shrunk, with --json as without (a sharded CI run takes
  // the --json path): a merge lists what every shard saved, and saves only designs no shard listed (older files).
  // Listed in the order of the designs, then of the runs.
  const failures: SavedFailure[] = [...shardFailures];
  const toSave = results.filter((r) => r.violations > 0 && r.firstFailure && !shardFailures.some((s) => s.label === r.label));
  for (const r of toSave) {
    progress.update(() => `check: saving and shrinking failing run ${failures.length - shardFailures.length + 1}/${toSave.length} (${r.label})`, true);
    failures.push(saveAndShrink(outDir, r, maxEvents));
  }
  progress.done();
  const rank = (s: SavedFailure): number => { const i = results.findIndex((r) => r.label === s.label); return i < 0 ? results.length : i; };
  failures.sort((a, b) => rank(a) - rank(b) || a.runIndex - b.runIndex);
  // A design the time budget stopped before its requested runs is not complete: the output says so per design
  // and the verdict claims only the runs done. A clean campaign so cut is still exit 0: the budget is the sample
  // size the user asked for (a random campaign is never exhaustive; the runs printed are the evidence).
  const cut = results.filter((r) => r.runs < r.runsRequested);
  // A merge missing shards is inconclusive (exit 4): its table covers only the shards present. A violation found
  // in them still wins (exit 1). A budget-cut design alone stays exit 0 (see above).
  const missingShards = mergeShards?.incomplete === true;
  const verdict = worstVerdict([results.some((r) => r.violations > 0) ? 'violated' : 'ok', missingShards ? 'inconclusive' : 'ok']);
  if (json) {
    const shardInfo = mergeShards === null ? { shard: thisShard }
      : { shards: { count: mergeShards.count, present: mergeShards.present, missing: mergeShards.missing, unchecked: mergeShards.unchecked } };
    process.stdout.write(`${JSON.stringify({ command: 'check', seed, maxEvents, wallSeconds: Math.round(wall * 10) / 10, complete: cut.length === 0 && !missingShards,
      ...shardInfo, ...(skippedTraces !== null ? { skippedTraces } : {}), results: results.map((r) => ({ ...r, complete: r.runs >= r.runsRequested })), failures })}\n`);
    return verdictExit(verdict);
  }
  if (typeof v['merge'] === 'string') process.stdout.write(`${header}\n`);
  const rows: string[][] = [['design', 'runs', 'events', 'states', 'violations', 'reports', 'unjustified', 'duplicates', 'faults', 'time']];
  for (const r of results) {
    const m = r.metrics;
    rows.push([r.label, r.runs < r.runsRequested ? `${r.runs} of ${r.runsRequested}` : String(r.runs), String(r.events), String(r.distinctStates), String(r.violations), String(m['reports'] ?? 0),
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
      // Reached when the count is > 0 (Situation.stat); a counter that went negative is a broken one: a gap too.
      const n = r.coverage[id] ?? 0;
      if (!(n > 0)) gaps.push(`${r.label}: ${id}`);
      return n > 0 ? String(n) : 'GAP';
    })]);
  }
  process.stdout.write(`\n${table(crow)}`);
  const totalStates = results.reduce((a, r) => a + r.distinctStates, 0);
  const labels = new Map<string, string>();
  for (const r of results) for (const s of situationsOf(r.model)) labels.set(s.id, s.label);
  process.stdout.write(`situations: ${sitIds.map((id) => `${id} = ${labels.get(id)}`).join('; ')} ('.' = not applicable)\n`);
  process.stdout.write(`distinct states: 64-bit fingerprints; collision probability <= ${collisionBound(totalStates).toExponential(1)}\n`);
  if (gaps.length) process.stdout.write(`coverage gaps (never reached): ${gaps.join('; ')}\n`);
  for (const r of cut) process.stdout.write(`${r.label}: ${r.runs} of ${r.runsRequested} requested runs done (stopped by the time budget)\n`);
  const failed = results.filter((r) => r.violations > 0).length;
  for (const s of failures) process.stdout.write(failureText(s));
  const done = results.reduce((a, r) => a + r.runs, 0);
  const asked = results.reduce((a, r) => a + r.runsRequested, 0);
  const partial = cut.length ? ` in the runs done: ${done} of ${asked} requested (the time budget stopped ${cut.length} of ${results.length} designs early)` : '';
  if (mergeShards !== null) process.stdout.write(shardLines(mergeShards));
  const shardsOnly = missingShards ? ` in the shards present (${mergeShards!.present.length} of ${mergeShards!.count})` : '';
  process.stdout.write(failed ? `${failed} design(s) violated an invariant${partial}${shardsOnly} (${wall.toFixed(1)}s)\n`
    : `all ${results.length} designs hold every invariant${partial}${shardsOnly} (${wall.toFixed(1)}s)\n`);
  return verdictExit(verdict);
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
