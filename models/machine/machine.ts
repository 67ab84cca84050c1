/**
 * The machine's Next relation (`isEnabled`, `candidates`) and its reducer (`apply`), shared by every design.
 *
 * A guest store is several events (issued; then retired through a writable TLB entry or descriptor, or faulted
 * and handled by KVM in two steps), each chosen by the scheduler, so that a write-protect, a TLBI or a
 * vcpu_put can land between them. KVM's re-arming ioctls are split at the one point that matters (kernel work,
 * then TLB flush and return), so stores through stale TLB entries can land inside the ioctl.
 */
import { assertNever } from '../../src/core/assert.ts';
import { bitClear, bitGet, bitNext, bitSet, bitSetRange, bitsNew, pget } from './paged.ts';
import {
  BLOCK_PAGES, D_AF, D_BLOCK, D_VALID, D_W, isWritable, l2EntryOf, leafOf, setL2, setPage,
} from './pagetable.ts';
import {
  REQ_STEAL, slotOf, stealPageOf, type MachineConfig, type MachineState, type Vcpu,
} from './state.ts';
import { tlbBase, tlbFind, tlbPack, tlbWritable, T_BLOCK, T_DBM, T_W } from './tlb.ts';
import {
  clearPreArm, consumeReport, eagerSplit, flushAllTlb, flushBlockTlb, flushSlotTlb, markPageDirty, vmmPe, writeProtectRange,
} from './kvm.ts';
import { mechanismsOf } from './registry.ts';
import type { MachineEvent } from './model-events.ts';
import { newEnabledMemo, type EnabledMemo } from './mechanisms.ts';
import {
  clearDirtyLog, getDirtyLogManual, getDirtyLogProtect, lateSnapshot,
} from '../dirty-bitmap/bitmap.ts';
import { referenceClearRearm } from '../oracle/kvm-rules.ts';
import { observe } from '../oracle/oracle.ts';
import { hasBug } from './knobs.ts';

const PHASE_ORDER = { idle: 0, precopy: 1, stopping: 2, final: 3, done: 4 } as const;

function opt(s: MachineState, k: string): boolean {
  return s.design.options[k] === true;
}

// ---------------------------------------------------------------------------------------------------------
// Store path helpers

/** Can the vCPU's pending store to `gfn` complete now without a fault (cached W=1, or a writable descriptor)? */
export function storeCanRetire(s: MachineState, v: Vcpu, gfn: number): boolean {
  const pe = s.pes[v.pe];
  if (!pe) return false;
  if (tlbWritable(pe.tlb, gfn, s.vmid)) return true;
  return isWritable(leafOf(s.s2, gfn));
}

/** Fills the PE's TLB with the leaf covering `gfn` (evicting the oldest entry when full). */
export function tlbFill(s: MachineState, peIdx: number, gfn: number): void {
  const pe = s.pes[peIdx]!;
  const leaf = leafOf(s.s2, gfn);
  if ((leaf & (D_VALID | D_AF)) !== (D_VALID | D_AF)) return; // AF=0 descriptors are never cached
  const block = (leaf & D_BLOCK) !== 0;
  const base = block ? gfn - (gfn % BLOCK_PAGES) : gfn;
  const flags = ((leaf & D_W) ? T_W : 0) | ((leaf & 8) ? T_DBM : 0) | (block ? T_BLOCK : 0);
  const e = tlbPack(base, s.vmid, flags);
  const i = tlbFind(pe.tlb, gfn, s.vmid);
  if (i >= 0) {
    if (pe.tlb[i] !== e) pe.tlb[i] = e;
    return;
  }
  if (pe.tlb.length >= s.config.tlbEntries) pe.tlb.splice(0, 1);
  pe.tlb.push(e);
}

function canHwDirty(s: MachineState, v: Vcpu, gfn: number): boolean {
  // A writable-clean descriptor (DBM=1, W=0) with HA and HD on: hardware sets W instead of faulting. Owned by
  // the hardware-dirty-state mechanisms; with none active, DBM is never set and this is false.
  const pe = s.pes[v.pe];
  if (!pe || (pe.vtcr & 3) !== 3) return false;
  const leaf = leafOf(s.s2, gfn);
  return (leaf & (D_VALID | D_W | 8)) === (D_VALID | 8);
}

// ---------------------------------------------------------------------------------------------------------
// VMM (conforming userspace) helpers

