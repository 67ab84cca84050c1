/**
 * The helpers the compiled word-image code calls (schema-image.ts generates the code; split out of it): the
 * errors naming a field, per-page arrays, integer lists, counters added by name, and the in-place readers
 * `readInto` uses. Each has one shape (monomorphic), and none reads a clock or does I/O.
 */
import { COUNTER_EXTRA } from './schema-layout.ts';

function notInt(path: string, x: unknown): never {
  throw new Error(`[dtsim] state word image: ${path} = ${JSON.stringify(x) ?? String(x)} is not an int32 (the layout keeps one word per integer)`);
}

function notU32(path: string, x: unknown): never {
  throw new Error(`[dtsim] state word image: ${path} = ${JSON.stringify(x) ?? String(x)} is not a u32 (declared u32 in its schema)`);
}

function over(path: string, n: number, cap: number): never {
  throw new Error(`[dtsim] state word image: ${path} has ${n} entries, its layout holds ${cap} (raise the capacity its schema declares)`);
}

function pagedShape(path: string): never {
  throw new Error(`[dtsim] state word image: ${path} is not a per-page array of the shape pagedNew builds (models/machine/paged.ts)`);
}

/** Writes the entries of a per-page array (count, then entries) and checks it has pagedNew's shape. */
function writePaged(p: number[][][], w: Int32Array, at: number, cap: number, asBits: boolean, path: string): void {
  let n = 0;
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    for (let j = 0; j < mid.length; j++) {
      const leaf = mid[j] as number[];
      // pagedNew: full 512-entry leaves, full 512-leaf middles, but the last.
      if (n !== i * (1 << 18) + j * 512) pagedShape(path);
      if (n + leaf.length > cap) over(path, n + leaf.length, cap);
      for (let k = 0; k < leaf.length; k++) {
        const x = leaf[k] as number;
        if (asBits) {
          if (x >>> 0 !== x) notInt(path, x);
          w[at + 1 + n] = x | 0;
        } else {
          if ((x | 0) !== x) notInt(path, x);
          w[at + 1 + n] = x;
        }
        n++;
      }
    }
  }
  w[at] = n;
  // The shape pagedNew(n) builds (the reader rebuilds it from the count).
  if (p.length !== Math.ceil(n / (1 << 18))) pagedShape(path);
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    const inMid = Math.min(1 << 18, n - i * (1 << 18));
    if (mid.length !== Math.ceil(inMid / 512)) pagedShape(path);
    for (let j = 0; j < mid.length; j++) if ((mid[j] as number[]).length !== Math.min(512, inMid - j * 512)) pagedShape(path);
  }
}

function readPaged(w: Int32Array, at: number, asBits: boolean): number[][][] {
  const n = w[at] as number;
  const top: number[][][] = [];
  for (let i = 0; i < n; i += 1 << 18) {
    const mid: number[][] = [];
    for (let j = i; j < Math.min(n, i + (1 << 18)); j += 512) {
      const leaf: number[] = [];
      const e = Math.min(n, j + 512);
      if (asBits) for (let k = j; k < e; k++) leaf.push((w[at + 1 + k] as number) >>> 0);
      else for (let k = j; k < e; k++) leaf.push(w[at + 1 + k] as number);
      mid.push(leaf);
    }
    top.push(mid);
  }
  return top;
}

/** A list of integers: its length, then its entries (`u32`: as their int32 bit patterns). */
function writeNums(a: readonly number[], w: Int32Array, at: number, cap: number, u32: boolean, path: string): void {
  const n = a.length;
  if (n > cap) over(path, n, cap);
  w[at] = n;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    if (u32) {
      if (x >>> 0 !== x) notU32(path, x);
      w[at + 1 + i] = x | 0;
    } else {
      if ((x | 0) !== x) notInt(path, x);
      w[at + 1 + i] = x;
    }
  }
}

function readNums(w: Int32Array, at: number, u32: boolean): number[] {
  const n = w[at] as number;
  const a: number[] = [];
  if (u32) for (let i = 0; i < n; i++) a.push((w[at + 1 + i] as number) >>> 0);
  else for (let i = 0; i < n; i++) a.push(w[at + 1 + i] as number);
  return a;
}

/** `readNums` into the list `d` (reused when it is one). */
function readNumsInto(d: unknown, w: Int32Array, at: number, u32: boolean): number[] {
  if (!Array.isArray(d)) return readNums(w, at, u32);
  const a = d as number[];
  const n = w[at] as number;
  if (a.length > n) a.length = n;
  if (u32) for (let i = 0; i < n; i++) a[i] = (w[at + 1 + i] as number) >>> 0;
  else for (let i = 0; i < n; i++) a[i] = w[at + 1 + i] as number;
  return a;
}

