/**
 * The flat word layout of a state (issue 15 item 2, first stage): where each field of a schema would sit in one
 * `Int32Array` holding the whole state, sized from the configuration. It is derived from the same schema as every
 * other operation (schema.ts), so a field declared there gets its words here with no other edit.
 *
 * The layout is what a flat backing needs before any reducer can use one: every field's offset and size, fixed
 * for one exploration (one design and configuration), so that a state is a fixed number of words (copy one `set`,
 * save/load word copies at fixed offsets, a positional delta between consecutive states). Fixed offsets need
 * every list to have a bound known at init, so a list's words are its capacity, not its length:
 * - `int`, `bool`, `enum`: one word (enums by index, bools 0/1).
 * - `nums` (a list of integers): one length word and `max(root)` words, the capacity its schema declares (from the
 *   configuration or the design's options: `config.tlbEntries`, the ring size, the HDBSS buffer's entries...).
 * - `array`: one length word and `max(root)` elements.
 * - `paged` / `bits`: an entry count and `max(root)` words when declared (every entry, or every 32-bit bitset
 *   word: a bitset word is a u32, kept as its int32 bit pattern), else the entries of the sizing state's value.
 *   (The count: a slot's bitmap has the slot's words, fewer than the guest's.)
 * - `nullable`: one presence word and its value's words.
 * - `record`: its fields in declaration order; `static` fields take no word (shared, never written).
 * - `counters`: one word per declared counter, then `COUNTER_EXTRA` (name id, value) pairs for the counters
 *   mechanisms add by name at run time (metrics; their names are literals in the code, a few per mechanism).
 * - `parts`: the parts the sizing state has (their keys are fixed per design at init), in sorted key order.
 * - `custom`: `ops.words(root)` when the custom kind declares it (the stage-2 tables do), else unbounded.
 * - `strs`: unbounded (no machine or mechanism state has one).
 * A list whose schema declares no capacity (or `Infinity` for this configuration) is reported in `unbounded`
 * (sized by the sizing state's value), so the layout says exactly which declarations a flat backing still lacks;
 * `fits` says whether a state fits the layout (every list within its capacity), which the tests check on every
 * reachable state of every model. schema-image.ts compiles the read and write of these words.
 *
 * Nothing here reads a clock or does I/O; it is mechanism-agnostic (the models declare the capacities).
 */
import type { Schema } from './schema.ts';

/** (name id, value) pairs kept for counters added by name at run time (`counters` kind). */
export const COUNTER_EXTRA = 32;

/** One field of a layout: its path (`pes[].tlb`, `ext.ring.rings[].flags`), first word and size. */
export interface LayoutField {
  readonly path: string;
  /** Word offset of the field's first element (for an array's elements: of element 0). */
  readonly offset: number;
  /** Words the field takes (an array's: all its elements', with the length word). */
  readonly words: number;
  /** A list's capacity (elements), when it is one. */
  readonly cap?: number;
}

export interface Layout {
  /** Words of the whole state. */
  readonly words: number;
  /** Every field, in layout order (an array's element fields once, at element 0's offsets). */
  readonly fields: readonly LayoutField[];
  /** Paths of lists sized by the sizing state's value because their schema declares no capacity. */
  readonly unbounded: readonly string[];
}

type Obj = { readonly [k: string]: unknown };

const lengthOf = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

function pagedEntries(v: unknown): number {
  let n = 0;
  if (Array.isArray(v)) for (const m of v) if (Array.isArray(m)) for (const c of m) n += lengthOf(c);
  return n;
}

/**
 * The layout of `s` for the state `sized` (the initial state of a design and configuration); `root` is the whole
 * state the capacities are read from (default `sized`).
 */
