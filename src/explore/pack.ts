/**
 * Packed state encodings and their 64-bit hashes, for the explorer's visited set.
 *
 * A state is written into a growable Int32Array (a `Packer`, the `PackSink` a model's optional `pack` hook
 * writes to), then hashed over the words of that buffer by two independent 32-bit lanes (murmur3-style and
 * xxhash32-style mixing with different seeds and constants): a 64-bit fingerprint. Two states with the same
 * encoding get the same fingerprint (canonical); two different encodings collide with probability about 2^-64
 * per pair, so n distinct states collide somewhere with probability at most n^2 / 2^65 (the birthday bound,
 * reported by `explore`).
 *
 * `packJson` is the generic encoding (any JSON state, object keys sorted, every value tagged with its type, so
 * the encoding is injective); models with a faster, behaviour-only encoding supply `Model.pack`.
 */
import type { PackSink } from '../core/model.ts';

const T_NULL = -1;
const T_FALSE = -2;
const T_TRUE = -3;
const T_NUM = -4;
const T_STR = -5;
const T_ARR = -6;
const T_OBJ = -7;
const T_UNDEF = -8;

const ESC = -2147483648;
const f64 = new Float64Array(1);
const f64w = new Int32Array(f64.buffer);

/**
 * A growable buffer of 32-bit words; `len` words are valid. Implements the model-facing `PackSink`. A number
 * that is an int32 (other than INT32_MIN) is one word; any other number is ESC (INT32_MIN) and the two words of
 * its double (an injective encoding: most state numbers are small integers, so hashing stays one word each).
 */
export class Packer implements PackSink {
  words: Int32Array;
  len = 0;
  /** The 64-bit hash of the buffer after `hash()`: two 32-bit lanes. */
  h1 = 0;
  h2 = 0;

  constructor(capacity = 256) {
    this.words = new Int32Array(capacity);
  }

  reset(): void {
    this.len = 0;
  }

  private grow(): void {
    const nb = new Int32Array(this.words.length * 2);
    nb.set(this.words);
    this.words = nb;
  }

  num(n: number): void {
    if (this.len + 3 > this.words.length) this.grow();
    if ((n | 0) === n && n !== ESC) { this.words[this.len++] = n; return; }
    // `+ 0` turns -0 into 0 (it is an int32 above anyway); NaN never occurs in JSON state.
    f64[0] = n + 0;
    this.words[this.len++] = ESC;
    this.words[this.len++] = f64w[0] as number;
    this.words[this.len++] = f64w[1] as number;
  }

  nums(a: readonly number[]): void {
    this.num(a.length);
    for (let i = 0; i < a.length; i++) this.num(a[i] as number);
  }

  json(v: unknown): void {
    packJson(this, v);
  }

