/**
 * Typed bug-knob lookups. Every knob id is declared once, in its model's catalogue (`models/<model>/index.ts`,
 * `as const`), and each catalogue exports the union of its ids (`DirtyBitmapKnob`, `DirtyRingKnob`, `HdbssKnob`,
 * `PtaKnob`). Code asks whether a knob is on only through an accessor typed with the knobs its folder may
 * test, so a misspelled id (`'missing-tlb'`) or a knob of another model fails `tsc` instead of compiling to a
 * lookup that is never true and silently disables the knob:
 * - `hasBug` (shared machine code, models/machine/): any model's knob, since the machine serves all four
 *   (`block-fastfix-first-page` is a dirty-bitmap and a dirty-ring knob);
 * - each mechanism folder declares its own narrower accessor, e.g. `const bug: KnobTest<DirtyRingKnob> = hasBug`
 *   in dirty-ring/mechanism.ts, `KnobTest<HdbssKnob | PtaKnob>` in hw-dirty/ (shared by pta and hdbss).
 * `designHasBug` is the same check on a design's `bugs` list (option validation, before a state exists).
 *
 * The state's lookup `MachineState.bug` is keyed by these ids too, so indexing it directly is checked as well.
 * models/machine/knobs.test.ts checks that every declared id is tested by at least one call site or is listed
 * there as data-only (a knob that works through the options or configuration it forces).
 *
 * Type-only imports: no runtime dependency on the catalogues (they import the mechanisms that import this).
 */
import type { DirtyBitmapKnob } from '../dirty-bitmap/index.ts';
import type { DirtyRingKnob } from '../dirty-ring/index.ts';
import type { HdbssKnob } from '../hdbss/index.ts';
import type { PtaKnob } from '../pta/index.ts';

export type { DirtyBitmapKnob, DirtyRingKnob, HdbssKnob, PtaKnob };

/** Every knob id of every model. */
export type Knob = DirtyBitmapKnob | DirtyRingKnob | HdbssKnob | PtaKnob;

/** A state's knob lookup: `true` for each knob of its design (built from `design.bugs` by initMachine). */
export type KnobSet = { readonly [K in Knob]?: true };

/** An accessor restricted to the knobs `K` a folder may test (assign `hasBug` to it). */
export type KnobTest<K extends Knob> = (s: { readonly bug: KnobSet }, id: K) => boolean;

/** Is knob `id` on in the state's design? */
export function hasBug(s: { readonly bug: KnobSet }, id: Knob): boolean {
  return s.bug[id] === true;
}

/** Is knob `id` in a design's bug list (validated input, before a state exists)? */
export function designHasBug(bugs: readonly string[], id: Knob): boolean {
  return bugs.includes(id);
}
