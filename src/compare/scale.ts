/**
 * `dtsim compare --preset`: designs compared at the scale users migrate (GiB guests, tens of vCPUs, dirty rates,
 * ring and buffer sizes). Pure and generic over `Model`: a model that offers a `workload` hook (src/core/model.ts,
 * models/machine/workload.ts) maps a `WorkloadSpec` onto its configuration and drives each run itself, at a
 * per-event cost that does not grow with the guest; this file runs one grid point (`runScalePoint`), builds the
 * preset grids (`PRESETS`, `gridOf`) and the summaries the CLI prints and plots. No clock, no I/O: the caller
 * passes `now` to time a run (wall time is reported, never compared).
 *
 * Invariants stay on. Every invariant of the model is checked on the initial state, after every `checkEvery`
 * events (1: after every event), at every collection boundary (the model's `collection.round` increased) and on
 * the final state, so a run that lost a page (INV-NOLOSS, INV-FINAL...) is reported as violated, with no
 * figures, whatever the sampling. With sampling the event index of a violation is where it was detected.
 */
import type { JsonValue, Model, EventBase, Violation, WorkloadSpec } from '../core/model.ts';
import { checkInvariants } from '../core/engine.ts';
import { childSeed } from '../random/streams.ts';

/** The comparison's common measure names, with the label a table or plot shows (`WorkloadHook.measures`). */
export const MEASURES: readonly { readonly key: string; readonly label: string }[] = [
  { key: 'harvestWork', label: 'harvest work' },
  { key: 'reports', label: 'reported' },
  { key: 'unjustified', label: 'unjustified' },
  { key: 'duplicates', label: 'duplicate' },
  { key: 'writeFaults', label: 'write faults' },
  { key: 'ringFullExits', label: 'ring-full exits' },
  { key: 'hdbssFullFaults', label: 'hdbss-full faults' },
  { key: 'drains', label: 'drains' },
  { key: 'tlbi', label: 'TLBIs' },
  { key: 'collections', label: 'collections' },
  { key: 'stores', label: 'stores' },
];

/** A grid point: one design variant of one model under one named workload. */
export interface ScalePoint {
  readonly model: string;
  readonly variant: string;
  readonly options: { readonly [k: string]: JsonValue };
  /** Bug knobs injected (none in a preset grid; tests inject one to show a lost page is reported). */
  readonly bugs?: readonly string[];
  readonly workload: string;
  readonly spec: WorkloadSpec;
  /** The run's seed (derived from the grid seed and the workload name only: every design sees the same stores). */
  readonly seed: string;
}

/** One collection round as the run saw it (convergence plots). */
export interface RoundRow {
  readonly round: number;
  /** Simulated time at the end of the round, ms. */
  readonly atMs: number;
  /** Pages reported dirty during the round (the dirty set the next copy pass sends). */
  readonly reports: number;
  readonly harvestWork: number;
}

export interface ScaleResult {
  readonly point: ScalePoint;
  readonly status: 'ok' | 'violated' | 'stuck';
  /** The first broken invariant found (null when ok). */
  readonly violation: null | { readonly invariant: string; readonly message: string; readonly detectedAtEvent: number };
  readonly events: number;
  /** Invariant checks made, and the sampling used. */
  readonly checks: number;
  readonly checkEvery: number;
  /** The model's measures under the common names (`MEASURES`); empty for a violated run. */
  readonly measures: { readonly [k: string]: number };
  /** The driver's run-level figures: simMs, downtimeMs, pagesSent, pagesResent... (empty for a violated run). */
  readonly figures: { readonly [k: string]: number };
  readonly rounds: readonly RoundRow[];
  readonly perVcpu: { readonly [agent: string]: { readonly [k: string]: number } };
  /** Wall time of the run in ms (from the caller's clock; 0 without one). Never part of a comparison. */
  readonly wallMs: number;
}

/** Hard cap on the events of one run (a driver that never finishes is reported `stuck`, not looped on). */
export const MAX_EVENTS = 200_000_000;