export function layoutOf(s: Schema, sized: unknown, root: unknown = sized): Layout {
  const fields: LayoutField[] = [];
  const unbounded: string[] = [];
  const cap = (max: ((r: never) => number) | undefined, v: unknown, path: string): number => {
    const c = max ? max(root as never) : Infinity;
    if (Number.isFinite(c)) return c;
    unbounded.push(path);
    return lengthOf(v);
  };
  // Words of one node at `at`, its value `v` in the sizing state (undefined where the state has none: a null
  // nullable, an array's element beyond its length).
  const walk = (x: Schema, v: unknown, path: string, at: number): number => {
    const field = (words: number, c?: number): number => {
      fields.push(c === undefined ? { path, offset: at, words } : { path, offset: at, words, cap: c });
      return words;
    };
    switch (x.kind) {
      case 'int':
      case 'bool':
      case 'enum':
        return field(1);
      case 'nums': {
        const c = cap(x.max, v, path);
        return field(1 + c, c);
      }
      case 'strs':
        unbounded.push(path);
        return field(1 + lengthOf(v), lengthOf(v));
      case 'paged': {
        // An entry count, then the entries.
        const c = x.max ? x.max(root as never) : Infinity;
        if (Number.isFinite(c)) return field(1 + c);
        unbounded.push(path);
        return field(1 + pagedEntries(v));
      }
      case 'static':
        return 0;
      case 'record': {
        let n = 0;
        for (const k of Object.keys(x.fields)) {
          const o = v !== null && typeof v === 'object' ? (v as Obj)[k] : undefined;
          n += walk(x.fields[k] as Schema, o, path ? `${path}.${k}` : k, at + n);
        }
        return n;
      }
      case 'nullable':
        fields.push({ path: `${path}?`, offset: at, words: 1 });
        return 1 + walk(x.of, v === null ? undefined : v, path, at + 1);
      case 'array': {
        const c = cap(x.max, v, path);
        const first = Array.isArray(v) ? v[0] : undefined;
        const mark = fields.length;
        const elem = walk(x.of, first, `${path}[]`, at + 1);
        fields.splice(mark, 0, { path, offset: at, words: 1 + c * elem, cap: c });
        return 1 + c * elem;
      }
      case 'counters':
        return field(x.keys.length + 2 * COUNTER_EXTRA, x.keys.length + COUNTER_EXTRA);
      case 'parts': {
        const o = v !== null && typeof v === 'object' ? (v as Obj) : {};
        let n = 0;
        for (const k of Object.keys(o).sort()) {
          const part = x.resolve(k);
          if (!part) throw new Error(`[dtsim] state part '${k}' has no schema (declare one where the part is defined)`);
          n += walk(part.schema, o[k], path ? `${path}.${k}` : k, at + n);
        }
        return n;
      }
      case 'custom': {
        if (x.ops.words) return field(x.ops.words(root));
        unbounded.push(path);
        return field(0);
      }
      default: {
        const never: never = x;
        throw new Error(`[dtsim] unknown schema kind ${JSON.stringify(never)}`);
      }
    }
  };
  const words = walk(s, sized, '', 0);
  return { words, fields, unbounded };
}

/**
 * Does `v` fit the layout of `s` sized for `root`: is every list within its declared capacity, every per-page
 * array within its words, every counter set within its declared and extra slots? The first list that does not,
 * as `path: length > capacity`, or null.
 */
export function fits(s: Schema, v: unknown, root: unknown): string | null {
  const walk = (x: Schema, val: unknown, path: string): string | null => {
    switch (x.kind) {
      case 'int':
      case 'bool':
      case 'enum':
      case 'static':
      case 'strs':
        return null;
      case 'nums': {
        const c = x.max ? x.max(root as never) : Infinity;
        return lengthOf(val) > c ? `${path}: ${lengthOf(val)} > ${c}` : null;
      }
      case 'paged': {
        const c = x.max ? x.max(root as never) : Infinity;
        return pagedEntries(val) > c ? `${path}: ${pagedEntries(val)} > ${c}` : null;
      }
      case 'record': {
        if (val === null || typeof val !== 'object') return null;
        for (const k of Object.keys(x.fields)) {
          const e = walk(x.fields[k] as Schema, (val as Obj)[k], path ? `${path}.${k}` : k);
          if (e !== null) return e;
        }
        return null;
      }
      case 'nullable':
        return val === null ? null : walk(x.of, val, path);
      case 'array': {
        const c = x.max ? x.max(root as never) : Infinity;
        if (lengthOf(val) > c) return `${path}: ${lengthOf(val)} > ${c}`;
        if (Array.isArray(val)) for (const e of val) { const r = walk(x.of, e, `${path}[]`); if (r !== null) return r; }
        return null;
      }
      case 'counters': {
        let extra = 0;
        if (val !== null && typeof val === 'object') for (const k of Object.keys(val)) if (!x.keys.includes(k)) extra++;
        return extra > COUNTER_EXTRA ? `${path}: ${extra} counters added by name > ${COUNTER_EXTRA}` : null;
      }
      case 'parts': {
        if (val === null || typeof val !== 'object') return null;
        for (const k of Object.keys(val).sort()) {
          const part = x.resolve(k);
          if (!part) return `${path}.${k}: no schema`;
          const e = walk(part.schema, (val as Obj)[k], path ? `${path}.${k}` : k);
          if (e !== null) return e;
        }
        return null;
      }
      case 'custom':
        return null;
      default: {
        const never: never = x;
        throw new Error(`[dtsim] unknown schema kind ${JSON.stringify(never)}`);
      }
    }
  };
  return walk(s, v, '');
}
