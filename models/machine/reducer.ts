/**
 * The machine's reducer (`apply`), shared by every design: one enabled event at a time, on an immer draft or on a
 * private mutable copy alike. Its preconditions are machine.ts `isEnabled` (the only ones); a mechanism's own
 * events go to its `apply` hook. KVM's write-fault path (`faultMapped`), KVM_SET_USER_MEMORY_REGION with logging
 * (`loggingEnabled`) and the return of a re-arming ioctl with its TLB flush (`ioctlFlush`, `ioctlReturned`) live
 * here; the dirty-log ioctls' kernel work is models/dirty-bitmap/bitmap.ts. Under the design option kvmTlbi
 * 'events' the TLBIs these paths owe are events of their own (`kvm/ioctlTlbiIssued`, `kvm/faultTlbiIssued`) that
 * the path waits for (machine.ts `ioctlOwesTlbi`, `vcpus[].tlbi`); by default ('inline') they stay inside.
 */
import { bitClear, bitGet, bitSetRange, bitsNew, pget } from './paged.ts';
import { BLOCK_PAGES, D_AF, D_BLOCK, D_VALID, D_W, isWritable, l2EntryOf, leafOf, setL2, setPage } from './pagetable.ts';
import { REQ_STEAL, slotOf, stealPageOf, type MachineState } from './state.ts';
import { tlbBase, tlbCovers, tlbFind, tlbVmid, tlbWritable } from './tlb.ts';
import {
  clearPreArm, eagerSplit, flushAllTlb, flushBlockTlb, flushSlotTlb, markPageDirty, tlbInvalidate, vmmPe, writeProtectRange,
} from './kvm.ts';
import { mechanismsOf } from './selected.ts';
import type { MachineEvent } from './model-events.ts';
import {
  clearDirtyLog, getDirtyLogManual, getDirtyLogProtect, lateSnapshot,
} from '../dirty-bitmap/bitmap.ts';
import { countClear } from '../dirty-bitmap/vmm.ts';
import { referenceClearErrno, referenceClearRearm } from '../oracle/kvm-rules.ts';
import { observe } from '../oracle/oracle.ts';
import { addToCopy, collectionStepDone, deliver, faultIsSpurious, ioctlOwesTlbi, kvmTlbiEvents, tlbFill } from './machine.ts';
import { hasBug } from './knobs.ts';
import { opt, optionOf } from './options.ts';

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
      // Coverage (kvmTlbi 'events'): a store completes while a KVM path still owes its TLBI (the kernel's window):
      // the machine's (an ioctl's, the fault path's) or a mechanism's (`Mechanism.owesTlbi`).
      if (kvmTlbiEvents(s) && (ioctlOwesTlbi(s) || anyOwesTlbi(s))) {
        s.stats['kvmTlbiWindowStores'] = (s.stats['kvmTlbiWindowStores'] ?? 0) + 1;
      }
      return;
    }
    case 'guest/storeFaulted': {
      const v = s.vcpus[e.vcpu]!;
      // Only a stale read-only TLB copy can fault a store to a descriptor that already permits it (tlb.ts).
      if (faultIsSpurious(s, v, e.gfn)) {
        s.stats['spuriousFaults'] = (s.stats['spuriousFaults'] ?? 0) + 1;
        v.staleFault = true;
      }
      v.run = 'fault';
      v.fault = e.gfn;
      return;
    }
    case 'guest/loadPerformed': {
      const v = s.vcpus[e.vcpu]!;
      const l2 = l2EntryOf(s.s2, e.gfn);
      const leaf = leafOf(s.s2, e.gfn);
      // AF first (hardware with HA, or KVM's access-flag fault handler: one atomic update, no dirty state).
      if ((leaf & D_AF) === 0) {
        if (typeof l2 === 'number') setL2(s.s2, e.gfn, leaf | D_AF);
        else setPage(s.s2, e.gfn, leaf | D_AF);
      }
      tlbFill(s, v.pe, e.gfn);
      s.stats['loads'] = (s.stats['loads'] ?? 0) + 1;
      return;
    }
    case 'kvm/tlbiIpa':
      tlbInvalidate(s, (t) => tlbVmid(t) === s.vmid && tlbCovers(t, e.gfn));
      return;
    case 'kvm/tlbiVmid':
      tlbInvalidate(s, (t) => tlbVmid(t) === s.vmid);
      return;
    case 'kvm/tlbiAll':
      tlbInvalidate(s, () => true);
      return;
    case 'kvm/ioctlTlbiIssued':
      ioctlFlush(s);
      return;
    case 'kvm/faultTlbiIssued': {
      // The break-before-make TLBI of `faultMapped` below: every PE drops its copies of the broken block; the
      // fault path then maps the page (its `kvm/faultMapped` is enabled again and finds the table).
      flushBlockTlb(s, e.gfn);
      s.vcpus[e.vcpu]!.tlbi = -1;
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
      if (v.staleFault) v.staleFault = false;
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
      // F2 knob (userspace): the VMM copies what GET showed at once, before the CLEAR that re-arms it (kvm
      // reference 1.8: CLEAR, then copy). The correct VMM hands the pages over when the CLEAR returns (below).
      if (hasBug(s, 'vmm-copy-before-clear')) {
        const sl = s.slots[e.slot]!;
        for (let g = sl.base; g < sl.base + sl.npages; g++) if (bitGet(vm.fetched, g)) addToCopy(s, g);
      }
      collectionStepDone(s, true);
      return;
    case 'kvm/dirtyLogCleared': {
      const sl = s.slots[e.slot]!;
      const before = (o: number): boolean => sl.bitmap !== null && bitGet(sl.bitmap, o);
      const expected = referenceClearRearm(sl.npages, e.firstPage, e.numPages, e.pages, before).map((o) => o + sl.base);
      const expectedErrno = referenceClearErrno(sl.bitmap !== null, sl.npages, e.firstPage, e.numPages);
      const r = clearDirtyLog(s, e.slot, e.firstPage, e.numPages, e.pages);
      // The VMM hands every page of the slot it asked to clear to its copy set at return (copy after CLEAR
      // returns), whatever the ioctl returned: QEMU's word CLEARs name only fetched pages; the varied VMM
      // (option clearCalls, models/dirty-bitmap/vmm.ts) also names pages it did not fetch, and issues refused
      // CLEARs, after which the pages are still dirty in the bitmap and writable, so the next GET reports them.
      const io = vm.ioctl!;
      for (const o of e.pages) {
        if (o < 0 || o >= sl.npages) continue;
        const g = sl.base + o;
        let copiedEarly = false;
        if (bitGet(vm.fetched, g)) {
          bitClear(vm.fetched, g);
          vm.fetchedCount--;
          copiedEarly = hasBug(s, 'vmm-copy-before-clear'); // F2: a fetched page was copied before the CLEAR
        }
        if (!copiedEarly) io.deliver.push(g);
      }
      countClear(s, e, r.errno, expected.length);
      s.audit = { kind: 'clear', slot: e.slot, rearmed: null, clearExpected: expected, clearActual: r.rearmed, clearErrno: r.errno,
        clearErrnoExpected: expectedErrno };
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
    } else if (kvmTlbiEvents(s)) {
      // kvmTlbi 'events': break (an invalid table in the block's place) and owe the TLBI (`kvm/faultTlbiIssued`);
      // the page is mapped by this event's next run, after the TLBI (make): no PE can then still use the block.
      setL2(s.s2, gfn, new Array<number>(512).fill(0));
      v.mark = -1;
      v.tlbi = base;
      return;
    } else {
      setL2(s.s2, gfn, new Array<number>(512).fill(0));
      flushBlockTlb(s, base);
      setPage(s.s2, gfn, D_VALID | w | D_AF | extra);
    }
  } else if (isWritable(leafOf(s.s2, gfn))) {
    // The descriptor already permits the write: a spurious fault through a stale read-only TLB copy (tlb.ts), or
    // another vCPU (or a hardware dirty update) relaxed it since this store faulted. kvm_pgtable_stage2_relax_perms
    // only sets bits (stage2_update_leaf_attrs with clr=0): the bits it would set are ORed in and W (a hardware-set
    // dirty state included) stays, where a fresh mapping of a writable-clean design would clear it; the fault still
    // marks the page (over-reporting at worst) and drops the stale copy below.
    s.stats['faultsAlreadyWritable'] = (s.stats['faultsAlreadyWritable'] ?? 0) + 1;
    const d = leafOf(s.s2, gfn);
    const nd = d | D_VALID | w | D_AF | extra;
    if (nd !== d) setPage(s.s2, gfn, nd);
  } else {
    setPage(s.s2, gfn, D_VALID | w | D_AF | extra);
  }
  // Relaxing permissions needs only a local TLBI (kvm_pgtable_stage2_relax_perms, __kvm_tlb_flush_vmid_ipa_nsh):
  // drop this PE's stale copy. Option relaxTlbi 'broadcast' (kernels before the _nsh variant) drops every PE's.
  if (optionOf(s, 'relaxTlbi') === 'broadcast') {
    s.stats.tlbi++;
    tlbInvalidate(s, (t) => tlbVmid(t) === s.vmid && tlbCovers(t, gfn));
    return;
  }
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
  let owes = false;
  if (!initSet) {
    const changed = writeProtectRange(s, sl.base, sl.base + sl.npages);
    // kvmTlbi 'events': eager split's per-block break-before-make TLBIs stay inside this event; the slot's flush
    // below (a step of its own) covers every block of the slot, and the ioctl returns only after it.
    if (opt(s, 'eagerSplit')) eagerSplit(s, sl.base, sl.base + sl.npages, hasBug(s, 'eager-split-off-by-one'));
    // B2 knob: flush only if some descriptor was write-protected (misses stale TLB entries of access-tracked pages).
    owes = !hasBug(s, 'enable-no-flush') || changed > 0;
    if (owes && !kvmTlbiEvents(s)) flushSlotTlb(s, slot);
    // The VMM's bulk first pass: every page of the slot is to be copied.
    vm.toCopyCount += bitSetRange(vm.toCopy, sl.base, sl.base + sl.npages);
    if (sl.base < vm.copyCursor) vm.copyCursor = sl.base;
  }
  vm.slotsEnabled++;
  if (vm.phase === 'idle') vm.phase = 'precopy';
  if (owes && kvmTlbiEvents(s)) {
    // kvmTlbi 'events': the ioctl stays in flight until its kvm_flush_remote_tlbs_memslot ran
    // (`kvm/ioctlTlbiIssued`) and it returned (`kvm/ioctlReturned`, where INV-FLUSH reads its audit); every page
    // of the slot counts as re-armed (INV-ARMED lets their pre-enable TLB copies lag until then).
    const rearmed: number[] = [];
    for (let g = sl.base; g < sl.base + sl.npages; g++) rearmed.push(g);
    vm.ioctl = { kind: 'enable', slot, deliver: [], rearmed, flush: true, snapshotPending: false };
    return;
  }
  s.audit = { kind: 'enable', slot, rearmed: initSet ? [] : null, clearExpected: null, clearActual: null, clearErrno: 0, clearErrnoExpected: 0 };
}

