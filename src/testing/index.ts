/**
 * The public testing API: fast-check arbitraries for workloads (machine configurations), choice sequences and
 * designs, a function that runs a design and returns its outcome, and the invariants, so users write their own
 * properties in their own vitest suites (see README, "Writing your own properties").
 *
 * fast-check is a peer dependency of this entry point.
 */
import fc from 'fast-check';
import { runChoices, type DrivableModel } from '../core/engine.ts';
import type { Design, EventBase, Invariant, JsonValue, Model, Violation } from '../core/model.ts';

/** A choice sequence: choice i selects among the enabled events at step i (DESIGN.md section 1). */
export function choices(opts: { maxLength?: number } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: 1 << 16 }), { maxLength: opts.maxLength ?? 200, size: 'max' });
}

/** Options of a model, as a design with no bug knob (every value of every option the model documents). */
export function designs<S, E extends EventBase, C>(model: Model<S, E, C> & { design(o?: { [k: string]: JsonValue }, b?: readonly string[]): Design;
  readonly preset: { readonly options: { readonly [k: string]: readonly JsonValue[] } } }): fc.Arbitrary<Design> {
  const rec: { [k: string]: fc.Arbitrary<JsonValue> } = {};
  for (const [k, vals] of Object.entries(model.preset.options)) rec[k] = fc.constantFrom(...vals);
  return fc.record(rec).map((o) => model.design(o, []));
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

/** The outcome of one run of a design, in plain data. */
export interface RunResult {
  readonly status: 'ok' | 'violated' | 'rejected';
  readonly invariant: string | null;
  readonly eventIndex: number | null;
  readonly violation: Violation | null;
  readonly events: readonly EventBase[];
  readonly metrics: { readonly [k: string]: number };
  readonly finished: boolean;
}

/** Runs a design on a workload with a choice sequence, then drives the migration to completion. */
export function runDesign<S, E extends EventBase, C>(model: DrivableModel<S, E, C>, design: Design, config: C,
  choiceSeq: readonly number[]): RunResult {
  const r = runChoices(model, design, config, choiceSeq);
  const o = r.outcome;
  return { status: o.status, invariant: o.invariant, eventIndex: o.eventIndex, violation: o.violation, events: r.events,
    metrics: model.metrics(o.state), finished: model.isFinal(o.state) };
}

/** The invariants a model checks after every event, in order (ids are stable). */
export function invariantsOf<S, E extends EventBase, C>(model: Model<S, E, C>): readonly Invariant<S>[] {
  return model.invariants;
}