function phaseAtLeast(s: MachineState, p: keyof typeof PHASE_ORDER): boolean {
  return PHASE_ORDER[s.vmm.phase] >= PHASE_ORDER[p];
}

/** Every vCPU is out of the guest and not inside a fault; no stolen-time update pending. */
function vcpusQuiet(s: MachineState): boolean {
  for (const v of s.vcpus) {
    if (v.run === 'guest' || v.run === 'fault' || (v.requests & REQ_STEAL) !== 0) return false;
  }
  for (const m of mechanismsOf(s)) if (m.quiescent && !m.quiescent(s)) return false;
  return true;
}

/** May the VMM start (the next step of) a collection now? */
function collectReady(s: MachineState): boolean {
  const vm = s.vmm;
  if (vm.ioctl !== null || vm.fetchedCount > 0) return false;
  if (vm.phase === 'precopy') return vm.collectSlot > 0 || (vm.toCopyCount === 0 && vm.round < s.config.rounds);
  if (vm.phase === 'stopping') {
    return !hasBug(s, 'vmm-no-final-sync') && (vm.collectSlot > 0 || vm.toCopyCount === 0) && vcpusQuiet(s)
      && vm.itsSaved >= s.config.itsPages.length;
  }
  return false;
}

/** The bitmap collection step the VMM takes next (GET for the next slot, or the next CLEAR). */
function bitmapCollectStep(s: MachineState, _memo: EnabledMemo): MachineEvent | null {
  const vm = s.vmm;
  if (vm.ioctl !== null) return null;
  if (vm.fetchedCount > 0) return nextClear(s);
  if (!collectReady(s)) return null;
  const slot = vm.collectSlot;
  if (slot >= s.slots.length) return null;
  return opt(s, 'manualProtect') ? { type: 'kvm/dirtyLogFetched', slot } : { type: 'kvm/dirtyLogHarvested', slot };
}

/**
 * The VMM's next KVM_CLEAR_DIRTY_LOG: the lowest 64-page word of any slot holding fetched pages, with
 * first_page = 64 * word and num_pages = min(64, npages - first_page) (an unaligned num_pages only at the slot
 * end, as the API allows), and exactly the fetched bits of that word (QEMU's rule U1: clear only bits GET showed).
 */
function nextClear(s: MachineState): MachineEvent | null {
  const g = bitNext(s.vmm.fetched, 0, s.totalPages);
  if (g < 0) return null;
  const si = slotOf(s, g);
  const sl = s.slots[si]!;
  const first = Math.floor((g - sl.base) / 64) * 64;
  const num = Math.min(64, sl.npages - first);
  const pages: number[] = [];
  for (let o = first; o < first + num; o++) if (bitGet(s.vmm.fetched, sl.base + o)) pages.push(o);
  return { type: 'kvm/dirtyLogCleared', slot: si, firstPage: first, numPages: num, pages };
}

function collector(s: MachineState): ((s: MachineState, memo: EnabledMemo) => MachineEvent | null) {
  for (const m of mechanismsOf(s)) if (m.collects && m.collectStep) return m.collectStep;
  return bitmapCollectStep;
}

/**
 * The VMM's next collection step in `s` (the collecting mechanism's, else the bitmap's): computed once per memo,
 * i.e. once per state however many candidates ask (the step itself, the ring's resets and completion events).
 */
export function nextCollectStep(s: MachineState, memo: EnabledMemo): MachineEvent | null {
  if (memo.collect === undefined) memo.collect = collector(s)(s, memo);
  return memo.collect;
}

/**
 * Hands reported pages to the VMM's copy set. Unless the records were already counted when KVM consumed them
 * (`counted`: the bitmap paths), each page counts as one report for the precision metric.
 */
export function deliver(s: MachineState, pages: readonly number[], counted = false): void {
  for (const g of pages) {
    if (!counted) consumeReport(s, g);
    addToCopy(s, g);
  }
}

/** Adds a page to the VMM's copy set (keeping the copy cursor a lower bound). */
export function addToCopy(s: MachineState, g: number): void {
  const vm = s.vmm;
  if (bitGet(vm.toCopy, g)) return;
  bitSet(vm.toCopy, g);
  vm.toCopyCount++;
  if (g < vm.copyCursor) vm.copyCursor = g;
}

/** The page the VMM copies next (the lowest in its copy set), or -1. */
export function nextCopy(s: MachineState): number {
  return s.vmm.toCopyCount > 0 ? bitNext(s.vmm.toCopy, s.vmm.copyCursor, s.totalPages) : -1;
}