  /** Hashes the `len` numbers written (both lanes); returns nothing, read `h1`/`h2`. */
  hash(): void {
    const w = this.words;
    const n = this.len;
    let h1 = 0x9747b28c | 0;
    let h2 = 0x165667b1 | 0;
    for (let i = 0; i < n; i++) {
      const x = w[i] as number;
      // lane 1: murmur3_32 block step
      let k = Math.imul(x, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h1 ^= k;
      h1 = (h1 << 13) | (h1 >>> 19);
      h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
      // lane 2: xxhash32 round
      h2 = (h2 + Math.imul(x, 0x85ebca77)) | 0;
      h2 = (h2 << 13) | (h2 >>> 19);
      h2 = Math.imul(h2, 0x9e3779b1);
    }
    h1 ^= n; h2 ^= n;
    h1 ^= h1 >>> 16; h1 = Math.imul(h1, 0x85ebca6b); h1 ^= h1 >>> 13; h1 = Math.imul(h1, 0xc2b2ae35); h1 ^= h1 >>> 16;
    h2 ^= h2 >>> 15; h2 = Math.imul(h2, 0x85ebca77); h2 ^= h2 >>> 13; h2 = Math.imul(h2, 0xc2b2ae3d); h2 ^= h2 >>> 16;
    this.h1 = h1;
    this.h2 = h2;
  }

  /** The hash as 16 hex digits. */
  hex(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0');
  }

  /** Copies the encoding into `dst` (resetting it). */
  copyTo(dst: Packer): void {
    while (dst.words.length < this.len) dst.grow();
    dst.words.set(this.words.subarray(0, this.len));
    dst.len = this.len;
  }

  /** A total order of encodings (word by word, shorter first on a common prefix): <0, 0, >0. */
  compare(o: Packer): number {
    const a = this.words;
    const b = o.words;
    const n = Math.min(this.len, o.len);
    for (let i = 0; i < n; i++) {
      const x = a[i] as number;
      const y = b[i] as number;
      if (x !== y) return x < y ? -1 : 1;
    }
    return this.len - o.len;
  }
}

function packString(p: Packer, s: string): void {
  p.num(T_STR);
  p.num(s.length);
  for (let i = 0; i < s.length; i++) p.num(s.charCodeAt(i));
}

const T_NUMS = -9;
const T_KEY = -10;

const EMPTY: readonly string[] = [];
/** Sorted key lists seen so far, by first key in insertion order (states reuse a few object shapes). */
const shapes = new Map<string, (readonly string[])[]>();
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The own keys of `o` in sorted order, without allocating for a known shape: a cached sorted list with the
 * same number of keys, every one of them an own key of `o`, is exactly `o`'s key set.
 */
function sortedKeys(o: object): readonly string[] {
  let n = 0;
  let first = '';
  for (const k in o) { if (n === 0) first = k; n++; }
  if (n === 0) return EMPTY;
  const cands = shapes.get(first);
  if (cands) {
    for (const c of cands) {
      if (c.length !== n) continue;
      let all = true;
      for (let i = 0; i < n; i++) if (!hasOwn.call(o, c[i] as string)) { all = false; break; }
      if (all) return c;
    }
  }
  const sorted = Object.keys(o).sort();
  if (!cands) shapes.set(first, [sorted]);
  else if (cands.length < 64) cands.push(sorted);
  return sorted;
}

/** Object keys are written as small integers, interned per process (injective: one id per distinct key). */
const keyIds = new Map<string, number>();
function keyId(k: string): number {
  let id = keyIds.get(k);
  if (id === undefined) { id = keyIds.size; keyIds.set(k, id); }
  return id;
}

/**
 * The generic canonical encoding of a JSON value (object keys sorted, `undefined` members skipped, every value
 * tagged with its type; arrays of numbers written as one tagged run). Injective within one process (object
 * keys are interned ids), which is all a visited set needs.
 */
export function packJson(p: Packer, v: unknown): void {
  switch (typeof v) {
    case 'number': p.num(T_NUM); p.num(v); return;
    case 'boolean': p.num(v ? T_TRUE : T_FALSE); return;
    case 'string': packString(p, v); return;
    case 'undefined': p.num(T_UNDEF); return;
    case 'object': {
      if (v === null) { p.num(T_NULL); return; }
      if (Array.isArray(v)) {
        let nums = true;
        for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') { nums = false; break; }
        p.num(nums ? T_NUMS : T_ARR);
        p.num(v.length);
        if (nums) for (let i = 0; i < v.length; i++) p.num(v[i] as number);
        else for (let i = 0; i < v.length; i++) packJson(p, v[i]);
        return;
      }
      const o = v as Record<string, unknown>;
      const keys = sortedKeys(o);
      let n = 0;
      for (let i = 0; i < keys.length; i++) if (o[keys[i] as string] !== undefined) n++;
      p.num(T_OBJ);
      p.num(n);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        const x = o[k];
        if (x === undefined) continue;
        p.num(T_KEY);
        p.num(keyId(k));
        packJson(p, x);
      }
      return;
    }
    default:
      throw new Error(`[dtsim] cannot pack a ${typeof v} (model state must be JSON)`);
  }
}

/**
 * Makes `dst` a deep copy of the JSON value `src`, reusing `dst`'s arrays and objects where the kinds match,
 * and returns the copy (a new value where they do not). `dst` must not be shared with anything still in use.
 */
