/**
 * Verification campaigns: many seeded simulations of each design, checked against every invariant after every
 * event, with distinct-state counts and coverage of the situations that matter. Pure: the caller passes the
 * clock and does all printing, saving and threading (src/cli).
 *
 * Determinism: run `i` of an item uses the seed `runSeed(seed, label, i)`, whatever shard or worker runs it,
 * and results are aggregated in run order, so a campaign's result does not depend on the worker count (only a
 * time budget, which stops starting new runs, makes it depend on the machine; it is printed with the result).
 */
import type { Design, EventBase, JsonValue } from '../core/model.ts';
import { simulate, type DrivableModel, type DrivenRun } from '../core/engine.ts';
import { childSeed } from '../random/streams.ts';
import { HashSet64, Packer } from '../explore/pack.ts';

export interface Situation {
  /** Stable id, e.g. `stale-tlb-store`. */
  readonly id: string;
  readonly label: string;
  /** The metric whose sum over a campaign must be > 0 for the situation to count as reached. */
  readonly stat: string;
  /** Only for designs whose options include these values (e.g. `{ consumer: 'ring' }`) ... */
  readonly when?: { readonly [option: string]: JsonValue };
  /** ... and not for designs with any of these option values (e.g. rings too large to fill in a default run). */
  readonly unless?: { readonly [option: string]: JsonValue };
}

/** Does a situation apply to a design with these options? */
export function situationApplies(s: Situation, options: { readonly [k: string]: JsonValue }): boolean {
  for (const [k, v] of Object.entries(s.when ?? {})) if (JSON.stringify(options[k]) !== JSON.stringify(v)) return false;
  for (const [k, v] of Object.entries(s.unless ?? {})) if (JSON.stringify(options[k]) === JSON.stringify(v)) return false;
  return true;
}

export interface CampaignItem<S, E extends EventBase, C> {
  readonly label: string;
  readonly model: DrivableModel<S, E, C>;
  readonly design: Design;
  readonly config: C;
  readonly situations: readonly Situation[];
}

export interface Failure<E> {
  readonly seed: string;
  readonly runIndex: number;
  readonly invariant: string;
  readonly eventIndex: number;
  readonly message: string;
  readonly run: DrivenRun<unknown, E>;
}

/** A campaign item's result: plain JSON apart from `firstFailure.run` (dropped by `resultJson`). */
export interface ItemResult<E> {
  readonly label: string;
  readonly model: string;
  readonly design: Design;
  readonly config: JsonValue;
  /** Runs asked for (`CampaignOptions.runs`); `runs` is less when the time budget (or `stopAtFirst`) ended the item. */
  readonly runsRequested: number;
  runs: number;
  events: number;
  violations: number;
  /** Distinct states reached over all runs (64-bit fingerprints; see `collisionBound`). */
  distinctStates: number;
  readonly metrics: { [k: string]: number };
  /** Situation id -> how many times it happened (0 = a coverage gap). */
  readonly coverage: { [id: string]: number };
  timeMs: number;
  firstFailure: Failure<E> | null;
  /** Violations by invariant id. */
  readonly byInvariant: { [id: string]: number };
}

export interface CampaignOptions {
  readonly runs: number;
  readonly seed: string;
  readonly maxEvents: number;
  /** Stop starting new runs of an item once this much time went by (ms; 0 = no limit). */
  readonly timeBudgetMs: number;
  /** Stop an item at its first violation (bug hunting) or keep counting (checking). */
  readonly stopAtFirst: boolean;
  /** This shard of `shards`: the item's runs are indices shard, shard + shards, ... (disjoint seeds). */
  readonly shard?: number;
  readonly shards?: number;
  /** Count distinct states (costs a fingerprint per event). */
  readonly distinct?: boolean;
  /**
   * Where to record the distinct states' fingerprints (default: a private set). A caller that runs an item in
   * chunks passes its own set and exports it (`HashSet64.entries`), so the chunks' sets can be united exactly.
   */
  readonly seen?: HashSet64;
  /**
   * The item's run number to start at (default 0): this call runs `runs` runs numbered firstRun, firstRun + 1,
   * ..., run number j being run index shard + j * shards. A chunk of an item's runs keeps every run's seed.
   */
  readonly firstRun?: number;
  readonly now: () => number;
  /** Called after each run (progress display). */
  readonly onRun?: (label: string, done: number, total: number) => void;
  /** Called with each run once it ended (tests: which event kinds a campaign takes). */
  readonly onRunEnd?: (run: DrivenRun<unknown, EventBase>) => void;
}

