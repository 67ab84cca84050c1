/**
 * Shrink: minimise a failing trace to the fewest events (and a smaller machine) that still violate the same
 * invariant.
 *
 * Every candidate is checked by a real replay (fast path, invariants after every event): a candidate whose
 * events are not an enabled sequence is rejected by the replay, so the result is always a valid trace. Events
 * after the violation are dropped. Three reductions, each accepted only when the trace fails with the same
 * invariant and is no longer than the best so far:
 *   1. the choice sequence (when the trace has one and the model can drive itself): delta debugging on the
 *      choices and lowering each choice, re-generating the events with `runChoices`;
 *   2. smaller configurations proposed by the caller (fewer vCPUs, PEs, pages; usually the model's own
 *      `configCandidates` / `relabelings` hooks, passed through the options), validated by `parseConfig`;
 *      events that do not validate against the smaller configuration are dropped before the replay;
 *   3. delta debugging (ddmin, complements only) on the event list, down to a 1-minimal list; a candidate is
 *      replayed skipping the events it left disabled (removing a store's issue drops its retire too).
 * The work is bounded by a number of replays (`maxTests`), not by time, so it is deterministic.
 *
 * Pure: no I/O, no clock.
 */
import { checkInvariants, mutableCopy, replayFrom, runChoices, type DrivableModel } from '../core/engine.ts';
import type { Design, EventBase, Model, Relabeling, Violation } from '../core/model.ts';

/** A smaller machine whose ids differ: the events are mapped (null drops one), e.g. vCPU 0 removed, 1 renamed 0. */
export type { Relabeling };

export interface ShrinkOptions<C, E extends EventBase = EventBase> {
  /** Smaller configurations to try from `config` (most aggressive first); each is validated by the model. */
  readonly configCandidates?: (config: C) => unknown[];
  /** Smaller configurations that renumber ids, with the event mapping (validated like configCandidates). */
  readonly relabelings?: (config: C) => Relabeling<E>[];
  /** The model as a driver, to shrink the choice sequence (omit to skip that step). */
  readonly drivable?: boolean;
  /** Bound on replays (default 20,000). */
  readonly maxTests?: number;
}

export interface ShrinkResult<E, C> {
  readonly events: E[];
  readonly config: C;
  /** Choices that re-generate exactly `events` with runChoices, or null. */
  readonly choices: number[] | null;
  readonly eventIndex: number;
  readonly violation: Violation;
  /** Replays made. */
  readonly tests: number;
  /** What each accepted step did, for the CLI to print. */
  readonly log: string[];
}

export type ShrinkOutcome<E, C> =
  | { readonly ok: true; readonly result: ShrinkResult<E, C> }
  | { readonly ok: false; readonly message: string };

interface Candidate<E, C> { events: E[]; config: C; choices: number[] | null; violation: Violation }

/**
 * Delta debugging on a list: removes chunks (halving the chunk size when nothing can be removed) while `test`
 * accepts; `test` returns the (possibly truncated) list it accepted, or null. Returns a list from which no single
 * element can be removed (unless the budget ran out).
 */
export function ddmin<T>(items: readonly T[], test: (candidate: T[]) => T[] | null, budget: { left: number }): T[] {
  let cur = [...items];
  let n = 2;
  while (cur.length >= 1 && budget.left > 0) {
    const chunk = Math.max(1, Math.ceil(cur.length / n));
    let reduced = false;
    let i = 0;
    while (i < cur.length && budget.left > 0) {
      const cand = [...cur.slice(0, i), ...cur.slice(i + chunk)];
      budget.left--;
      const r = cand.length < cur.length ? test(cand) : null;
      if (r && r.length < cur.length) { cur = r; reduced = true; } else i += chunk;
    }
    if (reduced) n = Math.max(n - 1, 2);
    else if (chunk === 1) break;
    else n = Math.min(n * 2, cur.length);
  }
  return cur;
}

