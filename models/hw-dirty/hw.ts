/**
 * FEAT_HAFDBS at stage 2, shared by every hardware dirty-state producer (DBM page-table scan, HDBSS, PTA):
 * the hardware dirty-state update of a writable-clean descriptor, read faults, software PTE updates that race
 * it (atomic CAS, or split read/write with the F3 knob), break-before-make unmaps, VMID rollover, and the
 * invariants INV-CAS, INV-DBM-SAFE and INV-BLOCK (arm reference sections 1.3-1.7, 4.1, 5.3).
 *
 * State lives in `s.ext['hw']` (`HwExt`, declared once in schema.ts). Producers call these functions from their
 * own mechanism hooks and supply a `HwProducer` for what differs (VTCR bits, DBM on faults, what logs a hardware
 * update).
 */
import type { Invariant, Violation } from '../../src/core/model.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { stealPageOf, slotOf, type MachineState } from '../machine/state.ts';
import {
  BLOCK_PAGES, D_AF, D_DBM, D_VALID, D_W, isWritableClean, l2EntryOf, leafOf, setL2, setPage,
} from '../machine/pagetable.ts';
import { tlbBase, tlbFlags, tlbWriteUse, T_BLOCK } from '../machine/tlb.ts';
import { storePagesOf, tlbFill } from '../machine/machine.ts';
import { flushAllTlb, flushBlockTlb, markPageDirty } from '../machine/kvm.ts';
import { bitGet, bitSet, bitsNew } from '../machine/paged.ts';
import { pending } from '../machine/invariants.ts';
// The state's schema (registers the compiled part of key `hw`).
import { type HwExt } from './schema.ts';
import { wantsShared, wantsVcpu, type EnabledMemo } from '../machine/mechanisms.ts';
import { hasBug, type HdbssKnob, type PtaKnob, type KnobTest } from '../machine/knobs.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob | PtaKnob> = hasBug;

/** What differs between the hardware dirty-state producers. */
export interface HwProducer {
  /** VTCR_EL2 bits (HA=1, HD=2, HDBSS=4) a PE gets when a vCPU of the VM is loaded on it. */
  vtcr(s: MachineState): number;
  /** Does KVM set DBM on a write-fault mapping in slot `si` now (hardware logging active for it)? */
  dbmOnFault(s: MachineState, si: number): boolean;
  /** May the PE perform a hardware dirty-state update now (HDBSS: buffer not full, FSC == 0)? */
  canUpdate(s: MachineState, vcpu: number, pe: number): boolean;
  /** Logs a hardware writable-clean -> writable-dirty transition of the leaf at `base`, `level`. */
  logged(s: MachineState, vcpu: number, pe: number, base: number, level: number): void;
  /** Does the unmap path save hardware dirty state ("Save the possible hardware dirty info"; scan schemes)? */
  readonly saveOnUnmap: boolean;
  /** Does this design care about VMIDs (VMID rollover events)? */
  readonly vmids: boolean;
}

export type { HwExt };

export function hwOf(s: MachineState): HwExt {
  return s.ext['hw'] as unknown as HwExt;
}

/** Initial shared state. Guess: blocks mapped at start and the host-written pages (stolen time, ITS tables) are
 * backed by private host pages; every other page starts on the shared zero page until its first write fault. */
export function hwInit(s: MachineState): void {
  const hostWritable = bitsNew(s.totalPages, false);
  for (const sl of s.slots) {
    for (let g = sl.base; g < sl.base + sl.npages; g++) if (leafOf(s.s2, g) & D_VALID) bitSet(hostWritable, g);
  }
  // Stolen-time record pages are host-backed (KVM writes them at vcpu_load) only when stolen time is on.
  for (let v = 0; s.config.stolenTime && v < s.config.vcpus; v++) {
    const g = stealPageOf(s.config, v);
    if (g < s.totalPages) bitSet(hostWritable, g);
  }
  for (const g of s.config.itsPages) bitSet(hostWritable, g);
  const h: HwExt = { visitCtx: [], casLost: -1, hostWritable, vmidStale: false, blockAudit: [] };
  s.ext['hw'] = h;
}

/**
 * Sets DBM on every valid, host-writable leaf (blocks included unless `blocks` is false): the guest ran with
 * hardware dirty state. A block left without DBM stays as it is (write-protected under logging), so a store to it
 * faults and the fault path splits it (hdbss with the dirty ring: finding F-B1, models/hdbss/reducer.ts).
 */
