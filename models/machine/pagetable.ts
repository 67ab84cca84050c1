/**
 * The stage-2 page table as a radix tree of 512-entry tables, as the hardware walks it: a level-1 array of
 * level-2 tables; a level-2 entry is a 2 MiB block descriptor (a number) or a level-3 table (512 numbers).
 * A descriptor is a compact number (below); 0 is invalid.
 *
 * We model only what dirty tracking depends on: valid, S2AP[1] (W: write permission, which *is* the dirty
 * state when DBM=1), AF, DBM (bit 51 in the real descriptor), block-vs-page, and KVM's "locked" marker for a
 * break-before-make in progress. Output addresses, memory attributes and XN are not modelled.
 */
export const D_VALID = 1;
export const D_W = 2;
export const D_AF = 4;
export const D_DBM = 8;
export const D_BLOCK = 16;
export const D_LOCKED = 32;

export type L3Table = number[];
export type L2Entry = number | L3Table;
export type L2Table = L2Entry[];
export type Stage2 = (L2Table | null)[];

export const BLOCK_PAGES = 512;

export function s2New(totalPages: number): Stage2 {
  const l1: Stage2 = [];
  const n1 = Math.ceil(totalPages / (BLOCK_PAGES * 512));
  for (let i = 0; i < n1; i++) l1.push(null);
  return l1;
}

/** The leaf descriptor covering `gfn` (a block or a page), or 0. */
export function leafOf(s2: Stage2, gfn: number): number {
  const t2 = s2[gfn >>> 18];
  if (!t2) return 0;
  const e = t2[(gfn >>> 9) & 511];
  if (e === undefined) return 0;
  if (typeof e === 'number') return e;
  return e[gfn & 511] ?? 0;
}

/** The level-2 entry for the 2 MiB region of `gfn`. */
export function l2EntryOf(s2: Stage2, gfn: number): L2Entry {
  const t2 = s2[gfn >>> 18];
  if (!t2) return 0;
  return t2[(gfn >>> 9) & 511] ?? 0;
}

function ensureL2(s2: Stage2, gfn: number): L2Table {
  let t2 = s2[gfn >>> 18];
  if (!t2) {
    t2 = new Array<L2Entry>(512).fill(0);
    s2[gfn >>> 18] = t2;
  }
  return t2;
}

/** Sets the level-2 entry of `gfn`'s region (a block descriptor, 0, or a fresh table). */
export function setL2(s2: Stage2, gfn: number, e: L2Entry): void {
  ensureL2(s2, gfn)[(gfn >>> 9) & 511] = e;
}

/** Sets a 4 KiB page descriptor; the region must hold a table (or be invalid, then a table is created). */
export function setPage(s2: Stage2, gfn: number, d: number): void {
  const t2 = ensureL2(s2, gfn);
  const i2 = (gfn >>> 9) & 511;
  let t3 = t2[i2];
  if (t3 === undefined || typeof t3 === 'number') {
    if (t3 !== undefined && t3 !== 0) throw new Error(`[dtsim] setPage(${gfn}) over a block`);
    t3 = new Array<number>(512).fill(0);
    t2[i2] = t3;
  }
  if (t3[gfn & 511] !== d) t3[gfn & 511] = d;
}

/** Replaces a block with a table whose 512 pages carry `pageDesc` (eager split) or are invalid (0). */
export function splitBlock(s2: Stage2, gfn: number, pageDesc: number): void {
  setL2(s2, gfn, new Array<number>(512).fill(pageDesc));
}

export function isWritable(d: number): boolean {
  return (d & (D_VALID | D_W)) === (D_VALID | D_W);
}
/** Writable-clean under hardware dirty state management: DBM=1, W=0 (valid). */
export function isWritableClean(d: number): boolean {
  return (d & (D_VALID | D_W | D_DBM)) === (D_VALID | D_DBM);
}
