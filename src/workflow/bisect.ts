/**
 * Bisect: the first event after which an invariant is violated, found by binary search over the prefix length.
 *
 * The reducer is pure, so the state after any prefix is a function of the prefix. One pass on the fast path
 * (the same recipes on a private mutable copy, no invariant checks) validates every event and stores a
 * checkpoint every `stride` events. A binary search then checks invariants on checkpoints only, and a stepwise
 * pass inside the last interval names the event. This assumes a violation persists once it happens; when the
 * final state satisfies every invariant (a transient one, such as INV-FLUSH, which is checked only when the
 * ioctl returns) or when asked to, bisect falls back to the stepwise first violation (linear, checks after every
 * event), which is exact.
 *
 * For an invariant checked only at the end of a run (INV-FINAL), bisect also names the *cause*: the event after
 * which driving the run to completion (the model's own `finish`) no longer recovers the lost page. That search
 * assumes a page, once lost, stays lost.
 *
 * Pure: no I/O, no clock.
 */
import { checkInvariants, mutableCopy, replayFrom } from '../core/engine.ts';
import type { EventBase, Model, Violation } from '../core/model.ts';

export interface BisectOptions<S, E> {
  /** Events between checkpoints (default: `defaultStride`). */
  readonly stride?: number;
  /** Skip the binary search: the linear first violation (exact for transient invariants). */
  readonly stepwise?: boolean;
  /** The model's completion step (drivable models): enables the cause search for end-of-run invariants. */
  readonly finish?: (state: S) => E | null;
  /** Invariants checked only at the end of a run, whose cause is searched (default: INV-FINAL). */
  readonly endInvariants?: readonly string[];
  /** Bound on completion events per cause probe. */
  readonly finishBudget?: number;
}

/** The event that made an end-of-run violation unavoidable, and the states around it. */
export interface BisectCause<S> {
  /**
   * `event`: completing the run from before `eventIndex` is clean and from after it is not. `completion`: the
   * completion path fails even from the initial state (the fault is in how the run ends, e.g. a VMM that skips
   * its final sync), so no earlier event is to blame and `eventIndex` is the violating event itself.
   */
  readonly kind: 'event' | 'completion';
  /** Index of the event after which completion fails. */
  readonly eventIndex: number;
  readonly invariant: string;
  /** What completion from just after the cause reports. */
  readonly violation: Violation;
  readonly before: S;
  readonly after: S;
  /** Completion runs tried. */
  readonly probes: number;
}

export type BisectResult<S> =
  | { readonly status: 'ok'; readonly eventCount: number; readonly method: 'binary' | 'stepwise'; readonly probes: number }
  | { readonly status: 'rejected'; readonly eventCount: number; readonly eventIndex: number; readonly message: string }
  | {
    readonly status: 'violated'; readonly eventCount: number;
    /** The first event after which an invariant is broken (-1: the initial state already breaks it). */
    readonly eventIndex: number;
    readonly invariant: string;
    readonly violation: Violation;
    /** `binary` when the violation persists to the end of the trace; `stepwise` otherwise (or when asked). */
    readonly method: 'binary' | 'stepwise';
    /** Invariant checks made by the search (binary: about log2(checkpoints) + stride). */
    readonly probes: number;
    /** States before and after the event (before = after = initial state for eventIndex -1). */
    readonly before: S;
    readonly after: S;
    readonly cause: BisectCause<S> | null;
  };

/** States every `stride` events, built once on the fast path; `at(k)` is the state after `k` events. */
export class Checkpoints<S, E extends EventBase, C> {
  private readonly states: S[] = [];
  readonly final: S;
  /** Index of the first event that was not enabled, or -1. */
  readonly rejectedAt: number;
  readonly rejectedMessage: string;

  constructor(private readonly model: Model<S, E, C>, start: S, private readonly events: readonly E[], readonly stride: number) {
    const s = mutableCopy(start);
    let rej = -1;
    let msg = '';
    for (let k = 0; k < events.length; k++) {
      if (k % stride === 0) this.states.push(mutableCopy(s));
      const e = events[k] as E;
      if (!model.isEnabled(s, e)) {
        rej = k;
        msg = `event ${k} (${model.describeEvent(e)}) was not enabled in the state reached by events 0..${k - 1}`;
        break;
      }
      model.apply(s, e);
    }
    if (rej < 0 && events.length % stride === 0) this.states.push(mutableCopy(s));
    this.final = s;
    this.rejectedAt = rej;
    this.rejectedMessage = msg;
  }

  /** Number of events whose states are available (all of them unless one was rejected). */
  get length(): number {
    return this.rejectedAt < 0 ? this.events.length : this.rejectedAt;
  }

  /** A private copy of the state after the first `k` events (0 <= k <= length). */
  at(k: number): S {
    if (k < 0 || k > this.length) throw new Error(`[dtsim] checkpoint ${k} outside [0, ${this.length}]`);
    if (k === this.length) return mutableCopy(this.final);
    const c = Math.floor(k / this.stride);
    const s = mutableCopy(this.states[c] as S);
    for (let i = c * this.stride; i < k; i++) this.model.apply(s, this.events[i] as E);
    return s;
  }

  /** The stored checkpoint state itself (read only) for checkpoint number `c` (state after c*stride events). */
  checkpoint(c: number): S {
    return this.states[c] as S;
  }

  get checkpointCount(): number {
    return this.states.length;
  }
}

