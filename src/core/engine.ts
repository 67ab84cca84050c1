/**
 * The engine: replay (immer path and fast path), invariant checking and the drivers that pick events
 * (seeded scheduler, choice sequences). It knows no mechanism; everything model-specific comes through `Model`.
 */
import { produce } from 'immer';
import type { Design, EventBase, Invariant, Model, Violation } from './model.ts';
import { fingerprint } from './fingerprint.ts';
import { stream } from '../random/streams.ts';

/** Result of running events: every field pinned for every status. */
export type RunOutcome<S> =
  | { readonly status: 'ok'; readonly state: S; readonly eventCount: number; readonly eventIndex: null;
      readonly invariant: null; readonly violation: null; readonly message: null }
  | { readonly status: 'violated'; readonly state: S; readonly eventCount: number; readonly eventIndex: number;
      readonly invariant: string; readonly violation: Violation; readonly message: string }
  | { readonly status: 'rejected'; readonly state: S; readonly eventCount: number; readonly eventIndex: number;
      readonly invariant: null; readonly violation: null; readonly message: string };

export interface ReplayOptions {
  /** Check invariants every `checkEvery` events (1 = after every event; properties always use 1). */
  readonly checkEvery?: number;
  /** `immer`: one produce per checked batch; `fast`: the same recipes on a private mutable copy. */
  readonly path?: 'immer' | 'fast';
  /** Skip invariant checks entirely (benchmarks of the reducer alone). */
  readonly noChecks?: boolean;
}

/** First broken invariant, in the model's order, or null. */
export function checkInvariants<S>(invariants: readonly Invariant<S>[], state: S): Violation | null {
  for (const inv of invariants) {
    const v = inv.check(state);
    if (v !== null) return v;
  }
  return null;
}

/** One event through the immer path; returns the same reference when nothing changed. */
export function step<S, E extends EventBase, C>(model: Model<S, E, C>, state: S, event: E): S {
  return produce(state, (d: S) => { model.apply(d, event); });
}

/** The state a run starts from. */
export function initialState<S, E extends EventBase, C>(model: Model<S, E, C>, design: Design, config: C): S {
  return model.init(design, config);
}

function ok<S>(state: S, n: number): RunOutcome<S> {
  return { status: 'ok', state, eventCount: n, eventIndex: null, invariant: null, violation: null, message: null };
}
function violated<S>(state: S, n: number, index: number, v: Violation): RunOutcome<S> {
  return { status: 'violated', state, eventCount: n, eventIndex: index, invariant: v.invariant, violation: v,
    message: v.message };
}
function rejected<S, E extends EventBase, C>(model: Model<S, E, C>, state: S, index: number, e: E): RunOutcome<S> {
  return { status: 'rejected', state, eventCount: index, eventIndex: index, invariant: null, violation: null,
    message: `event ${index} (${model.describeEvent(e)}) was not enabled in the state reached by events 0..${index - 1}` };
}

/**
 * Replays exactly `events` from `start`, rejecting any event that was not enabled, and checks invariants.
 * `eventIndex` of a violation is the index of the event after which the invariant first failed (-1: the start
 * state already violates it).
 */
export function replayFrom<S, E extends EventBase, C>(
  model: Model<S, E, C>, start: S, events: readonly E[], opts: ReplayOptions = {}, indexBase = 0,
): RunOutcome<S> {
  const every = Math.max(1, opts.checkEvery ?? 1);
  const checks = !opts.noChecks;
  if (checks && indexBase === 0) {
    const v0 = checkInvariants(model.invariants, start);
    if (v0) return violated(start, 0, -1, v0);
  }
  if ((opts.path ?? 'immer') === 'fast') return replayFast(model, start, events, every, checks, indexBase);
  let state = start;
  let i = 0;
  while (i < events.length) {
    const end = Math.min(events.length, i + every);
    let bad = -1;
    const from = i;
    state = produce(state, (d: S) => {
      for (let k = from; k < end; k++) {
        const e = events[k] as E;
        if (!model.isEnabled(d, e)) { bad = k; return; }
        model.apply(d, e);
      }
    });
    if (bad >= 0) {
      // Re-derive the state just before the rejected event (the batch stopped there).
      return rejected(model, state, indexBase + bad, events[bad] as E);
    }
    if (checks) {
      const v = checkInvariants(model.invariants, state);
      if (v) {
        if (every === 1) return violated(state, end, indexBase + end - 1, v);
        // Find the first bad event inside the batch by stepping it one event at a time.
        return replayFrom(model, stateBefore(model, start, events, from), events.slice(from, end), { checkEvery: 1 },
          indexBase + from);
      }
    }
    i = end;
  }
  return ok(state, indexBase + events.length);
}

