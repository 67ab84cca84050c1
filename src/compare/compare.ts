/**
 * `compare`: several designs on the same seeded workloads, side by side. Pure and generic over `Model`: the
 * caller (the CLI) builds the designs and configurations of each workload; this runs the engine's seeded
 * simulator on every (design, workload, seed) and sums the model's own metrics (`Model.metrics`).
 */
import type { Design, EventBase } from '../core/model.ts';
import { simulate, type DrivableModel } from '../core/engine.ts';
import { childSeed } from '../random/streams.ts';

export interface CompareItem<S, E extends EventBase, C> {
  /** Design label (model id and non-default options). */
  readonly design: string;
  readonly workload: string;
  readonly model: DrivableModel<S, E, C>;
  readonly spec: Design;
  readonly config: C;
  /** Pages the workload's guest stores may target (the x axis of the harvest curves is measured, not this). */
  readonly storePages: number;
}

export interface CompareRow {
  readonly design: string;
  readonly model: string;
  readonly workload: string;
  readonly storePages: number;
  readonly runs: number;
  /** Runs that broke an invariant (a correct design must have none). */
  readonly violations: number;
  /** Every metric the model reports, summed over the runs. */
  readonly totals: { readonly [k: string]: number };
}

/**
 * Runs every item on `runs` seeds derived from `seed` and the workload name only, so every design sees the
 * same seeds for the same workload (the scheduler then follows each design's own enabled events).
 */
export function runCompare<S, E extends EventBase, C>(
  items: readonly CompareItem<S, E, C>[], seed: string, runs: number, maxEvents: number,
  onItem?: (done: number, total: number) => void,
): CompareRow[] {
  const rows: CompareRow[] = [];
  items.forEach((it, n) => {
    const totals: { [k: string]: number } = {};
    let violations = 0;
    for (let i = 0; i < runs; i++) {
      const r = simulate(it.model, it.spec, it.config, childSeed(seed, `${it.workload}#${i}`), { maxEvents });
      if (r.outcome.status !== 'ok') violations++;
      const m = it.model.metrics(r.outcome.state);
      for (const [k, v] of Object.entries(m)) if (Number.isFinite(v)) totals[k] = (totals[k] ?? 0) + v;
    }
    rows.push({ design: it.design, model: it.model.id, workload: it.workload, storePages: it.storePages, runs, violations, totals });
    onItem?.(n + 1, items.length);
  });
  return rows;
}

/** A column of the comparison table: a label and how to compute it from a row's totals (per run). */
export interface Column {
  readonly label: string;
  readonly value: (t: { readonly [k: string]: number }) => number;
}

const get = (t: { readonly [k: string]: number }, ...keys: string[]): number => keys.reduce((a, k) => a + (t[k] ?? 0), 0);

/**
 * Harvest work: what the VMM and KVM read to learn which pages are dirty: 64-bit bitmap words (GET, CLEAR),
 * ring entries harvested, PTA records read, HDBSS entries drained.
 */
export function harvestWork(t: { readonly [k: string]: number }): number {
  return get(t, 'bitmapWordsRead', 'ringHarvested', 'ptaRecords', 'hdbssEntries');
}

/** The table columns (metric names as the machine models report them; absent metrics count 0). */
export const COLUMNS: readonly Column[] = [
  { label: 'reported', value: (t) => get(t, 'reports') },
  { label: 'unjustified', value: (t) => get(t, 'unjustified') },
  { label: 'duplicate', value: (t) => get(t, 'ringDuplicates') },
  { label: 'write faults', value: (t) => get(t, 'writeFaults') },
  { label: 'ring-full exits', value: (t) => get(t, 'ringFullExits') },
  { label: 'hdbss-full faults', value: (t) => get(t, 'hdbssFullFaults') },
  { label: 'drains', value: (t) => get(t, 'hdbssDrains', 'ringResets', 'ptaFlushes') },
  { label: 'TLBIs', value: (t) => get(t, 'tlbi') },
  { label: 'bitmap words', value: (t) => get(t, 'bitmapWordsRead') },
  { label: 'entries read', value: (t) => get(t, 'ringHarvested', 'ptaRecords', 'hdbssEntries') },
  { label: 'harvest work', value: harvestWork },
  { label: 'collections', value: (t) => get(t, 'collections') },
];

/** A point of a harvest-work curve: dirty pages reported per collection vs harvest work per collection. */
export interface CurvePoint {
  readonly x: number;
  readonly y: number;
  readonly workload: string;
}

/** One curve per design: the rows of that design, as (reports / collection, harvest work / collection). */
export function harvestCurves(rows: readonly CompareRow[], workloadFilter: (w: string) => boolean): { name: string; points: CurvePoint[] }[] {
  const by = new Map<string, CurvePoint[]>();
  for (const r of rows) {
    if (!workloadFilter(r.workload)) continue;
    const c = Math.max(1, r.totals['collections'] ?? 0);
    const pts = by.get(r.design) ?? [];
    pts.push({ x: (r.totals['reports'] ?? 0) / c, y: harvestWork(r.totals) / c, workload: r.workload });
    by.set(r.design, pts);
  }
  return [...by.entries()].map(([name, points]) => ({ name, points: points.sort((a, b) => a.x - b.x) }));
}
