/**
 * Chunked arrays for per-page data (guest memory versions, bitmaps, copy sets). A flat array of a million
 * entries would make every immer `produce` copy a million entries; 512-entry chunks keep the per-event cost
 * independent of guest size (DESIGN.md section 8). Plain `number[][]`: immer drafts it, JSON stores it.
 */
export type Paged = number[][];
export const CHUNK_SHIFT = 9;
export const CHUNK = 1 << CHUNK_SHIFT;
const MASK = CHUNK - 1;

export function pagedNew(n: number, fill = 0): Paged {
  const chunks: Paged = [];
  for (let i = 0; i < n; i += CHUNK) chunks.push(new Array<number>(Math.min(CHUNK, n - i)).fill(fill));
  return chunks;
}
export function pget(p: Paged, i: number): number {
  return (p[i >>> CHUNK_SHIFT] as number[])[i & MASK] as number;
}
export function pset(p: Paged, i: number, v: number): void {
  const c = p[i >>> CHUNK_SHIFT] as number[];
  if (c[i & MASK] !== v) c[i & MASK] = v;
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