function stateBefore<S, E extends EventBase, C>(model: Model<S, E, C>, start: S, events: readonly E[], n: number): S {
  return produce(start, (d: S) => { for (let k = 0; k < n; k++) model.apply(d, events[k] as E); });
}

/** Private mutable copy: plain JSON state, so structuredClone is a faithful deep copy. */
export function mutableCopy<S>(state: S): S {
  return structuredClone(state);
}

function replayFast<S, E extends EventBase, C>(
  model: Model<S, E, C>, start: S, events: readonly E[], every: number, checks: boolean, indexBase: number,
): RunOutcome<S> {
  const s = mutableCopy(start);
  for (let k = 0; k < events.length; k++) {
    const e = events[k] as E;
    if (!model.isEnabled(s, e)) return rejected(model, s, indexBase + k, e);
    model.apply(s, e);
    if (checks && ((k + 1) % every === 0 || k === events.length - 1)) {
      const v = checkInvariants(model.invariants, s);
      if (v) {
        if (every === 1) return violated(s, indexBase + k + 1, indexBase + k, v);
        const lo = k + 1 - (((k + 1) % every) || every);
        return replayFrom(model, stateBefore(model, start, events, lo), events.slice(lo, k + 1), { checkEvery: 1, path: 'fast' },
          indexBase + lo);
      }
    }
  }
  return ok(s, indexBase + events.length);
}

/** Replays `events` from the model's initial state for `design` and `config`. */
export function replay<S, E extends EventBase, C>(
  model: Model<S, E, C>, design: Design, config: C, events: readonly E[], opts: ReplayOptions = {},
): RunOutcome<S> {
  return replayFrom(model, model.init(design, config), events, opts);
}

/** A run produced by a driver: the events it chose, and how it ended. */
export interface DrivenRun<S, E> {
  readonly events: E[];
  /** Index into the enabled set chosen at each step of the choice phase (provenance). */
  readonly choices: number[];
  readonly outcome: RunOutcome<S>;
}

export interface DriveOptions {
  /** Events to pick in the exploring phase before the model is driven to completion. */
  readonly maxEvents: number;
  /** Hard cap on the completion phase (a model that never finishes is reported, not looped on). */
  readonly finishBudget?: number;
  /** Called after each applied event with the state reached (read-only use: coverage, distinct states). */
  readonly onStep?: (state: unknown, event: EventBase) => void;
}

/**
 * The shared driver loop. `pick(enabled, state, stepIndex)` returns an index into `enabled`, or -1 to switch to
 * the completion phase, in which `model.finish` picks events until `isFinal`. Invariants are checked after every
 * event; the run stops at the first violation.
 */
function drive<S, E extends EventBase, C>(
  model: Model<S, E, C> & { finish(state: S): E | null }, design: Design, config: C, opts: DriveOptions,
  pick: (enabled: E[], state: S, i: number) => number, hooks: DriveHooks<S> = {},
): DrivenRun<S, E> {
  const s = mutableCopy(model.init(design, config));
  const events: E[] = [];
  const choices: number[] = [];
  const check = hooks.check ?? ((st: S, _i: number): Violation | null => checkInvariants(model.invariants, st));
  const v0 = check(s, -1);
  if (v0) return { events, choices, outcome: violated(s, 0, -1, v0) };
  let exploring = true;
  const budget = opts.maxEvents + (opts.finishBudget ?? 100_000);
  while (events.length < budget) {
    let e: E | null = null;
    if (exploring && events.length < opts.maxEvents && !model.isFinal(s)) {
      const en = model.enabled(s);
      if (en.length === 0) break;
      const c = pick(en, s, events.length);
      if (c < 0) exploring = false;
      else { e = en[c] as E; choices.push(encodeChoice(model, en, s, c)); }
    }
    if (e === null) {
      exploring = false;
      if (model.isFinal(s)) break;
      e = model.finish(s);
      if (e === null) break;
    }
    model.apply(s, e);
    events.push(e);
    opts.onStep?.(s, e);
    const v = check(s, events.length - 1);
    if (v) return { events, choices, outcome: violated(s, events.length, events.length - 1, v) };
  }
  if (!model.isFinal(s)) {
    const v: Violation = { invariant: 'INV-LIVE', pages: [],
      message: `the run did not reach its final state within ${budget} events (a livelock or a missing completion path)` };
    return { events, choices, outcome: violated(s, events.length, events.length - 1, v) };
  }
  return { events, choices, outcome: ok(s, events.length) };
}

