/**
 * The explorer's frontier as words, not object graphs: every state waiting to be expanded is saved, exactly, into
 * one growable Int32Array and loaded back (a fresh private copy) when its turn comes.
 *
 * Why: a BFS level holds tens of thousands of states. Kept as object graphs (a few KiB each), they survive the
 * young-generation collections and are copied by each of them: a quarter of exploration time went to the
 * collector, and the frontier dominated peak memory. As words a state costs its encoding (a few hundred bytes,
 * a third of that as a delta, below) and nothing for the collector to trace; the objects a load creates die young.
 *
 * The encoding is generic and complete (every field of the JSON state, unlike a model's `pack`, which keeps only
 * behaviour): one word per int32 number; other values are tagged with reserved words at the bottom of the int32
 * range (a number there, or outside int32, is written as a tagged double). Objects are a shape id (their key list,
 * interned per store) and their values in key order, so a load rebuilds the same keys in the same order (the
 * same hidden classes as the original). The static parts a model's `clone` shares between copies (design,
 * config: objects found by reference in both the initial state and a clone of it, at any depth) are written as
 * references and loaded as those same objects. Writing one by value would be correct too (only slower: models
 * key caches on them), so they are looked up only where the first states saved held them (`siteRef`).
 *
 * Each object shape gets a small compiled reader and writer (`new Function` over its key list, keys quoted with
 * JSON.stringify): property access by name, one hidden class per shape, instead of the megamorphic keyed loads
 * and stores of a generic walk (which cost more than the collector time they saved). A key list the compiler
 * cannot express safely (`__proto__`) uses the generic walk.
 *
 * Only plain JSON data (and `undefined`, for holes) can be saved; anything else throws, and explore then keeps
 * the frontier as objects.
 *
 * Three writers, fastest first: a model's fixed-size word image (`Model.image`, src/core/schema-image.ts: every
 * state the same number of words at the same offsets, written and read by code compiled from the state's schema
 * and layout: no tags, shapes or sink calls; the delta below is then positional), the model's own `save`/`load`
 * through a `SaveSink` (a model, or a configuration, without an image: the PTA device with unbounded storage),
 * and the generic walk below (any JSON state).
 *
 * Kept as deltas: consecutive states of a BFS level are mostly siblings or cousins (a few events apart), so each
 * state's words are kept as a delta against the words of the state saved before it (runs of equal words, from
 * the start and from the end, referred to; the others written out), with a whole state (a keyframe) every
 * `KEYFRAME` states. Loads are sequential in BFS: the next state is rebuilt from the one loaded before; any other
 * index rolls forward from its keyframe. This takes the frontier to about a third of its words (a tenth of a word
 * image, whose unused capacity is zeros in every state; each model's figure is pinned in
 * properties/explore.bfs.test.ts); the encoding of a state, and so what a load returns, is unchanged.
 */

import type { LoadSource, SaveSink, WordImage } from '../core/model.ts';
import { IntColumn } from './pack.ts';

/** A model's own exact layout for the store (`Model.save`/`load`). */
export interface StoreCodec<S> {
  save(s: S, out: SaveSink): void;
  load(src: LoadSource, like: S): S;
}

/** Sites 1..63 are the codec's (`SaveSink.value`); the shapes' fields get the sites from here on. */
const CODEC_SITES = 64;

const TAG_BASE = -2147483648;
const T_NULL = TAG_BASE;
const T_FALSE = TAG_BASE + 1;
const T_TRUE = TAG_BASE + 2;
const T_UNDEF = TAG_BASE + 3;
const T_F64 = TAG_BASE + 4;
const T_STR = TAG_BASE + 5;
const T_ARR = TAG_BASE + 6;
const T_OBJ = TAG_BASE + 7;
/** A static object (`refs`): T_REF, id. */
const T_REF = TAG_BASE + 8;
/** A run of zeros in an array (page tables and bitmaps are mostly zeros): T_ZEROS, count. */
const T_ZEROS = TAG_BASE + 9;
/** Words below this are tags; a number below it is written as a tagged double. */
const TAG_END = TAG_BASE + 16;

const f64 = new Float64Array(1);
const f64w = new Int32Array(f64.buffer);

