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
  /** Is the value unobservable in this state? Then it is packed as -2. */
  readonly dead?: (record: never, ctx: PackCtx) => boolean;
  /** A hand-written canonical encoding of this field (replaces the generic one; must be a bisimulation). */
  readonly pack?: (value: never, record: never, ctx: PackCtx, out: PackSink) => void;
}

export interface IntS extends Common { readonly kind: 'int'; readonly role: IntRole }
export interface BoolS extends Common { readonly kind: 'bool' }
export interface EnumS<V extends string = string> extends Common { readonly kind: 'enum'; readonly values: readonly V[] }
/** A list of integers (bounded by the configuration; `bound` says by what, for the docs). */
export interface NumsS extends Common { readonly kind: 'nums'; readonly role: IntRole; readonly bound: string }
export interface StrsS extends Common { readonly kind: 'strs' }
/** A per-page array (`Paged`, models/machine/paged.ts layout): `p[i >>> 18][(i >>> 9) & 511][i & 511]`. */
export interface PagedS extends Common { readonly kind: 'paged'; readonly bits: boolean }
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

// Builders. `opts` carries the common annotations (doc, metric, dead, pack).
type Opts<V = never, R = never> = {
  readonly doc?: string;
  readonly metric?: boolean;
  readonly fixed?: boolean;
  readonly stale?: boolean;
  readonly dead?: (record: R, ctx: PackCtx) => boolean;
  readonly pack?: (value: V, record: R, ctx: PackCtx, out: PackSink) => void;
};
const opt = (o: object | undefined): object => o ?? {};
export const int = <R = never>(role: IntRole = 'int', o?: Opts<number, R>): IntS => ({ kind: 'int', role, ...opt(o) } as IntS);
export const bool = <R = never>(o?: Opts<boolean, R>): BoolS => ({ kind: 'bool', ...opt(o) } as BoolS);
export const enumOf = <const V extends string>(values: readonly V[], o?: Opts<V>): EnumS<V> => ({ kind: 'enum', values, ...opt(o) } as EnumS<V>);
export const nums = <R = never>(role: IntRole, bound: string, o?: Opts<number[], R>): NumsS => ({ kind: 'nums', role, bound, ...opt(o) } as NumsS);
export const strs = (o?: Opts): StrsS => ({ kind: 'strs', ...opt(o) } as StrsS);
export const paged = (o?: Opts<number[][][]>): PagedS => ({ kind: 'paged', bits: false, ...opt(o) } as PagedS);
export const bits = (o?: Opts<number[][][]>): PagedS => ({ kind: 'paged', bits: true, ...opt(o) } as PagedS);
export function record<const F extends Fields>(
  fields: F, o?: Opts<InferRecord<F>> & { readonly packWith?: (record: InferRecord<F>, ctx: PackCtx, out: PackSink) => void },
): RecordS<F> {
  return { kind: 'record', fields, ...opt(o) } as RecordS<F>;
}
export const nullable = <T extends Schema>(of: T, o?: Opts): NullableS<T> => ({ kind: 'nullable', of, ...opt(o) } as NullableS<T>);
export const array = <T extends Schema>(of: T, bound: string, o?: Opts & { readonly group?: string }): ArrayS<T> =>
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
  const tag = (x: Schema): string => {
    const role = 'role' in x ? `:${x.role}` : '';
    return `${x.kind}${role}${x.metric ? ' (metric)' : ''}${x.stale ? ' (stale in copyInto)' : ''}${x.fixed ? ' (fixed)' : ''}${'group' in x && x.group ? ` (group ${x.group})` : ''}`;
  };
  const walk = (x: Schema, p: string): void => {
    out.push(`${p || '(root)'}  ${tag(x)}${x.doc ? `  ${x.doc}` : ''}`);
    if (x.kind === 'record') for (const k of Object.keys(x.fields)) walk(x.fields[k] as Schema, p ? `${p}.${k}` : k);
    else if (x.kind === 'nullable') walk(x.of, `${p}?`);
    else if (x.kind === 'array') walk(x.of, `${p}[]`);
  };
  walk(s, path);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers the compiled code calls (one shape each: monomorphic).

