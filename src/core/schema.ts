/**
 * State schemas: a model's state declared once, as field kinds, and every mechanical operation on it derived from
 * that declaration: the TypeScript type (`Infer`), the exact copy (`clone`, and `copyInto` reusing a dead
 * state's arrays: explore's hot path), the explorer's exact saved layout (`save` / `load`), the canonical packed
 * encoding (`pack`, the visited-set key), the shape check (`check`) and a labelled JSON view (`view`, `describe`).
 *
 * Why: written by hand, one state was spelled out about eight times (types, clone, copy-into, pack and its key
 * lists, save, load, shape guards, per-mechanism codecs), and those copies drifted (a field copied by one path
 * and dropped by another; two codecs found unsound after the fact). Declared once, a new field is carried by
 * every operation or by none, and the compiler derives its type.
 *
 * What the declaration says beyond the data's shape:
 * - `metric`: a field only counters and precision figures read. It is copied and saved (every path computes the
 *   same metrics) but left out of the canonical encoding: no precondition, reducer branch or invariant reads it.
 * - `static`: shared by reference between copies and never written (design, config): not copied, saved or packed.
 * - roles of integers (`vcpu`, `pe`, `vmid`): packed through the `PackCtx` (renamed under a symmetry
 *   permutation, VMIDs relative to the current one). A `group` array (vCPUs, PEs) is packed in permuted order.
 * - `dead(record, ctx)`: the field's value is unobservable in this state (packed as one fixed word).
 * - `pack` (field) and `packWith` (record): a hand-written canonicalisation where the generic encoding would
 *   keep differences no reader can observe (ring rotation, sets kept as lists). Each such hook must be a
 *   bisimulation (two states with equal encodings behave the same) and has a test saying so where it is defined.
 *
 * The derived operations are compiled once per schema (`new Function` over the field names, which are the
 * schema's own identifiers: property access by name, straight-line code, one hidden class per record), so they
 * cost what the hand-written ones cost. Everything here is mechanism-agnostic: the models declare their schemas.
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from './model.ts';
import { Compiler } from './schema-compile.ts';

export { copyNums, copyPagedInto } from './schema-compile.ts';

/** What integers mean; `vcpu`, `pe` and `vmid` are packed through the `PackCtx`. */
export type IntRole = 'int' | 'gfn' | 'vcpu' | 'pe' | 'vmid' | 'count' | 'flags' | 'index' | 'errno' | 'descriptor' | 'tlb';

/** How the canonical encoding sees a packed state: the whole state, and the renamings in force. */
export interface PackCtx {
  /** The root state being packed (hooks read other parts of it). */
  readonly root: unknown;
  /** The new name of vCPU `i` (>= 0) under the symmetry permutation in force (identity without one). */
  vcpu(i: number): number;
  /** The new name of PE `i` (>= 0). */
  pe(i: number): number;
  /** A VMID as the encoding keeps it (e.g. relative to the VM's current VMID). */
  vmid(v: number): number;
  /** The old index of the element that goes to position `j` of a `group` array. */
  order(group: string, j: number): number;
}

interface Common {
  /** One line for views and `describe` (the label of the field). */
  readonly doc?: string;
  /** Copied and saved, not packed (read by metrics only). */
  readonly metric?: boolean;
  /** Set at init from the configuration and never written: copied and saved, not packed (equal in every state). */
  readonly fixed?: boolean;
  /**
   * A metric `copyInto` may leave stale (a recycled state's value): explore's hot path reports no metric, and
   * coverage is read from a state's own transitions (counter deltas), not its absolute counts. `clone`, `save`
   * and `load` still copy it exactly.
   */
  readonly stale?: boolean;
  /**
   * An unsigned 32-bit integer (or list of them): 0..2^32-1 (the dirty ring's free-running indices and the
   * kvm_dirty_gfn fields). A word image (schema-image.ts) keeps its int32 bit pattern and reads it back unsigned;
   * without the mark a value of 2^31 or more does not fit a word and the image throws naming the field.
   */
  readonly u32?: boolean;
  /** Is the value unobservable in this state? Then it is packed as -2. */
  readonly dead?: (record: never, ctx: PackCtx) => boolean;
  /** A hand-written canonical encoding of this field (replaces the generic one; must be a bisimulation). */
  readonly pack?: (value: never, record: never, ctx: PackCtx, out: PackSink) => void;
}

