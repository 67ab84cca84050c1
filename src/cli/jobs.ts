/**
 * Campaign jobs: plain-JSON descriptions of work (one design of `dtsim check`, one knob of `dtsim bugs`, one row
 * of `dtsim explore --matrix/--proof`) that
 * run the same way in the main thread or in a worker thread, so results never depend on the worker count.
 */
import { performance } from 'node:perf_hooks';
import { mergeResults, runItem, resultJson, situationApplies, type CampaignItem, type ResultJson, type Situation } from '../check/campaign.ts';
import { runChoices } from '../core/engine.ts';
import { knobFoundAs, type AlsoExpect, type EventBase, type JsonValue } from '../core/model.ts';
import { stream } from '../random/streams.ts';
import { HashSet64 } from '../explore/pack.ts';
import { shrink } from '../workflow/shrink.ts';
import { COMMON_SITUATIONS, type MachineConfig } from '../../models/index.ts';
import { MODELS } from './registry.ts';
import { runExploreJob, type ExploreJob, type ExploreRowResult } from './explore-row.ts';
import { runScalePoint, type ScalePoint, type ScaleResult } from '../compare/scale.ts';

export interface CheckJob {
  readonly kind: 'check';
  readonly model: string;
  readonly options: { readonly [k: string]: JsonValue };
  /** Bug knobs injected (normally none: `dtsim check` checks correct designs; `--bug` checks a buggy one). */
  readonly bugs: readonly string[];
  readonly label: string;
  readonly runs: number;
  readonly seed: string;
  readonly maxEvents: number;
  readonly timeBudgetMs: number;
  readonly shard: number;
  readonly shards: number;
  /**
   * A chunk of the design's runs (`splitCheckJobs`): run numbers firstRun .. firstRun + runs - 1 of the
   * design's run sequence (absent: 0 .. runs - 1). Run number j is run index shard + j * shards, whose seed
   * depends on the index only, so a run is the same whichever chunk or worker runs it.
   */
  readonly firstRun?: number;
  /** Return the fingerprints of the distinct states reached (chunks: `mergeCheckChunks` unites them). */
  readonly exportStates?: boolean;
}

export interface BugJob {
  readonly kind: 'bug';
  readonly model: string;
  readonly bug: string;
  readonly runs: number;
  readonly seed: string;
  readonly maxEvents: number;
  readonly timeBudgetMs: number;
  /** Replays the shrinker may spend. */
  readonly shrinkTests: number;
}

/** One grid point of `dtsim compare --preset` (src/compare/scale.ts). */
export interface ScaleJob {
  readonly kind: 'scale';
  readonly point: ScalePoint;
  readonly checkEvery: number;
}

export type Job = CheckJob | BugJob | ExploreJob | ScaleJob;

export interface BugResult {
  readonly id: string;
  readonly ref: string;
  readonly model: string;
  readonly expect: string | null;
  /** The knob's declared alternatives to `expect` (invariant -> why), or null (`BugKnob.alsoExpect`). */
  readonly alsoExpect: AlsoExpect | null;
  /** Invariant of the first violation found, or null. */
  readonly found: string | null;
  readonly ok: boolean;
  readonly runs: number;
  readonly seconds: number;
  /** Run index (and its choice-sequence seed label) that found it. */
  readonly runIndex: number | null;
  readonly eventsFound: number | null;
  readonly eventsShrunk: number | null;
  readonly shrunk: null | { readonly events: readonly EventBase[]; readonly config: JsonValue; readonly choices: readonly number[] | null;
    readonly eventIndex: number; readonly invariant: string };
}

export type JobResult = { readonly kind: 'check'; readonly result: ResultJson; readonly states: Int32Array | null }
  | { readonly kind: 'bug'; readonly result: BugResult }
  | { readonly kind: 'explore'; readonly result: ExploreRowResult }
  | { readonly kind: 'scale'; readonly result: ScaleResult };

function modelOf(id: string) {
  const m = MODELS.find((x) => x.id === id);
  if (!m) throw new Error(`[dtsim] unknown model '${id}'`);
  return m;
}

/** The situations `dtsim check` must reach for a model (and, given its options, that apply to the design). */
export function situationsOf(modelId: string, options?: { readonly [k: string]: JsonValue }): Situation[] {
  const all = [...COMMON_SITUATIONS, ...(modelOf(modelId).preset.situations ?? [])];
  return options ? all.filter((s) => situationApplies(s, options)) : all;
}

export function runCheckJob(j: CheckJob): { result: ResultJson; states: Int32Array | null } {
  const m = modelOf(j.model);
  const knobConfig = Object.assign({}, ...j.bugs.map((b) => m.preset.bugs.find((k) => k.id === b)?.config ?? {})) as Partial<MachineConfig>;
  const item: CampaignItem<unknown, EventBase, unknown> = {
    label: j.label, model: m as never, design: m.design(j.options, j.bugs), config: { ...m.defaultConfig, ...knobConfig },
    situations: situationsOf(j.model),
  };
  const seen = new HashSet64(12);
  const r = runItem(item, { runs: j.runs, seed: j.seed, maxEvents: j.maxEvents, timeBudgetMs: j.timeBudgetMs, stopAtFirst: false,
    shard: j.shard, shards: j.shards, distinct: true, seen, firstRun: j.firstRun ?? 0, now: () => performance.now() });
  return { result: resultJson(r), states: j.exportStates === true ? seen.entries() : null };
}

/** Chunks a design's runs are split into, at most (more chunks than this cost more than they balance). */
const CHUNKS_PER_WORKER = 4;
/** Fewest runs in a chunk (a chunk's fixed cost, its fingerprint set and its transfer, is paid per chunk). */
const MIN_CHUNK_RUNS = 8;