function copyLeaves(p: number[][][]): number[][][] {
  const out = new Array<number[][]>(p.length);
  for (let i = 0; i < p.length; i++) {
    const m = p[i] as number[][];
    const c = new Array<number[]>(m.length);
    for (let j = 0; j < m.length; j++) c[j] = (m[j] as number[]).slice();
    out[i] = c;
  }
  return out;
}

/** `dst` made equal to `a` when it is an array of the same length, else a fresh copy. */
export function copyNums(dst: unknown, a: readonly number[]): number[] {
  if (!Array.isArray(dst) || dst.length !== a.length) return a.slice();
  const d = dst as number[];
  for (let i = 0; i < a.length; i++) d[i] = a[i] as number;
  return d;
}

export function copyPagedInto(d: number[][][] | undefined | null, p: number[][][]): number[][][] {
  if (!d || d.length !== p.length) return copyLeaves(p);
  for (let i = 0; i < p.length; i++) {
    const dm = d[i] as number[][];
    const pm = p[i] as number[][];
    if (dm.length !== pm.length) { d[i] = pm.map((leaf) => leaf.slice()); continue; }
    for (let k = 0; k < pm.length; k++) dm[k] = copyNums(dm[k], pm[k] as number[]);
  }
  return d;
}

function copyLists(d: number[][] | undefined, a: readonly (readonly number[])[]): number[][] {
  if (!Array.isArray(d) || d.length !== a.length) return a.map((x) => x.slice());
  for (let i = 0; i < a.length; i++) d[i] = copyNums(d[i], a[i] as number[]);
  return d;
}

function savePaged(p: number[][][], out: SaveSink): void {
  out.int(p.length);
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    out.int(mid.length);
    // Leaves generically: the store keeps long runs of zeros short.
    for (let j = 0; j < mid.length; j++) out.value(mid[j], 1);
  }
}

function loadPaged(src: LoadSource): number[][][] {
  const n = src.int();
  const p: number[][][] = [];
  for (let i = 0; i < n; i++) {
    const m = src.int();
    const mid: number[][] = [];
    for (let j = 0; j < m; j++) mid.push(src.value() as number[]);
    p.push(mid);
  }
  return p;
}

function saveNums(a: readonly number[], out: SaveSink): void {
  out.int(a.length);
  for (let i = 0; i < a.length; i++) out.int(a[i] as number);
}

function loadNums(src: LoadSource): number[] {
  const n = src.int();
  if (n < 0) throw new Error('[dtsim] corrupt state store: a number list expected');
  const a = new Array<number>(n);
  for (let i = 0; i < n; i++) a[i] = src.int();
  return a;
}

function packPaged(p: number[][][], out: PackSink): void {
  for (let i = 0; i < p.length; i++) {
    const m = p[i] as number[][];
    for (let j = 0; j < m.length; j++) {
      const c = m[j] as number[];
      for (let k = 0; k < c.length; k++) out.num(c[k] as number);
    }
  }
}

function isPaged(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const m of v) {
    if (!Array.isArray(m)) return false;
    for (const c of m) if (!Array.isArray(c) || !c.every((x) => typeof x === 'number')) return false;
  }
  return true;
}

function viewPaged(p: number[][][], asBits: boolean): JsonValue {
  if (asBits) {
    const set: number[] = [];
    let idx = 0;
    for (const m of p) for (const c of m) for (const w of c) {
      for (let b = 0; b < 32; b++) if ((w >>> b) & 1) set.push(idx * 32 + b);
      idx++;
    }
    return set;
  }
  const out: { [k: string]: JsonValue } = {};
  let idx = 0;
  let dflt: number | undefined;
  for (const m of p) for (const c of m) for (const w of c) {
    if (dflt === undefined) dflt = w;
    if (w !== dflt) out[String(idx)] = w;
    idx++;
  }
  return { default: dflt ?? 0, except: out };
}