/** Called after each collection step: advances the slot cursor and completes the round. */
export function collectionStepDone(s: MachineState, slotDone: boolean): void {
  const vm = s.vmm;
  if (slotDone) vm.collectSlot++;
  if (vm.collectSlot >= s.slots.length && vm.fetchedCount === 0 && vm.ioctl === null) {
    vm.collectSlot = 0;
    vm.round++;
    s.stats.collections++;
    if (vm.phase === 'stopping') vm.phase = 'final';
  }
}

// ---------------------------------------------------------------------------------------------------------
// The Next relation

/**
 * Structural candidates; `isEnabled` is the single source of truth for preconditions. One memo serves the whole
 * state (`EnabledMemo`): what the candidates' preconditions share is computed once, not once per candidate.
 */
export function candidates(s: MachineState): MachineEvent[] {
  const memo = newEnabledMemo();
  const out: MachineEvent[] = [];
  const c = s.config;
  const pages = storePagesOf(c);
  for (let vi = 0; vi < s.vcpus.length; vi++) {
    const v = s.vcpus[vi]!;
    switch (v.run) {
      case 'out':
        for (let p = 0; p < s.pes.length; p++) out.push({ type: 'vcpu/loaded', vcpu: vi, pe: p });
        break;
      case 'host':
        out.push({ type: 'host/stolenTimeWritten', vcpu: vi, gfn: stealPageOf(c, vi) });
        out.push({ type: 'vcpu/entered', vcpu: vi });
        out.push({ type: 'vcpu/put', vcpu: vi });
        break;
      case 'guest':
        if (v.store < 0) for (const g of pages) out.push({ type: 'guest/storeIssued', vcpu: vi, gfn: g });
        else {
          out.push({ type: 'guest/storeRetired', vcpu: vi, gfn: v.store });
          out.push({ type: 'guest/storeFaulted', vcpu: vi, gfn: v.store });
        }
        out.push({ type: 'vcpu/exited', vcpu: vi });
        break;
      case 'fault':
        out.push(v.mark < 0 ? { type: 'kvm/faultMapped', vcpu: vi, gfn: v.fault } : { type: 'kvm/faultMarked', vcpu: vi, gfn: v.fault });
        break;
      default:
        assertNever(v.run);
    }
  }
  for (let p = 0; p < s.pes.length; p++) {
    for (const e of s.pes[p]!.tlb) out.push({ type: 'pe/tlbEvicted', pe: p, gfn: tlbBase(e) });
  }
  if (s.vmm.phase === 'idle') for (const g of pages) out.push({ type: 'mmu/accessTracked', gfn: g });
  for (const m of mechanismsOf(s)) m.candidates?.(s, out, memo);
  vmmCandidates(s, out, memo);
  // Filter in place (one array per call).
  let n = 0;
  for (let i = 0; i < out.length; i++) {
    const e = out[i] as MachineEvent;
    if (enabledWith(s, e, memo)) out[n++] = e;
  }
  out.length = n;
  return out;
}

function vmmCandidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  const vm = s.vmm;
  if (vm.phase === 'idle' || (vm.phase === 'precopy' && vm.slotsEnabled < s.slots.length)) {
    out.push({ type: 'kvm/loggingEnabled', slot: vm.slotsEnabled });
  }
  if (vm.ioctl) { out.push({ type: 'kvm/ioctlReturned', slot: vm.ioctl.slot }); return; }
  const step = nextCollectStep(s, memo);
  if (step) out.push(step);
  if (vm.toCopyCount > 0) out.push({ type: 'vmm/pageCopied', gfn: nextCopy(s) });
  out.push({ type: 'vmm/vmStopped' });
  if (vm.phase === 'stopping' && vm.itsSaved < s.config.itsPages.length) {
    out.push({ type: 'host/itsTableSaved', gfn: s.config.itsPages[vm.itsSaved]! });
  }
  out.push({ type: 'vmm/migrationCompleted' });
}

const storePagesCache = new WeakMap<MachineConfig, readonly number[]>();
/** Pages guest stores may target (config.storePages, or every page of every slot); cached per config object. */
export function storePagesOf(c: MachineConfig): readonly number[] {
  if (c.storePages.length > 0) return c.storePages;
  let hit = storePagesCache.get(c);
  if (!hit) {
    const a: number[] = [];
    for (const sl of c.slots) for (let g = sl.base; g < sl.base + sl.npages; g++) a.push(g);
    hit = a;
    storePagesCache.set(c, hit);
  }
  return hit;
}