/** The seed of run `i` of an item: derived, so any run can be replayed alone. */
export function runSeed(seed: string, label: string, i: number): string {
  return childSeed(seed, `${label}#${i}`);
}

export function runItem<S, E extends EventBase, C>(item: CampaignItem<S, E, C>, o: CampaignOptions): ItemResult<E> {
  const t0 = o.now();
  const res: ItemResult<E> = {
    label: item.label, model: item.model.id, design: item.design, config: item.config as unknown as JsonValue,
    runsRequested: o.runs, runs: 0, events: 0, violations: 0, distinctStates: 0, metrics: {}, coverage: {}, timeMs: 0, firstFailure: null, byInvariant: {},
  };
  const shards = Math.max(1, o.shards ?? 1);
  const shard = o.shard ?? 0;
  const seen = o.distinct !== false ? (o.seen ?? new HashSet64(12)) : null;
  const first = o.firstRun ?? 0;
  const packer = new Packer(1024);
  const model = item.model;
  const onStep = seen ? (st: unknown): void => {
    packer.reset();
    if (model.pack) model.pack(st as S, packer, null);
    else packer.json(st);
    packer.hash();
    seen.add(packer.h1, packer.h2);
  } : undefined;
  for (let j = 0; j < o.runs; j++) {
    if (o.timeBudgetMs > 0 && j > 0 && o.now() - t0 > o.timeBudgetMs) break;
    const i = shard + (first + j) * shards;
    const seed = runSeed(o.seed, item.label, i);
    const run = simulate(model, item.design, item.config, seed, { maxEvents: o.maxEvents, ...(onStep ? { onStep } : {}) });
    res.runs++;
    res.events += run.events.length;
    o.onRunEnd?.(run as DrivenRun<unknown, EventBase>);
    const m = model.metrics(run.outcome.state);
    for (const [k, v] of Object.entries(m)) if (!k.endsWith('Rate')) res.metrics[k] = (res.metrics[k] ?? 0) + v;
    if (run.outcome.status !== 'ok') {
      res.violations++;
      const inv = run.outcome.invariant ?? 'rejected';
      res.byInvariant[inv] = (res.byInvariant[inv] ?? 0) + 1;
      if (!res.firstFailure) {
        res.firstFailure = { seed, runIndex: i, invariant: inv, eventIndex: run.outcome.eventIndex, message: run.outcome.message,
          run: run as DrivenRun<unknown, E> };
      }
      o.onRun?.(item.label, j + 1, o.runs);
      if (o.stopAtFirst) break;
    } else o.onRun?.(item.label, j + 1, o.runs);
  }
  res.distinctStates = seen ? seen.size : 0;
  for (const sit of item.situations) if (situationApplies(sit, item.design.options)) res.coverage[sit.id] = res.metrics[sit.stat] ?? 0;
  finishRates(res.metrics);
  res.timeMs = o.now() - t0;
  return res;
}

/** Derived rates (recomputed after merging). */
export function finishRates(r: { [k: string]: number }): void {
  // Ring designs report precision per harvested entry, by the cause of its push (a duplicate entry of one write
  // is a duplicate, not an unjustified report); other designs per page handed to the VMM.
  r['unjustifiedRate'] = r['ringHarvested'] ? (r['ringUnjustified'] ?? 0) / r['ringHarvested']
    : r['reports'] ? (r['unjustified'] ?? 0) / r['reports'] : 0;
  r['duplicateRate'] = r['ringEntries'] ? (r['ringDuplicates'] ?? 0) / r['ringEntries'] : 0;
}

