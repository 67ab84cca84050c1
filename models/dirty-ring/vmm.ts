/**
 * The dirty ring's userspace side, a QEMU-like VMM: harvests each ring in order, then resets; reaps when a vCPU
 * exits with RING_FULL; final collection after the VM stops = drain rings, ITS table save, backup bitmap GET
 * (WITH_BITMAP), copies. With the `adversary` option a malicious side rewrites harvested entries (B12) and
 * re-flags every entry during the final reset (B11); it copies the pages it sabotaged itself at the end, so only
 * the kernel's own guarantees are at stake. What several preconditions of one state share is computed once per
 * state through the `EnabledMemo` (`RingMemo`).
 */
import type { EnabledMemo } from '../machine/mechanisms.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { mechanismsOf } from '../machine/selected.ts';
import { REQ_STEAL, type MachineState } from '../machine/state.ts';
import { harvestable, inc, KVM_DIRTY_GFN_F_RESET, ringSize, slotIndex, used, visibleFlags, type Ring } from './ring.ts';
import { optionOf, type DirtyRingOption, type OptionRead } from '../machine/options.ts';
import type { RingExt } from './state.ts';
import { wouldExit } from './kernel.ts';
import { entryGfn, harvestedTotal, RING_ID, ringExt } from './state.ts';

/** A dirty-ring option (typed: ../machine/options.ts). */
const option: OptionRead<DirtyRingOption> = optionOf;

function vcpusOut(s: MachineState): boolean {
  for (const v of s.vcpus) if (v.run === 'guest' || v.run === 'fault' || (v.requests & REQ_STEAL) !== 0) return false;
  for (const m of mechanismsOf(s)) if (m.id !== RING_ID && m.quiescent && !m.quiescent(s)) return false;
  return true;
}

/** A vCPU waits for the reaper: it exited with RING_FULL, or would at its next entry. */
function reapNeeded(s: MachineState): boolean {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) if (R.exited[v] !== 0 || wouldExit(s, v)) return true;
  return false;
}

function roundStarts(s: MachineState): boolean {
  return s.vmm.toCopyCount === 0 && s.vmm.round < s.config.rounds;
}

/**
 * What the ring's preconditions share in one state (its slot of the `EnabledMemo`): computed on first use, so
 * once per state however many candidates ask (on 88a570d every `ring/entryRewritten` candidate rebuilt the whole
 * rewrite list, and every reset or completion candidate the VMM's next step).
 */
interface RingMemo {
  work: boolean | undefined;
  harvest: MachineEvent[] | undefined;
  rewrites: MachineEvent[] | undefined;
}

function ringMemo(memo: EnabledMemo): RingMemo {
  let m = memo.own[RING_ID] as RingMemo | undefined;
  if (m === undefined) { m = { work: undefined, harvest: undefined, rewrites: undefined }; memo.own[RING_ID] = m; }
  return m;
}

/** May the VMM harvest / reset now? (Once per state: `ringWorkAllowed`.) */
export function ringWorkAllowedIn(s: MachineState, memo: EnabledMemo): boolean {
  const m = ringMemo(memo);
  if (m.work === undefined) m.work = ringWorkAllowed(s);
  return m.work;
}

/** May the VMM harvest / reset now? */
function ringWorkAllowed(s: MachineState): boolean {
  const vm = s.vmm;
  if (vm.ioctl !== null || vm.slotsEnabled < s.slots.length) return false;
  if (vm.phase === 'stopping') return true;
  if (vm.phase !== 'precopy') return false;
  return ringExt(s).pass > 0 || reapNeeded(s) || roundStarts(s);
}

/** The harvests userspace may do next (one per ring with an entry at its fetch index), once per state. */
export function harvestSteps(s: MachineState, memo: EnabledMemo): readonly MachineEvent[] {
  const m = ringMemo(memo);
  if (m.harvest !== undefined) return m.harvest;
  const R = ringExt(s);
  const out: MachineEvent[] = [];
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    if (R.attacked[v] === 0 && harvestable(r)) out.push({ type: 'ring/entryHarvested', vcpu: v, index: r.fetchIndex });
  }
  m.harvest = out;
  return out;
}