export interface IntS extends Common { readonly kind: 'int'; readonly role: IntRole }
export interface BoolS extends Common { readonly kind: 'bool' }
export interface EnumS<V extends string = string> extends Common { readonly kind: 'enum'; readonly values: readonly V[] }
/**
 * A capacity read from the whole state at init (its configuration, its design's options, a mechanism's sizes):
 * the words a flat layout gives a list (schema-layout.ts). Every list of every reachable state fits it.
 * `Infinity`: this configuration does not bound the list (the layout reports it unbounded, and the state has no
 * word image: schema-image.ts).
 */
export type Cap = (root: never) => number;
/** A list of integers (bounded by the configuration; `bound` says by what, for the docs, `max` computes it). */
export interface NumsS extends Common { readonly kind: 'nums'; readonly role: IntRole; readonly bound: string; readonly max?: Cap }
export interface StrsS extends Common { readonly kind: 'strs' }
/** A per-page array (`Paged`, models/machine/paged.ts layout): `p[i >>> 18][(i >>> 9) & 511][i & 511]`. */
export interface PagedS extends Common {
  readonly kind: 'paged';
  readonly bits: boolean;
  /** Entries (for `bits`: 32-bit words) a flat layout gives it; without it, the sizing state's own. */
  readonly max?: Cap;
}
export interface RecordS<F extends Fields = Fields> extends Common {
  readonly kind: 'record';
  readonly fields: F;
  /** Replaces the record's generic canonical encoding (must be a bisimulation). */
  readonly packWith?: (record: never, ctx: PackCtx, out: PackSink) => void;
}
export interface NullableS<T extends Schema = Schema> extends Common { readonly kind: 'nullable'; readonly of: T }
export interface ArrayS<T extends Schema = Schema> extends Common {
  readonly kind: 'array';
  readonly of: T;
  /** Symmetry group whose permutation reorders this array when packing. */
  readonly group?: string;
  readonly bound: string;
  /** The capacity of the array (elements), for a flat layout. */
  readonly max?: Cap;
}
export interface StaticS<T = unknown> extends Common { readonly kind: 'static'; readonly _t?: T }
/** Named counters (`{ [name]: number }`), always metrics. */
export interface CountersS<K extends string = string> extends Common {
  readonly kind: 'counters';
  readonly keys: readonly K[];
  /** Counters behaviour reads (e.g. an event number an audit compares with): copied by `copyInto` even when stale. */
  readonly live: readonly K[];
}
/** Keyed parts whose schemas are resolved per key at run time (mechanism state): keys are packed sorted. */
export interface PartsS extends Common { readonly kind: 'parts'; readonly resolve: (key: string) => Compiled<unknown> | undefined }
/** A value with its own operations (e.g. the stage-2 tables, trimmed to the guest's pages). */
export interface CustomS<T = unknown> extends Common {
  readonly kind: 'custom';
  readonly name: string;
  readonly ops: CustomOps<T>;
}
export interface CustomOps<T> {
  /** `root`: the state being copied (the value `clone`/`copyInto` was first called with). */
  clone(v: T, root: unknown): T;
  copyInto(dst: T | undefined, v: T, root: unknown): T;
  save(v: T, out: SaveSink): void;
  load(src: LoadSource): T;
  pack(v: T, ctx: PackCtx, out: PackSink): void;
  check(v: unknown): string | null;
  view(v: T): JsonValue;
  /** Optional: the words a flat layout gives the value (an upper bound for every state of one exploration). */
  words?(root: unknown): number;
  /**
   * Optional, with `words` and `readWords` (schema-image.ts, the explorer's word images): writes `v` into its
   * `words(root)` words of `w` from `at` (they are zero when called), exactly; `root` is the sizing state (the
   * initial state of the exploration), not the state `v` is part of.
   */
  writeWords?(v: T, w: Int32Array, at: number, root: unknown): void;
  /** Optional: a fresh private copy of the value `writeWords` wrote at `at`. */
  readWords?(w: Int32Array, at: number, root: unknown): T;
}