/** `d` (or a fresh object) made equal to the counters `v`, without allocating when the key sets match. */
function copyCounters(d: { [k: string]: number } | undefined, v: { [k: string]: number }): { [k: string]: number } {
  if (d === undefined || d === null) return { ...v };
  let n = 0;
  for (const k in v) { d[k] = v[k] as number; n++; }
  let m = 0;
  for (const _ in d) m++;
  if (m !== n) for (const k in d) if (!(k in v)) delete d[k];
  return d;
}

function sortedKeys(o: object): string[] {
  return Object.keys(o).sort();
}

const H = {
  copyLeaves, copyNums, copyPagedInto, copyLists, savePaged, loadPaged, saveNums, loadNums, packPaged, isPaged,
  viewPaged, sortedKeys, copyCounters,
};
export type SchemaHelpers = typeof H;

// ---------------------------------------------------------------------------------------------------------------
// The compiler. Each schema node gets one function per operation; records inline their scalar fields and call
// their nested nodes' functions, so every call site sees one shape.

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const cache = new WeakMap<Schema, Compiled<unknown>>();

export function compile<S extends Schema>(s: S): Compiled<Infer<S>> {
  const hit = cache.get(s);
  if (hit) return hit as Compiled<Infer<S>>;
  const c = new Compiler().node(s);
  cache.set(s, c);
  return c as Compiled<Infer<S>>;
}

class Compiler {
  node(s: Schema): Compiled<unknown> {
    switch (s.kind) {
      case 'record': return this.record(s);
      default: return this.leafNode(s);
    }
  }

  /** A non-record node: its operations as small closures over the field expressions below. */
  private leafNode(s: Schema): Compiled<unknown> {
    const env: unknown[] = [];
    const self = this.fieldOps(s, env);
    const mk = (args: string, body: string): never => new Function('E', 'H', `return function(${args}) { ${body} };`)(env, H) as never;
    return {
      schema: s,
      clone: mk('v, r', `if (r === undefined) r = v; return ${self.clone('v')};`),
      copyInto: mk('d, v, r', `if (r === undefined) r = v; return ${self.copyInto('d', 'v')};`),
      save: mk('v, out', self.save('v')),
      load: mk('src, like', `return ${self.load('like')};`),
      pack: mk('v, ctx, out', self.pack('v', 'undefined')),
      check: (v: unknown, path = '') => checkValue(s, v, path),
      view: (v: unknown) => viewValue(s, v),
    };
  }

  private record(s: RecordS): Compiled<unknown> {
    const env: unknown[] = [];
    const keys = Object.keys(s.fields);
    for (const k of keys) if (!IDENT.test(k)) throw new Error(`[dtsim] schema field name ${JSON.stringify(k)} is not an identifier`);
    const ops = keys.map((k) => ({ k, f: s.fields[k] as Schema, o: this.fieldOps(s.fields[k] as Schema, env, k) }));
    const mk = (args: string, body: string): never => new Function('E', 'H', `return function(${args}) { ${body} };`)(env, H) as never;
    const clone = `return {${ops.map(({ k, o }) => `${k}: ${o.clone(`v.${k}`)}`).join(', ')}};`;
    const copyInto = `if (d === undefined || d === null) return {${ops.map(({ k, o }) => `${k}: ${o.clone(`v.${k}`)}`).join(', ')}};\n`
      + ops.filter(({ f }) => f.kind !== 'static').map(({ k, f, o }) => {
        if (!f.stale) return `d.${k} = ${o.copyInto(`d.${k}`, `v.${k}`)};`;
        // Stale metric: left as the recycled state's, but for a counter set's live keys.
        if (f.kind !== 'counters') return '';
        return f.live.map((c) => `d.${k}[${JSON.stringify(c)}] = v.${k}[${JSON.stringify(c)}];`).join(' ');
      }).join('\n')
      + '\nreturn d;';
    const save = ops.filter(({ f }) => f.kind !== 'static').map(({ k, o }) => o.save(`v.${k}`)).join('\n');
    // Loads read fields in declaration order (saves wrote them so), then build the object in that same order.
    const load = ops.map(({ k, f, o }) => `const f_${k} = ${f.kind === 'static' ? `(like === undefined || like === null ? undefined : like.${k})` : o.load(`(like === undefined || like === null ? undefined : like.${k})`)};`).join('\n')
      + `\nreturn {${keys.map((k) => `${k}: f_${k}`).join(', ')}};`;
    let pack: string;
    if (s.packWith) pack = `${this.refIn(env, s.packWith)}(v, ctx, out);`;
    else pack = ops.map(({ k, o }) => o.pack(`v.${k}`, 'v')).join('\n');
    return {
      schema: s,
      clone: mk('v, r', `if (r === undefined) r = v; ${clone}`),
      copyInto: mk('d, v, r', `if (r === undefined) r = v; ${copyInto}`),
      save: mk('v, out', save),
      load: mk('src, like', load),
      pack: mk('v, ctx, out', pack),
      check: (v: unknown, path = '') => checkValue(s, v, path),
      view: (v: unknown) => viewValue(s, v),
    };
  }