/**
 * Splits each design's runs into chunks so that a campaign with fewer designs than workers (one design:
 * `dtsim check --model M --bug K`) still uses every worker: about CHUNKS_PER_WORKER jobs per worker in all,
 * each design cut into contiguous ranges of run numbers, none smaller than MIN_CHUNK_RUNS runs. With one
 * worker, or at least that many designs, every design stays one job. `mergeCheckChunks` puts a design back
 * together: the result is the same whatever the worker count (apart from times, and from a time budget,
 * which stops starting runs in each chunk).
 */
export function splitCheckJobs(jobs: readonly CheckJob[], workers: number): CheckJob[] {
  const perDesign = workers <= 1 || jobs.length === 0 ? 1 : Math.ceil((workers * CHUNKS_PER_WORKER) / jobs.length);
  const out: CheckJob[] = [];
  for (const j of jobs) {
    const n = Math.max(1, Math.min(perDesign, Math.floor(j.runs / MIN_CHUNK_RUNS)));
    if (n === 1) { out.push(j); continue; }
    for (let c = 0; c < n; c++) {
      const from = Math.floor((j.runs * c) / n);
      const to = Math.floor((j.runs * (c + 1)) / n);
      out.push({ ...j, firstRun: (j.firstRun ?? 0) + from, runs: to - from, exportStates: true });
    }
  }
  return out;
}

/**
 * Puts chunked designs back together (chunk results in job order, as `runPool` returns them): runs, events,
 * violations, metrics, coverage and violations by invariant are summed (`mergeResults`, which also keeps the
 * first failure with the lowest run index), and the distinct states are the size of the union of the chunks'
 * fingerprint sets, exactly the count one job running every run would make. A design that was not split is
 * passed through.
 */
export function mergeCheckChunks(parts: readonly { readonly result: ResultJson; readonly states: Int32Array | null }[]): ResultJson[] {
  const union = new Map<string, HashSet64>();
  for (const p of parts) {
    if (p.states === null) continue;
    let set = union.get(p.result.label);
    if (!set) { set = new HashSet64(12); union.set(p.result.label, set); }
    set.addAll(p.states);
  }
  return mergeResults(parts.map((p) => p.result)).map((r) => {
    const set = union.get(r.label);
    return set ? { ...r, distinctStates: set.size } : r;
  });
}

/** The choice sequence of run `i` of a knob's campaign (the same shape the property suite generates). */
export function bugChoices(seed: string, bug: string, i: number, maxLength: number): number[] {
  const rng = stream(seed, `bugs/${bug}#${i}`);
  const n = rng.int(maxLength + 1);
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(rng.int(1 << 16));
  return out;
}

/**
 * One knob: choice-sequence runs (as the property suite does) until the first violation or the budget; then
 * the counterexample is shrunk (delta debugging on choices, events and configuration) to the fewest events
 * that still violate the same invariant. A negative control runs the whole budget and must stay clean.
 */
export function runBugJob(j: BugJob): BugResult {
  const m = modelOf(j.model);
  const b = m.preset.bugs.find((x) => x.id === j.bug);
  if (!b) throw new Error(`[dtsim] unknown bug '${j.bug}'`);
  const design = m.design({}, [b.id]);
  const config: MachineConfig = { ...m.defaultConfig, ...(b.config ?? {}) };
  const t0 = performance.now();
  let runs = 0;
  for (let i = 0; i < j.runs; i++) {
    if (j.timeBudgetMs > 0 && i > 0 && performance.now() - t0 > j.timeBudgetMs) break;
    const ch = bugChoices(j.seed, b.id, i, j.maxEvents);
    const r = runChoices(m, design, config, ch);
    runs++;
    if (r.outcome.status === 'ok') continue;
    const found = r.outcome.invariant ?? 'rejected';
    const seconds = (performance.now() - t0) / 1000;
    let shrunk: BugResult['shrunk'] = null;
    const s = shrink(m, design, config, r.events, r.choices, { drivable: true, maxTests: j.shrinkTests,
      configCandidates: (c) => m.configCandidates?.(c) ?? [] });
    if (s.ok) {
      shrunk = { events: s.result.events, config: s.result.config as unknown as JsonValue, choices: s.result.choices,
        eventIndex: s.result.eventIndex, invariant: s.result.violation.invariant };
    }
    return { id: b.id, ref: b.ref, model: m.id, expect: b.expect, alsoExpect: b.alsoExpect ?? null, found, ok: knobFoundAs(b, found), runs, seconds,
      runIndex: i, eventsFound: r.events.length, eventsShrunk: shrunk ? shrunk.events.length : null, shrunk };
  }
  return { id: b.id, ref: b.ref, model: m.id, expect: b.expect, alsoExpect: b.alsoExpect ?? null, found: null, ok: b.expect === null, runs,
    seconds: (performance.now() - t0) / 1000, runIndex: null, eventsFound: null, eventsShrunk: null, shrunk: null };
}

export function runJob(j: Job): JobResult {
  switch (j.kind) {
    case 'check': return { kind: 'check', ...runCheckJob(j) };
    case 'bug': return { kind: 'bug', result: runBugJob(j) };
    case 'explore': return { kind: 'explore', result: runExploreJob(j) };
    case 'scale': return { kind: 'scale', result: runScalePoint(modelOf(j.point.model) as never, j.point, j.checkEvery, () => performance.now()) };
    default: { const never: never = j; throw new Error(`[dtsim] unknown job ${JSON.stringify(never)}`); }
  }
}