/** A compiled reader and writer for one object shape (its key list, in order). */
interface Shape {
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
function compileShape(keys: readonly string[], sites: number): Shape {
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

/** A power of two of at least `n` (and 1024). */
function sizeFor(n: number): number {
  let size = 1 << 10;
  while (size < n) size *= 2;
  return size;
}

/** A whole state is kept every this many saves (a load out of order rolls forward at most this many deltas). */
const KEYFRAME = 64;

export class StateStore<S> {
  /**
   * The buffer the writer writes a state's words to (`len` of them) and the reader reads them from (at `pos`):
   * `cur` while saving, `view` while loading. The compiled readers and writers and the codec adapters (`Sink`,
   * `Source`) use these three fields: public for them, not an API.
   */
  w: Int32Array<ArrayBuffer>;
  len = 0;
  /** The words of the state being saved, and of the one saved before it (`prevLen` words). */
  private cur = new Int32Array(1 << 10);
  private prev = new Int32Array(1 << 10);
  private prevLen = 0;
  /** The words of the state loaded last (index `viewIndex`, -1: none), and where the next load's go. */
  private view = new Int32Array(1 << 10);
  private spare = new Int32Array(1 << 10);
  private viewIndex = -1;
  /** The saved deltas (per state its word count, then its runs: `patch`). */
  private d = new Int32Array(1 << 16);
  private dlen = 0;
  /** Start offset of each saved state's delta in `d`. */
  private readonly starts = new IntColumn();
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly shapes: Shape[] = [];
  private readonly shapeIds = new Map<string, number>();
  pos = 0;
  /**
   * The shape id of the object last written at each site (field of a shape; site 0 is the top level): states
   * almost always have the same objects with the same keys there, so checking that guess (a walk over the keys,
   * no allocation) replaces building the key signature.
   */
  private hints = new Int32Array(256).fill(-1);
  /** Sites handed out so far (site 0: the state itself; 1..63: the codec's). */
  private sites = CODEC_SITES;
  /** Static objects (see the header), by id; `refIds` maps them back. */
  private readonly refs: object[] = [];
  private readonly refIds = new Map<object, number>();
  /** Per site: 1 + the id of the static object the first saves held there, or 0. */
  private siteRef = new Int32Array(256);
  /** Saves left that look every object up in `refIds` (then only the sites in `siteRef` are checked). */
  private calibrating = 16;

  /**
   * `init` and `twin` (a clone of it, or nothing): the objects they share are the static ones. `keyframe`: a
   * whole state every this many (1: every state whole, no deltas).
   */
  constructor(
    private readonly init: S, twin?: S, private readonly keyframe = KEYFRAME, private readonly codec: StoreCodec<S> | null = null,
    private readonly image: WordImage<S> | null = null,
  ) {
    if (!Number.isInteger(keyframe) || keyframe < 1) throw new Error(`[dtsim] state store: keyframe ${keyframe} is not a positive integer`);
    this.w = this.cur;
    if (twin !== undefined) this.findStatics(init, twin);
  }

  private findStatics(a: unknown, b: unknown): void {
    if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return;
    if (a === b) {
      if (!this.refIds.has(a)) { this.refIds.set(a, this.refs.length); this.refs.push(a); }
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.min(a.length, b.length); i++) this.findStatics(a[i], b[i]);
    } else if (!Array.isArray(a) && !Array.isArray(b)) {
      const ra = a as Record<string, unknown>;
      const rb = b as Record<string, unknown>;
      for (const k in ra) if (Object.prototype.hasOwnProperty.call(rb, k)) this.findStatics(ra[k], rb[k]);
    }
  }

  /** States saved since the last `clear`. */
  get size(): number {
    return this.starts.n;
  }

  /** Bytes of the saved states (their deltas and start offsets; the buffers' spare capacity is not counted). */
  bytes(): number {
    return 4 * (this.dlen + this.starts.n);
  }

  /** Forgets every saved state (the buffers and the string and shape tables stay). */
  clear(): void {
    this.dlen = 0;
    this.starts.n = 0;
    this.prevLen = 0;
    this.viewIndex = -1;
  }

  /** Saves a copy of `s`; returns its index. A value that is not JSON throws and saves nothing. */
  save(s: S): number {
    if (this.image !== null) {
      // A fixed-size image written straight into the buffer (it writes every one of its words).
      const n = this.image.words;
      if (this.cur.length < n) this.cur = new Int32Array(sizeFor(n));
      this.image.write(s, this.cur);
      this.len = n;
    } else {
      this.w = this.cur;
      this.len = 0;
      try {
        if (this.codec !== null) this.codec.save(s, this.sink);
        else this.put_(s, 0);
      } finally {
        // The writer may have grown the buffer.
        this.cur = this.w;
      }
    }
    const index = this.starts.n;
    this.starts.push(this.dlen);
    this.encode(index % this.keyframe === 0 ? 0 : this.prevLen);
    const p = this.prev;
    this.prev = this.cur;
    this.prevLen = this.len;
    this.cur = p;
    if (this.calibrating > 0) this.calibrating--;
    return index;
  }

  /**
   * Appends the delta of `cur` (`len` words) against the first `pn` words of `prev` (0: a keyframe). The words
   * both share at the end (after an array that grew or shrank, a field that became null) are matched from the
   * end; the rest position by position.
   */
  private encode(pn: number): void {
    const cur = this.cur;
    const prev = this.prev;
    const n = this.len;
    // Worst case: a run word per word, plus the count and the suffix's shift and run.
    const need = 2 * n + 4;
    if (this.dlen + need > this.d.length) {
      let size = this.d.length * 2;
      while (size < this.dlen + need) size *= 2;
      const b = new Int32Array(size);
      b.set(this.d.subarray(0, this.dlen));
      this.d = b;
    }
    const d = this.d;
    let dl = this.dlen;
    d[dl++] = n;
    // The common suffix (not overlapping the common prefix).
    let pre = 0;
    const mn = n < pn ? n : pn;
    while (pre < mn && cur[pre] === prev[pre]) pre++;
    let suf = 0;
    while (suf < mn - pre && cur[n - 1 - suf] === prev[pn - 1 - suf]) suf++;
    // Position by position up to the suffix (prev's cursor moves with cur's).
    const m = n - suf;
    const pm = pn - suf;
    let i = 0;
    // The common prefix is known (pre <= m, pre <= pm): one run; the loop below would find it again.
    if (pre >= 2) { d[dl++] = pre; i = pre; }
    while (i < m) {
      // Words equal to the previous state's: a run when two or more (a lone one is cheaper written out).
      let j = i;
      while (j < m && j < pm && cur[j] === prev[j]) j++;
      if (j - i >= 2 || j === m) {
        d[dl++] = j - i;
        i = j;
        if (i === m) break;
      }
      // Words written out, up to the next pair of equal words.
      let k = i + 1;
      while (k < m && !(k + 1 < pm && cur[k] === prev[k] && cur[k + 1] === prev[k + 1])) k++;
      d[dl++] = i - k;
      while (i < k) d[dl++] = cur[i++] as number;
    }
    if (suf > 0) {
      // prev's cursor is at m; the suffix starts at pm there.
      if (pm !== m) { d[dl++] = 0; d[dl++] = pm - m; }
      d[dl++] = suf;
    }
    this.dlen = dl;
  }

  /**
   * The words of state `index` into `view`, from its delta against `view` (the words of state `index - 1`; for
   * a keyframe, anything). Runs: > 0 that many words from the previous state's cursor; < 0 that many words
   * written out (the cursor moves along); 0 then k: the cursor moves by k.
   */
  private patch(index: number): void {
    const d = this.d;
    let p = this.starts.a[index] as number;
    const n = d[p++] as number;
    if (n > this.spare.length) {
      let size = this.spare.length * 2;
      while (size < n) size *= 2;
      this.spare = new Int32Array(size);
    }
    const from = this.view;
    const to = this.spare;
    let i = 0;
    let q = 0;
    while (i < n) {
      const c = d[p++] as number;
      if (c > 0) {
        for (const e = i + c; i < e;) to[i++] = from[q++] as number;
      } else if (c < 0) {
        for (let k = c; k < 0; k++) to[i++] = d[p++] as number;
        q -= c;
      } else q += d[p++] as number;
    }
    this.spare = from;
    this.view = to;
  }

  /** A fresh private copy of the state saved at `index`. */
  load(index: number): S {
    if (index < 0 || index >= this.starts.n) throw new Error(`[dtsim] state store: no state ${index} (${this.starts.n} saved)`);
    // The next state in order is one delta from the view; any other rolls forward from its keyframe.
    const from = index === this.viewIndex + 1 || index === this.viewIndex ? index : index - (index % this.keyframe);
    if (index !== this.viewIndex) for (let k = from; k <= index; k++) this.patch(k);
    this.viewIndex = index;
    if (this.image !== null) return this.image.read(this.view, this.init);
    this.w = this.view;
    this.pos = 0;
    return this.codec !== null ? this.codec.load(this.source, this.init) : this.v() as S;
  }

  /** What a codec's `save` writes to and its `load` reads from (one class each: monomorphic call sites). */
  private readonly sink: SaveSink = new Sink(this as StateStore<unknown>);
  private readonly source: LoadSource = new Source(this as StateStore<unknown>);

  /** (Sink) a number that is not one plain word. */
  int_(n: number): void {
    if ((n | 0) === n && n >= TAG_END) this.word(n);
    else if (typeof n === 'number') this.put_(n, 0);
    else throw new Error(`[dtsim] cannot store a ${typeof n} as a number (the model's save hook)`);
  }

  /** (Sink) a generic value at a codec site. */
  value_(v: unknown, site: number): void {
    if (!(site >= 1 && site < CODEC_SITES)) throw new Error(`[dtsim] state store: codec site ${site} is not in 1..${CODEC_SITES - 1}`);
    this.put_(v, site);
  }

  /** (Source) a number written by int_ as more than one word. */
  readInt_(): number {
    const y = this.v();
    if (typeof y !== 'number') throw new Error(`[dtsim] corrupt state store: a number expected at word ${this.pos}`);
    return y;
  }

  /** (Compiled readers) the next value. */
  v(): unknown {
    const w = this.w;
    const x = w[this.pos++] as number;
    if (x >= TAG_END) return x;
    switch (x) {
      case T_NULL: return null;
      case T_FALSE: return false;
      case T_TRUE: return true;
      case T_UNDEF: return undefined;
      case T_F64:
        f64w[0] = w[this.pos] as number; f64w[1] = w[this.pos + 1] as number;
        this.pos += 2;
        return f64[0];
      case T_STR: return this.strings[w[this.pos++] as number];
      case T_ARR: {
        let p = this.pos;
        const n = w[p++] as number;
        // push, not `new Array(n)`: a packed array, as the model's own code builds them.
        const a: unknown[] = [];
        let k = 0;
        while (k < n) {
          const y = w[p] as number;
          if (y >= TAG_END) { a.push(y); p++; k++; } else if (y === T_ZEROS) {
            const run = w[p + 1] as number;
            p += 2;
            for (let z = 0; z < run; z++) a.push(0);
            k += run;
          } else {
            this.pos = p;
            a.push(this.v());
            p = this.pos;
            k++;
          }
        }
        this.pos = p;
        return a;
      }
      case T_OBJ: return (this.shapes[w[this.pos++] as number] as Shape).read(this as StateStore<unknown>);
      case T_REF: return this.refs[w[this.pos++] as number];
      default:
        throw new Error(`[dtsim] corrupt state store: tag ${x - TAG_BASE} at word ${this.pos - 1}`);
    }
  }

  /** Room for `k` more words. */
  private reserve(k: number): void {
    if (this.len + k <= this.w.length) return;
    let size = this.w.length * 2;
    while (size < this.len + k) size *= 2;
    const b = new Int32Array(size);
    b.set(this.w.subarray(0, this.len));
    this.w = b;
  }

  private word(x: number): void {
    if (this.len === this.w.length) this.reserve(1);
    this.w[this.len++] = x;
  }

  private shapeOf(o: Record<string, unknown>, site: number): number {
    const hint = this.hints[site] as number;
    if (hint >= 0) {
      const keys = (this.shapes[hint] as Shape).keys;
      let i = 0;
      let same = true;
      for (const k in o) { if (keys[i] !== k) { same = false; break; } i++; }
      if (same && i === keys.length) return hint;
    }
    const id = this.shapeBySignature(o);
    this.hints[site] = id;
    return id;
  }

  private shapeBySignature(o: Record<string, unknown>): number {
    // The key list as one string (NUL-separated: a different list gives a different string).
    let sig = '';
    for (const k in o) sig += k + '\u0000';
    let id = this.shapeIds.get(sig);
    if (id === undefined) {
      id = this.shapes.length;
      const keys = Object.keys(o);
      this.shapes.push(compileShape(keys, this.sites));
      this.sites += keys.length;
      if (this.sites > this.hints.length) {
        const size = Math.max(this.sites, this.hints.length * 2);
        const b = new Int32Array(size).fill(-1);
        b.set(this.hints);
        this.hints = b;
        const r = new Int32Array(size);
        r.set(this.siteRef);
        this.siteRef = r;
      }
      this.shapeIds.set(sig, id);
    }
    return id;
  }

  /** (Compiled writers) writes one value, found at `site`. */
  put_(v: unknown, site: number): void {
    switch (typeof v) {
      case 'number':
        if ((v | 0) === v && v >= TAG_END) { this.word(v); return; }
        f64[0] = v;
        this.word(T_F64); this.word(f64w[0] as number); this.word(f64w[1] as number);
        return;
      case 'boolean': this.word(v ? T_TRUE : T_FALSE); return;
      case 'undefined': this.word(T_UNDEF); return;
      case 'string': {
        let id = this.stringIds.get(v);
        if (id === undefined) { id = this.strings.length; this.strings.push(v); this.stringIds.set(v, id); }
        this.word(T_STR); this.word(id);
        return;
      }
      case 'object': {
        if (v === null) { this.word(T_NULL); return; }
        const ref = this.siteRef[site] as number;
        if (ref !== 0 && v === this.refs[ref - 1]) { this.word(T_REF); this.word(ref - 1); return; }
        if (this.calibrating > 0) {
          const id = this.refIds.get(v);
          if (id !== undefined) { this.siteRef[site] = id + 1; this.word(T_REF); this.word(id); return; }
        }
        if (Array.isArray(v)) {
          const n = v.length;
          // One-word numbers (and zero runs, never longer than the run) are written straight into the buffer,
          // which has room for the header and one word per element; other elements go through put_, after
          // which the room is made again for the rest.
          this.reserve(n + 2);
          let w = this.w;
          let len = this.len;
          w[len++] = T_ARR; w[len++] = n;
          for (let i = 0; i < n;) {
            const x: unknown = v[i];
            if (typeof x === 'number' && (x | 0) === x && x >= TAG_END) {
              if (x === 0) {
                let j = i + 1;
                while (j < n && v[j] === 0) j++;
                if (j - i >= 3) { w[len++] = T_ZEROS; w[len++] = j - i; } else for (let k = i; k < j; k++) w[len++] = 0;
                i = j;
              } else {
                w[len++] = x;
                i++;
              }
              continue;
            }
            this.len = len;
            this.put_(x, site);
            i++;
            this.reserve(n - i);
            w = this.w;
            len = this.len;
          }
          this.len = len;
          return;
        }
        const proto = Object.getPrototypeOf(v) as unknown;
        if (proto !== Object.prototype && proto !== null) throw new Error(`[dtsim] cannot store a ${(v as object).constructor?.name ?? 'non-plain'} object (model state must be JSON)`);
        const o = v as Record<string, unknown>;
        const sid = this.shapeOf(o, site);
        this.word(T_OBJ); this.word(sid);
        (this.shapes[sid] as Shape).write(o, this as StateStore<unknown>);
        return;
      }
      default:
        throw new Error(`[dtsim] cannot store a ${typeof v} (model state must be JSON)`);
    }
  }
}

/** `SaveSink` over a store: a one-word number inline, the rest through the store. */
class Sink implements SaveSink {
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
class Source implements LoadSource {
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
