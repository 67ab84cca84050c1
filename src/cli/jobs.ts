/**
 * Campaign jobs: plain-JSON descriptions of work (one design of `dtsim check`, one knob of `dtsim bugs`, one row
 * of `dtsim explore --matrix/--proof`) that
 * run the same way in the main thread or in a worker thread, so results never depend on the worker count.
 */
import { performance } from 'node:perf_hooks';
import { runItem, resultJson, situationApplies, type CampaignItem, type ResultJson, type Situation } from '../check/campaign.ts';
import { runChoices } from '../core/engine.ts';
import type { EventBase, JsonValue } from '../core/model.ts';
import { stream } from '../random/streams.ts';
import { shrink } from '../workflow/shrink.ts';
import { COMMON_SITUATIONS } from '../../models/machine/model.ts';
import type { MachineConfig } from '../../models/machine/state.ts';
import { MODELS } from './registry.ts';
import { machineConfigCandidates } from './machine-view.ts';
import { runExploreJob, type ExploreJob, type ExploreRowResult } from './explore-row.ts';

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

export type Job = CheckJob | BugJob | ExploreJob;

export interface BugResult {
  readonly id: string;
  readonly ref: string;
  readonly model: string;
  readonly expect: string | null;
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

export type JobResult = { readonly kind: 'check'; readonly result: ResultJson } | { readonly kind: 'bug'; readonly result: BugResult }
  | { readonly kind: 'explore'; readonly result: ExploreRowResult };

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

export function runCheckJob(j: CheckJob): ResultJson {
  const m = modelOf(j.model);
  const knobConfig = Object.assign({}, ...j.bugs.map((b) => m.preset.bugs.find((k) => k.id === b)?.config ?? {})) as Partial<MachineConfig>;
  const item: CampaignItem<unknown, EventBase, unknown> = {
    label: j.label, model: m as never, design: m.design(j.options, j.bugs), config: { ...m.defaultConfig, ...knobConfig },
    situations: situationsOf(j.model),
  };
  const r = runItem(item, { runs: j.runs, seed: j.seed, maxEvents: j.maxEvents, timeBudgetMs: j.timeBudgetMs, stopAtFirst: false,
    shard: j.shard, shards: j.shards, distinct: true, now: () => performance.now() });
  return resultJson(r);
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
      configCandidates: (c) => machineConfigCandidates(c as MachineConfig) });
    if (s.ok) {
      shrunk = { events: s.result.events, config: s.result.config as unknown as JsonValue, choices: s.result.choices,
        eventIndex: s.result.eventIndex, invariant: s.result.violation.invariant };
    }
    return { id: b.id, ref: b.ref, model: m.id, expect: b.expect, found, ok: b.expect !== null && found === b.expect, runs, seconds,
      runIndex: i, eventsFound: r.events.length, eventsShrunk: shrunk ? shrunk.events.length : null, shrunk };
  }
  return { id: b.id, ref: b.ref, model: m.id, expect: b.expect, found: null, ok: b.expect === null, runs,
    seconds: (performance.now() - t0) / 1000, runIndex: null, eventsFound: null, eventsShrunk: null, shrunk: null };
}

export function runJob(j: Job): JobResult {
  switch (j.kind) {
    case 'check': return { kind: 'check', result: runCheckJob(j) };
    case 'bug': return { kind: 'bug', result: runBugJob(j) };
    case 'explore': return { kind: 'explore', result: runExploreJob(j) };
    default: { const never: never = j; throw new Error(`[dtsim] unknown job ${JSON.stringify(never)}`); }
  }
}
