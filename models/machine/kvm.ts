/**
 * KVM's shared page-table and TLB operations on the simulated machine (arm64 `mmu.c` / `pgtable.c` semantics):
 * mark_page_dirty_in_slot, range write-protect, eager split, TLB flushes. Used by the fault path and by every
 * re-arming ioctl. All functions mutate a draft (or a private mutable copy) in place.
 */
import { bitClear, bitClearRange, bitGet, bitSet } from './paged.ts';
import {
  BLOCK_PAGES, D_BLOCK, D_VALID, D_W, l2EntryOf, setL2, splitBlock, type L3Table,
} from './pagetable.ts';
import { slotOf, type MachineState } from './state.ts';
import { tlbBase, tlbFlags, tlbVmid, T_BLOCK, T_PREARM, T_W } from './tlb.ts';
import { mechanismsOf } from './selected.ts';

/**
 * mark_page_dirty_in_slot(kvm, memslot, gfn) with `vcpu` the running vCPU (-1: none, e.g. ITS save).
 * Untracked slots: no-op. A consumer mechanism (ring) may take the mark; otherwise the slot bitmap bit is set
 * if the slot has a bitmap, else the mark is silently dropped (kvm_main.c).
 */
export function markPageDirty(s: MachineState, gfn: number, vcpu: number): void {
  const si = slotOf(s, gfn);
  if (si < 0) return;
  const slot = s.slots[si]!;
  if (!slot.logging) return;
  // Precision: this mark generates a report; it is justified if the page was written since its last re-arm.
  if (bitGet(s.oracle.touched, gfn)) bitSet(s.oracle.justified, gfn);
  for (const m of mechanismsOf(s)) if (m.mark && m.mark(s, si, gfn, vcpu)) return;
  if (slot.bitmap) bitSet(slot.bitmap, gfn - slot.base);
  else s.stats['droppedMarks'] = (s.stats['droppedMarks'] ?? 0) + 1;
}

/**
 * stage2_wp_range(start, end): clears S2AP[1] (W) on every valid leaf in [start, end), blocks included (a block
 * overlapping the range is write-protected whole). Returns the number of descriptors that changed. Every
 * writable TLB entry covering the range at this moment predates the re-arm (`markPreArm`).
 */
export function writeProtectRange(s: MachineState, start: number, end: number): number {
  rearmPrecision(s, start, end);
  markPreArm(s, start, end);
  let changed = 0;
  let g = start;
  while (g < end) {
    const regionEnd = Math.min(end, (Math.floor(g / BLOCK_PAGES) + 1) * BLOCK_PAGES);
    const e = l2EntryOf(s.s2, g);
    if (typeof e === 'number') {
      if ((e & (D_VALID | D_W)) === (D_VALID | D_W)) {
        setL2(s.s2, g, e & ~D_W);
        changed++;
      }
    } else {
      const t3 = l3Draft(s, g);
      for (let p = g; p < regionEnd; p++) {
        const d = t3[p & 511] as number;
        if ((d & (D_VALID | D_W)) === (D_VALID | D_W)) {
          t3[p & 511] = d & ~D_W;
          changed++;
        }
      }
    }
    g = regionEnd;
  }
  return changed;
}

function l3Draft(s: MachineState, g: number): L3Table {
  const t2 = s.s2[g >>> 18]!;
  return t2[(g >>> 9) & 511] as L3Table;
}

/**
 * The re-arm of [start, end) happens now: every writable TLB entry of the current VMID (on every PE) covering a
 * page of the range was filled before it, and is marked `T_PREARM` (tlb.ts), whether or not the descriptor
 * changed (an access-tracked page's descriptor is invalid, yet its writable entry may survive: B2). Entries of
 * another VMID never match again (schema.ts, DEAD_VMID) and are left alone. Called by every re-arm: the range
 * write-protect of GET/CLEAR/RESET/enable, and the hardware-dirty cleaning of the HDBSS mode switch.
 */
export function markPreArm(s: MachineState, start: number, end: number): void {
  for (const pe of s.pes) {
    const t = pe.tlb;
    for (let i = 0; i < t.length; i++) {
      const e = t[i] as number;
      const f = tlbFlags(e);
      if ((f & (T_W | T_PREARM)) !== T_W || tlbVmid(e) !== s.vmid) continue;
      const b = tlbBase(e);
      const n = (f & T_BLOCK) !== 0 ? BLOCK_PAGES : 1;
      if (b < end && b + n > start) t[i] = e + T_PREARM;
    }
  }
}

/** Drops every `T_PREARM` bit: the re-arming ioctl has returned (tlb.ts). */
export function clearPreArm(s: MachineState): void {
  for (const pe of s.pes) {
    const t = pe.tlb;
    for (let i = 0; i < t.length; i++) {
      const e = t[i] as number;
      if ((tlbFlags(e) & T_PREARM) !== 0) t[i] = e - T_PREARM;
    }
  }
}

/**
 * A dirty record of `g` is consumed by KVM for userspace (bitmap bit snapshot-and-cleared by GET, or
 * fetch_andnot by CLEAR): one report, unjustified if no mark since the record was last consumed happened while
 * the page was written since its re-arm (kvm reference section 7, precision P1).
 */
export function consumeReport(s: MachineState, g: number): void {
  s.stats.reports++;
  if (!bitGet(s.oracle.justified, g)) s.stats.unjustified++;
  bitClear(s.oracle.justified, g);
}