export function setDbmOnMappedLeaves(s: MachineState, blocks = true): void {
  const h = hwOf(s);
  for (const sl of s.slots) {
    for (let g = sl.base; g < sl.base + sl.npages; g++) {
      const l2 = l2EntryOf(s.s2, g);
      if (typeof l2 === 'number') {
        if (blocks && (l2 & D_VALID) && !(l2 & D_DBM) && bitGet(h.hostWritable, g)) setL2(s.s2, g, l2 | D_DBM);
      } else {
        const d = l2[g & 511] ?? 0;
        if ((d & D_VALID) && !(d & D_DBM) && bitGet(h.hostWritable, g)) setPage(s.s2, g, d | D_DBM);
      }
    }
  }
}

/** The leaf covering `gfn`: its descriptor, base gfn and level (2 = 2 MiB block, 3 = page). */
export function leafAt(s: MachineState, gfn: number): { d: number; base: number; level: number } {
  const l2 = l2EntryOf(s.s2, gfn);
  if (typeof l2 === 'number') return { d: l2, base: gfn - (gfn % BLOCK_PAGES), level: 2 };
  return { d: l2[gfn & 511] ?? 0, base: gfn, level: 3 };
}

/** Pages a record at `base` of `level` covers. */
export function recordPages(level: number): number {
  return level === 2 ? BLOCK_PAGES : 1;
}

/**
 * mark_page_dirty for a hardware record (HDBSS entry, PTA record, writable-dirty descriptor found by a scan):
 * every page the record's leaf maps. `onePage` is the F15 bug (only the record's IPA page).
 */
export function markRecord(s: MachineState, base: number, level: number, vcpu: number, onePage: boolean): void {
  const n = onePage ? 1 : recordPages(level);
  for (let g = base; g < base + n && g < s.totalPages; g++) markPageDirty(s, g, vcpu);
  if (level === 2) {
    const h = hwOf(s);
    if (h.blockAudit[0] !== s.stats.events) h.blockAudit = [s.stats.events];
    h.blockAudit.push(base);
  }
}