/** `readPaged` into `d` when it has the shape of the count's (pagedNew's: the same for every state of a guest). */
function readPagedInto(d: unknown, w: Int32Array, at: number, asBits: boolean): number[][][] {
  const n = w[at] as number;
  if (!Array.isArray(d) || d.length !== Math.ceil(n / (1 << 18))) return readPaged(w, at, asBits);
  const top = d as number[][][];
  for (let i = 0; i < top.length; i++) {
    const mid = top[i] as number[][];
    const inMid = Math.min(1 << 18, n - i * (1 << 18));
    if (!Array.isArray(mid) || mid.length !== Math.ceil(inMid / 512)) return readPaged(w, at, asBits);
    for (let j = 0; j < mid.length; j++) {
      const leaf = mid[j] as number[];
      const b = i * (1 << 18) + j * 512;
      const e = Math.min(512, inMid - j * 512);
      if (!Array.isArray(leaf) || leaf.length !== e) return readPaged(w, at, asBits);
      if (asBits) for (let k = 0; k < e; k++) leaf[k] = (w[at + 1 + b + k] as number) >>> 0;
      else for (let k = 0; k < e; k++) leaf[k] = w[at + 1 + b + k] as number;
    }
  }
  return top;
}

const isObj = (x: unknown): boolean => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The names of counters added by name at run time, by id (one table per image). */
export class Names {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  /**
   * The key list of the counters object written last (every key, declared or not, in order) and, per key, 1 +
   * its name id or 0 for a declared one: states of one exploration almost always have the same key list, so
   * `writeExtra` checks that guess key by key (string identity) instead of a set and a map lookup per key.
   */
  lastKeys: string[] = [];
  lastIds: number[] = [];
  id(k: string): number {
    let id = this.ids.get(k);
    if (id === undefined) { id = this.names.length; this.names.push(k); this.ids.set(k, id); }
    return id;
  }
}

/** The counters of `c` that are not declared, as (1 + name id, value) pairs from `at`. */
function writeExtra(c: { readonly [k: string]: number }, w: Int32Array, at: number, declared: ReadonlySet<string>, names: Names, path: string): void {
  const keys = names.lastKeys;
  const ids = names.lastIds;
  let j = 0;
  let same = true;
  for (const k in c) { if (keys[j] !== k) { same = false; break; } j++; }
  if (same && j === keys.length) {
    let i = 0;
    for (let q = 0; q < j; q++) {
      const id = ids[q] as number;
      if (id === 0) continue;
      const x = c[keys[q] as string] as number;
      if ((x | 0) !== x) notInt(`${path}.${keys[q] as string}`, x);
      w[at + 2 * i] = id;
      w[at + 2 * i + 1] = x;
      i++;
    }
    return;
  }
  writeExtraSlow(c, w, at, declared, names, path);
  // The guess for the next write (at most COUNTER_EXTRA extra keys: writeExtraSlow threw otherwise).
  names.lastKeys = Object.keys(c);
  names.lastIds = names.lastKeys.map((k) => (declared.has(k) ? 0 : names.id(k) + 1));
}

function writeExtraSlow(c: { readonly [k: string]: number }, w: Int32Array, at: number, declared: ReadonlySet<string>, names: Names, path: string): void {
  let i = 0;
  for (const k in c) {
    if (declared.has(k)) continue;
    if (i === COUNTER_EXTRA) over(`${path} (counters added by name)`, i + 1, COUNTER_EXTRA);
    const x = c[k] as number;
    if ((x | 0) !== x) notInt(`${path}.${k}`, x);
    w[at + 2 * i] = names.id(k) + 1;
    w[at + 2 * i + 1] = x;
    i++;
  }
}

function readExtra(o: { [k: string]: number }, w: Int32Array, at: number, names: Names): { [k: string]: number } {
  for (let i = 0; i < COUNTER_EXTRA; i++) {
    const id = w[at + 2 * i] as number;
    if (id === 0) break;
    o[names.names[id - 1] as string] = w[at + 2 * i + 1] as number;
  }
  return o;
}

function partsKeys(path: string, want: readonly string[], o: object): never {
  throw new Error(`[dtsim] state word image: ${path} has the parts ${JSON.stringify(Object.keys(o))}, the layout ${JSON.stringify(want)} (parts are fixed at init)`);
}

function badEnum(path: string, values: readonly string[], v: unknown): never {
  throw new Error(`[dtsim] unknown value ${JSON.stringify(v)} of ${path} (one of ${values.join(', ')})`);
}

/** What the compiled code calls as `H.name`. */
export const H = { notInt, notU32, over, writePaged, readPaged, readPagedInto, writeNums, readNums, readNumsInto, writeExtra, readExtra, partsKeys, badEnum, isObj };
