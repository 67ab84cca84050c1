/**
 * The conforming VMM's side of the machine's Next relation (split out of machine.ts): which collection step it
 * takes next (the collecting mechanism's, else the bitmap's GET/CLEAR), its candidates, and the hand-over of
 * reported pages to its copy set. machine.ts owns the preconditions (`isEnabled`) and asks these helpers; the
 * reducer (reducer.ts) and the collecting mechanisms call `deliver`, `addToCopy` and `collectionStepDone`.
 */
import { bitGet, bitNext, bitSet } from './paged.ts';
import { REQ_STEAL, slotOf, type MachineState } from './state.ts';
import { consumeReport } from './kvm.ts';
import { mechanismsOf } from './selected.ts';
import type { MachineEvent } from './model-events.ts';
import type { EnabledMemo } from './mechanisms.ts';
import { hasBug } from './knobs.ts';
import { opt } from './options.ts';
import { variedClearCallsOf, variedClears } from '../dirty-bitmap/vmm.ts';

const PHASE_ORDER = { idle: 0, precopy: 1, stopping: 2, final: 3, done: 4 } as const;

// ---------------------------------------------------------------------------------------------------------
// VMM (conforming userspace) helpers

export function phaseAtLeast(s: MachineState, p: keyof typeof PHASE_ORDER): boolean {
  return PHASE_ORDER[s.vmm.phase] >= PHASE_ORDER[p];
}

/** Every vCPU is out of the guest and not inside a fault; no stolen-time update pending. */
export function vcpusQuiet(s: MachineState): boolean {
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

/** The VMM's (and its in-flight ioctl's) candidate events: enable, the next collection step, copy, stop, complete. */
export function vmmCandidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  const vm = s.vmm;
  if (vm.phase === 'idle' || (vm.phase === 'precopy' && vm.slotsEnabled < s.slots.length)) {
    out.push({ type: 'kvm/loggingEnabled', slot: vm.slotsEnabled });
  }
  if (vm.ioctl) {
    // kvmTlbi 'events': the ioctl's own TLBI first (machine.ts `ioctlOwesTlbi`; the return waits for it).
    out.push({ type: 'kvm/ioctlTlbiIssued', slot: vm.ioctl.slot }, { type: 'kvm/ioctlReturned', slot: vm.ioctl.slot });
    return;
  }
  const step = nextCollectStep(s, memo);
  if (step) out.push(step);
  // The varied VMM's other CLEAR calls (option clearCalls, models/dirty-bitmap/vmm.ts): each a scheduler choice.
  if (variedClears(s)) for (const c of variedClearCallsOf(s, memo)) if (!step || !sameEvent(step, c)) out.push(c);
  if (vm.toCopyCount > 0) out.push({ type: 'vmm/pageCopied', gfn: nextCopy(s) });
  out.push({ type: 'vmm/vmStopped' });
  if (vm.phase === 'stopping' && vm.itsSaved < s.config.itsPages.length) {
    out.push({ type: 'host/itsTableSaved', gfn: s.config.itsPages[vm.itsSaved]! });
  }
  out.push({ type: 'vmm/migrationCompleted' });
}

/** Is `e` the VMM's next collection step (every slot logs)? */
export function isCollectStep(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean {
  if (s.vmm.slotsEnabled < s.slots.length) return false;
  const step = nextCollectStep(s, memo);
  return step !== null && sameEvent(step, e);
}

/** Are two events equal (same type and fields; number arrays compared element-wise)? No allocation. */
export function sameEvent(a: MachineEvent, b: MachineEvent): boolean {
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
