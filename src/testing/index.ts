/**
 * The public testing API: fast-check arbitraries for workloads (machine configurations), choice sequences and
 * designs, a function that runs a design and returns its outcome (optionally checking a chosen set of
 * invariants, continuing past some, observing every step with the pages the VMM received), the choice decoding,
 * and the invariants, so users write their own properties and oracles in their own vitest suites (see README,
 * "Writing your own properties").
 *
 * fast-check is a peer dependency of this entry point.
 */
import fc from 'fast-check';
import { runChoices, type DrivableModel } from '../core/engine.ts';
export { decodeChoice, decodeChoices, encodeChoice, type ChoiceStep } from '../core/engine.ts';
import type { Design, EventBase, Invariant, JsonValue, Model, Violation } from '../core/model.ts';

/** A choice sequence: choice i selects among the enabled events at step i (DESIGN.md section 1). */
export function choices(opts: { maxLength?: number } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: 1 << 16 }), { maxLength: opts.maxLength ?? 200, size: 'max' });
}

/**
 * Options of a model, as a design with no bug knob: every value of every option the model documents, in every
 * combination the model accepts. A combination the model refuses as a configuration KVM itself would refuse
 * (its `checkOptions`, e.g. an HDBSS-fed dirty ring smaller than its reserve: KVM_ENABLE_CAP fails with EINVAL)
 * is not a design, so it is never generated (it used to be, and `design()` threw inside the user's property).
 */
export function designs<S, E extends EventBase, C>(model: Model<S, E, C> & { design(o?: { [k: string]: JsonValue }, b?: readonly string[]): Design;
  readonly preset: { readonly options: { readonly [k: string]: readonly JsonValue[] };
    readonly checkOptions?: ((options: { readonly [k: string]: JsonValue }, bugs: readonly string[]) => { field: string; message: string } | null) | undefined } }):
  fc.Arbitrary<Design> {
  const rec: { [k: string]: fc.Arbitrary<JsonValue> } = {};
  for (const [k, vals] of Object.entries(model.preset.options)) rec[k] = fc.constantFrom(...vals);
  const refuses = model.preset.checkOptions;
  const all = fc.record(rec);
  return (refuses ? all.filter((o) => refuses({ ...model.defaultOptions, ...o }, []) === null) : all).map((o) => model.design(o, []));
}

/** Small machine configurations (vCPUs, PEs, memslots of unaligned sizes, TLB size, host writes, rounds). */
export function workloads<C>(model: Model<unknown, EventBase, C> | { parseConfig(raw: unknown): { ok: true; config: C } | { ok: false } }):
  fc.Arbitrary<C> {
  return fc.record({
    vcpus: fc.integer({ min: 1, max: 3 }),
    pes: fc.integer({ min: 1, max: 3 }),
    npages0: fc.integer({ min: 2, max: 70 }),
    npages1: fc.integer({ min: 0, max: 20 }),
    tlbEntries: fc.integer({ min: 1, max: 4 }),
    stolenTime: fc.boolean(),
    rounds: fc.integer({ min: 1, max: 3 }),
  }).map((w) => {
    const slots = [{ base: 0, npages: w.npages0 }, ...(w.npages1 > 0 ? [{ base: 128, npages: w.npages1 }] : [])];
    const raw = { vcpus: w.vcpus, pes: w.pes, slots, blocks: false, tlbEntries: w.tlbEntries, stolenTime: w.stolenTime,
      itsPages: [w.npages0 - 1], rounds: w.rounds, storePages: [] };
    const r = model.parseConfig(raw);
    if (!r.ok) throw new Error(`[dtsim] workloads(): generated an invalid configuration ${JSON.stringify(raw)}`);
    return r.config;
  });
}

/** A violation `runDesign` saw: the event after which it began (-1: the initial state), and what broke. */
export interface SeenViolation {
  readonly eventIndex: number;
  readonly invariant: string;
  readonly message: string;
  readonly pages: readonly number[];
  /** false: an invariant of `continueOn` (recorded, the run went on); true: the violation that stopped the run. */
  readonly stopped: boolean;
}

/** The outcome of one run of a design, in plain data. */
export interface RunResult {
  /** How the run ended: `violated` only by a violation that stops it (not one of `continueOn`). */
  readonly status: 'ok' | 'violated' | 'rejected';
  readonly invariant: string | null;
  readonly eventIndex: number | null;
  /** The violation that stopped the run, or null. */
  readonly violation: Violation | null;
  /**
   * Every violation seen, in order: each time an invariant of `continueOn` began to fail (once per stretch of
   * events in which it stays broken), then the one that stopped the run, if any.
   */
  readonly violations: readonly SeenViolation[];
  readonly events: readonly EventBase[];
  readonly metrics: { readonly [k: string]: number };
  readonly finished: boolean;
}

