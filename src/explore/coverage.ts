/**
 * Which of `dtsim check`'s situations (src/check/campaign.ts: a stale-TLB store, a vCPU moved to another PE, a
 * soft-full exit, ...) an exhaustive exploration reaches, and after how few events: the coverage table of
 * `dtsim explore --matrix/--proof`, so a proof says not only that every invariant holds in its space but also
 * which of the situations that matter that space contains (a proof of a space that never fills the ring says
 * nothing about a full ring).
 *
 * A situation is reached when its metric (`Model.metrics`, summed over a run by `check`) is > 0 in a state the
 * search generated. Metrics are counters of the state, incremented by the events that make the situation happen
 * and never reset, so a positive counter means the situation happened on that state's path, which is a real
 * run of the model. The probe looks at every generated successor, before deduplication (`ExploreOptions.observe`):
 * a state's canonical key leaves its pure counters out, so the state that records a situation may be merged into
 * an earlier one that does not. BFS generates states level by level, so the depth at which a situation is first
 * seen is the least number of events after which it can happen (within the explored space). Once every situation
 * it looks for is seen, the probe asks for no more calls: it costs a `metrics` call per generated state only until
 * then (or throughout, when one is never reached).
 *
 * Pure: no clock, no I/O; the caller prints.
 */
import type { Situation } from '../check/campaign.ts';

/** Situation id -> the least depth (events) at which an explored state shows it, or null: never reached. */
export type ExploreCoverage = { [id: string]: number | null };

export class CoverageProbe<S> {
  private readonly left: Situation[];
  private readonly found: ExploreCoverage = {};

  /** `situations`: those that apply to the design explored (`situationApplies`); `metrics`: the model's. */
  constructor(private readonly metrics: (state: S) => { readonly [k: string]: number }, situations: readonly Situation[]) {
    this.left = [...situations];
    for (const s of situations) this.found[s.id] = null;
  }

  /** `ExploreOptions.observe`: records what this state shows; false once every situation has been seen. */
  readonly observe = (state: S, depth: number): boolean => {
    if (this.left.length === 0) return false;
    const m = this.metrics(state);
    for (let i = this.left.length - 1; i >= 0; i--) {
      const sit = this.left[i] as Situation;
      if ((m[sit.stat] ?? 0) > 0) {
        this.found[sit.id] = depth;
        this.left.splice(i, 1);
      }
    }
    return this.left.length > 0;
  };

  /** Every situation looked for, with the depth it was first seen at or null. */
  result(): ExploreCoverage {
    return { ...this.found };
  }
}
