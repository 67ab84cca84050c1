/**
 * The machine's Next relation (`isEnabled`, `candidates`) and the helpers it shares with the reducer (`apply`,
 * reducer.ts), for every design.
 *
 * A guest store is several events (issued; then retired through a writable TLB entry or descriptor, or faulted
 * and handled by KVM in two steps), each chosen by the scheduler, so that a write-protect, a TLBI or a
 * vcpu_put can land between them. KVM's re-arming ioctls are split at the one point that matters (kernel work,
 * then TLB flush and return), so stores through stale TLB entries can land inside the ioctl. The VMM's side (its
 * next collection step, its candidates, the copy set) is collect.ts.
 */
import { assertNever } from '../../src/core/assert.ts';
import { BLOCK_PAGES, D_AF, D_BLOCK, D_DBM, D_VALID, D_W, isWritable, l2EntryOf, leafOf } from './pagetable.ts';
import { REQ_STEAL, slotOf, stealPageOf, type MachineConfig, type MachineState, type Vcpu } from './state.ts';
import { tlbBase, tlbCovers, tlbFind, tlbPack, tlbVmid, tlbWriteUse, T_BLOCK, T_DBM, T_W } from './tlb.ts';
import { mechanismsOf } from './selected.ts';
import type { MachineEvent } from './model-events.ts';
import { newEnabledMemo, wantsPe, wantsShared, wantsVcpu, type EnabledMemo } from './mechanisms.ts';
import { hasBug } from './knobs.ts';
import { optionOf } from './options.ts';
import { variedClearCallsOf, variedClears } from '../dirty-bitmap/vmm.ts';
import { isCollectStep, nextCopy, phaseAtLeast, sameEvent, vcpusQuiet, vmmCandidates } from './collect.ts';

// The VMM's helpers live in collect.ts; re-exported for the mechanisms and the reducer that import them from here.
export { addToCopy, collectionStepDone, deliver, nextCollectStep, nextCopy } from './collect.ts';

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

// ---------------------------------------------------------------------------------------------------------
// KVM's own TLB maintenance as steps of their own (design option kvmTlbi)

/**
 * Does the design issue KVM's own TLB maintenance as stand-alone events (option `kvmTlbi: 'events'`)? Then the
 * path that owes a TLBI (the in-flight ioctl's `flush`, a vCPU's `tlbi`) cannot go on before its event ran;
 * 'inline' (the default, and every model that does not declare the option) performs it inside the path's event.
 */
export function kvmTlbiEvents(s: MachineState): boolean {
  return optionOf(s, 'kvmTlbi') === 'events';
}

/**
 * Does the in-flight ioctl owe a TLBI that `kvm/ioctlTlbiIssued` performs (kvmTlbi 'events')? Under `missing-tlbi`
 * a GET or CLEAR issues none (its return performs the knob's empty flush, as inline), so nothing is owed.
 */
export function ioctlOwesTlbi(s: MachineState): boolean {
  const io = s.vmm.ioctl;
  return io !== null && io.flush && kvmTlbiEvents(s) && !(io.kind !== 'enable' && hasBug(s, 'missing-tlbi'));
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
        if (v.tlbi >= 0) out.push({ type: 'kvm/faultTlbiIssued', vcpu: vi, gfn: v.tlbi });
        else out.push(v.mark < 0 ? { type: 'kvm/faultMapped', vcpu: vi, gfn: v.fault } : { type: 'kvm/faultMarked', vcpu: vi, gfn: v.fault });
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
      return !!v && v.run === 'fault' && v.fault === e.gfn && v.mark < 0 && v.tlbi < 0;
    }
    case 'kvm/faultTlbiIssued': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'fault' && v.tlbi >= 0 && v.tlbi === e.gfn;
    }
    case 'kvm/ioctlTlbiIssued':
      return ioctlOwesTlbi(s) && vm.ioctl!.slot === e.slot;
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
      if (variedClears(s) && variedClearCallsOf(s, memo).some((c) => sameEvent(c, e))) return true;
      return isCollectStep(s, e, memo);
    case 'kvm/dirtyLogHarvested':
    case 'kvm/dirtyLogFetched':
      return isCollectStep(s, e, memo);
    case 'kvm/ioctlReturned':
      return vm.ioctl !== null && vm.ioctl.slot === e.slot && !ioctlOwesTlbi(s);
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

