/**
 * The machine's Next relation (`isEnabled`, `candidates`) and the helpers it shares with the reducer (`apply`,
 * reducer.ts), for every design.
 *
 * A guest store is several events (issued; then retired through a writable TLB entry or descriptor, or faulted
 * and handled by KVM in two steps), each chosen by the scheduler, so that a write-protect, a TLBI or a
 * vcpu_put can land between them. KVM's re-arming ioctls are split at the one point that matters (kernel work,
 * then TLB flush and return), so stores through stale TLB entries can land inside the ioctl.
 */
import { assertNever } from '../../src/core/assert.ts';
import { bitGet, bitNext, bitSet } from './paged.ts';
import { BLOCK_PAGES, D_AF, D_BLOCK, D_DBM, D_VALID, D_W, isWritable, l2EntryOf, leafOf } from './pagetable.ts';
import {
  REQ_STEAL, slotOf, stealPageOf, type MachineConfig, type MachineState, type Vcpu,
} from './state.ts';
import { tlbBase, tlbCovers, tlbFind, tlbPack, tlbVmid, tlbWriteUse, T_BLOCK, T_DBM, T_W } from './tlb.ts';
import { consumeReport } from './kvm.ts';
import { mechanismsOf } from './selected.ts';
import type { MachineEvent } from './model-events.ts';
import { newEnabledMemo, wantsPe, wantsShared, wantsVcpu, type EnabledMemo } from './mechanisms.ts';
import { hasBug } from './knobs.ts';
import { opt } from './options.ts';
import { variedClearCalls, variedClears } from '../dirty-bitmap/vmm.ts';

const PHASE_ORDER = { idle: 0, precopy: 1, stopping: 2, final: 3, done: 4 } as const;

// ---------------------------------------------------------------------------------------------------------
// Store path helpers

/**
 * Can the vCPU's pending store to `gfn` complete now without a fault (cached W=1, or no usable read-only copy and
 * a writable descriptor)? A cached read-only copy makes it fault even if the descriptor is writable now (tlb.ts).
 */
export function storeCanRetire(s: MachineState, v: Vcpu, gfn: number): boolean {
  const pe = s.pes[v.pe];
  if (!pe) return false;
  const use = tlbWriteUse(pe.tlb, gfn, s.vmid, (pe.vtcr & 3) === 3);
  if (use !== 'walk') return use === 'complete';
  return isWritable(leafOf(s.s2, gfn));
}

/**
 * Is a permission fault on the vCPU's pending store to `gfn` spurious: the descriptor in memory already permits
 * the write (writable, or writable-clean with HA and HD), so only a stale read-only TLB copy made it fault?
 */
export function faultIsSpurious(s: MachineState, v: Vcpu, gfn: number): boolean {
  const pe = s.pes[v.pe];
  if (!pe) return false;
  const leaf = leafOf(s.s2, gfn);
  return isWritable(leaf) || ((pe.vtcr & 3) === 3 && (leaf & (D_VALID | D_W | D_DBM)) === (D_VALID | D_DBM));
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
  // A cached read-only copy the PE uses faults before any descriptor access (tlb.ts).
  if (tlbWriteUse(pe.tlb, gfn, s.vmid, true) === 'fault') return false;
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
  // kvm_arch_sync_dirty_log's asynchronous part (a mechanism's request and its completion) comes first.
  for (const m of mechanismsOf(s)) {
    const step = m.syncStep?.(s);
    if (step) return step;
  }
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
 *
 * `perPage: false` leaves out the two kinds enumerated once per page (a guest store to each store page, and the
 * idle-phase access-flag update of each page): the scale workload (workload.ts) picks the page of a store itself
 * from its seeded distribution, so the rest of the set costs O(vCPUs x PEs + TLB entries), not O(guest pages).
 * `memo` (fresh by default) is left holding what the filter computed, e.g. the VMM's next collection step; its
 * `agent` hint (`EnabledMemo.agent`) restricts the set to one vCPU's lane, one PE's, or the VMM's and the host's
 * (the default: every lane).
 */
export function candidates(s: MachineState, perPage = true, memo: EnabledMemo = newEnabledMemo()): MachineEvent[] {
  memo.perPage = perPage;
  const out: MachineEvent[] = [];
  const c = s.config;
  const pages = perPage ? storePagesOf(c) : [];
  for (let vi = 0; vi < s.vcpus.length; vi++) {
    if (!wantsVcpu(memo, vi)) continue;
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
        if (v.store < 0) {
          if (perPage) for (const g of pages) out.push({ type: 'guest/storeIssued', vcpu: vi, gfn: g });
          for (const g of c.loadPages ?? []) out.push({ type: 'guest/loadPerformed', vcpu: vi, gfn: g });
        }
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
    if (!wantsPe(memo, p)) continue;
    for (const e of s.pes[p]!.tlb) out.push({ type: 'pe/tlbEvicted', pe: p, gfn: tlbBase(e) });
  }
  const shared = wantsShared(memo);
  if (shared && c.kernelTlbi === true) {
    const seen = new Set<number>();
    for (let p = 0; p < s.pes.length; p++) {
      for (const e of s.pes[p]!.tlb) if (!seen.has(tlbBase(e))) { seen.add(tlbBase(e)); out.push({ type: 'kvm/tlbiIpa', gfn: tlbBase(e) }); }
    }
    out.push({ type: 'kvm/tlbiVmid' }, { type: 'kvm/tlbiAll' });
  }
  if (shared && perPage && s.vmm.phase === 'idle') for (const g of pages) out.push({ type: 'mmu/accessTracked', gfn: g });
  for (const m of mechanismsOf(s)) m.candidates?.(s, out, memo);
  if (shared) vmmCandidates(s, out, memo);
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
  // The varied VMM's other CLEAR calls (option clearCalls, models/dirty-bitmap/vmm.ts): each a scheduler choice.
  if (variedClears(s)) for (const c of variedClearCalls(s)) if (!step || !sameEvent(step, c)) out.push(c);
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
    case 'guest/loadPerformed': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'guest' && v.store < 0 && slotOf(s, e.gfn) >= 0 && (leafOf(s.s2, e.gfn) & D_VALID) !== 0;
    }
    case 'kvm/tlbiIpa':
      return s.config.kernelTlbi === true && s.pes.some((pe) => pe.tlb.some((t) => tlbVmid(t) === s.vmid && tlbCovers(t, e.gfn)));
    case 'kvm/tlbiVmid':
      return s.config.kernelTlbi === true && s.pes.some((pe) => pe.tlb.some((t) => tlbVmid(t) === s.vmid));
    case 'kvm/tlbiAll':
      return s.config.kernelTlbi === true && s.pes.some((pe) => pe.tlb.length > 0);
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
    case 'kvm/dirtyLogCleared':
      // The varied VMM's other CLEAR calls (option clearCalls, models/dirty-bitmap/vmm.ts): their own preconditions.
      if (variedClears(s) && variedClearCalls(s).some((c) => sameEvent(c, e))) return true;
      return isCollectStep(s, e, memo);
    case 'kvm/dirtyLogHarvested':
    case 'kvm/dirtyLogFetched':
      return isCollectStep(s, e, memo);
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

/** Is `e` the VMM's next collection step (every slot logs)? */
function isCollectStep(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean {
  if (s.vmm.slotsEnabled < s.slots.length) return false;
  const step = nextCollectStep(s, memo);
  return step !== null && sameEvent(step, e);
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