export function shrink<S, E extends EventBase, C>(
  model: Model<S, E, C>, design: Design, config: C, events: readonly E[], choices: readonly number[] | null, opts: ShrinkOptions<C, E> = {},
): ShrinkOutcome<E, C> {
  const budget = { left: opts.maxTests ?? 20_000 };
  const log: string[] = [];
  let tests = 0;

  /** Replays `evs` under `cfg`: the prefix up to the violation if it breaks `inv` (any invariant when null). */
  const run = (cfg: C, evs: readonly E[], inv: string | null): { events: E[]; violation: Violation } | null => {
    tests++;
    const o = replayFrom(model, model.init(design, cfg), evs, { checkEvery: 1, path: 'fast' });
    if (o.status !== 'violated' || (inv !== null && o.invariant !== inv)) return null;
    return { events: evs.slice(0, o.eventIndex + 1), violation: o.violation };
  };

  /**
   * Like `run`, but an event that is not enabled where it stands is skipped instead of rejecting the candidate
   * (removing a store's issue also drops its retire): the events actually applied form a valid trace.
   */
  const runSkipping = (cfg: C, evs: readonly E[], inv: string): { events: E[]; violation: Violation } | null => {
    tests++;
    const s = mutableCopy(model.init(design, cfg));
    const v0 = checkInvariants(model.invariants, s);
    if (v0) return v0.invariant === inv ? { events: [], violation: v0 } : null;
    const kept: E[] = [];
    for (const e of evs) {
      if (!model.isEnabled(s, e)) continue;
      model.apply(s, e);
      kept.push(e);
      const v = checkInvariants(model.invariants, s);
      if (v) return v.invariant === inv ? { events: kept, violation: v } : null;
    }
    return null;
  };

  const first = run(config, events, null);
  if (!first) return { ok: false, message: 'the trace does not violate an invariant (or an event is not enabled): nothing to shrink' };
  const inv = first.violation.invariant;
  let best: Candidate<E, C> = { events: first.events, config, choices: choices ? [...choices] : null, violation: first.violation };
  if (first.events.length < events.length) log.push(`dropped ${events.length - first.events.length} events after the violation`);

  const drive = model as unknown as DrivableModel<S, E, C>;
  // Two readings of a choice sequence: `grouped` is the engine's runChoices (property tests); `index` picks
  // en[c mod |en|], the index the seeded scheduler records. The first that reproduces a failure is used.
  let mode: ChoiceMode = 'grouped';
  const viaChoices = (cfg: C, cs: readonly number[]): { events: E[]; violation: Violation } | null => {
    tests++;
    const d = mode === 'grouped' ? runChoices(drive, design, cfg, cs) : runIndexChoices(drive, design, cfg, cs);
    const v = d.outcome.violation;
    if (v === null || v.invariant !== inv || d.events.length === 0) return null;
    return { events: d.events, violation: v };
  };

  // 1. The choice sequence.
  if (opts.drivable && choices && choices.length > 0) {
    let base = viaChoices(config, choices);
    if (!base) { mode = 'index'; base = viaChoices(config, choices); }
    if (base) {
      let bestLen = base.events.length;
      let bestRun = base;
      const test = (cs: number[]): number[] | null => {
        const r = viaChoices(config, cs);
        if (!r || r.events.length > bestLen) return null;
        bestLen = r.events.length; bestRun = r;
        return cs;
      };
      let cs = ddmin(choices, test, budget);
      // Lower each choice (0 first, then halving), keeping the run failing and no longer.
      for (let i = 0; i < cs.length && budget.left > 0; i++) {
        for (const v of [0, Math.floor((cs[i] as number) / 2)]) {
          if (v >= (cs[i] as number)) continue;
          budget.left--;
          const cand = [...cs];
          cand[i] = v;
          if (test(cand)) { cs = cand; break; }
        }
      }
      if (bestRun.events.length <= best.events.length) {
        log.push(`choice sequence (${mode}): ${choices.length} -> ${cs.length} choices, ${best.events.length} -> ${bestRun.events.length} events`);
        best = { events: bestRun.events, config, choices: cs, violation: bestRun.violation };
      }
    }
  }

  // 2. Smaller configurations (repeat while one is accepted).
  const eventsUnder = (cfg: C, evs: readonly E[]): E[] => {
    const out: E[] = [];
    for (const e of evs) {
      const r = model.parseEvent(e, cfg);
      if (r.ok) out.push(r.event);
    }
    return out;
  };
  if (opts.configCandidates || opts.relabelings) {
    let progress = true;
    while (progress && budget.left > 0) {
      progress = false;
      const cands: Relabeling<E>[] = [
        ...(opts.configCandidates?.(best.config) ?? []).map((c) => ({ config: c, mapEvent: (e: E): E | null => e })),
        ...(opts.relabelings?.(best.config) ?? []),
      ];
      for (const { config: raw, mapEvent } of cands) {
        if (budget.left <= 0) break;
        const pc = model.parseConfig(raw);
        if (!pc.ok) continue;
        budget.left--;
        const mapped: E[] = [];
        for (const e of best.events) { const x = mapEvent(e); if (x !== null) mapped.push(x); }
        const r = runSkipping(pc.config, eventsUnder(pc.config, mapped), inv);
        let cand: Candidate<E, C> | null = r ? { events: r.events, config: pc.config, choices: null, violation: r.violation } : null;
        if (opts.drivable && best.choices) {
          budget.left--;
          const rc = viaChoices(pc.config, best.choices);
          if (rc && (!cand || rc.events.length <= cand.events.length)) cand = { events: rc.events, config: pc.config, choices: best.choices, violation: rc.violation };
        }
        if (cand && cand.events.length <= best.events.length) {
          log.push(`config ${describeConfigChange(best.config, cand.config)}: ${best.events.length} -> ${cand.events.length} events`);
          best = cand;
          progress = true;
          break;
        }
      }
    }
  }

  // 3. ddmin on the event list.
  const before = best.events.length;
  let lastViolation = best.violation;
  const cfg = best.config;
  const evs = ddmin(best.events, (cand) => {
    const r = runSkipping(cfg, cand, inv);
    if (!r) return null;
    lastViolation = r.violation;
    return r.events;
  }, budget);
  if (evs.length < before) {
    log.push(`event list (ddmin): ${before} -> ${evs.length} events`);
    best = { events: evs, config: cfg, choices: best.choices, violation: lastViolation };
  }
  const final = run(best.config, best.events, inv);
  if (!final) throw new Error('[dtsim] shrink: the minimised trace no longer fails (non-deterministic reducer?)');
  // Keep the choices only if they still re-generate exactly these events.
  let cs = best.choices;
  if (cs && opts.drivable) {
    const d = mode === 'grouped' ? runChoices(drive, design, best.config, cs) : runIndexChoices(drive, design, best.config, cs);
    if (JSON.stringify(d.events) !== JSON.stringify(best.events)) cs = null;
  } else cs = null;
  if (budget.left <= 0) log.push('stopped at the replay budget (--max-tests): the result may not be minimal');
  return { ok: true, result: { events: best.events, config: best.config, choices: cs, eventIndex: best.events.length - 1, violation: final.violation, tests, log } };
}