/**
 * The choice value that makes `runChoices` pick `en[index]` in state `s` (the inverse of its decoding), so every
 * driver records choices that re-generate its run: a simulated trace's `choices` replay with `runChoices`, and
 * can seed fast-check as examples or be shrunk as a choice sequence.
 */
export function encodeChoice<S, E extends EventBase, C>(model: Model<S, E, C>, en: readonly E[], s: S, index: number): number {
  const target = en[index] as E;
  const groups = groupByType(en);
  let total = 0;
  let before = 0;
  let gi = -1;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as E[];
    const x = Math.max(1, Math.round(model.weightOf(s, g[0] as E)));
    if (g[0]!.type === target.type) { gi = i; before = total; }
    total += x;
  }
  const member = (groups[gi] as E[]).indexOf(target);
  return before + total * member;
}

/**
 * Hooks of a choice-sequence run (`runChoices`) beyond `DriveOptions`: `check` replaces the invariant check made
 * after every event (and on the initial state, index -1): it returns the violation that stops the run, or null
 * to go on (so it may check a chosen set of invariants, or record some violations and continue past them).
 */
export interface DriveHooks<S> {
  readonly check?: (state: S, eventIndex: number) => Violation | null;
}

/** A model that can also drive itself to completion (all models in `models/` can). */
export type DrivableModel<S, E extends EventBase, C> = Model<S, E, C> & { finish(state: S): E | null };

/**
 * Groups enabled events by `type`, preserving first-appearance order. Drivers pick a group, then a member:
 * a kind of event that has many instances (a store to each of 500 pages) does not drown the rare ones (a TLBI,
 * a vcpu_put), and the choice structure stays stable while shrinking.
 */
export function groupByType<E extends EventBase>(en: readonly E[]): E[][] {
  const groups: E[][] = [];
  const index = new Map<string, number>();
  for (const e of en) {
    const i = index.get(e.type);
    if (i === undefined) { index.set(e.type, groups.length); groups.push([e]); }
    else (groups[i] as E[]).push(e);
  }
  return groups;
}

/**
 * Seeded simulation: the `scheduler` stream picks an event kind weighted by `model.weightOf` (the workload
 * shape), then one event of that kind uniformly.
 */
export function simulate<S, E extends EventBase, C>(
  model: DrivableModel<S, E, C>, design: Design, config: C, seed: string, opts: DriveOptions,
): DrivenRun<S, E> {
  const rng = stream(seed, 'scheduler');
  return drive(model, design, config, opts, (en, s) => {
    const groups = groupByType(en);
    let total = 0;
    const w: number[] = [];
    for (const g of groups) { const x = Math.max(0, model.weightOf(s, g[0] as E)); w.push(x); total += x; }
    let gi = groups.length - 1;
    if (total <= 0) gi = rng.int(groups.length);
    else {
      let r = rng.next() * total;
      for (let i = 0; i < groups.length; i++) { r -= w[i] as number; if (r < 0) { gi = i; break; } }
    }
    const g = groups[gi] as E[];
    if (!model.memberWeightOf || g.length === 1) return en.indexOf(g[rng.int(g.length)] as E);
    let mt = 0;
    for (const e of g) mt += Math.max(0, model.memberWeightOf(s, e));
    let r = rng.next() * mt;
    for (const e of g) { r -= Math.max(0, model.memberWeightOf(s, e)); if (r < 0) return en.indexOf(e); }
    return en.indexOf(g[g.length - 1] as E);
  });
}