/** Nothing left in the rings for the final collection: the ITS save and the backup bitmap may follow. */
export function drained(s: MachineState): boolean {
  const R = ringExt(s);
  if (harvestedTotal(R) > 0) return false;
  for (let v = 0; v < R.rings.length; v++) if (R.attacked[v] === 0 && harvestable(R.rings[v]!)) return false;
  // weakMemory: QEMU's final reap follows a synchronous kick of every vCPU (kvm_cpu_synchronize_kick_all:
  // run_on_cpu's mutex and condition variable are full barriers), so every flag store a vCPU or the harvester
  // made before is visible to it: the model waits for the buffered stores to drain (their events stay enabled).
  for (const r of R.rings) if (r.dirtyBuffered > 0 || r.resetBuffered > 0) return false;
  return !R.adversary || R.attackDone !== 0;
}

/** The VMM's canonical next step (a single event), or null. Callers use `nextCollectStep` (once per state). */
export function collectStep(s: MachineState, memo: EnabledMemo): MachineEvent | null {
  if (!ringWorkAllowedIn(s, memo)) return null;
  const R = ringExt(s);
  const vm = s.vmm;
  const h = harvestSteps(s, memo);
  if (h.length > 0) return h[0]!;
  const weak = option(s, 'weakMemory') === true;
  if (vm.phase === 'precopy') {
    // weakMemory: a reset that would consume nothing (every harvested entry's RESET store still buffered), or
    // a reaper pass with nothing harvested (the entries' DIRTY stores are still buffered), is a no-op the VMM
    // would repeat until the stores drain: it waits for them instead (their events are enabled meanwhile). A
    // round with nothing harvested still completes with its reset.
    if (weak && (harvestedTotal(R) > 0 ? !resetConsumes(R) : !(R.pass === 2 || (R.pass === 0 && roundStarts(s))))) return null;
    return { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 0 };
  }
  // Final collection (VM stopped).
  if (harvestedTotal(R) > 0) return weak && !resetConsumes(R) ? null : { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 0 };
  if (!vcpusOut(s)) return null;
  // weakMemory: the synchronous kick before the final reap (see `drained`) makes every buffered flag store
  // visible first; until their events ran, a DIRTY entry would look empty to the reaper.
  for (const r of R.rings) if (r.dirtyBuffered > 0) return null;
  // Adversary: one last reset while its other thread keeps re-flagging every entry (B11 reproducer).
  if (R.adversary && R.attackDone === 0) return { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 1 };
  if (vm.itsSaved < s.config.itsPages.length) return null; // host/itsTableSaved (machine) comes next
  if (R.always.length > 0 && R.queued === 0) return { type: 'vmm/untrackedPagesQueued' };
  if (R.withBitmap) {
    // The backup bitmap, collected last (api.rst 7.36): KVM_GET_DIRTY_LOG on every slot.
    return vm.collectSlot < s.slots.length ? { type: 'kvm/dirtyLogHarvested', slot: vm.collectSlot } : null;
  }
  return { type: 'vmm/ringCollectionCompleted' };
}

/** Would KVM_RESET_DIRTY_RINGS consume an entry now (some ring's entry at reset_index visibly RESET)? */
function resetConsumes(R: RingExt): boolean {
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    if (R.attacked[v] === 0 && used(r) > 0 && (visibleFlags(r, r.resetIndex) & KVM_DIRTY_GFN_F_RESET) !== 0) return true;
  }
  return false;
}

/**
 * Does the ring hold an un-reset harvested entry the adversary made invalid (a C1 offset, another address space, a
 * missing memslot, an offset of npages)? Its batch may swallow later entries. KVM only pushes valid entries, and
 * the adversary's one valid rewrite (offset 0 after a C1) follows a C1 that stays until the reset.
 */