export function assignJson<T>(dst: unknown, src: T): T {
  if (typeof src !== 'object' || src === null) return src;
  if (Array.isArray(src)) {
    if (!Array.isArray(dst)) return cloneJson(src);
    if (dst.length !== src.length) dst.length = src.length;
    for (let i = 0; i < src.length; i++) {
      const x: unknown = src[i];
      dst[i] = typeof x === 'object' && x !== null ? assignJson(dst[i], x) : x;
    }
    return dst as T;
  }
  if (typeof dst !== 'object' || dst === null || Array.isArray(dst)) return cloneJson(src);
  const d = dst as Record<string, unknown>;
  const sr = src as Record<string, unknown>;
  for (const k in d) if (!hasOwn.call(sr, k)) delete d[k];
  for (const k in sr) {
    const x = sr[k];
    d[k] = typeof x === 'object' && x !== null ? assignJson(d[k], x) : x;
  }
  return d as T;
}

/**
 * A fast deep copy of plain JSON data (objects, arrays, primitives): the generic private mutable copy the
 * explorer applies events to, when the model supplies no `clone`. Faster than structuredClone on small states.
 */
export function cloneJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const a = v.slice();
    for (let i = 0; i < a.length; i++) {
      const x: unknown = a[i];
      if (typeof x === 'object' && x !== null) a[i] = cloneJson(x);
    }
    return a as T;
  }
  const o: Record<string, unknown> = {};
  const src = v as Record<string, unknown>;
  for (const k in src) {
    const x = src[k];
    o[k] = typeof x === 'object' && x !== null ? cloneJson(x) : x;
  }
  return o as T;
}

/** A growable Int32 column (the explorer's parent ids and choices, the state store's offsets). */
export class IntColumn {
  a = new Int32Array(1 << 12);
  n = 0;
  push(x: number): void {
    if (this.n === this.a.length) { const b = new Int32Array(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[this.n++] = x;
  }
}

/**
 * An open-addressing set of 64-bit hashes: both 32-bit lanes side by side in one Int32Array (one cache line per
 * probe), linear probing, load <= 1/2. About 16 bytes per distinct state at the worst load; no per-entry objects.
 */
export class HashSet64 {
  private t: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacityLog2 = 16) {
    this.t = new Int32Array(2 << capacityLog2);
    this.mask = (1 << capacityLog2) - 1;
  }

  /** Adds (h1, h2); returns true if it was not there. The pair (0, 0) is stored as (0, 1). */
  add(h1: number, h2: number): boolean {
    if (h1 === 0 && h2 === 0) h2 = 1;
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const t = this.t;
    let i = (h1 ^ Math.imul(h2, 0x9e3779b1)) & this.mask;
    for (;;) {
      const a = t[2 * i] as number;
      const b = t[2 * i + 1] as number;
      if (a === 0 && b === 0) {
        t[2 * i] = h1; t[2 * i + 1] = h2; this.size++;
        return true;
      }
      if (a === h1 && b === h2) return false;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.t;
    const cap = (this.mask + 1) * 2;
    this.t = new Int32Array(2 * cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) {
      const a = old[i] as number;
      const b = old[i + 1] as number;
      if (a !== 0 || b !== 0) this.add(a, b);
    }
  }

  /** The stored pairs, packed (h1, h2, h1, h2, ...; `2 * size` words, in table order): for a union elsewhere. */
  entries(): Int32Array {
    const out = new Int32Array(2 * this.size);
    const t = this.t;
    let k = 0;
    for (let i = 0; i < t.length; i += 2) {
      const a = t[i] as number;
      const b = t[i + 1] as number;
      if (a !== 0 || b !== 0) { out[k++] = a; out[k++] = b; }
    }
    return out;
  }

  /** Adds every pair of `entries()` of another set (the union); returns how many were new. */
  addAll(pairs: Int32Array): number {
    let added = 0;
    for (let i = 0; i + 1 < pairs.length; i += 2) if (this.add(pairs[i] as number, pairs[i + 1] as number)) added++;
    return added;
  }

  /** Bytes held by the table. */
  bytes(): number {
    return this.t.byteLength;
  }
}

/** Birthday bound on a hash collision among n distinct 64-bit fingerprints: n^2 / 2^65. */
export function collisionBound(n: number): number {
  return (n * n) / 2 ** 65;
}