/**
 * Checkpoint spacing: a checkpoint costs a deep copy of the state, the last interval costs `stride` invariant
 * checks; about sqrt(n / 40) checkpoints (at most 512) balances the two for the machine models.
 */
export function defaultStride(n: number): number {
  const count = Math.min(512, Math.max(1, Math.round(Math.sqrt(n / 40))));
  return Math.max(1, Math.ceil(n / count));
}

/**
 * Finds the first violating event of `events` replayed from `start`. See the module comment for the
 * persistence assumption and the fallback.
 */
export function bisect<S, E extends EventBase, C>(
  model: Model<S, E, C>, start: S, events: readonly E[], opts: BisectOptions<S, E> = {},
): BisectResult<S> {
  const n = events.length;
  const v0 = checkInvariants(model.invariants, start);
  if (v0) {
    return { status: 'violated', eventCount: 0, eventIndex: -1, invariant: v0.invariant, violation: v0, method: 'binary', probes: 1,
      before: start, after: start, cause: null };
  }
  const cps = new Checkpoints(model, start, events, Math.max(1, opts.stride ?? defaultStride(n)));
  let probes = 1;
  if (cps.rejectedAt >= 0) {
    // The valid prefix may already violate: report that first (a replay stops there too).
    const r = replayFrom(model, start, events.slice(0, cps.rejectedAt), { checkEvery: 1, path: 'fast' });
    if (r.status === 'violated') return violatedAt(model, cps, r.eventIndex, r.violation, 'stepwise', cps.rejectedAt, opts);
    return { status: 'rejected', eventCount: n, eventIndex: cps.rejectedAt, message: cps.rejectedMessage };
  }
  const vEnd = checkInvariants(model.invariants, cps.final);
  probes++;
  if (opts.stepwise || vEnd === null) {
    const r = replayFrom(model, start, events, { checkEvery: 1, path: 'fast' });
    if (r.status === 'violated') return violatedAt(model, cps, r.eventIndex, r.violation, 'stepwise', n, opts);
    return { status: 'ok', eventCount: n, method: 'stepwise', probes: n };
  }
  // Binary search over checkpoints: checkpoint 0 (the start) is good, the final state is bad.
  let lo = 0; // checkpoint index known good
  let hi = cps.checkpointCount; // index known bad (checkpointCount stands for the final state)
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    probes++;
    if (checkInvariants(model.invariants, cps.checkpoint(mid)) === null) lo = mid; else hi = mid;
  }
  // Stepwise inside (lo*stride, min(hi*stride, n)].
  const from = lo * cps.stride;
  const to = Math.min(n, hi * cps.stride);
  const s = cps.at(from);
  for (let k = from; k < to; k++) {
    model.apply(s, events[k] as E);
    probes++;
    const v = checkInvariants(model.invariants, s);
    if (v) return violatedAt(model, cps, k, v, 'binary', probes, opts);
  }
  // Unreachable when the reducer is deterministic: the state at `to` was found bad above.
  throw new Error(`[dtsim] bisect: state after ${to} events was bad on probe and good on replay (non-deterministic reducer?)`);
}

function violatedAt<S, E extends EventBase, C>(
  model: Model<S, E, C>, cps: Checkpoints<S, E, C>, index: number, v: Violation, method: 'binary' | 'stepwise', probes: number,
  opts: BisectOptions<S, E>,
): BisectResult<S> {
  const before = cps.at(index);
  const after = cps.at(index + 1);
  const ends = opts.endInvariants ?? ['INV-FINAL'];
  const cause = opts.finish && ends.includes(v.invariant) ? findCause(model, cps, index, v.invariant, opts.finish, opts.finishBudget ?? 1_000_000) : null;
  return { status: 'violated', eventCount: cps.length, eventIndex: index, invariant: v.invariant, violation: v, method, probes, before, after, cause };
}

/** Drives a copy of `state` to completion; the end-of-run invariant's verdict (null: completion is clean). */
export function completionVerdict<S, E extends EventBase, C>(
  model: Model<S, E, C>, state: S, invariant: string, finish: (s: S) => E | null, budget: number,
): Violation | null {
  const inv = model.invariants.find((i) => i.id === invariant);
  if (!inv) return null;
  const s = mutableCopy(state);
  for (let k = 0; k < budget && !model.isFinal(s); k++) {
    const e = finish(s);
    if (e === null) break;
    model.apply(s, e);
  }
  return inv.check(s);
}

function findCause<S, E extends EventBase, C>(
  model: Model<S, E, C>, cps: Checkpoints<S, E, C>, violIndex: number, invariant: string, finish: (s: S) => E | null, budget: number,
): BisectCause<S> | null {
  // lost(k): completing from the state after k events breaks the invariant. lost(violIndex + 1) holds.
  let probes = 0;
  const lost = (k: number): Violation | null => { probes++; return completionVerdict(model, cps.at(k), invariant, finish, budget); };
  const v0 = lost(0);
  if (v0) {
    return { kind: 'completion', eventIndex: violIndex, invariant, violation: v0, before: cps.at(violIndex), after: cps.at(violIndex + 1), probes };
  }
  let lo = 0;
  let hi = violIndex + 1;
  let vHi: Violation | null = null;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const v = lost(mid);
    if (v) { hi = mid; vHi = v; } else lo = mid;
  }
  const v = vHi ?? lost(hi);
  if (!v) return null;
  return { kind: 'event', eventIndex: hi - 1, invariant, violation: v, before: cps.at(hi - 1), after: cps.at(hi), probes };
}