/**
 * What an `onStep` observer of `runDesign` sees after each event. `state` is the run's private state after the
 * event: read it during the call only (it is mutated by the next event; copy what you keep). `received` and
 * `roundEnded` are derived from the model's collection view (`Model.collection`; null without one) by comparing
 * the state with the one before the event: no event or trace field carries them.
 */
export interface StepObservation<S, E> {
  /** Index of the event in the run (0-based). */
  readonly index: number;
  readonly event: E;
  readonly state: S;
  /**
   * The pages this event handed to the VMM: added to its copy set by a collection (a GET or CLEAR returning, a
   * ring harvest, a PTA read, an HDBSS drain, ...) or by the bulk copy when logging is enabled, ascending.
   * A page reported again while still in the copy set is not received again.
   */
  readonly received: readonly number[] | null;
  /** The VMM's collection round counter after the event. */
  readonly round: number | null;
  /** The event completed a collection round (the round counter increased). */
  readonly roundEnded: boolean | null;
}

export interface RunDesignOptions<S, E> {
  /**
   * Check only these invariant ids (in the model's order) after every event; default: every invariant of the
   * model. (A run that never finishes is still reported as INV-LIVE.)
   */
  readonly invariants?: readonly string[];
  /**
   * Invariant ids (among those checked) whose violation is recorded in `violations` and does not stop the run:
   * e.g. `['INV-FLUSH']` to see whether a hazard the invariant flags also loses a page (INV-NOLOSS, INV-FINAL).
   */
  readonly continueOn?: readonly string[];
  /** Called after every event (see `StepObservation`). */
  readonly onStep?: (step: StepObservation<S, E>) => void;
  /** At most this many events in the completion phase (default 100,000). */
  readonly finishBudget?: number;
}

/**
 * Runs a design on a workload with a choice sequence (decoded as `decodeChoice` says), then drives the migration
 * to completion, checking the invariants after every event: by default every invariant, stopping at the first
 * violation (as `runChoices`); `opts` chooses the invariants checked, those to record and continue past, and an
 * observer of every step. An unknown invariant id throws.
 */
export function runDesign<S, E extends EventBase, C>(model: DrivableModel<S, E, C>, design: Design, config: C,
  choiceSeq: readonly number[], opts: RunDesignOptions<S, E> = {}): RunResult {
  const known = model.invariants.map((x) => x.id);
  for (const id of [...(opts.invariants ?? []), ...(opts.continueOn ?? [])]) {
    if (!known.includes(id)) throw new Error(`[dtsim] runDesign: unknown invariant '${id}' for model '${model.id}' (known: ${known.join(', ')})`);
  }
  const checked = opts.invariants ? model.invariants.filter((x) => opts.invariants!.includes(x.id)) : model.invariants;
  const goOn = new Set(opts.continueOn ?? []);
  const seen: SeenViolation[] = [];
  const broken = new Set<string>();
  const check = (state: S, eventIndex: number): Violation | null => {
    for (const inv of checked) {
      const v = inv.check(state);
      if (v === null) { broken.delete(inv.id); continue; }
      if (!goOn.has(inv.id)) return v;
      if (!broken.has(inv.id)) { broken.add(inv.id); seen.push({ eventIndex, invariant: v.invariant, message: v.message, pages: v.pages, stopped: false }); }
    }
    return null;
  };
  const view = model.collection;
  const observe = opts.onStep;
  let onStep: ((state: S, event: E) => void) | undefined;
  if (observe) {
    const init = model.init(design, config);
    let pending = view ? new Set(view.pending(init)) : null;
    let round = view ? view.round(init) : null;
    let index = 0;
    onStep = (state, event) => {
      let received: number[] | null = null;
      let roundEnded: boolean | null = null;
      if (view && pending !== null && round !== null) {
        const now = view.pending(state);
        received = now.filter((g) => !pending!.has(g));
        pending = new Set(now);
        const r = view.round(state);
        roundEnded = r > round;
        round = r;
      }
      observe({ index: index++, event, state, received, round, roundEnded });
    };
  }
  const r = runChoices(model, design, config, choiceSeq, opts.finishBudget ?? 100_000, { check, ...(onStep ? { onStep } : {}) });
  const o = r.outcome;
  if (o.violation !== null) seen.push({ eventIndex: o.eventIndex, invariant: o.invariant, message: o.message, pages: o.violation.pages, stopped: true });
  return { status: o.status, invariant: o.invariant, eventIndex: o.eventIndex, violation: o.violation, violations: seen, events: r.events,
    metrics: model.metrics(o.state), finished: model.isFinal(o.state) };
}

/** The invariants a model checks after every event, in order (ids are stable). */
export function invariantsOf<S, E extends EventBase, C>(model: Model<S, E, C>): readonly Invariant<S>[] {
  return model.invariants;
}