function describeConfigChange<C>(a: C, b: C): string {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return `${JSON.stringify(a)} -> ${JSON.stringify(b)}`;
  const parts: string[] = [];
  const ar = a as Record<string, unknown>;
  const br = b as Record<string, unknown>;
  for (const k of Object.keys(br)) {
    const x = JSON.stringify(ar[k]);
    const y = JSON.stringify(br[k]);
    if (x !== y) parts.push(`${k} ${x} -> ${y}`);
  }
  return parts.join(', ') || '(same)';
}

type ChoiceMode = 'grouped' | 'index';

/**
 * Drives the model with choices read as indices into the enabled set (`en[c mod |en|]`), then to completion with
 * `finish`; stops at the first violation (null: none).
 */
export function runIndexChoices<S, E extends EventBase, C>(
  model: DrivableModel<S, E, C>, design: Design, config: C, choices: readonly number[], finishBudget = 100_000,
): { events: E[]; outcome: { violation: Violation | null } } {
  const s = mutableCopy(model.init(design, config));
  const events: E[] = [];
  const v0 = checkInvariants(model.invariants, s);
  if (v0) return { events, outcome: { violation: v0 } };
  for (let i = 0; i < choices.length + finishBudget; i++) {
    if (model.isFinal(s)) break;
    let e: E | null;
    if (i < choices.length) {
      const en = model.enabled(s);
      if (en.length === 0) break;
      e = en[(choices[i] as number) % en.length] as E;
    } else {
      e = model.finish(s);
      if (e === null) break;
    }
    model.apply(s, e);
    events.push(e);
    const v = checkInvariants(model.invariants, s);
    if (v) return { events, outcome: { violation: v } };
  }
  return { events, outcome: { violation: null } };
}