export function rewrittenPending(s: MachineState, r: Ring): boolean {
  for (let c = r.resetIndex, n = Math.min((r.fetchIndex - r.resetIndex) >>> 0, ringSize(r)); n > 0; c = inc(c), n--) {
    if (entryGfn(s, r, slotIndex(r, c)) < 0) return true;
  }
  return false;
}

const C1_HI = 0xffffffff;
const C1_LO = 0xffffffc1;

/** The adversary's rewrites in this state, once per state (`rewriteSteps`). */
export function rewritesOf(s: MachineState, memo: EnabledMemo): readonly MachineEvent[] {
  const m = ringMemo(memo);
  if (m.rewrites === undefined) {
    m.rewrites = [];
    rewriteSteps(s, m.rewrites);
  }
  return m.rewrites;
}

/**
 * Adversary rewrites of harvested, not yet reset entries: the untrusted input of `kvm_reset_dirty_gfn`.
 * - B12 reproducer: entry k -> offset 0xffffffffffffffc1 if k+1 is harvested too; then k+1 -> offset 0.
 * - Hole R3 (docs/mutation.md): the rest of the reset's validation. Before any sabotage (nothing queued in
 *   `always`: at most one such move a run) and while the ring holds no invalid entry, its most recently harvested
 *   entry may name another address space (`as_id` 1: arm64 has one) or a memslot id with no memslot (one of the
 *   two, by its offset's parity), or, after an entry of the same slot so that the two coalesce, the
 *   offset `npages`: a batch whose last bit is one past the slot's end.
 * Each entry is rewritten at most once, or twice along the C1 chain (C1 while valid; 0 after a C1), so the
 * adversary's moves are finite.
 */
function rewriteSteps(s: MachineState, out: MachineEvent[]): void {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    if (R.attacked[v] !== 0) continue;
    const n = (r.fetchIndex - r.resetIndex) >>> 0;
    if (n > ringSize(r)) continue;
    let clean = true;
    for (let k = 0; k < n; k++) {
      const c = (r.resetIndex + k) >>> 0;
      const i = slotIndex(r, c);
      const prevC1 = k > 0 && r.offHi[slotIndex(r, (c - 1) >>> 0)] === C1_HI && r.offLo[slotIndex(r, (c - 1) >>> 0)] === C1_LO;
      const valid = entryGfn(s, r, i) >= 0;
      if (!valid) clean = false;
      if (k + 1 < n && valid && !prevC1) out.push({ type: 'ring/entryRewritten', vcpu: v, index: c, offsetHi: C1_HI, offsetLo: C1_LO });
      if (prevC1 && valid && r.offLo[i] !== 0) out.push({ type: 'ring/entryRewritten', vcpu: v, index: c, offsetHi: 0, offsetLo: 0 });
    }
    if (!clean || n === 0 || R.always.length > 0) continue;
    const c = (r.resetIndex + n - 1) >>> 0;
    const i = slotIndex(r, c);
    const slot = r.slot[i]!;
    // One invalid slot per entry, by the parity of its offset (the explored space stays within the proof tier's
    // budget; the entry's contents, not its counter, so the ring's rotation-free encoding stays sound): even,
    // address space 1; odd, the first memslot id with no memslot.
    out.push({ type: 'ring/entrySlotRewritten', vcpu: v, index: c, slot: (r.offLo[i]! & 1) === 0 ? ((1 << 16) | slot) >>> 0 : s.slots.length });
    if (n >= 2 && r.slot[slotIndex(r, (c - 1) >>> 0)] === slot) {
      out.push({ type: 'ring/entryRewritten', vcpu: v, index: c, offsetHi: 0, offsetLo: s.slots[slot]!.npages });
    }
  }
}

/** Starts a VMM pass (reap or pre-copy round) at its first step. */
export function passStep(s: MachineState): void {
  const R = ringExt(s);
  if (s.vmm.phase === 'precopy' && R.pass === 0) R.pass = roundStarts(s) ? 2 : 1;
}
