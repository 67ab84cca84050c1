/**
 * Typed design-option reads, like knobs.ts for knob ids. Every option is declared once, in its model's catalogue
 * (`models/<model>/index.ts`: `DIRTY_BITMAP_OPTIONS`, `DIRTY_RING_OPTIONS`, `HDBSS_OPTIONS`, `PTA_OPTIONS`, each
 * `as const`), and each catalogue exports the union of its names (`DirtyBitmapOption`, `DirtyRingOption`,
 * `HdbssOption`, `PtaOption`). Code reads an option only through an accessor typed with the options its folder
 * may read, so a misspelled name (`'eagerSplitt'`) or an option of another model fails `tsc` instead of compiling
 * to a lookup that always reads `undefined` (a boolean option silently off, a number silently its fallback):
 * - `optionOf` (value) and `opt` (is a boolean option on?) in shared machine code, models/machine/: any model's
 *   option (`MachineOption`), since the machine serves all four and reads options not every model declares
 *   (`initiallySet` is dirty-bitmap's only; on a design of another model the read is `undefined`, i.e. off);
 * - each mechanism folder declares its own narrower accessor, e.g.
 *   `const option: OptionRead<DirtyRingOption> = optionOf` in dirty-ring/kernel.ts;
 * - `designOption` is the same read on a design's options object (option validation, before a state exists).
 *
 * A read's type is the union of the values the catalogues allow for that name (`OptionValue<'consumer'>` is
 * `'bitmap' | 'wp' | 'ring' | ...`), or `undefined` when the design's model does not declare the option: designs
 * are validated against their model's domains (model.ts `parseOptions`, also for traces) and carry every declared
 * option (defaults merged), so a declared option is never absent. Comparing a read with a value no model allows
 * (`optionOf(s, 'consumer') === 'rnig'`) fails tsc too.
 *
 * models/machine/options.test.ts checks that every declared option is read by at least one call site and that no
 * code indexes `design.options` with a literal (which would bypass these types).
 *
 * Type-only imports: no runtime dependency on the catalogues (they import the mechanisms that import this).
 */
import type { JsonValue } from '../../src/core/model.ts';
import type { DIRTY_BITMAP_OPTIONS, DirtyBitmapOption } from '../dirty-bitmap/index.ts';
import type { DIRTY_RING_OPTIONS, DirtyRingOption } from '../dirty-ring/index.ts';
import type { HDBSS_OPTIONS, HdbssOption } from '../hdbss/index.ts';
import type { PTA_OPTIONS, PtaOption } from '../pta/index.ts';

export type { DirtyBitmapOption, DirtyRingOption, HdbssOption, PtaOption };

/** Every option name of every model (the shared machine's options). */
export type MachineOption = DirtyBitmapOption | DirtyRingOption | HdbssOption | PtaOption;

/** The four catalogues' types, for the values of a name (distributed over the union). */
type Catalogue = typeof DIRTY_BITMAP_OPTIONS | typeof DIRTY_RING_OPTIONS | typeof HDBSS_OPTIONS | typeof PTA_OPTIONS;
type ValuesIn<C, K> = C extends unknown ? (K extends keyof C ? (C[K] extends readonly (infer V)[] ? V : never) : never) : never;

/** The values any model allows for option `K` (a design of a model that declares `K` holds one of them). */
export type OptionValue<K extends MachineOption> = ValuesIn<Catalogue, K>;

/** The options whose every allowed value is a boolean (what `opt` may test). */
export type BooleanOption = { [K in MachineOption]: OptionValue<K> extends boolean ? K : never }[MachineOption];

/** What an option read needs: a state (or anything) carrying its design's validated options. */
export interface OptionHolder {
  readonly design: { readonly options: { readonly [k: string]: JsonValue } };
}

/** A design's options object (validated; `checkOptions` hooks receive it before a state exists). */
export type DesignOptions = { readonly [k: string]: unknown };

/** An accessor restricted to the options `K` a folder may read (assign `optionOf` to it). */
export type OptionRead<K extends MachineOption> = <O extends K>(s: OptionHolder, k: O) => OptionValue<O> | undefined;

/** A design-level accessor restricted to the options `K` a folder may read (assign `designOption` to it). */
export type DesignOptionRead<K extends MachineOption> = <O extends K>(o: DesignOptions, k: O) => OptionValue<O> | undefined;

/** The value of option `k` in the state's design (`undefined` if its model does not declare `k`). */
export function optionOf<K extends MachineOption>(s: OptionHolder, k: K): OptionValue<K> | undefined {
  return s.design.options[k] as OptionValue<K> | undefined;
}

/** Is boolean option `k` on in the state's design? (Off when its model does not declare `k`.) */
export function opt(s: OptionHolder, k: BooleanOption): boolean {
  return s.design.options[k] === true;
}

/** The value of option `k` in a design's options object (validation, before a state exists). */
export function designOption<K extends MachineOption>(o: DesignOptions, k: K): OptionValue<K> | undefined {
  return o[k] as OptionValue<K> | undefined;
}
