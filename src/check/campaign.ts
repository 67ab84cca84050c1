/**
 * Verification campaigns: many seeded simulations of each design, checked against every invariant after every
 * event. Pure: the caller passes the clock (the CLI passes performance.now) and does all printing and saving.
 */
import type { Design, EventBase } from '../core/model.ts';
import { simulate, type DrivableModel, type DrivenRun } from '../core/engine.ts';
import { childSeed } from '../random/streams.ts';

export interface CampaignItem<S, E extends EventBase, C> {
  readonly label: string;
  readonly model: DrivableModel<S, E, C>;
  readonly design: Design;
  readonly config: C;
}

export interface Failure<E> {
  readonly seed: string;
  readonly invariant: string;
  readonly eventIndex: number;
  readonly message: string;
  readonly run: DrivenRun<unknown, E>;
}

export interface ItemResult<E> {
  readonly label: string;
  readonly model: string;
  readonly design: Design;
  runs: number;
  events: number;
  violations: number;
  /** Distinct final-state fingerprints are not tracked here; distinct (state) counts come from explore. */
  readonly metrics: { [k: string]: number };
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
  readonly now: () => number;
  /** Called after each run (progress display). */
  readonly onRun?: (label: string, done: number, total: number) => void;
}

/** The seed of run `i` of an item: derived, so any run can be replayed alone. */
export function runSeed(seed: string, label: string, i: number): string {
  return childSeed(seed, `${label}#${i}`);
}

export function runItem<S, E extends EventBase, C>(item: CampaignItem<S, E, C>, o: CampaignOptions): ItemResult<E> {
  const t0 = o.now();
  const res: ItemResult<E> = {
    label: item.label, model: item.model.id, design: item.design, runs: 0, events: 0, violations: 0,
    metrics: {}, timeMs: 0, firstFailure: null, byInvariant: {},
  };
  for (let i = 0; i < o.runs; i++) {
    if (o.timeBudgetMs > 0 && i > 0 && o.now() - t0 > o.timeBudgetMs) break;
    const seed = runSeed(o.seed, item.label, i);
    const run = simulate(item.model, item.design, item.config, seed, { maxEvents: o.maxEvents });
    res.runs++;
    res.events += run.events.length;
    const m = item.model.metrics(run.outcome.state);
    for (const [k, v] of Object.entries(m)) if (!k.endsWith('Rate')) res.metrics[k] = (res.metrics[k] ?? 0) + v;
    if (run.outcome.status !== 'ok') {
      res.violations++;
      const inv = run.outcome.invariant ?? 'rejected';
      res.byInvariant[inv] = (res.byInvariant[inv] ?? 0) + 1;
      if (!res.firstFailure) {
        res.firstFailure = { seed, invariant: inv, eventIndex: run.outcome.eventIndex, message: run.outcome.message,
          run: run as DrivenRun<unknown, E> };
      }
      o.onRun?.(item.label, i + 1, o.runs);
      if (o.stopAtFirst) break;
    } else o.onRun?.(item.label, i + 1, o.runs);
  }
  const r = res.metrics;
  r['unjustifiedRate'] = r['reports'] ? (r['unjustified'] ?? 0) / r['reports'] : 0;
  if (r['ringEntries']) r['duplicateRate'] = (r['ringDuplicates'] ?? 0) / r['ringEntries'];
  res.timeMs = o.now() - t0;
  return res;
}