/** Runs one grid point to the end of its migration, checking invariants as the header says. */
export function runScalePoint<S, E extends EventBase, C>(
  model: Model<S, E, C>, point: ScalePoint, checkEvery: number, now: () => number = () => 0,
): ScaleResult {
  const hook = model.workload;
  if (!hook) throw new Error(`[dtsim] model '${model.id}' has no workload hook`);
  const t0 = now();
  const every = Math.max(1, Math.floor(checkEvery));
  const design = { model: model.id, modelVersion: model.version, options: point.options, bugs: [...(point.bugs ?? [])].sort() };
  const po = model.parseOptions(point.options);
  if (!po.ok) throw new Error(`[dtsim] ${point.variant}: options ${po.error.field}: ${po.error.message}`);
  const pc = model.parseConfig(hook.config(point.spec));
  if (!pc.ok) throw new Error(`[dtsim] ${point.workload}: ${pc.error.field}: ${pc.error.message}`);
  const s = model.init({ ...design, options: po.options }, pc.config);
  const driver = hook.start(s, point.spec, point.seed);
  const roundOf = model.collection ? model.collection.round : (): number => 0;
  let checks = 0;
  const check = (): Violation | null => { checks++; return checkInvariants(model.invariants, s); };
  const fail = (status: 'violated' | 'stuck', v: Violation, at: number): ScaleResult => ({
    point, status, violation: { invariant: v.invariant, message: v.message, detectedAtEvent: at }, events: at, checks, checkEvery: every,
    measures: {}, figures: {}, rounds: [], perVcpu: {}, wallMs: now() - t0,
  });
  const v0 = check();
  if (v0) return fail('violated', v0, 0);
  const rounds: RoundRow[] = [];
  let lastRound = roundOf(s);
  let base = hook.measures(model.metrics(s));
  let n = 0;
  for (;;) {
    const e = driver.next(s);
    if (e === null) break;
    model.apply(s, e);
    n++;
    const r = roundOf(s);
    const boundary = r !== lastRound;
    if (boundary || n % every === 0) {
      const v = check();
      if (v) return fail('violated', v, n);
    }
    if (boundary) {
      const m = hook.measures(model.metrics(s));
      rounds.push({ round: r, atMs: driver.clockNs() / 1e6, reports: (m['reports'] ?? 0) - (base['reports'] ?? 0),
        harvestWork: (m['harvestWork'] ?? 0) - (base['harvestWork'] ?? 0) });
      base = m;
      lastRound = r;
    }
    if (n >= MAX_EVENTS) break;
  }
  const vEnd = check();
  if (vEnd) return fail('violated', vEnd, n);
  if (!model.isFinal(s)) {
    return fail('stuck', { invariant: 'INV-LIVE', pages: [], message: `the workload stopped after ${n} events before the migration completed` }, n);
  }
  return {
    point, status: 'ok', violation: null, events: n, checks, checkEvery: every, measures: hook.measures(model.metrics(s)),
    figures: driver.figures(), rounds, perVcpu: driver.perAgent(), wallMs: now() - t0,
  };
}

/** One axis value of a preset grid: a named guest shape. */
export interface GuestSize {
  readonly name: string;
  readonly pages: number;
  readonly vcpus: number;
}

/** A preset grid: guest sizes x dirty rates x every design variant of every model offering a workload hook. */
export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly sizes: readonly GuestSize[];
  /** Stores per simulated second per vCPU. */
  readonly rates: readonly number[];
  readonly pattern: WorkloadSpec['pattern'];
  /** Working set as a fraction of the guest. */
  readonly workingSetFraction: number;
  readonly intervalMs: number;
  readonly bandwidthMBps: number;
  readonly rounds: number;
  /** Default invariant sampling (`--check-every`). */
  readonly checkEvery: number;
  /** Design variants to run (labels of `WorkloadHook.variants`); absent: every variant of every model. */
  readonly variants?: readonly string[];
}

const GIB = 262_144;

export const PRESETS: { readonly [name: string]: Preset } = {
  small: {
    name: 'small', description: 'seconds: 16 MiB and 32 MiB guests, 2 and 4 vCPUs (tests use it)',
    sizes: [{ name: '16MiB-2v', pages: 4096, vcpus: 2 }, { name: '32MiB-4v', pages: 8192, vcpus: 4 }],
    rates: [2_000, 20_000], pattern: 'uniform', workingSetFraction: 0.5, intervalMs: 5, bandwidthMBps: 1_250, rounds: 3, checkEvery: 1_000,
  },
  realistic: {
    name: 'realistic', description: '1 GiB / 4 vCPUs, 4 GiB / 8 vCPUs, 16 GiB / 16 vCPUs; 3 dirty rates; 6 design variants (about 7 CPU minutes: docs/compare.md)',
    sizes: [{ name: '1GiB-4v', pages: GIB, vcpus: 4 }, { name: '4GiB-8v', pages: 4 * GIB, vcpus: 8 }, { name: '16GiB-16v', pages: 16 * GIB, vcpus: 16 }],
    rates: [1_000, 5_000, 20_000], pattern: 'uniform', workingSetFraction: 0.25, intervalMs: 100, bandwidthMBps: 5_000, rounds: 4, checkEvery: 1_000_000,
    // The variants that differ at this scale (bitmap-manual and pta-unbounded track bitmap and pta-4096 closely in
    // the small grid, and each 16 GiB point costs millions of events): add them with --model and the small preset.
    variants: ['bitmap', 'ring-4096', 'ring-65536', 'hdbss-512', 'hdbss-4096', 'pta-4096'],
  },
};

