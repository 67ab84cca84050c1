/**
 * The generic walk's pieces of the explorer's state store (store.ts; split out of it): the reserved tag words, the
 * compiled per-shape readers and writers, and the `SaveSink`/`LoadSource` adapters a model's own save/load layout
 * writes to and reads from. The store's header says how the encoding works; nothing here is used when a model has
 * a fixed-size word image (`Model.image`).
 */
import type { LoadSource, SaveSink } from '../core/model.ts';
import type { StateStore } from './store.ts';

/** Sites 1..63 are the codec's (`SaveSink.value`); the shapes' fields get the sites from here on. */
export const CODEC_SITES = 64;

export const TAG_BASE = -2147483648;
export const T_NULL = TAG_BASE;
export const T_FALSE = TAG_BASE + 1;
export const T_TRUE = TAG_BASE + 2;
export const T_UNDEF = TAG_BASE + 3;
export const T_F64 = TAG_BASE + 4;
export const T_STR = TAG_BASE + 5;
export const T_ARR = TAG_BASE + 6;
export const T_OBJ = TAG_BASE + 7;
/** A static object (`refs`): T_REF, id. */
export const T_REF = TAG_BASE + 8;
/** A run of zeros in an array (page tables and bitmaps are mostly zeros): T_ZEROS, count. */
export const T_ZEROS = TAG_BASE + 9;
/** Words below this are tags; a number below it is written as a tagged double. */
export const TAG_END = TAG_BASE + 16;

export const f64 = new Float64Array(1);
export const f64w = new Int32Array(f64.buffer);

/** A compiled reader and writer for one object shape (its key list, in order). */
export interface Shape {
  readonly keys: readonly string[];
  /** Site of field 0 (field i is at `sites + i`). */
  readonly sites: number;
  readonly read: (r: StateStore<unknown>) => Record<string, unknown>;
  readonly write: (o: Record<string, unknown>, w: StateStore<unknown>) => void;
}

function own(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/**
 * Field `i` of a shape writes its value at site `sites + i`: where an object sits in the state (which field of
 * which shape), the key of the shape guess (`hints`).
 */
export function compileShape(keys: readonly string[], sites: number): Shape {
  if (keys.includes('__proto__')) {
    return {
      keys, sites,
      // defineProperty: an assignment to `__proto__` would set the prototype instead of an own key.
      read: (r) => { const o: Record<string, unknown> = {}; for (const k of keys) own(o, k, r.v()); return o; },
      write: (o, w) => { keys.forEach((k, i) => w.put_(o[k], sites + i)); },
    };
  }
  // Compiled from the state's own key names, quoted. One-word numbers (most fields) are read and written inline;
  // everything else goes through v()/put_(). (`r.w`, `r.pos`, `w.len` are the store's private fields: the
  // compiled code is part of the store.)
  const q = keys.map((k) => JSON.stringify(k));
  const read = new Function('r', `const w = r.w; let x = 0; return {${q.map((k) => `${k}: (x = w[r.pos]) >= ${TAG_END} ? (r.pos++, x) : r.v()`).join(', ')}};`) as Shape['read'];
  const write = new Function('o', 'w', `let x; ${q.map((k, i) => `x = o[${k}]; if (typeof x === 'number' && (x | 0) === x && x >= ${TAG_END} && w.len < w.w.length) w.w[w.len++] = x; else w.put_(x, ${sites + i});`).join('\n')}`) as Shape['write'];
  return { keys, sites, read, write };
}

/** `SaveSink` over a store: a one-word number inline, the rest through the store. */
export class Sink implements SaveSink {
  constructor(private readonly st: StateStore<unknown>) {}
  int(n: number): void {
    const st = this.st;
    if ((n | 0) === n && n >= TAG_END && st.len < st.w.length) st.w[st.len++] = n;
    else st.int_(n);
  }
  value(v: unknown, site: number): void {
    this.st.value_(v, site);
  }
}

/** `LoadSource` over a store. */
export class Source implements LoadSource {
  constructor(private readonly st: StateStore<unknown>) {}
  int(): number {
    const st = this.st;
    const x = st.w[st.pos] as number;
    if (x >= TAG_END) { st.pos++; return x; }
    return st.readInt_();
  }
  value(): unknown {
    return this.st.v();
  }
}