/** The precondition of every event (and the only one: `candidates` filters through it). */
export function isEnabled(s: MachineState, e: MachineEvent): boolean {
  return enabledWith(s, e, newEnabledMemo());
}

/** `isEnabled` with the state's memo (shared by every candidate `candidates` checks in one state). */
function enabledWith(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean {
  const vm = s.vmm;
  switch (e.type) {
    case 'guest/storeIssued': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'guest' && v.store < 0 && slotOf(s, e.gfn) >= 0;
    }
    case 'guest/storeRetired': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'guest' && v.store === e.gfn && storeCanRetire(s, v, e.gfn);
    }
    case 'guest/storeFaulted': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'guest' && v.store === e.gfn && !storeCanRetire(s, v, e.gfn) && !canHwDirty(s, v, e.gfn);
    }
    case 'pe/tlbEvicted': {
      const pe = s.pes[e.pe];
      if (!pe) return false;
      for (let i = 0; i < pe.tlb.length; i++) if (tlbBase(pe.tlb[i] as number) === e.gfn) return true;
      return false;
    }
    case 'mmu/accessTracked': {
      if (vm.phase !== 'idle') return false;
      const si = slotOf(s, e.gfn);
      if (si < 0 || s.slots[si]!.logging) return false;
      const l2 = l2EntryOf(s.s2, e.gfn);
      return typeof l2 !== 'number' && ((l2[e.gfn & 511] ?? 0) & D_VALID) !== 0;
    }
    case 'kvm/faultMapped': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'fault' && v.fault === e.gfn && v.mark < 0;
    }
    case 'kvm/faultMarked': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'fault' && v.fault === e.gfn && v.mark >= 0;
    }
    case 'vcpu/loaded': {
      const v = s.vcpus[e.vcpu];
      const pe = s.pes[e.pe];
      if (!v || !pe || v.run !== 'out' || pe.loaded >= 0 || phaseAtLeast(s, 'stopping')) return false;
      for (const m of mechanismsOf(s)) if (m.canLoad && !m.canLoad(s, e.vcpu)) return false;
      return true;
    }
    case 'vcpu/entered': {
      const v = s.vcpus[e.vcpu];
      if (!v || v.run !== 'host' || (v.requests & REQ_STEAL) !== 0 || phaseAtLeast(s, 'stopping')) return false;
      for (const m of mechanismsOf(s)) if (m.canEnter && !m.canEnter(s, e.vcpu)) return false;
      return true;
    }
    case 'vcpu/exited': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'guest';
    }
    case 'vcpu/put': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'host' && (v.requests & REQ_STEAL) === 0;
    }
    case 'host/stolenTimeWritten': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'host' && (v.requests & REQ_STEAL) !== 0 && e.gfn === stealPageOf(s.config, e.vcpu);
    }
    case 'host/itsTableSaved':
      return vm.phase === 'stopping' && vm.itsSaved < s.config.itsPages.length && s.config.itsPages[vm.itsSaved] === e.gfn
        && vm.ioctl === null && vcpusQuiet(s);
    case 'kvm/loggingEnabled':
      return (vm.phase === 'idle' || vm.phase === 'precopy') && e.slot === vm.slotsEnabled && e.slot < s.slots.length
        && vm.ioctl === null;
    case 'kvm/dirtyLogHarvested':
    case 'kvm/dirtyLogFetched':
    case 'kvm/dirtyLogCleared': {
      if (vm.slotsEnabled < s.slots.length) return false;
      const step = nextCollectStep(s, memo);
      return step !== null && sameEvent(step, e);
    }
    case 'kvm/ioctlReturned':
      return vm.ioctl !== null && vm.ioctl.slot === e.slot;
    case 'vmm/pageCopied':
      return vm.phase !== 'idle' && vm.phase !== 'done' && vm.ioctl === null && vm.toCopyCount > 0
        && nextCopy(s) === e.gfn;
    case 'vmm/vmStopped':
      return vm.phase === 'precopy' && vm.slotsEnabled >= s.slots.length && vm.round >= s.config.rounds
        && vm.collectSlot === 0 && vm.toCopyCount === 0 && vm.ioctl === null && vm.fetchedCount === 0;
    case 'vmm/migrationCompleted':
      if (vm.toCopyCount > 0 || vm.ioctl !== null || vm.fetchedCount > 0) return false;
      if (vm.phase === 'final') return true;
      // VMM bug knob: declares completion without the final collection.
      return vm.phase === 'stopping' && hasBug(s, 'vmm-no-final-sync') && vcpusQuiet(s)
        && vm.itsSaved >= s.config.itsPages.length;
    default: {
      for (const m of mechanismsOf(s)) {
        const r = m.isEnabled?.(s, e, memo);
        if (r !== undefined) return r;
      }
      return false;
    }
  }
}