export type Schema = IntS | BoolS | EnumS | NumsS | StrsS | PagedS | RecordS | NullableS | ArrayS | StaticS | CountersS
  | PartsS | CustomS<unknown>;
export type Fields = { readonly [k: string]: Schema };

/** The TypeScript type a schema describes. */
export type Infer<S> =
  S extends IntS ? number
    : S extends BoolS ? boolean
      : S extends EnumS<infer V> ? V
        : S extends NumsS ? number[]
          : S extends StrsS ? string[]
            : S extends PagedS ? number[][][]
              : S extends RecordS<infer F> ? InferRecord<F>
                : S extends NullableS<infer T> ? Infer<T> | null
                  : S extends ArrayS<infer T> ? Infer<T>[]
                    : S extends StaticS<infer T> ? T
                      : S extends CountersS<infer K> ? { [k in K]: number } & { [k: string]: number }
                        : S extends PartsS ? { [k: string]: JsonValue }
                          : S extends CustomS<infer T> ? T
                            : never;
type StaticKeys<F extends Fields> = { [K in keyof F]: F[K] extends StaticS ? K : never }[keyof F];
export type InferRecord<F extends Fields> =
  { -readonly [K in Exclude<keyof F, StaticKeys<F>>]: Infer<F[K]> } & { readonly [K in StaticKeys<F>]: Infer<F[K]> };

// Builders. `opts` carries the common annotations (Common's, with the hooks typed by the field's value and record).
type Opts<V = never, R = never> = Omit<Common, 'dead' | 'pack'> & {
  readonly dead?: (record: R, ctx: PackCtx) => boolean;
  readonly pack?: (value: V, record: R, ctx: PackCtx, out: PackSink) => void;
};
const opt = (o: object | undefined): object => o ?? {};
export const int = <R = never>(role: IntRole = 'int', o?: Opts<number, R>): IntS => ({ kind: 'int', role, ...opt(o) } as IntS);
export const bool = <R = never>(o?: Opts<boolean, R>): BoolS => ({ kind: 'bool', ...opt(o) } as BoolS);
export const enumOf = <const V extends string>(values: readonly V[], o?: Opts<V>): EnumS<V> => ({ kind: 'enum', values, ...opt(o) } as EnumS<V>);
export const nums = <R = never>(role: IntRole, bound: string, o?: Opts<number[], R> & { readonly max?: Cap }): NumsS => ({ kind: 'nums', role, bound, ...opt(o) } as NumsS);
export const strs = (o?: Opts): StrsS => ({ kind: 'strs', ...opt(o) } as StrsS);
export const paged = (o?: Opts<number[][][]> & { readonly max?: Cap }): PagedS => ({ kind: 'paged', bits: false, ...opt(o) } as PagedS);
export const bits = (o?: Opts<number[][][]> & { readonly max?: Cap }): PagedS => ({ kind: 'paged', bits: true, ...opt(o) } as PagedS);
export function record<const F extends Fields>(
  fields: F, o?: Opts<InferRecord<F>> & { readonly packWith?: (record: InferRecord<F>, ctx: PackCtx, out: PackSink) => void },
): RecordS<F> {
  return { kind: 'record', fields, ...opt(o) } as RecordS<F>;
}
export const nullable = <T extends Schema>(of: T, o?: Opts): NullableS<T> => ({ kind: 'nullable', of, ...opt(o) } as NullableS<T>);
export const array = <T extends Schema>(of: T, bound: string, o?: Opts & { readonly group?: string; readonly max?: Cap }): ArrayS<T> =>
  ({ kind: 'array', of, bound, ...opt(o) } as ArrayS<T>);
