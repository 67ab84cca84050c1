/**
 * Per-PE TLBs of cached leaf copies. An entry is a packed number: base gfn, VMID, and flags (writable,
 * DBM, block). A stale writable entry lets stores complete with no fault, no DBM update and no log: the heart of
 * the TLBI bugs. Capacity is small and fixed; a fill into a full TLB evicts the oldest entry.
 */
export const T_W = 1;
export const T_DBM = 2;
export const T_BLOCK = 4;

export function tlbPack(base: number, vmid: number, flags: number): number {
  return (base * 256 + vmid) * 8 + flags;
}
export function tlbBase(e: number): number {
  return Math.floor(e / 2048);
}
export function tlbVmid(e: number): number {
  return Math.floor(e / 8) % 256;
}
export function tlbFlags(e: number): number {
  return e % 8;
}
export function tlbCovers(e: number, gfn: number): boolean {
  const base = tlbBase(e);
  return (e % 8 & T_BLOCK) !== 0 ? base === gfn - (gfn % 512) : base === gfn;
}
/** Index of the entry for `gfn` tagged `vmid`, or -1. */
export function tlbFind(tlb: readonly number[], gfn: number, vmid: number): number {
  for (let i = 0; i < tlb.length; i++) {
    const e = tlb[i] as number;
    if (tlbVmid(e) === vmid && tlbCovers(e, gfn)) return i;
  }
  return -1;
}
/** Does any entry let a write to `gfn` complete without a walk (cached W=1)? Any VMID (a stale mode is stale). */
export function tlbWritable(tlb: readonly number[], gfn: number, vmid: number): boolean {
  const i = tlbFind(tlb, gfn, vmid);
  return i >= 0 && ((tlb[i] as number) % 8 & T_W) !== 0;
}