/** Are two events equal (same type and fields; number arrays compared element-wise)? No allocation. */
function sameEvent(a: MachineEvent, b: MachineEvent): boolean {
  if (a.type !== b.type) return false;
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  let na = 0;
  for (const k in ra) {
    na++;
    const x = ra[k];
    const y = rb[k];
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    } else if (x !== y) return false;
  }
  let nb = 0;
  for (const _ in rb) nb++;
  return na === nb;
}

// ---------------------------------------------------------------------------------------------------------
// The reducer

/** Applies one enabled event. Works on an immer draft and on a private mutable copy alike. */
export function apply(s: MachineState, e: MachineEvent): void {
  if (s.audit !== null) {
    // The previous event returned a re-arming ioctl (or did the kernel part of a CLEAR): once no ioctl is in
    // flight, the pre-arm bits INV-FLUSH read in that state are dropped (tlb.ts, T_PREARM).
    if (s.vmm.ioctl === null) clearPreArm(s);
    s.audit = null;
  }
  s.stats.events++;
  observe(s.oracle, e);
  const vm = s.vmm;
  switch (e.type) {
    case 'guest/storeIssued': {
      const v = s.vcpus[e.vcpu]!;
      v.store = e.gfn;
      s.stats.stores++;
      return;
    }
    case 'guest/storeRetired': {
      const v = s.vcpus[e.vcpu]!;
      if (!tlbWritable(s.pes[v.pe]!.tlb, e.gfn, s.vmid)) tlbFill(s, v.pe, e.gfn);
      else if (!isWritable(leafOf(s.s2, e.gfn))) s.stats['staleTlbStores'] = (s.stats['staleTlbStores'] ?? 0) + 1;
      v.store = -1;
      return;
    }
    case 'guest/storeFaulted': {
      const v = s.vcpus[e.vcpu]!;
      v.run = 'fault';
      v.fault = e.gfn;
      return;
    }
    case 'pe/tlbEvicted': {
      const pe = s.pes[e.pe]!;
      const i = pe.tlb.findIndex((t) => tlbBase(t) === e.gfn);
      pe.tlb.splice(i, 1);
      return;
    }
    case 'mmu/accessTracked':
      setPage(s.s2, e.gfn, 0);
      return;
    case 'kvm/faultMapped':
      faultMapped(s, e.vcpu, e.gfn);
      return;
    case 'kvm/faultMarked': {
      const v = s.vcpus[e.vcpu]!;
      markPageDirty(s, v.mark, e.vcpu);
      v.mark = -1;
      v.fault = -1;
      v.run = 'host';
      s.stats.writeFaults++;
      return;
    }
    case 'vcpu/loaded': {
      const v = s.vcpus[e.vcpu]!;
      const pe = s.pes[e.pe]!;
      if (v.lastPe >= 0 && v.lastPe !== e.pe) s.stats['vcpuMigrations'] = (s.stats['vcpuMigrations'] ?? 0) + 1;
      v.pe = e.pe;
      v.lastPe = e.pe;
      v.run = 'host';
      pe.loaded = e.vcpu;
      if (pe.vmid !== s.vmid) pe.vmid = s.vmid;
      if (s.config.stolenTime && slotOf(s, stealPageOf(s.config, e.vcpu)) >= 0) v.requests |= REQ_STEAL;
      for (const m of mechanismsOf(s)) m.onLoad?.(s, e.vcpu, e.pe);
      return;
    }
    case 'vcpu/entered':
      s.vcpus[e.vcpu]!.run = 'guest';
      for (const m of mechanismsOf(s)) m.onEnter?.(s, e.vcpu);
      return;
    case 'vcpu/exited': {
      const v = s.vcpus[e.vcpu]!;
      v.run = 'host';
      v.store = -1;
      for (const m of mechanismsOf(s)) m.onExit?.(s, e.vcpu);
      return;
    }
    case 'vcpu/put': {
      const v = s.vcpus[e.vcpu]!;
      for (const m of mechanismsOf(s)) m.onPut?.(s, e.vcpu);
      s.pes[v.pe]!.loaded = -1;
      v.pe = -1;
      v.run = 'out';
      return;
    }
    case 'host/stolenTimeWritten': {
      const v = s.vcpus[e.vcpu]!;
      v.requests &= ~REQ_STEAL;
      // F16 knob: the host write is not marked (a design relying on hardware logs alone).
      if (!hasBug(s, 'host-write-unmarked')) markPageDirty(s, e.gfn, e.vcpu);
      return;
    }
    case 'host/itsTableSaved':
      vm.itsSaved++;
      s.stats['itsWrites'] = (s.stats['itsWrites'] ?? 0) + 1;
      markPageDirty(s, e.gfn, -1);
      return;
    case 'kvm/loggingEnabled':
      loggingEnabled(s, e.slot);
      return;
    case 'kvm/dirtyLogHarvested':
      getDirtyLogProtect(s, e.slot);
      return;
    case 'kvm/dirtyLogFetched':
      getDirtyLogManual(s, e.slot);
      collectionStepDone(s, true);
      return;
    case 'kvm/dirtyLogCleared': {
      const sl = s.slots[e.slot]!;
      const before = (o: number): boolean => sl.bitmap !== null && bitGet(sl.bitmap, o);
      const expected = referenceClearRearm(sl.npages, e.firstPage, e.numPages, e.pages, before).map((o) => o + sl.base);
      const r = clearDirtyLog(s, e.slot, e.firstPage, e.numPages, e.pages);
      // The VMM hands every page it asked to clear to its copy set at return (copy after CLEAR returns).
      const io = vm.ioctl!;
      for (const o of e.pages) {
        const g = sl.base + o;
        if (bitGet(vm.fetched, g)) {
          bitClear(vm.fetched, g);
          vm.fetchedCount--;
          io.deliver.push(g);
        }
      }
      s.audit = { kind: 'clear', slot: e.slot, rearmed: null, clearExpected: expected, clearActual: r.rearmed, clearErrno: r.errno };
      return;
    }
    case 'kvm/ioctlReturned':
      ioctlReturned(s);
      return;
    case 'vmm/pageCopied':
      bitClear(vm.toCopy, e.gfn);
      vm.toCopyCount--;
      vm.copyCursor = e.gfn + 1;
      return;
    case 'vmm/vmStopped':
      vm.phase = 'stopping';
      vm.finalCollect = true;
      return;
    case 'vmm/migrationCompleted':
      vm.phase = 'done';
      return;
    default: {
      for (const m of mechanismsOf(s)) if (m.apply?.(s, e)) return;
      throw new Error(`[dtsim] no mechanism of this design applies '${(e as { type: string }).type}'`);
    }
  }
}