/**
 * The in-flight re-arming ioctl's TLB flush, if it still owes one (`io.flush`), with the TLB-flush knobs applied;
 * afterwards it owes none. The model performs it as part of `kvm/ioctlReturned`, or under kvmTlbi 'events' as
 * `kvm/ioctlTlbiIssued` (the return waits for it: machine.ts `ioctlOwesTlbi`); it is exported so that tests can
 * build the state path of a kernel that flushes earlier inside the ioctl (any point after its re-arm and before
 * its return is legal: INV-FLUSH blames only entries that predate the re-arm and survive to the return).
 */
export function ioctlFlush(s: MachineState): void {
  const io = s.vmm.ioctl;
  if (!io || !io.flush) return;
  if (io.kind === 'enable') flushSlotTlb(s, io.slot); // kvmTlbi 'events' only: the GET/CLEAR knobs do not apply
  else if (hasBug(s, 'missing-tlbi')) { /* F1: no TLBI at all */ }
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
  s.audit = { kind: io.kind, slot: io.slot, rearmed: io.rearmed, clearExpected: null, clearActual: null, clearErrno: 0, clearErrnoExpected: 0 };
  vm.ioctl = null;
  if (io.kind !== 'enable') collectionStepDone(s, io.kind === 'get');
}

/** Reads a page's data version (for tools). */
export function memOf(s: MachineState, gfn: number): number {
  return pget(s.oracle.mem, gfn);
}

/** kvmTlbi 'events' coverage: does a vCPU's fault path or a mechanism (`Mechanism.owesTlbi`) owe a TLBI? (No closures: once per store.) */
function anyOwesTlbi(s: MachineState): boolean {
  for (const v of s.vcpus) if (v.tlbi >= 0) return true;
  for (const m of mechanismsOf(s)) if (m.owesTlbi?.(s) === true) return true;
  return false;
}