/**
 * The choice decoding of `runChoices`, one step: the index into `enabled` (the model's `enabled(state)`, in its
 * order) that choice value `c` selects in `state`. The enabled events are grouped by type (`groupByType`) and `c`
 * picks a group by the model's weights (`c mod total weight` against the cumulative weights, each weight rounded
 * and at least 1, so the workload shape matches `simulate`), then the member `floor(c / total) mod size`. Every
 * natural number decodes to an enabled event; `encodeChoice` is its inverse. `enabled` must not be empty.
 */
export function decodeChoice<S, E extends EventBase, C>(model: Model<S, E, C>, state: S, enabled: readonly E[], c: number): number {
  const groups = groupByType(enabled);
  let total = 0;
  const w: number[] = [];
  for (const g of groups) { const x = Math.max(1, Math.round(model.weightOf(state, g[0] as E))); w.push(x); total += x; }
  let r = c % total;
  let gi = 0;
  while (gi < groups.length - 1 && r >= (w[gi] as number)) { r -= w[gi] as number; gi++; }
  const g = groups[gi] as E[];
  return enabled.indexOf(g[Math.floor(c / total) % g.length] as E);
}

/** One step of a decoded choice sequence (`decodeChoices`). */
export interface ChoiceStep<E> {
  /** The event taken. */
  readonly event: E;
  /** The choice value that selected it, or null in the completion phase (the model's `finish` picked it). */
  readonly choice: number | null;
  /** Its index into the enabled events of the state it was taken from (null in the completion phase). */
  readonly index: number | null;
  /** How many events were enabled there (null in the completion phase). */
  readonly enabledCount: number | null;
}

/**
 * The choice decoding of `runChoices`, whole: the events a choice sequence selects from the initial state of
 * `design` and `config` (one per choice, `decodeChoice` at each step, until the choices run out, nothing is
 * enabled or the run is final), then the completion phase (`model.finish`) to the end of the migration, as
 * `runChoices` runs them, but with no invariant checked (a run `runChoices` stops at a violation goes on here).
 * At most `finishBudget` completion events.
 */
export function decodeChoices<S, E extends EventBase, C>(
  model: DrivableModel<S, E, C>, design: Design, config: C, choices: readonly number[], finishBudget = 100_000,
): ChoiceStep<E>[] {
  const steps: ChoiceStep<E>[] = [];
  let chosen: { choice: number; index: number; enabledCount: number } | null = null;
  drive(model, design, config, {
    maxEvents: choices.length, finishBudget,
    onStep: (_s, e) => { steps.push({ event: e as E, choice: chosen?.choice ?? null, index: chosen?.index ?? null, enabledCount: chosen?.enabledCount ?? null }); chosen = null; },
  }, (en, s, i) => {
    if (i >= choices.length) return -1;
    const c = choices[i] as number;
    const index = decodeChoice(model, s, en, c);
    chosen = { choice: c, index, enabledCount: en.length };
    return index;
  }, { check: () => null });
  return steps;
}

/**
 * Choice-sequence driver (property tests): at step `i`, choice `c` selects an enabled event by `decodeChoice`;
 * when the choices run out the model is driven to completion. Shrinking the choices (towards 0) shrinks the
 * trace. `hooks.check` replaces the invariant check (see `DriveHooks`).
 */
export function runChoices<S, E extends EventBase, C>(
  model: DrivableModel<S, E, C>, design: Design, config: C, choices: readonly number[], finishBudget = 100_000,
  hooks: DriveHooks<S> & { readonly onStep?: (state: S, event: E) => void } = {},
): DrivenRun<S, E> {
  const onStep = hooks.onStep as ((state: unknown, event: EventBase) => void) | undefined;
  return drive(model, design, config, { maxEvents: choices.length, finishBudget, ...(onStep ? { onStep } : {}) }, (en, s, i) => {
    if (i >= choices.length) return -1;
    return decodeChoice(model, s, en, choices[i] as number);
  }, hooks);
}

export { fingerprint };