/**
 * user_mem_abort for a write fault, up to the point where mmu_lock is dropped: map the page writable.
 * With logging on, a block is never made writable: it is broken (break-before-make: invalidate, TLBI) and the
 * faulting page is mapped at 4 KiB (`force_pte`); the other 511 pages fault in later.
 */
function faultMapped(s: MachineState, vcpu: number, gfn: number): void {
  const v = s.vcpus[vcpu]!;
  const si = slotOf(s, gfn);
  const logging = si >= 0 && s.slots[si]!.logging;
  const l2 = l2EntryOf(s.s2, gfn);
  let extra = 0;
  for (const m of mechanismsOf(s)) if (m.faultBits) extra |= m.faultBits(s, gfn);
  let w = D_W;
  for (const m of mechanismsOf(s)) if (m.faultClean?.(s, gfn)) w = 0;
  v.mark = gfn;
  if (typeof l2 === 'number' && (l2 & (D_VALID | D_BLOCK)) === (D_VALID | D_BLOCK)) {
    const base = gfn - (gfn % BLOCK_PAGES);
    if (!logging) {
      setL2(s.s2, gfn, l2 | D_W | D_AF);
    } else if (hasBug(s, 'block-fastfix-first-page')) {
      // B9: the fast path makes the whole write-protected block writable and marks only its first page.
      setL2(s.s2, gfn, l2 | D_W | D_AF);
      v.mark = base;
    } else {
      setL2(s.s2, gfn, new Array<number>(512).fill(0));
      flushBlockTlb(s, base);
      setPage(s.s2, gfn, D_VALID | w | D_AF | extra);
    }
  } else {
    setPage(s.s2, gfn, D_VALID | w | D_AF | extra);
  }
  // Relaxing permissions needs only a local TLBI (kvm_pgtable_stage2_relax_perms): drop this PE's stale copy.
  const pe = s.pes[v.pe];
  if (pe) {
    const i = tlbFind(pe.tlb, gfn, s.vmid);
    if (i >= 0) pe.tlb.splice(i, 1);
  }
}