export const statik = <T>(o?: { readonly doc?: string }): StaticS<T> => ({ kind: 'static', ...opt(o) } as StaticS<T>);
export const counters = <const K extends string>(keys: readonly K[], o?: { readonly doc?: string; readonly stale?: boolean; readonly live?: readonly K[] }): CountersS<K> =>
  ({ kind: 'counters', keys, metric: true, live: [], ...opt(o) } as CountersS<K>);
export const parts = (resolve: (key: string) => Compiled<unknown> | undefined, o?: { readonly doc?: string }): PartsS =>
  ({ kind: 'parts', resolve, ...opt(o) } as PartsS);
export const custom = <T>(name: string, ops: CustomOps<T>, o?: Opts<T>): CustomS<T> =>
  ({ kind: 'custom', name, ops, ...opt(o) } as unknown as CustomS<T>);

/** Every operation derived from one schema. */
export interface Compiled<T> {
  readonly schema: Schema;
  /** A private exact copy (static fields shared). `root`: the whole state `v` is part of (default `v`). */
  clone(v: T, root?: unknown): T;
  /** `dst` (a value no longer used, or undefined) made an exact copy of `v`, reusing its arrays where shapes match. */
  copyInto(dst: T | undefined, v: T, root?: unknown): T;
  /** Every field but the static ones, exactly. */
  save(v: T, out: SaveSink): void;
  /** What `save` wrote, as a fresh copy; static fields are `like`'s. */
  load(src: LoadSource, like: T): T;
  /** The canonical encoding (metrics and static fields left out; roles, groups, dead fields and hooks applied). */
  pack(v: T, ctx: PackCtx, out: PackSink): void;
  /** Does `v` have this shape? The first difference as `path: message`, or null. */
  check(v: unknown, path?: string): string | null;
  /** A JSON view: enums as names, bitsets as the sorted list of set bits, per-page arrays as `{index: value}` of
   * the entries that differ from entry 0's default (0, or -1 for arrays created with -1). */
  view(v: T): JsonValue;
}

/** One line per field: its path, kind and role, whether it is a metric, and its label. */
export function describe(s: Schema, path = ''): string[] {
  const out: string[] = [];
  const kindOf = (x: Schema): string => {
    switch (x.kind) {
      case 'enum': return `enum(${x.values.join('|')})`;
      case 'paged': return x.bits ? 'bits' : 'paged';
      case 'nullable': return `${kindOf(x.of)} or null`;
      case 'array': return `array of ${x.of.kind === 'record' ? 'records' : kindOf(x.of)}`;
      case 'custom': return x.name;
      default: return 'role' in x ? `${x.kind}:${x.role}` : x.kind;
    }
  };
  const marks = (x: Schema): string => `${x.metric ? ' (metric)' : ''}${x.stale ? ' (stale in copyInto)' : ''}${x.fixed ? ' (fixed)' : ''}`
    + `${x.kind === 'array' && x.group ? ` (group ${x.group})` : ''}`;
  const walk = (x: Schema, p: string, doc: string | undefined): void => {
    const label = doc ?? x.doc;
    out.push(`${p || '(root)'}  ${kindOf(x)}${marks(x)}${label ? `  ${label}` : ''}`);
    // A nullable record's or an array's fields are listed under the same path (`a.b`, `a[].b`).
    let inner: Schema = x;
    let at = p;
    if (inner.kind === 'nullable') inner = inner.of;
    if (inner.kind === 'array') { inner = inner.of; at = `${p}[]`; }
    if (inner.kind === 'record') for (const k of Object.keys(inner.fields)) walk(inner.fields[k] as Schema, at ? `${at}.${k}` : k, undefined);
  };
  walk(s, path, undefined);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// compile(): the operations of a schema, derived once per schema object (schema-compile.ts).

const cache = new WeakMap<Schema, Compiled<unknown>>();

export function compile<S extends Schema>(s: S): Compiled<Infer<S>> {
  const hit = cache.get(s);
  if (hit) return hit as Compiled<Infer<S>>;
  const c = new Compiler().node(s);
  cache.set(s, c);
  return c as Compiled<Infer<S>>;
}