/** The JSON form of a result (the failing run's events are kept: merge and replay need them). */
export interface ResultJson {
  readonly label: string;
  readonly model: string;
  readonly design: Design;
  readonly config: JsonValue;
  /** Runs asked for (summed over merged shards); more than `runs` when a time budget stopped the item. */
  readonly runsRequested: number;
  readonly runs: number;
  readonly events: number;
  readonly violations: number;
  readonly distinctStates: number;
  readonly metrics: { readonly [k: string]: number };
  readonly coverage: { readonly [id: string]: number };
  readonly timeMs: number;
  readonly byInvariant: { readonly [id: string]: number };
  readonly firstFailure: null | { readonly seed: string; readonly runIndex: number; readonly invariant: string; readonly eventIndex: number;
    readonly message: string; readonly events: readonly EventBase[]; readonly choices: readonly number[] };
}

export function resultJson<E extends EventBase>(r: ItemResult<E>): ResultJson {
  const f = r.firstFailure;
  return {
    label: r.label, model: r.model, design: r.design, config: r.config, runsRequested: r.runsRequested, runs: r.runs, events: r.events,
    violations: r.violations, distinctStates: r.distinctStates, metrics: r.metrics, coverage: r.coverage, timeMs: Math.round(r.timeMs), byInvariant: r.byInvariant,
    firstFailure: f ? { seed: f.seed, runIndex: f.runIndex, invariant: f.invariant, eventIndex: f.eventIndex, message: f.message,
      events: f.run.events, choices: f.run.choices } : null,
  };
}

/**
 * `a` plus `b` key by key (the keys of `b` that pass `add`). The keys come from shard files (untrusted input): a
 * Map and `Object.fromEntries` keep a `__proto__` or `constructor` key as plain data (`obj[k] ?? 0` would read
 * the prototype and `obj[k] =` set it).
 */
function sumByKey(a: { readonly [k: string]: number }, b: { readonly [k: string]: number }, add: (k: string) => boolean): { [k: string]: number } {
  const m = new Map(Object.entries(a));
  for (const [k, v] of Object.entries(b)) if (add(k)) m.set(k, (m.get(k) ?? 0) + v);
  return Object.fromEntries(m);
}

/**
 * Combines the results of several shards (same seed, disjoint runs) per design label. Distinct states are
 * summed, so the merged figure is an upper bound (shards do not share their fingerprint sets); the first
 * failure kept is the one with the lowest run index.
 */
export function mergeResults(parts: readonly ResultJson[]): ResultJson[] {
  const by = new Map<string, ResultJson>();
  const order: string[] = [];
  for (const p of parts) {
    const cur = by.get(p.label);
    if (!cur) { by.set(p.label, JSON.parse(JSON.stringify(p)) as ResultJson); order.push(p.label); continue; }
    const metrics = sumByKey(cur.metrics, p.metrics, (k) => !k.endsWith('Rate'));
    finishRates(metrics);
    const coverage = sumByKey(cur.coverage, p.coverage, () => true);
    const byInvariant = sumByKey(cur.byInvariant, p.byInvariant, () => true);
    const ff = !cur.firstFailure ? p.firstFailure : !p.firstFailure ? cur.firstFailure
      : (p.firstFailure.runIndex < cur.firstFailure.runIndex ? p.firstFailure : cur.firstFailure);
    by.set(p.label, { ...cur, runsRequested: cur.runsRequested + p.runsRequested, runs: cur.runs + p.runs, events: cur.events + p.events, violations: cur.violations + p.violations,
      distinctStates: cur.distinctStates + p.distinctStates, metrics, coverage, byInvariant, timeMs: cur.timeMs + p.timeMs, firstFailure: ff });
  }
  return order.map((l) => by.get(l)!);
}
