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
 * Kept as deltas (store-delta.ts): consecutive states of a BFS level are mostly siblings or cousins, so each
 * state's words are kept as a delta against the words of the state saved before it, with a whole state every
 * `KEYFRAME` states; loads are sequential in BFS. This takes the frontier to about a third of its words (a tenth
 * of a word image); the encoding of a state, and so what a load returns, is unchanged. The generic walk's tags,
 * compiled shapes and the codec's sink and source are in store-shapes.ts.
 */

import type { LoadSource, SaveSink, WordImage } from '../core/model.ts';
import { DeltaLog, KEYFRAME, sizeFor } from './store-delta.ts';
import {
  CODEC_SITES, compileShape, f64, f64w, type Shape, Sink, Source, T_ARR, T_F64, T_FALSE, T_NULL, T_OBJ, T_REF, T_STR, T_TRUE,
  T_UNDEF, T_ZEROS, TAG_BASE, TAG_END,
} from './store-shapes.ts';

/** A model's own exact layout for the store (`Model.save`/`load`). */
export interface StoreCodec<S> {
  save(s: S, out: SaveSink): void;
  load(src: LoadSource, like: S): S;
}

export class StateStore<S> {
  /**
   * The buffer the writer writes a state's words to (`len` of them) and the reader reads them from (at `pos`):
   * `cur` while saving, `view` while loading. The compiled readers and writers and the codec adapters (`Sink`,
   * `Source`) use these three fields: public for them, not an API.
   */
  w: Int32Array<ArrayBuffer>;
  len = 0;
  /** The buffer the next state is written to (then handed to the delta log, which gives back another). */
  private cur = new Int32Array(1 << 10);
  /** The saved states, as deltas (store-delta.ts). */
  private readonly log: DeltaLog;
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
    private readonly init: S, twin?: S, keyframe = KEYFRAME, private readonly codec: StoreCodec<S> | null = null,
    private readonly image: WordImage<S> | null = null,
  ) {
    this.log = new DeltaLog(keyframe);
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
    return this.log.size;
  }

  /** Bytes of the saved states (their deltas and start offsets; the buffers' spare capacity is not counted). */
  bytes(): number {
    return this.log.bytes();
  }

  /** Forgets every saved state (the buffers and the string and shape tables stay). */
  clear(): void {
    this.log.clear();
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
    const index = this.log.append(this.cur, this.len);
    this.cur = this.log.free;
    if (this.calibrating > 0) this.calibrating--;
    return index;
  }

  /**
   * A private copy of the state saved at `index`: fresh, or, with `into` (a state of this exploration no longer
   * used, sharing nothing with one in use) and a word image that reads in place, `into` itself overwritten.
   */
  load(index: number, into?: S): S {
    const view = this.log.words(index);
    if (this.image !== null) {
      const ri = this.image.readInto;
      return into !== undefined && ri !== undefined ? ri(view, into, this.init) : this.image.read(view, this.init);
    }
    this.w = view;
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
