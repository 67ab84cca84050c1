/**
 * Per-PE TLBs of cached leaf copies. An entry is a packed number: base gfn, VMID, and flags (writable,
 * DBM, block, pre-arm). A stale writable entry lets stores complete with no fault, no DBM update and no log: the
 * heart of the TLBI bugs. Capacity is small and fixed; a fill into a full TLB evicts the oldest entry.
 *
 * An entry caches what the walk read, read-only leaves included (a guest load fills one: `guest/loadPerformed`;
 * Arm ARM D8.5.1 forbids caching only AF=0 descriptors). A write looks its entry up first (`tlbWriteUse`):
 * - a writable copy (W=1) completes it with no descriptor access (no fault, no hardware update, no log);
 * - a read-only copy the PE may use takes a stage-2 permission fault whatever the descriptor in memory says now:
 *   after software made the descriptor writable without a TLBI this is the spurious fault of herd's
 *   `DBchange-UP-STR-DSB-ISB` (Allowed), which KVM's fault path must survive; after a TLBI removed the copy it
 *   cannot happen (`DBchange-UP-STR-DSB-TLBI-DSB-ISB`, Forbidden);
 * - a writable-clean copy (DBM=1, W=0) under VTCR_EL2.{HA,HD} is not used to complete a write: the PE checks it
 *   against memory (R_SGJBL), as if it had no copy; with HD off DBM is ignored (R_PZFQC) and the copy is read-only.
 *
 * `T_PREARM` is not a translation attribute: it is the audit bit INV-FLUSH reads (invariants.ts). A re-arming
 * ioctl sets it, at the moment it write-protects a page (`markPreArm`, kvm.ts), on every writable entry of the
 * current VMID covering that page: those entries were filled before the re-arm, so a store through one of them
 * after the ioctl returns completes with no fault and no log (staleness). Everything that replaces or drops an
 * entry (a refill, a TLBI, an eviction, the fault path's local invalidation) drops the bit with it, since the bit
 * lives in the entry's number; a refill after the re-arm is a fresh entry without it (it came from a fault that
 * marks the page, so it is not stale). The bits are cleared when the ioctl has returned (`clearPreArm`, at the
 * start of the next event, so that INV-FLUSH can read them in the state the return leaves): outside a re-arming
 * ioctl no entry carries one, which keeps the state canonical and bounded (one bit per entry, no counter).
 * Lookups (`tlbFind`, `tlbWritable`) ignore it.
 */
export const T_W = 1;
export const T_DBM = 2;
export const T_BLOCK = 4;
export const T_PREARM = 8;

/** Flag bits per entry (the low field of the packed number). */
const FLAG_SPAN = 16;
/** FLAG_SPAN * 256 VMIDs: one base gfn step. */
const BASE_SPAN = FLAG_SPAN * 256;

export function tlbPack(base: number, vmid: number, flags: number): number {
  return (base * 256 + vmid) * FLAG_SPAN + flags;
}
export function tlbBase(e: number): number {
  return Math.floor(e / BASE_SPAN);
}
export function tlbVmid(e: number): number {
  return Math.floor(e / FLAG_SPAN) % 256;
}
export function tlbFlags(e: number): number {
  return e % FLAG_SPAN;
}
export function tlbCovers(e: number, gfn: number): boolean {
  const base = tlbBase(e);
  return (tlbFlags(e) & T_BLOCK) !== 0 ? base === gfn - (gfn % 512) : base === gfn;
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
  return i >= 0 && (tlbFlags(tlb[i] as number) & T_W) !== 0;
}
/** What a write to `gfn` does with the PE's cached copy (header): complete, fault, or walk the table. */
export type TlbWriteUse = 'complete' | 'fault' | 'walk';

/** `hwDirty`: the PE has VTCR_EL2.HA and HD set (a cached DBM=1 copy is then re-checked against memory). */
export function tlbWriteUse(tlb: readonly number[], gfn: number, vmid: number, hwDirty: boolean): TlbWriteUse {
  const i = tlbFind(tlb, gfn, vmid);
  if (i < 0) return 'walk';
  const f = tlbFlags(tlb[i] as number);
  if ((f & T_W) !== 0) return 'complete';
  return (f & T_DBM) !== 0 && hwDirty ? 'walk' : 'fault';
}
/**
 * Does an entry of the current VMID covering `gfn` carry `T_PREARM` (writable, filled before the in-flight
 * ioctl re-armed the page, and neither refilled nor invalidated since)?
 */
export function tlbPreArm(tlb: readonly number[], gfn: number, vmid: number): boolean {
  for (let i = 0; i < tlb.length; i++) {
    const e = tlb[i] as number;
    if ((tlbFlags(e) & T_PREARM) !== 0 && tlbVmid(e) === vmid && tlbCovers(e, gfn)) return true;
  }
  return false;
}