  private refIn(env: unknown[], v: unknown): string {
    env.push(v);
    return `E[${env.length - 1}]`;
  }

  /** Expressions / statements for one field of kind `f`, its value at `v` (an expression). */
  private fieldOps(f: Schema, env: unknown[], name = 'value'): {
    clone(v: string): string;
    copyInto(d: string, v: string): string;
    save(v: string): string;
    load(like: string): string;
    pack(v: string, rec: string): string;
  } {
    const R = (x: unknown): string => this.refIn(env, x);
    // Canonical encoding of the field, wrapped by the common annotations.
    const wrapPack = (gen: (v: string, rec: string) => string) => (v: string, rec: string): string => {
      if (f.metric || f.fixed || f.kind === 'static' || f.kind === 'counters') return '';
      if (f.pack) return `${R(f.pack)}(${v}, ${rec}, ctx, out);`;
      const body = gen(v, rec);
      if (f.dead) return `if (${R(f.dead)}(${rec}, ctx)) out.num(-2); else { ${body} }`;
      return body;
    };
    const intPack = (role: IntRole, x: string): string => {
      switch (role) {
        case 'vcpu': return `out.num(${x} < 0 ? -1 : ctx.vcpu(${x}));`;
        case 'pe': return `out.num(${x} < 0 ? -1 : ctx.pe(${x}));`;
        case 'vmid': return `out.num(ctx.vmid(${x}));`;
        default: return `out.num(${x});`;
      }
    };
    switch (f.kind) {
      case 'int':
        return { clone: (v) => v, copyInto: (_d, v) => v, save: (v) => `out.int(${v});`, load: () => 'src.int()',
          pack: wrapPack((v) => intPack(f.role, v)) };
      case 'bool':
        return { clone: (v) => v, copyInto: (_d, v) => v, save: (v) => `out.int(${v} ? 1 : 0);`, load: () => '(src.int() === 1)',
          pack: wrapPack((v) => `out.num(${v} ? 1 : 0);`) };
      case 'enum': {
        const names = R(f.values);
        const what = JSON.stringify(` of ${name} (one of ${f.values.join(', ')})`);
        const bad = R((v: unknown): never => { throw new Error(`[dtsim] unknown value ${JSON.stringify(v)}${JSON.parse(what) as string}`); });
        // A chain of comparisons (interned strings: pointer compares), cheaper than a keyed lookup.
        const code = (v: string): string => `(${f.values.map((x, i) => `${v} === ${JSON.stringify(x)} ? ${i} : `).join('')}${bad}(${v}))`;
        return { clone: (v) => v, copyInto: (_d, v) => v, save: (v) => `out.int(${code(v)});`, load: () => `${names}[src.int()]`,
          pack: wrapPack((v) => `out.num(${code(v)});`) };
      }
      case 'nums':
        return {
          clone: (v) => `${v}.slice()`, copyInto: (d, v) => `H.copyNums(${d}, ${v})`, save: (v) => `H.saveNums(${v}, out);`,
          load: () => 'H.loadNums(src)',
          pack: wrapPack((v) => (f.role === 'vcpu' || f.role === 'pe' || f.role === 'vmid'
            ? `out.num(${v}.length); for (let i = 0; i < ${v}.length; i++) { const x = ${v}[i]; ${intPack(f.role, 'x')} }`
            : `out.nums(${v});`)),
        };
      case 'strs':
        return { clone: (v) => `${v}.slice()`, copyInto: (_d, v) => `${v}.slice()`, save: (v) => `out.value(${v}, 4);`,
          load: () => '(src.value())', pack: wrapPack((v) => `out.json(${v});`) };
      case 'paged':
        return { clone: (v) => `H.copyLeaves(${v})`, copyInto: (d, v) => `H.copyPagedInto(${d}, ${v})`, save: (v) => `H.savePaged(${v}, out);`,
          load: () => 'H.loadPaged(src)', pack: wrapPack((v) => `H.packPaged(${v}, out);`) };
      case 'static':
        return { clone: (v) => v, copyInto: (_d, v) => v, save: () => '', load: (like) => like, pack: () => '' };
      case 'counters':
        // Counters are metrics: copied and saved, never packed. Object spread: the key set may grow.
        return { clone: (v) => `({ ...${v} })`, copyInto: (d, v) => `H.copyCounters(${d}, ${v})`, save: (v) => `out.value(${v}, 3);`,
          load: () => '(src.value())', pack: () => '' };
      case 'custom': {
        const O = R(f.ops);
        return { clone: (v) => `${O}.clone(${v}, r)`, copyInto: (d, v) => `${O}.copyInto(${d}, ${v}, r)`, save: (v) => `${O}.save(${v}, out);`,
          load: () => `${O}.load(src)`, pack: wrapPack((v) => `${O}.pack(${v}, ctx, out);`) };
      }
      case 'record': {
        const c = R(this.node(f));
        return { clone: (v) => `${c}.clone(${v}, r)`, copyInto: (d, v) => `${c}.copyInto(${d}, ${v}, r)`, save: (v) => `${c}.save(${v}, out);`,
          load: (like) => `${c}.load(src, ${like})`, pack: wrapPack((v) => `${c}.pack(${v}, ctx, out);`) };
      }
      case 'nullable': {
        const c = R(this.node(f.of));
        return {
          clone: (v) => `(${v} === null ? null : ${c}.clone(${v}, r))`,
          copyInto: (d, v) => `(${v} === null ? null : ${c}.copyInto(${d} === null ? undefined : ${d}, ${v}, r))`,
          save: (v) => `if (${v} === null) out.int(0); else { out.int(1); ${c}.save(${v}, out); }`,
          load: (like) => `(src.int() === 0 ? null : ${c}.load(src, ${like} === null ? undefined : ${like}))`,
          pack: wrapPack((v) => `if (${v} === null) out.num(0); else { out.num(1); ${c}.pack(${v}, ctx, out); }`),
        };
      }
      case 'array': {
        const elem = this.node(f.of);
        const c = R(elem);
        // Compiled per array node (`new Function`), so that each array's calls of its element's operations are a
        // call site of their own (one element shape each), not one shared, megamorphic helper.
        const arrOps = new Function('c', `return {
          clone(a, r) { const o = new Array(a.length); for (let i = 0; i < a.length; i++) o[i] = c.clone(a[i], r); return o; },
          copyInto(d, a, r) {
            if (!Array.isArray(d) || d.length !== a.length) return this.clone(a, r);
            for (let i = 0; i < a.length; i++) d[i] = c.copyInto(d[i], a[i], r);
            return d;
          },
          save(a, out) { out.int(a.length); for (let i = 0; i < a.length; i++) c.save(a[i], out); },
          load(src, like) {
            const n = src.int();
            const o = new Array(n);
            for (let i = 0; i < n; i++) o[i] = c.load(src, like === undefined || like === null ? undefined : like[i]);
            return o;
          },
        };`)(elem) as object;
        const arr = R(arrOps);
        const g = f.group;
        return {
          clone: (v) => `${arr}.clone(${v}, r)`,
          copyInto: (d, v) => `${arr}.copyInto(${d}, ${v}, r)`,
          save: (v) => `${arr}.save(${v}, out);`,
          load: (like) => `${arr}.load(src, ${like})`,
          pack: wrapPack((v) => (g
            ? `for (let j = 0; j < ${v}.length; j++) ${c}.pack(${v}[ctx.order(${JSON.stringify(g)}, j)], ctx, out);`
            : `out.num(${v}.length); for (let i = 0; i < ${v}.length; i++) ${c}.pack(${v}[i], ctx, out);`)),
        };
      }
      case 'parts': {
        type Obj = { [k: string]: unknown };
        let lastKeys: string[] = [];
        let lastParts: Compiled<unknown>[] = [];
        const partOps: {
          resolve(key: string): Compiled<unknown>;
          clone(o: Obj, r: unknown): Obj;
          copyInto(d: Obj | undefined, o: Obj, r: unknown): Obj;
          save(o: Obj, out: SaveSink): void;
          load(src: LoadSource, like: Obj | undefined): Obj;
          pack(o: Obj, ctx: PackCtx, out: PackSink): void;
        } = {
          resolve(key: string): Compiled<unknown> {
            const c2 = f.resolve(key);
            if (!c2) throw new Error(`[dtsim] state part '${key}' has no schema (declare one where the part is defined)`);
            return c2;
          },
          clone(o: { [k: string]: unknown }, r: unknown): { [k: string]: unknown } {
            const out: { [k: string]: unknown } = {};
            for (const k in o) out[k] = this.resolve(k).clone(o[k], r);
            return out;
          },
          copyInto(d: { [k: string]: unknown } | undefined, o: { [k: string]: unknown }, r: unknown): { [k: string]: unknown } {
            if (d === undefined || d === null) return this.clone(o, r);
            for (const k in d) if (!(k in o)) delete d[k];
            for (const k in o) d[k] = this.resolve(k).copyInto(d[k], o[k], r);
            return d;
          },
          save(o: { [k: string]: unknown }, out: SaveSink): void {
            let n = 0;
            for (const _ in o) n++;
            out.int(n);
            for (const k in o) { out.value(k, 2); this.resolve(k).save(o[k], out); }
          },
          load(src: LoadSource, like: { [k: string]: unknown } | undefined): { [k: string]: unknown } {
            const n = src.int();
            const out: { [k: string]: unknown } = {};
            for (let i = 0; i < n; i++) {
              const k = src.value() as string;
              out[k] = this.resolve(k).load(src, like === undefined || like === null ? undefined : like[k]);
            }
            return out;
          },
          pack(o: { [k: string]: unknown }, ctx: PackCtx, out: PackSink): void {
            // The key set is fixed for a design (parts are added at init): reuse the last sorted key list when
            // `o` has exactly its keys, so the hot path sorts and allocates nothing.
            let n = 0;
            for (const _ in o) n++;
            let keys = lastKeys;
            let same = keys.length === n;
            for (let i = 0; same && i < keys.length; i++) same = (keys[i] as string) in o;
            if (!same) { keys = sortedKeys(o); lastKeys = keys; lastParts = keys.map((k) => this.resolve(k)); }
            out.num(n);
            for (let i = 0; i < keys.length; i++) {
              const k = keys[i] as string;
              let c2 = lastParts[i] as Compiled<unknown>;
              // A part registered again (tests swap parts) is looked up afresh.
              if (f.resolve(k) !== c2) { c2 = this.resolve(k); lastParts[i] = c2; }
              c2.pack(o[k], ctx, out);
            }
          },
        };
        const P = R(partOps);
        return { clone: (v) => `${P}.clone(${v}, r)`, copyInto: (d, v) => `${P}.copyInto(${d}, ${v}, r)`, save: (v) => `${P}.save(${v}, out);`,
          load: (like) => `${P}.load(src, ${like})`, pack: wrapPack((v) => `${P}.pack(${v}, ctx, out);`) };
      }
      default: {
        const never: never = f;
        throw new Error(`[dtsim] unknown schema kind ${JSON.stringify(never)}`);
      }
    }
  }
}

