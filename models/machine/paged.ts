/**
 * Per-page data (guest memory versions, bitmaps, copy sets) as a two-level radix of 512-entry arrays:
 * `p[i >>> 18][(i >>> 9) & 511][i & 511]`. A flat array of a million entries would make every immer `produce`
 * copy a million entries, and a single level of chunks still copies a 2048-entry outer array on a 4 GiB guest;
 * with two levels a change copies at most the top (<= 16 entries for 4M pages), one 512-entry middle array and
 * one 512-entry leaf, whatever the guest size (DESIGN.md sections 2 and 8). Plain arrays: immer drafts them,
 * JSON stores them.
 */
export type Paged = number[][][];
export const CHUNK_SHIFT = 9;
export const CHUNK = 1 << CHUNK_SHIFT;
/** Entries under one top-level index (512 x 512). */
export const TOP_SHIFT = 18;
const MASK = CHUNK - 1;

export function pagedNew(n: number, fill = 0): Paged {
  const top: Paged = [];
  for (let i = 0; i < n; i += 1 << TOP_SHIFT) {
    const mid: number[][] = [];
    for (let j = i; j < Math.min(n, i + (1 << TOP_SHIFT)); j += CHUNK) mid.push(new Array<number>(Math.min(CHUNK, n - j)).fill(fill));
    top.push(mid);
  }
  return top;
}
export function pget(p: Paged, i: number): number {
  return ((p[i >>> TOP_SHIFT] as number[][])[(i >>> CHUNK_SHIFT) & MASK] as number[])[i & MASK] as number;
}
export function pset(p: Paged, i: number, v: number): void {
  const c = (p[i >>> TOP_SHIFT] as number[][])[(i >>> CHUNK_SHIFT) & MASK] as number[];
  if (c[i & MASK] !== v) c[i & MASK] = v;
}
/** The index of entry `k` of leaf `leaf` of middle array `mid` (to name a changed path in a state diff). */
export function pagedIndex(mid: number, leaf: number, k: number): number {
  return (mid << TOP_SHIFT) + (leaf << CHUNK_SHIFT) + k;
}
/** Calls `f(index, value)` for every entry, in order. */
export function pagedForEach(p: Paged, f: (i: number, v: number) => void): void {
  for (let a = 0; a < p.length; a++) {
    const mid = p[a] as number[][];
    for (let b = 0; b < mid.length; b++) {
      const leaf = mid[b] as number[];
      for (let k = 0; k < leaf.length; k++) f(pagedIndex(a, b, k), leaf[k] as number);
    }
  }
}

/** A bitset over pages, as 32-bit words in 512-word chunks (16384 pages a chunk). */
export type Bits = Paged;
export function bitsNew(nbits: number, fill: boolean): Bits {
  const words = (nbits + 31) >>> 5;
  const b = pagedNew(words, 0);
  if (fill) for (let i = 0; i < nbits; i++) bitSet(b, i);
  return b;
}
export function bitGet(b: Bits, i: number): boolean {
  return ((pget(b, i >>> 5) >>> (i & 31)) & 1) === 1;
}
export function bitSet(b: Bits, i: number): void {
  const w = pget(b, i >>> 5);
  const nw = (w | (1 << (i & 31))) >>> 0;
  if (nw !== w) pset(b, i >>> 5, nw);
}
export function bitClear(b: Bits, i: number): void {
  const w = pget(b, i >>> 5);
  const nw = (w & ~(1 << (i & 31))) >>> 0;
  if (nw !== w) pset(b, i >>> 5, nw);
}
/** Lowest set bit at or above `from`, below `n`; -1 if none. Skips zero words. */
export function bitNext(b: Bits, from: number, n: number): number {
  let i = from;
  while (i < n) {
    const w = pget(b, i >>> 5) >>> (i & 31);
    if (w === 0) { i = ((i >>> 5) + 1) << 5; continue; }
    const r = i + (31 - Math.clz32(w & -w));
    return r < n ? r : -1;
  }
  return -1;
}

function popcount(x: number): number {
  let v = x >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Mask of bits [lo, hi) within one 32-bit word (0 <= lo < hi <= 32). */
function wordMask(lo: number, hi: number): number {
  return hi - lo === 32 ? 0xffffffff : (((1 << (hi - lo)) - 1) << lo) >>> 0;
}

/** Sets (`set`) or clears bits [lo, hi) word by word; returns how many bits changed. */
function bitRange(b: Bits, lo: number, hi: number, set: boolean): number {
  let changed = 0;
  let i = lo;
  while (i < hi) {
    const w = i >>> 5;
    const end = Math.min(hi, (w + 1) << 5);
    const m = wordMask(i & 31, end - (w << 5));
    const old = pget(b, w);
    const nw = (set ? old | m : old & ~m) >>> 0;
    if (nw !== old) { changed += popcount(nw ^ old); pset(b, w, nw); }
    i = end;
  }
  return changed;
}

/**
 * Sets bits [lo, hi) word by word (a bulk operation touches each 512-word chunk once, not each bit through an
 * immer proxy); returns how many bits were newly set.
 */
export function bitSetRange(b: Bits, lo: number, hi: number): number {
  return bitRange(b, lo, hi, true);
}

/** Clears bits [lo, hi) word by word; returns how many bits were cleared. */
export function bitClearRange(b: Bits, lo: number, hi: number): number {
  return bitRange(b, lo, hi, false);
}