/** The workload of a grid cell (size x rate). */
export function workloadOf(p: Preset, size: GuestSize, rate: number): { name: string; spec: WorkloadSpec } {
  return {
    name: `${size.name}-${rate}/s`,
    spec: { pages: size.pages, vcpus: size.vcpus, workingSet: Math.max(1, Math.floor(size.pages * p.workingSetFraction)), pattern: p.pattern,
      storesPerSec: rate, intervalMs: p.intervalMs, bandwidthMBps: p.bandwidthMBps, rounds: p.rounds },
  };
}

/** Every grid point of a preset for the given models (in a fixed order: size, rate, model, variant). */
export function gridOf<S, E extends EventBase, C>(p: Preset, models: readonly Model<S, E, C>[], seed: string): ScalePoint[] {
  const out: ScalePoint[] = [];
  for (const size of p.sizes) {
    for (const rate of p.rates) {
      const w = workloadOf(p, size, rate);
      for (const m of models) {
        for (const v of m.workload?.variants ?? []) {
          if (p.variants && !p.variants.includes(v.label)) continue;
          out.push({ model: m.id, variant: v.label, options: v.options, workload: w.name, spec: w.spec, seed: childSeed(seed, w.name) });
        }
      }
    }
  }
  return out;
}

/** Harvest work per dirty page reported (the cost a design pays to learn one dirty page), or 0. */
export function workPerPage(r: ScaleResult): number {
  const rep = r.measures['reports'] ?? 0;
  return rep > 0 ? (r.measures['harvestWork'] ?? 0) / rep : 0;
}

/** Exits (all causes) per simulated second per vCPU: the cost a design puts on the guest. */
export function vcpuExitsPerSec(r: ScaleResult): number {
  const ms = r.figures['simMs'] ?? 0;
  if (ms <= 0) return 0;
  let n = 0;
  for (const a of Object.values(r.perVcpu)) n += (a['writeFaults'] ?? 0) + (a['ringFullExits'] ?? 0) + (a['hdbssFullFaults'] ?? 0);
  return n / (ms / 1000) / Math.max(1, r.point.spec.vcpus);
}

/** The downtime target of the `converged` column: the round whose dirty set the link sends within it. */
export const CONVERGE_MS = 300;

/** The rounds a run needed until the dirty set of a round could be sent within `downtimeMs` on the link, or null. */
export function roundsToConverge(r: ScaleResult, downtimeMs: number): number | null {
  const pagesIn = (downtimeMs / 1000) * r.point.spec.bandwidthMBps * 1e6 / 4096;
  for (const x of r.rounds) if (x.round >= 2 && x.reports <= pagesIn) return x.round;
  return null;
}

/** The headline columns of a result (tables, CSV). */
export const HEADLINE: readonly { readonly label: string; readonly value: (r: ScaleResult) => number | string }[] = [
  { label: 'workload', value: (r) => r.point.workload },
  { label: 'design', value: (r) => r.point.variant },
  { label: 'status', value: (r) => r.status },
  { label: 'events', value: (r) => r.events },
  { label: 'sim ms', value: (r) => r.figures['simMs'] ?? 0 },
  { label: 'reported', value: (r) => r.measures['reports'] ?? 0 },
  { label: 'harvest work', value: (r) => r.measures['harvestWork'] ?? 0 },
  { label: 'work/page', value: workPerPage },
  { label: 'write faults', value: (r) => r.measures['writeFaults'] ?? 0 },
  { label: 'ring-full exits', value: (r) => r.measures['ringFullExits'] ?? 0 },
  { label: 'hdbss-full faults', value: (r) => r.measures['hdbssFullFaults'] ?? 0 },
  { label: 'TLBIs', value: (r) => r.measures['tlbi'] ?? 0 },
  { label: 'exits/s/vCPU', value: vcpuExitsPerSec },
  { label: 'sent', value: (r) => r.figures['pagesSent'] ?? 0 },
  { label: 're-sent', value: (r) => r.figures['pagesResent'] ?? 0 },
  { label: `converged (${CONVERGE_MS} ms)`, value: (r) => roundsToConverge(r, CONVERGE_MS) ?? '-' },
  { label: 'final dirty', value: (r) => r.rounds.length ? (r.rounds[r.rounds.length - 1] as RoundRow).reports : 0 },
  { label: 'downtime ms', value: (r) => r.figures['downtimeMs'] ?? 0 },
  { label: 'unjustified', value: (r) => r.measures['unjustified'] ?? 0 },
  { label: 'duplicate', value: (r) => r.measures['duplicates'] ?? 0 },
];