// Interpreted (not hot): shape checks and views.

function checkValue(s: Schema, v: unknown, path: string): string | null {
  const at = path || '(state)';
  const isInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x);
  switch (s.kind) {
    case 'int': return isInt(v) ? null : `${at}: must be an integer`;
    case 'bool': return typeof v === 'boolean' ? null : `${at}: must be a boolean`;
    case 'enum': return typeof v === 'string' && (s.values as readonly string[]).includes(v) ? null : `${at}: must be one of ${s.values.join(', ')}`;
    case 'nums': return Array.isArray(v) && v.every(isInt) ? null : `${at}: must be a list of integers`;
    case 'strs': return Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : `${at}: must be a list of strings`;
    case 'paged': return isPaged(v) ? null : `${at}: must be a per-page array (number[][][])`;
    case 'static': return null;
    case 'counters': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at}: must be an object of counters`;
      for (const [k, x] of Object.entries(v)) if (typeof x !== 'number') return `${at}.${k}: must be a number`;
      return null;
    }
    case 'custom': { const e = s.ops.check(v); return e === null ? null : `${at}: ${e}`; }
    case 'nullable': return v === null ? null : checkValue(s.of, v, path);
    case 'array': {
      if (!Array.isArray(v)) return `${at}: must be an array`;
      for (let i = 0; i < v.length; i++) { const e = checkValue(s.of, v[i], `${path}[${i}]`); if (e) return e; }
      return null;
    }
    case 'record': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at}: must be an object`;
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!Object.prototype.hasOwnProperty.call(s.fields, k)) return `${path ? `${path}.` : ''}${k}: not in the schema (declare it)`;
      for (const k of Object.keys(s.fields)) {
        if (!(k in o)) return `${path ? `${path}.` : ''}${k}: missing`;
        const e = checkValue(s.fields[k] as Schema, o[k], path ? `${path}.${k}` : k);
        if (e) return e;
      }
      return null;
    }
    case 'parts': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at}: must be an object`;
      for (const [k, x] of Object.entries(v)) {
        const c = s.resolve(k);
        if (!c) return `${path}.${k}: no schema for this part`;
        const e = c.check(x, `${path}.${k}`);
        if (e) return e;
      }
      return null;
    }
    default: { const never: never = s; return `unknown kind ${JSON.stringify(never)}`; }
  }
}

function viewValue(s: Schema, v: unknown): JsonValue {
  switch (s.kind) {
    case 'int': case 'bool': case 'enum': return v as JsonValue;
    case 'nums': case 'strs': return (v as JsonValue[]).slice();
    case 'paged': return viewPaged(v as number[][][], s.bits);
    case 'static': return null;
    case 'counters': return { ...(v as { [k: string]: number }) };
    case 'custom': return s.ops.view(v as never);
    case 'nullable': return v === null ? null : viewValue(s.of, v);
    case 'array': return (v as unknown[]).map((x) => viewValue(s.of, x));
    case 'record': {
      const out: { [k: string]: JsonValue } = {};
      for (const k of Object.keys(s.fields)) if ((s.fields[k] as Schema).kind !== 'static') out[k] = viewValue(s.fields[k] as Schema, (v as Record<string, unknown>)[k]);
      return out;
    }
    case 'parts': {
      const out: { [k: string]: JsonValue } = {};
      for (const k of sortedKeys(v as object)) {
        const c = s.resolve(k);
        out[k] = c ? c.view((v as Record<string, unknown>)[k]) : ((v as Record<string, JsonValue>)[k] as JsonValue);
      }
      return out;
    }
    default: { const never: never = s; return never; }
  }
}