/**
 * KVM_SET_USER_MEMORY_REGION adding KVM_MEM_LOG_DIRTY_PAGES (kvm_prepare/commit_memory_region, arm64
 * kvm_arch_commit_memory_region): allocate the bitmap (all ones with manual protect + INITIALLY_SET), then
 * unless INITIALLY_SET write-protect the whole slot, optionally eager-split, and flush the memslot's TLBs.
 */
function loggingEnabled(s: MachineState, slot: number): void {
  const vm = s.vmm;
  const sl = s.slots[slot]!;
  sl.logging = true;
  const initSet = opt(s, 'manualProtect') && opt(s, 'initiallySet');
  const wantsBitmap = mechanismsOf(s).every((m) => !m.collects) || opt(s, 'ringWithBitmap');
  if (wantsBitmap) {
    const bm = bitsNew(sl.npages, false);
    sl.bitmap = bm;
    if (initSet) bitSetRange(bm, 0, sl.npages);
  }
  if (!initSet) {
    const changed = writeProtectRange(s, sl.base, sl.base + sl.npages);
    if (opt(s, 'eagerSplit')) eagerSplit(s, sl.base, sl.base + sl.npages, hasBug(s, 'eager-split-off-by-one'));
    // B2 knob: flush only if some descriptor was write-protected (misses stale TLB entries of access-tracked pages).
    if (!hasBug(s, 'enable-no-flush') || changed > 0) flushSlotTlb(s, slot);
    // The VMM's bulk first pass: every page of the slot is to be copied.
    vm.toCopyCount += bitSetRange(vm.toCopy, sl.base, sl.base + sl.npages);
    if (sl.base < vm.copyCursor) vm.copyCursor = sl.base;
  }
  vm.slotsEnabled++;
  if (vm.phase === 'idle') vm.phase = 'precopy';
  s.audit = { kind: 'enable', slot, rearmed: initSet ? [] : null, clearExpected: null, clearActual: null, clearErrno: 0 };
}

/**
 * The in-flight re-arming ioctl's TLB flush, if it still owes one (`io.flush`), with the TLB-flush knobs applied;
 * afterwards it owes none. The model performs it as part of `kvm/ioctlReturned`; it is exported so that tests can
 * build the state path of a kernel that flushes earlier inside the ioctl (any point after its re-arm and before
 * its return is legal: INV-FLUSH blames only entries that predate the re-arm and survive to the return).
 */
export function ioctlFlush(s: MachineState): void {
  const io = s.vmm.ioctl;
  if (!io || !io.flush) return;
  if (hasBug(s, 'missing-tlbi')) { /* F1: no TLBI at all */ }
  else if (hasBug(s, 'local-tlbi')) flushSlotTlb(s, io.slot, vmmPe(s));
  else if (io.kind === 'reset') flushAllTlb(s); // KVM_RESET_DIRTY_RINGS: kvm_flush_remote_tlbs (whole VM)
  else flushSlotTlb(s, io.slot);
  io.flush = false;
}

/** A re-arming ioctl's TLB flush and return to the VMM. */
function ioctlReturned(s: MachineState): void {
  const vm = s.vmm;
  const io = vm.ioctl!;
  if (io.snapshotPending) lateSnapshot(s, io);
  ioctlFlush(s);
  deliver(s, io.deliver, io.kind === 'get' || io.kind === 'clear');
  s.audit = { kind: io.kind, slot: io.slot, rearmed: io.rearmed, clearExpected: null, clearActual: null, clearErrno: 0 };
  vm.ioctl = null;
  collectionStepDone(s, io.kind === 'get');
}

/** Reads a page's data version (for tools). */
export function memOf(s: MachineState, gfn: number): number {
  return pget(s.oracle.mem, gfn);
}