function flushPageTlb(s: MachineState, gfn: number): void {
  s.stats.tlbi++;
  for (const pe of s.pes) {
    if (pe.tlb.length === 0) continue;
    const keep = pe.tlb.filter((e) => (tlbFlags(e) & T_BLOCK) !== 0 || tlbBase(e) !== gfn);
    if (keep.length !== pe.tlb.length) pe.tlb = keep;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Next relation and reducer of the shared events

export function hwCandidates(s: MachineState, out: MachineEvent[], p: HwProducer, memo: EnabledMemo): void {
  // Without the per-page kinds (EnabledMemo.perPage), only the hardware update of each vCPU's pending store.
  const pages = memo.perPage ? storePagesOf(s.config) : [];
  for (let vi = 0; vi < s.vcpus.length; vi++) {
    if (!wantsVcpu(memo, vi)) continue;
    const v = s.vcpus[vi]!;
    if (v.run !== 'guest') continue;
    if (v.store >= 0) out.push({ type: 'hw/dirtyStateUpdated', vcpu: vi, gfn: v.store });
    else for (const g of pages) if ((leafOf(s.s2, g) & D_VALID) === 0) out.push({ type: 'kvm/readFaultMapped', vcpu: vi, gfn: g });
  }
  if (!wantsShared(memo)) return;
  const h = hwOf(s);
  if (bug(s, 'pte-update-not-atomic')) {
    if (h.visitCtx.length > 0) out.push({ type: 'kvm/pteWritten', gfn: h.visitCtx[0]! });
    else for (const g of pages) out.push({ type: 'kvm/pteRead', gfn: g });
  } else for (const g of pages) out.push({ type: 'kvm/pteAged', gfn: g });
  for (const g of pages) out.push({ type: 'mmu/rangeUnmapped', gfn: g });
  if (p.vmids) out.push({ type: 'kvm/vmidRolledOver' });
}

/** Can the PE running `vcpu` perform the hardware dirty update for its pending store to `gfn` (producer aside)? */
export function hwDirtyPossible(s: MachineState, vcpu: number, gfn: number): boolean {
  const v = s.vcpus[vcpu];
  if (!v || v.run !== 'guest' || v.store !== gfn) return false;
  const pe = s.pes[v.pe];
  if (!pe || (pe.vtcr & 3) !== 3) return false;
  // A writable TLB copy completes the store with no descriptor access (no update, no log); a read-only copy the PE
  // uses faults first (a writable-clean copy is re-checked against memory: R_SGJBL, ../machine/tlb.ts).
  if (tlbWriteUse(pe.tlb, gfn, s.vmid, true) !== 'walk') return false;
  return isWritableClean(leafOf(s.s2, gfn));
}

/**
 * Aging candidates. Guess: aging is modelled only where it can race a hardware update (a writable-clean page
 * descriptor with AF set, in a logging slot); elsewhere it changes nothing dirty tracking depends on.
 */
function ageable(s: MachineState, gfn: number): boolean {
  const si = slotOf(s, gfn);
  if (si < 0 || !s.slots[si]!.logging) return false;
  const l2 = l2EntryOf(s.s2, gfn);
  if (typeof l2 === 'number') return false;
  const d = l2[gfn & 511] ?? 0;
  return isWritableClean(d) && (d & D_AF) !== 0;
}

export function hwIsEnabled(s: MachineState, e: MachineEvent, p: HwProducer): boolean | undefined {
  switch (e.type) {
    case 'hw/dirtyStateUpdated': {
      if (!hwDirtyPossible(s, e.vcpu, e.gfn)) return false;
      return p.canUpdate(s, e.vcpu, s.vcpus[e.vcpu]!.pe);
    }
    case 'kvm/readFaultMapped': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'guest' && v.store < 0 && slotOf(s, e.gfn) >= 0 && (leafOf(s.s2, e.gfn) & D_VALID) === 0;
    }
    case 'kvm/pteAged':
      return !bug(s, 'pte-update-not-atomic') && ageable(s, e.gfn);
    case 'kvm/pteRead':
      return bug(s, 'pte-update-not-atomic') && hwOf(s).visitCtx.length === 0 && ageable(s, e.gfn);
    case 'kvm/pteWritten': {
      const h = hwOf(s);
      return h.visitCtx.length > 0 && h.visitCtx[0] === e.gfn;
    }
    case 'mmu/rangeUnmapped': {
      if (slotOf(s, e.gfn) < 0) return false;
      const { d, base, level } = leafAt(s, e.gfn);
      if ((d & D_VALID) === 0) return false;
      // mmu_lock: no unmap of a descriptor a software walker is updating.
      const h = hwOf(s);
      return !(h.visitCtx.length > 0 && h.visitCtx[0]! >= base && h.visitCtx[0]! < base + recordPages(level));
    }
    case 'kvm/vmidRolledOver': {
      if (!p.vmids || hwOf(s).vmidStale) return false;
      const ph = s.vmm.phase;
      if (ph !== 'idle' && ph !== 'precopy') return false;
      // Guess: a VMID active on some CPU survives a rollover; only a VM with no loaded vCPU loses it.
      return s.vcpus.every((v) => v.pe < 0);
    }
    default:
      return undefined;
  }
}

export function hwApply(s: MachineState, e: MachineEvent, p: HwProducer): boolean {
  switch (e.type) {
    case 'hw/dirtyStateUpdated': {
      const v = s.vcpus[e.vcpu]!;
      const { d, base, level } = leafAt(s, e.gfn);
      // One atomic CAS of the descriptor: W (S2AP[1]) and AF together (R_PRHKD).
      if (level === 2) setL2(s.s2, e.gfn, d | D_W | D_AF);
      else setPage(s.s2, e.gfn, d | D_W | D_AF);
      tlbFill(s, v.pe, e.gfn);
      s.stats['hwDirtyUpdates'] = (s.stats['hwDirtyUpdates'] ?? 0) + 1;
      if (level === 2) s.stats['hwBlockUpdates'] = (s.stats['hwBlockUpdates'] ?? 0) + 1;
      p.logged(s, e.vcpu, v.pe, base, level);
      return true;
    }
    case 'kvm/readFaultMapped': {
      const si = slotOf(s, e.gfn);
      const logging = s.slots[si]!.logging;
      let d = D_VALID | D_AF;
      // user_mem_abort: with logging a read fault never maps writable; a zero-page backing is read-only. Guess:
      // without logging it maps writable when the host page is (populated), as the upstream fault path does.
      if (!logging && bitGet(hwOf(s).hostWritable, e.gfn)) d |= D_W;
      // F8 (PTA RFC patch 8): with hardware logging, DBM is set regardless of `writable`.
      if (bug(s, 'dbm-on-readonly') && p.dbmOnFault(s, si)) d |= D_DBM;
      setPage(s.s2, e.gfn, d);
      return true;
    }
    case 'kvm/pteAged': {
      const d = leafOf(s.s2, e.gfn);
      setPage(s.s2, e.gfn, d & ~D_AF);
      return true;
    }
    case 'kvm/pteRead': {
      hwOf(s).visitCtx = [e.gfn, leafOf(s.s2, e.gfn)];
      return true;
    }
    case 'kvm/pteWritten': {
      const h = hwOf(s);
      const old = h.visitCtx[1]!;
      h.visitCtx = [];
      const cur = leafOf(s.s2, e.gfn);
      const nw = old & ~D_AF;
      const lost = cur & ~old & (D_W | D_AF) & ~nw;
      if (lost !== 0 && h.casLost < 0) h.casLost = e.gfn;
      if (typeof l2EntryOf(s.s2, e.gfn) !== 'number') setPage(s.s2, e.gfn, nw);
      return true;
    }
    case 'mmu/rangeUnmapped': {
      const { d, base, level } = leafAt(s, e.gfn);
      if (level === 2) {
        setL2(s.s2, e.gfn, 0);
        flushBlockTlb(s, base);
      } else {
        setPage(s.s2, e.gfn, 0);
        flushPageTlb(s, e.gfn);
      }
      const si = slotOf(s, e.gfn);
      const wd = (d & (D_VALID | D_DBM | D_W)) === (D_VALID | D_DBM | D_W);
      if (p.saveOnUnmap && wd && s.slots[si]!.logging && !bug(s, 'bbm-drops-hw-dirty')) markRecord(s, base, level, -1, false);
      return true;
    }
    case 'kvm/vmidRolledOver':
      hwOf(s).vmidStale = true;
      // The new generation starts with every CPU's TLB flushed.
      flushAllTlb(s);
      return true;
    default:
      return false;
  }
}

/** vcpu_load: program VTCR_EL2 for the design; allocate a new VMID after a rollover. Returns true if it changed. */
export function hwOnLoad(s: MachineState, _vcpu: number, pe: number, p: HwProducer): boolean {
  const P = s.pes[pe]!;
  const vt = p.vtcr(s);
  if (P.vtcr !== vt) P.vtcr = vt;
  const h = hwOf(s);
  if (!h.vmidStale) return false;
  h.vmidStale = false;
  s.vmid = (s.vmid % 255) + 1;
  P.vmid = s.vmid;
  return true;
}

/** Extra bits of a write-fault mapping; the write fault also breaks copy-on-write (a private host page). */
export function hwFaultBits(s: MachineState, gfn: number, p: HwProducer): number {
  const h = hwOf(s);
  if (!bitGet(h.hostWritable, gfn)) bitSet(h.hostWritable, gfn);
  const si = slotOf(s, gfn);
  return si >= 0 && p.dbmOnFault(s, si) ? D_DBM : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Invariants

function viol(invariant: string, message: string, pages: number[]): Violation {
  return { invariant, message, pages };
}

export const INV_CAS: Invariant<MachineState> = {
  id: 'INV-CAS',
  description: 'No software PTE write discards a bit (W or AF) that a hardware dirty-state update set after software read the descriptor.',
  check(s) {
    const g = hwOf(s).casLost;
    return g < 0 ? null : viol('INV-CAS', `a plain software write to the descriptor of page ${g} discarded the W bit a hardware dirty-state update set after the walker read it`, [g]);
  },
};

export const INV_DBM_SAFE: Invariant<MachineState> = {
  id: 'INV-DBM-SAFE',
  description: 'DBM is set only on descriptors mapping host-writable pages (never the shared zero page or a read-only host page).',
  check(s) {
    const h = hwOf(s);
    for (const sl of s.slots) {
      for (let g = sl.base; g < sl.base + sl.npages; g++) {
        const d = leafOf(s.s2, g);
        if ((d & (D_VALID | D_DBM)) === (D_VALID | D_DBM) && !bitGet(h.hostWritable, g)) {
          return viol('INV-DBM-SAFE', `page ${g} is mapped with DBM=1 but backed by a read-only host page (zero page): a guest store would write it without a fault`, [g]);
        }
      }
    }
    return null;
  },
};

export const INV_BLOCK: Invariant<MachineState> = {
  id: 'INV-BLOCK',
  description: 'A hardware record for a block descriptor dirties every page the block maps.',
  check(s) {
    const a = hwOf(s).blockAudit;
    if (a.length < 2 || a[0] !== s.stats.events) return null;
    const vm = s.vmm;
    for (let i = 1; i < a.length; i++) {
      const base = a[i]!;
      for (let g = base; g < base + BLOCK_PAGES; g++) {
        const si = slotOf(s, g);
        if (si < 0 || !s.slots[si]!.logging) continue;
        if (pending(s, g, si) || bitGet(vm.toCopy, g) || bitGet(vm.fetched, g)) continue;
        return viol('INV-BLOCK', `a record for the 2 MiB block at page ${base} was harvested but page ${g} of the block is in no dirty log`, [g]);
      }
    }
    return null;
  },
};

export const HW_INVARIANTS: readonly Invariant<MachineState>[] = [INV_CAS, INV_DBM_SAFE, INV_BLOCK];