/**
 * Precision bookkeeping at a re-arm of [start, end): the pages are clean again for the precision metric, except
 * those with a store in flight (issued, faulting, or mapped and not yet marked), which will justify a report,
 * and those written since their last re-arm whose write a hardware log record still holds, not yet marked
 * (`Mechanism.heldRecords`: an HDBSS buffer entry that no drain has read yet).
 *
 * The latter follows the kvm reference's precision definition (kvm-dirty-tracking.md section 7, P1): a report
 * is unjustified "if no write to p (guest store that faulted/logged, retired or in flight, or KVM-internal mark)
 * occurred since the re-arm point preceding the report's generation". A hardware-logged store generates its
 * report when the hardware appends the record, not when KVM drains it into the dirty log. Under a deferred drain
 * (hdbss option `kicks`: the GET's request drains every running vCPU, which then runs on and appends entries
 * before the GET's snapshot and write-protect) the drain after the re-arm marks the page for the next GET: that
 * report is the only one of a store made before the re-arm, and the page was not in this GET's snapshot, so it
 * is needed. Clearing `touched` here counted it unjustified (10 such reports in the small compare grid's
 * 32MiB-4v-20000/s hdbss point before this rule, docs/compare.md). Only pages already `touched` are kept: a
 * block record covers 512 pages of which the store wrote one, and the others stay clean for the metric.
 */
export function rearmPrecision(s: MachineState, start: number, end: number): void {
  const held: number[] = [];
  for (const m of mechanismsOf(s)) {
    m.heldRecords?.(s, (base, pages) => {
      const lo = Math.max(base, start);
      const hi = Math.min(base + pages, end);
      for (let g = lo; g < hi; g++) if (bitGet(s.oracle.touched, g)) held.push(g);
    });
  }
  bitClearRange(s.oracle.touched, start, end);
  for (const g of held) bitSet(s.oracle.touched, g);
  for (const v of s.vcpus) {
    for (const g of [v.store, v.fault, v.mark]) if (g >= start && g < end) bitSet(s.oracle.touched, g);
  }
}

/**
 * kvm_mmu_split_huge_pages(start, end): replaces every block overlapping [start, end) by a table of 4 KiB
 * pages with the same permissions. `skipLast` is the B8 off-by-one (the last block of the range is left whole:
 * a performance difference only, since it stays write-protected and the fault path splits it later).
 */
export function eagerSplit(s: MachineState, start: number, end: number, skipLast: boolean): void {
  if (end <= start) return;
  const first = Math.floor(start / BLOCK_PAGES);
  let last = Math.floor((end - 1) / BLOCK_PAGES);
  if (skipLast) last--;
  for (let b = first; b <= last; b++) {
    const g = b * BLOCK_PAGES;
    const e = l2EntryOf(s.s2, g);
    if (typeof e === 'number' && (e & (D_VALID | D_BLOCK)) === (D_VALID | D_BLOCK)) {
      splitBlock(s.s2, g, e & ~D_BLOCK);
      flushBlockTlb(s, g);
    }
  }
}

/** TLBI for a block (break-before-make of a level-2 leaf): every PE drops entries for that block. */
export function flushBlockTlb(s: MachineState, base: number): void {
  s.stats.tlbi++;
  for (const pe of s.pes) {
    if (pe.tlb.length === 0) continue;
    const keep = pe.tlb.filter((e) => !((tlbFlags(e) & T_BLOCK) !== 0 && tlbBase(e) === base));
    if (keep.length !== pe.tlb.length) pe.tlb = keep;
  }
}

/**
 * kvm_flush_remote_tlbs_memslot: drops every cached leaf overlapping the slot on every PE (broadcast TLBI +
 * DSB), or only on `onlyPe` (the local-only TLBI bug).
 */
export function flushSlotTlb(s: MachineState, slot: number, onlyPe = -1): void {
  s.stats.tlbi++;
  const sl = s.slots[slot]!;
  const lo = sl.base;
  const hi = sl.base + sl.npages;
  for (let i = 0; i < s.pes.length; i++) {
    if (onlyPe >= 0 && i !== onlyPe) continue;
    const pe = s.pes[i]!;
    if (pe.tlb.length === 0) continue;
    const keep = pe.tlb.filter((e) => {
      const b = tlbBase(e);
      const n = (tlbFlags(e) & T_BLOCK) !== 0 ? BLOCK_PAGES : 1;
      return b + n <= lo || b >= hi;
    });
    if (keep.length !== pe.tlb.length) pe.tlb = keep;
  }
}

/**
 * A broadcast TLBI + DSB ISH as a step of its own (`kvm/tlbiIpa`, `kvm/tlbiVmid`, `kvm/tlbiAll`): every PE drops
 * the entries `hit` selects (the IPA's, the VMID's, all).
 */
export function tlbInvalidate(s: MachineState, hit: (e: number) => boolean): void {
  s.stats.tlbi++;
  for (const pe of s.pes) {
    if (pe.tlb.length === 0) continue;
    const keep = pe.tlb.filter((e) => !hit(e));
    if (keep.length !== pe.tlb.length) pe.tlb = keep;
  }
}

/** kvm_flush_remote_tlbs: the whole VMID on every PE. */
export function flushAllTlb(s: MachineState): void {
  s.stats.tlbi++;
  for (const pe of s.pes) if (pe.tlb.length > 0) pe.tlb = [];
}

/** The PE the VMM's ioctl thread runs on (its local TLBI reaches only this PE). */
export function vmmPe(s: MachineState): number {
  return s.pes.length - 1;
}
