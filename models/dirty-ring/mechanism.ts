/**
 * The dirty ring as a mechanism of the shared machine (registered under the consumer id `ring`):
 *
 * - kernel: mark_page_dirty_in_slot pushes to the running vCPU's ring (duplicates allowed) and sets the
 *   soft-full request; writes with no running vCPU go to the slot's backup bitmap (WITH_BITMAP) or are dropped;
 *   the request is consumed only by the vCPU at guest entry (kvm_dirty_ring_check_request), which otherwise
 *   exits with KVM_EXIT_DIRTY_RING_FULL; KVM_RESET_DIRTY_RINGS consumes harvested entries from reset_index,
 *   coalesces them into masks, validates them as untrusted input, re-arms them and flushes the whole VM's TLBs
 *   iff it cleared anything, returning the count.
 * - userspace (a QEMU-like VMM): harvests each ring in order, then resets; reaps when a vCPU exits with
 *   RING_FULL; final collection after the VM stops = drain rings, ITS table save, backup bitmap GET (WITH_BITMAP),
 *   copies. With the `adversary` option a malicious side rewrites harvested entries (B12) and re-flags every
 *   entry during the final reset (B11); it copies the pages it sabotaged itself at the end, so only the
 *   kernel's own guarantees are at stake.
 *
 * State lives in `s.ext.ring` (plain JSON). Invariants: INV-RING-BOUND, INV-RING-GATE, INV-RING-FIFO,
 * INV-RING-RESET-EXACT, INV-RESET-VALID, INV-LIVE-RESET (kvm reference section 7).
 */
import type { Invariant, JsonValue, Violation } from '../../src/core/model.ts';
import { writeProtectRange } from '../machine/kvm.ts';
import { bitGet } from '../machine/paged.ts';
import { collectionStepDone, deliver, nextCollectStep } from '../machine/machine.ts';
import type { EnabledMemo, Mechanism } from '../machine/mechanisms.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { mechanismsOf, registerExtCodec, registerMechanism } from '../machine/registry.ts';
import { REQ_RING_SOFT_FULL, REQ_STEAL, type MachineState } from '../machine/state.ts';
import { ringCodec } from './codec.ts';
import './events.ts';
import {
  dirtyRingReset, EINTR, enableDirtyRing, enableRingWithBitmap, harvest, harvestable, inc, KVM_DIRTY_GFN_BYTES,
  KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_RESET, maskOffsets, offsetOf, push, ringNew, ringSize, rsvdEntriesOf,
  slotIndex, softFull, used, type Ring, type ResetEnv, type ResetTrace,
} from './ring.ts';
import { hasBug, type DirtyRingKnob, type KnobTest } from '../machine/knobs.ts';

export const RING_ID = 'ring';

/** The last KVM_RESET_DIRTY_RINGS, for INV-RING-RESET-EXACT / INV-RESET-VALID / INV-LIVE-RESET. */
export interface ResetAudit {
  /** Return value (entries reset across all rings). */
  cleared: number;
  /** Entries consumed according to the indices (sum of reset_index advances, u32). */
  consumed: number;
  /** Valid (slot, offset) pairs among the consumed entries, as gfns, checked entry by entry (reference). */
  expected: number[];
  /** Consumed entries naming no page of any memslot (untrusted input). */
  invalid: number;
  /** In-slot gfns the kernel re-armed (mask bits of accepted calls). */
  actual: number[];
  /** Re-arms outside their memslot (slot:offset as text, offsets are u64). */
  outOfSlot: string[];
  unterminated: number;
}

export interface RingExt {
  size: number;
  soft: number;
  withBitmap: boolean;
  adversary: boolean;
  rings: Ring[];
  /** Per vCPU: 1 after KVM_EXIT_DIRTY_RING_FULL until it enters the guest again. */
  exited: number[];
  /** Per vCPU: ring occupancy at its last guest entry (INV-RING-GATE). */
  entryUsed: number[];
  /** Per vCPU: indices corrupted by adversarial userspace (occupancy is then meaningless). */
  attacked: number[];
  /** VMM: per vCPU, gfns harvested and not yet reset, in ring order. */
  harv: number[][];
  /**
   * VMM: pages it copies at the final collection whatever the tracking says (its commitment stays: they count
   * as pending for the whole run).
   */
  always: number[];
  /** The final collection queued `always` for copying. */
  queued: number;
  /**
   * Precision bookkeeping (metrics only, read by no precondition or invariant): per vCPU and ring slot, 1 if the
   * entry was pushed for a page written since it was last handed to the VMM (or by the faulting store itself).
   */
  just: number[][];
  /** VMM: 0 idle, 1 reap pass (after a RING_FULL exit), 2 pre-copy round. */
  pass: number;
  attackDone: number;
  /** vCPUs whose soft-full request the in-flight reset will clear, having found their ring not soft-full (only
   * with the softfull-cleared-by-reset knob, B5). */
  softFullClears: number[];
  last: ResetAudit | null;
}

export function ringExt(s: MachineState): RingExt {
  return s.ext[RING_ID] as unknown as RingExt;
}

/** Is a dirty-ring knob on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<DirtyRingKnob> = hasBug;

/** The gfn an entry names, or -1 if (slot, offset) is not a page of a memslot. */
function entryGfn(s: MachineState, r: Ring, i: number): number {
  const slot = r.slot[i] as number;
  if (slot >>> 16 !== 0 || (r.offHi[i] as number) !== 0) return -1;
  const sl = s.slots[slot & 0xffff];
  const off = r.offLo[i] as number;
  return sl && off < sl.npages ? sl.base + off : -1;
}

// ---------------------------------------------------------------------------------------------------------
// Kernel side

function init(s: MachineState): void {
  const entries = s.design.options['ringEntries'];
  const size = typeof entries === 'number' ? entries : 16;
  const caps = { dirtyRingSize: 0, createdVcpus: 0, memslots: 0, withBitmap: false };
  // KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING_ACQ_REL) before any vCPU, then WITH_BITMAP before any memslot.
  const err = enableDirtyRing(caps, size * KVM_DIRTY_GFN_BYTES, true);
  if (err !== 0) throw new Error(`[dtsim] ringEntries ${size}: KVM_ENABLE_CAP(DIRTY_LOG_RING) fails with errno ${err}`);
  const withBitmap = s.design.options['ringWithBitmap'] !== false;
  if (withBitmap && enableRingWithBitmap(caps) !== 0) throw new Error('[dtsim] KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP refused');
  const n = s.vcpus.length;
  const st = s.design.options['ringStart'];
  const start = typeof st === 'number' ? st >>> 0 : 0;
  const ext: RingExt = {
    size, soft: size - rsvdEntriesOf(size), withBitmap, adversary: s.design.options['adversary'] === true,
    // KVM starts every index at 0; `ringStart` (simulation only) starts them just below 2^32 so runs cross the
    // u32 wrap of dirty_index / reset_index / fetch_index (as a VM that already pushed 2^32 - k entries would).
    rings: Array.from({ length: n }, () => ringNew(size, start)), exited: new Array<number>(n).fill(0),
    entryUsed: new Array<number>(n).fill(0), attacked: new Array<number>(n).fill(0),
    harv: Array.from({ length: n }, () => [] as number[]), always: [], queued: 0,
    just: Array.from({ length: n }, () => new Array<number>(size).fill(0)), pass: 0, attackDone: 0, softFullClears: [], last: null,
  };
  s.ext[RING_ID] = ext as unknown as JsonValue;
  for (const k of ['ringEntries', 'ringDuplicates', 'ringFullExits', 'ringResets', 'ringHarvested', 'ringUnjustified',
    'ringMaxOvershoot', 'ringOverflows']) {
    s.stats[k] = 0;
  }
}

/** mark_page_dirty_in_slot with the ring: push to the running vCPU's ring; no vCPU -> backup bitmap or dropped. */
function mark(s: MachineState, slot: number, gfn: number, vcpu: number): boolean {
  const R = ringExt(s);
  if (vcpu < 0) {
    // B6 (pre c57351a75d01): a write with no running vCPU returns early, even though a backup bitmap exists.
    if (bug(s, 'novcpu-write-dropped') && s.slots[slot]!.bitmap !== null) {
      s.stats['droppedMarks'] = (s.stats['droppedMarks'] ?? 0) + 1;
      return true;
    }
    if (!R.withBitmap && !bug(s, 'ring-without-bitmap-its')) {
      // The kernel drops this mark (no bitmap; the machine counts it). A conforming VMM without WITH_BITMAP
      // knows the GPAs its ITS_SAVE_TABLES wrote (GITS_BASER/CBASER) and copies them itself at the end
      // (a modelling guess for a userspace that cannot enable WITH_BITMAP). The B6 knob is a VMM that relies
      // on dirty tracking for them.
      if (!R.always.includes(gfn)) R.always.push(gfn);
    }
    return false;
  }
  const r = R.rings[vcpu]!;
  const sl = s.slots[slot]!;
  const off = gfn - sl.base;
  let dup = false;
  for (let c = r.resetIndex, n = Math.min(used(r), ringSize(r)); n > 0; c = inc(c), n--) {
    const i = slotIndex(r, c);
    if (r.slot[i] === slot && r.offLo[i] === off && r.offHi[i] === 0 && r.flags[i] !== 0) { dup = true; break; }
  }
  // A report (entry) is justified if the page was written since the VMM was last handed it, or if the push
  // comes from the write fault on that very page (the store is in flight: it retires after the fault).
  const vc = s.vcpus[vcpu]!;
  const justified = bitGet(s.oracle.touched, gfn) || vc.fault === gfn;
  const ji = slotIndex(r, r.dirtyIndex);
  if (R.just[vcpu]![ji] !== (justified ? 1 : 0)) R.just[vcpu]![ji] = justified ? 1 : 0;
  if (push(r, slot, off)) s.stats['ringOverflows'] = (s.stats['ringOverflows'] ?? 0) + 1;
  s.stats['ringEntries'] = (s.stats['ringEntries'] ?? 0) + 1;
  if (dup) s.stats['ringDuplicates'] = (s.stats['ringDuplicates'] ?? 0) + 1;
  const u = used(r);
  if (u >= R.soft) {
    s.vcpus[vcpu]!.requests |= REQ_RING_SOFT_FULL;
    const over = u - R.soft;
    if (over > (s.stats['ringMaxOvershoot'] ?? 0)) s.stats['ringMaxOvershoot'] = over;
  }
  return true;
}

function vcpuSoftFull(s: MachineState, v: number): boolean {
  const R = ringExt(s);
  return softFull(R.rings[v]!, R.soft);
}

/** kvm_dirty_ring_check_request would make the vCPU exit instead of entering. */
function wouldExit(s: MachineState, v: number): boolean {
  return (s.vcpus[v]!.requests & REQ_RING_SOFT_FULL) !== 0 && vcpuSoftFull(s, v);
}

function onEnter(s: MachineState, v: number): void {
  const R = ringExt(s);
  const vc = s.vcpus[v]!;
  // kvm_check_request (test-and-clear): entry happened, so the ring was not soft-full (unless a bug cleared it).
  if ((vc.requests & REQ_RING_SOFT_FULL) !== 0 && !vcpuSoftFull(s, v)) vc.requests &= ~REQ_RING_SOFT_FULL;
  if (R.exited[v] !== 0) R.exited[v] = 0;
  const u = used(R.rings[v]!);
  if (R.entryUsed[v] !== u) R.entryUsed[v] = u;
}

/** KVM_RESET_DIRTY_RINGS' kernel work; sets the in-flight ioctl that `kvm/ioctlReturned` completes. */
function resetRings(s: MachineState, signal: number, reflag: boolean): void {
  const R = ringExt(s);
  const nr = { n: 0 };
  const trace: ResetTrace = { consumed: [], calls: [], unterminated: false, interrupted: false };
  const actual: number[] = [];
  const outOfSlot: string[] = [];
  const env: ResetEnv = {
    slots: s.slots, signalAt: signal, reflag, unbounded: bug(s, 'reset-unbounded'), acceptWrap: bug(s, 'reset-offset-wrap'),
    eintrSkipsBatch: bug(s, 'reset-eintr-skips-batch'),
    rearm(slot, offset, mask) {
      const sl = s.slots[slot & 0xffff]!;
      const offs = maskOffsets(offset, mask);
      const inSlot: number[] = [];
      for (const o of offs) {
        if (o < BigInt(sl.npages)) inSlot.push(sl.base + Number(o));
        else outOfSlot.push(`${slot}:${o.toString()}`);
      }
      if (inSlot.length === offs.length) {
        // arm64 kvm_arch_mmu_enable_log_dirty_pt_masked: stage2_wp_range over [ffs, fls] of the mask.
        writeProtectRange(s, inSlot[0]!, inSlot[inSlot.length - 1]! + 1);
      } else {
        // Only with the B12 knob: the wrapped batch; the in-slot pages are write-protected one by one (the
        // out-of-slot "gfns" are the out-of-bounds access of the real bug).
        for (const g of inSlot) writeProtectRange(s, g, g + 1);
      }
      for (const g of inSlot) actual.push(g);
    },
  };
  const before = R.rings.map((r) => r.resetIndex);
  const softFullClears: number[] = [];
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    const ret = dirtyRingReset(r, env, nr, trace);
    // B5 (v7 of the series): the reset thread clears the request of a ring it finds no longer soft-full.
    if (bug(s, 'softfull-cleared-by-reset') && !softFull(r, R.soft)) softFullClears.push(v);
    if (reflag && used(r) > ringSize(r)) R.attacked[v] = 1;
    if (ret === -EINTR || trace.unterminated) break;
  }
  R.softFullClears = softFullClears;
  if (reflag) R.attackDone = 1;
  let consumed = 0;
  for (let v = 0; v < R.rings.length; v++) consumed += (R.rings[v]!.resetIndex - before[v]!) >>> 0;
  // Reference for INV-RING-RESET-EXACT, entry by entry (no coalescing): the valid (slot, offset) pairs consumed.
  const expected: number[] = [];
  let invalid = 0;
  for (const c of trace.consumed) {
    const sl = c.slot >>> 16 === 0 ? s.slots[c.slot & 0xffff] : undefined;
    if (sl && c.offset < BigInt(sl.npages)) expected.push(sl.base + Number(c.offset));
    else invalid++;
  }
  R.last = { cleared: nr.n, consumed, expected: uniqSorted(expected), invalid, actual: uniqSorted(actual), outOfSlot,
    unterminated: trace.unterminated ? 1 : 0 };
  // Userspace: the first `cleared` harvested entries (vCPU order, ring order: the kernel's order) were reset;
  // their pages are copied after the ioctl returns. The rest stay harvested and are reset by the next call.
  let left = nr.n;
  const out: number[] = [];
  for (let v = 0; v < R.harv.length && left > 0; v++) {
    const h = R.harv[v]!;
    const k = Math.min(left, h.length);
    for (let i = 0; i < k; i++) out.push(h[i]!);
    if (k > 0) R.harv[v] = h.slice(k);
    left -= k;
  }
  // Coverage: kvm_reset_dirty_gfn calls that coalesced more than one entry into their mask.
  const coalesced = trace.calls.filter((c) => (c.mask & (c.mask - 1n)) !== 0n).length;
  if (coalesced > 0) s.stats['ringResetCoalesced'] = (s.stats['ringResetCoalesced'] ?? 0) + coalesced;
  s.stats['ringResets'] = (s.stats['ringResets'] ?? 0) + 1;
  // kvm_flush_remote_tlbs(kvm) iff cleared != 0 (F1 knob: the flush is missing).
  s.vmm.ioctl = { kind: 'reset', slot: 0, deliver: uniqSorted(out), rearmed: R.last.actual.slice(),
    flush: nr.n !== 0 && !bug(s, 'reset-no-tlb-flush'),
    snapshotPending: false };
  if (s.vmm.phase === 'precopy' && harvestedTotal(R) === 0) {
    // The pass is complete: a pre-copy round completes when the ioctl returns (collectionStepDone).
    if (R.pass === 2) s.vmm.collectSlot = s.slots.length;
    R.pass = 0;
  }
}

function uniqSorted(a: readonly number[]): number[] {
  return [...new Set(a)].sort((x, y) => x - y);
}

// ---------------------------------------------------------------------------------------------------------
// Userspace side (conforming VMM, optionally with an adversarial side)

function harvestedTotal(R: RingExt): number {
  let n = 0;
  for (const h of R.harv) n += h.length;
  return n;
}

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
function ringWorkAllowedIn(s: MachineState, memo: EnabledMemo): boolean {
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
function harvestSteps(s: MachineState, memo: EnabledMemo): readonly MachineEvent[] {
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
function drained(s: MachineState): boolean {
  const R = ringExt(s);
  if (harvestedTotal(R) > 0) return false;
  for (let v = 0; v < R.rings.length; v++) if (R.attacked[v] === 0 && harvestable(R.rings[v]!)) return false;
  return !R.adversary || R.attackDone !== 0;
}

/** The VMM's canonical next step (a single event), or null. Callers use `nextCollectStep` (once per state). */
function collectStep(s: MachineState, memo: EnabledMemo): MachineEvent | null {
  if (!ringWorkAllowedIn(s, memo)) return null;
  const R = ringExt(s);
  const vm = s.vmm;
  const h = harvestSteps(s, memo);
  if (h.length > 0) return h[0]!;
  if (vm.phase === 'precopy') return { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 0 };
  // Final collection (VM stopped).
  if (harvestedTotal(R) > 0) return { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 0 };
  if (!vcpusOut(s)) return null;
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

/** Does the ring hold an un-reset entry the adversary rewrote (its batch may swallow later entries)? */
function rewrittenPending(r: Ring): boolean {
  for (let c = r.resetIndex, n = Math.min((r.fetchIndex - r.resetIndex) >>> 0, ringSize(r)); n > 0; c = inc(c), n--) {
    if (r.offHi[slotIndex(r, c)] !== 0) return true;
  }
  return false;
}

const C1_HI = 0xffffffff;
const C1_LO = 0xffffffc1;

/** The adversary's rewrites in this state, once per state (`rewriteSteps`). */
function rewritesOf(s: MachineState, memo: EnabledMemo): readonly MachineEvent[] {
  const m = ringMemo(memo);
  if (m.rewrites === undefined) {
    m.rewrites = [];
    rewriteSteps(s, m.rewrites);
  }
  return m.rewrites;
}

/** Adversary rewrites (B12 reproducer): entry k -> 0xffffffffffffffc1 if k+1 is harvested too; then k+1 -> 0. */
function rewriteSteps(s: MachineState, out: MachineEvent[]): void {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    if (R.attacked[v] !== 0) continue;
    const n = (r.fetchIndex - r.resetIndex) >>> 0;
    if (n > ringSize(r)) continue;
    for (let k = 0; k < n; k++) {
      const c = (r.resetIndex + k) >>> 0;
      const i = slotIndex(r, c);
      // Each entry is rewritten at most once (to C1 while pristine; to 0 after a C1), so the adversary's
      // moves are finite.
      const prevC1 = k > 0 && r.offHi[slotIndex(r, (c - 1) >>> 0)] === C1_HI && r.offLo[slotIndex(r, (c - 1) >>> 0)] === C1_LO;
      const pristine = r.offHi[i] === 0;
      if (k + 1 < n && pristine && !prevC1) out.push({ type: 'ring/entryRewritten', vcpu: v, index: c, offsetHi: C1_HI, offsetLo: C1_LO });
      if (prevC1 && pristine && r.offLo[i] !== 0) out.push({ type: 'ring/entryRewritten', vcpu: v, index: c, offsetHi: 0, offsetLo: 0 });
    }
  }
}

function candidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) out.push({ type: 'vcpu/ringFullExited', vcpu: v });
  if (bug(s, 'softfull-cleared-by-reset')) for (const v of R.softFullClears) out.push({ type: 'kvm/softFullRequestCleared', vcpu: v });
  if (ringWorkAllowedIn(s, memo)) {
    // The canonical step comes from collectStep; here the other interleavings: another vCPU's ring first,
    // or a reset interrupted by a signal after 1 or 2 entries.
    const h = harvestSteps(s, memo);
    for (let i = 1; i < h.length; i++) out.push(h[i]!);
    const step = nextCollectStep(s, memo);
    if (step && step.type === 'kvm/dirtyRingsReset' && step.reflag === 0) {
      for (let k = 1; k <= 2; k++) if (k < harvestedTotal(R)) out.push({ type: 'kvm/dirtyRingsReset', signal: k, reflag: 0 });
    }
  }
  if (R.adversary) for (const x of rewritesOf(s, memo)) out.push(x);
}

function isEnabled(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean | undefined {
  switch (e.type) {
    case 'vcpu/ringFullExited': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'host' && (v.requests & REQ_STEAL) === 0 && wouldExit(s, e.vcpu) && ringExt(s).exited[e.vcpu] === 0;
    }
    case 'ring/entryHarvested': {
      if (!ringWorkAllowedIn(s, memo)) return false;
      const R = ringExt(s);
      const r = R.rings[e.vcpu];
      return !!r && R.attacked[e.vcpu] === 0 && e.index === r.fetchIndex && harvestable(r);
    }
    case 'ring/entryRewritten': {
      if (!ringExt(s).adversary) return false;
      return rewritesOf(s, memo).some((x) => x.type === e.type && x.vcpu === e.vcpu && x.index === e.index && x.offsetHi === e.offsetHi
        && x.offsetLo === e.offsetLo);
    }
    case 'kvm/dirtyRingsReset': {
      const step = nextCollectStep(s, memo);
      if (!step || step.type !== 'kvm/dirtyRingsReset' || step.reflag !== e.reflag) return false;
      return e.signal === 0 || (e.reflag === 0 && e.signal <= 2 && e.signal < harvestedTotal(ringExt(s)));
    }
    case 'kvm/softFullRequestCleared':
      return bug(s, 'softfull-cleared-by-reset') && s.vmm.ioctl !== null && s.vmm.ioctl.kind === 'reset'
        && ringExt(s).softFullClears.includes(e.vcpu);
    case 'vmm/untrackedPagesQueued':
    case 'vmm/ringCollectionCompleted': {
      const step = nextCollectStep(s, memo);
      return step !== null && step.type === e.type;
    }
    default:
      return undefined;
  }
}

/** Starts a VMM pass (reap or pre-copy round) at its first step. */
function passStep(s: MachineState): void {
  const R = ringExt(s);
  if (s.vmm.phase === 'precopy' && R.pass === 0) R.pass = roundStarts(s) ? 2 : 1;
}

function apply(s: MachineState, e: MachineEvent): boolean {
  const R = ringExt(s);
  switch (e.type) {
    case 'vcpu/ringFullExited':
      R.exited[e.vcpu] = 1;
      s.stats['ringFullExits'] = (s.stats['ringFullExits'] ?? 0) + 1;
      return true;
    case 'ring/entryHarvested': {
      passStep(s);
      if (R.just[e.vcpu]![slotIndex(R.rings[e.vcpu]!, R.rings[e.vcpu]!.fetchIndex)] !== 1) {
        s.stats['ringUnjustified'] = (s.stats['ringUnjustified'] ?? 0) + 1;
      }
      const got = harvest(R.rings[e.vcpu]!);
      const sl = got.slot >>> 16 === 0 ? s.slots[got.slot & 0xffff] : undefined;
      // Entries KVM pushed always name a page; userspace records it and copies it after the reset returns.
      const g = sl && got.offset < BigInt(sl.npages) ? sl.base + Number(got.offset) : -1;
      R.harv[e.vcpu]!.push(g);
      if (R.adversary && g >= 0 && rewrittenPending(R.rings[e.vcpu]!) && !R.always.includes(g)) R.always.push(g);
      s.stats['ringHarvested'] = (s.stats['ringHarvested'] ?? 0) + 1;
      return true;
    }
    case 'ring/entryRewritten': {
      const r = R.rings[e.vcpu]!;
      const i = slotIndex(r, e.index);
      r.offHi[i] = e.offsetHi;
      r.offLo[i] = e.offsetLo;
      // The adversary sabotaged the re-arm of the page it had recorded, and (the fixed kernel drops a whole
      // batch that holds an invalid offset, and offset-0 entries on either side coalesce with 0x..ffc1) of any
      // page harvested from this ring before the next reset: it copies all of them at the end.
      for (const g of R.harv[e.vcpu]!) if (g >= 0 && !R.always.includes(g)) R.always.push(g);
      return true;
    }
    case 'kvm/dirtyRingsReset':
      passStep(s);
      resetRings(s, e.signal, e.reflag === 1);
      return true;
    case 'kvm/softFullRequestCleared':
      s.vcpus[e.vcpu]!.requests &= ~REQ_RING_SOFT_FULL;
      R.softFullClears = R.softFullClears.filter((v) => v !== e.vcpu);
      return true;
    case 'vmm/untrackedPagesQueued':
      deliver(s, R.always);
      R.queued = 1;
      return true;
    case 'vmm/ringCollectionCompleted':
      s.vmm.collectSlot = s.slots.length;
      collectionStepDone(s, false);
      return true;
    default:
      return false;
  }
}

/** Un-reset ring entries, harvested-not-reset entries held by the VMM, and pages the VMM will copy anyway. */
function pending(s: MachineState, gfn: number): boolean {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) {
    const h = R.harv[v]!;
    for (let k = 0; k < h.length; k++) if (h[k] === gfn) return true;
    if (R.attacked[v] !== 0) continue;
    const r = R.rings[v]!;
    for (let c = r.resetIndex, n = Math.min(used(r), ringSize(r)); n > 0; c = inc(c), n--) {
      if (entryGfn(s, r, slotIndex(r, c)) === gfn) return true;
    }
  }
  return R.always.includes(gfn);
}

function quiescent(s: MachineState): boolean {
  return s.vmm.phase !== 'stopping' || drained(s);
}

function metrics(_s: MachineState, out: { [k: string]: number }): void {
  const e = out['ringEntries'] ?? 0;
  out['duplicateRate'] = e ? (out['ringDuplicates'] ?? 0) / e : 0;
  const h = out['ringHarvested'] ?? 0;
  out['ringUnjustifiedRate'] = h ? (out['ringUnjustified'] ?? 0) / h : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Invariants

function viol(invariant: string, message: string, pages: number[]): Violation {
  return { invariant, message, pages };
}

function resetInFlight(s: MachineState): ResetAudit | null {
  const io = s.vmm.ioctl;
  return io !== null && io.kind === 'reset' ? ringExt(s).last : null;
}

export const INV_RING_BOUND: Invariant<MachineState> = {
  id: 'INV-RING-BOUND',
  description: 'Every ring holds at most `size` un-reset entries (used = dirty_index - reset_index, u32): a push into a full ring overwrites an entry.',
  check(s) {
    const R = ringExt(s);
    for (let v = 0; v < R.rings.length; v++) {
      if (R.attacked[v] !== 0) continue;
      const u = used(R.rings[v]!);
      if (u > R.size) return viol('INV-RING-BOUND', `vCPU ${v}'s ring holds ${u} un-reset entries but has ${R.size}: a push overwrote an unreset entry`, []);
    }
    return null;
  },
};

export const INV_RING_GATE: Invariant<MachineState> = {
  id: 'INV-RING-GATE',
  description: 'A vCPU never enters the guest while its ring is at or above the soft limit (it must exit with KVM_EXIT_DIRTY_RING_FULL).',
  check(s) {
    const R = ringExt(s);
    for (let v = 0; v < R.rings.length; v++) {
      if (R.attacked[v] !== 0 || s.vcpus[v]!.run !== 'guest') continue;
      if (R.entryUsed[v]! >= R.soft) {
        return viol('INV-RING-GATE', `vCPU ${v} entered the guest with ${R.entryUsed[v]} un-reset entries in its ring (soft limit ${R.soft})`, []);
      }
    }
    return null;
  },
};

export const INV_RING_FIFO: Invariant<MachineState> = {
  id: 'INV-RING-FIFO',
  description: 'Entry states follow the indices: [reset, fetch) harvested (RESET), [fetch, dirty) DIRTY, every other entry invalid; '
    + 'so pushes, harvests and resets all proceed in counter order.',
  check(s) {
    const R = ringExt(s);
    for (let v = 0; v < R.rings.length; v++) {
      if (R.attacked[v] !== 0) continue;
      const r = R.rings[v]!;
      const u = used(r);
      const h = (r.fetchIndex - r.resetIndex) >>> 0;
      if (h > u) return viol('INV-RING-FIFO', `vCPU ${v}: userspace harvested past dirty_index (reset ${r.resetIndex}, fetch ${r.fetchIndex}, dirty ${r.dirtyIndex})`, []);
      for (let k = 0; k < ringSize(r); k++) {
        const c = (r.resetIndex + k) >>> 0;
        const want = k < h ? KVM_DIRTY_GFN_F_RESET : k < u ? KVM_DIRTY_GFN_F_DIRTY : 0;
        const got = r.flags[slotIndex(r, c)];
        if (got !== want) {
          return viol('INV-RING-FIFO', `vCPU ${v}: entry of counter ${c} has flags ${got}, expected ${want} (reset ${r.resetIndex}, fetch ${r.fetchIndex}, dirty ${r.dirtyIndex})`, []);
        }
      }
    }
    return null;
  },
};

export const INV_RING_RESET_EXACT: Invariant<MachineState> = {
  id: 'INV-RING-RESET-EXACT',
  description: 'KVM_RESET_DIRTY_RINGS returns the number of entries it consumed and re-arms exactly the valid (slot, offset) pairs '
    + 'among them (coalescing adds and drops nothing); with invalid entries consumed it may only re-arm fewer.',
  check(s) {
    const a = resetInFlight(s);
    if (!a || a.unterminated) return null;
    if (a.cleared !== a.consumed) {
      return viol('INV-RING-RESET-EXACT', `RESET returned ${a.cleared} but consumed ${a.consumed} entries`, []);
    }
    const extra = a.actual.filter((g) => !a.expected.includes(g));
    if (extra.length) return viol('INV-RING-RESET-EXACT', `RESET re-armed pages no consumed entry names: ${extra.slice(0, 8).join(',')}`, extra);
    if (a.invalid === 0) {
      const missing = a.expected.filter((g) => !a.actual.includes(g));
      if (missing.length) {
        return viol('INV-RING-RESET-EXACT', `RESET consumed and counted entries for pages it did not re-arm: ${missing.slice(0, 8).join(',')}`, missing);
      }
    }
    return null;
  },
};

export const INV_RESET_VALID: Invariant<MachineState> = {
  id: 'INV-RESET-VALID',
  description: 'Ring entries are untrusted input: every gfn RESET re-arms lies inside its memslot (checked without u64 wrap).',
  check(s) {
    const a = resetInFlight(s);
    if (!a || a.outOfSlot.length === 0) return null;
    return viol('INV-RESET-VALID', `RESET re-armed offsets outside their memslot (slot:offset) ${a.outOfSlot.slice(0, 4).join(', ')}`, []);
  },
};

export const INV_LIVE_RESET: Invariant<MachineState> = {
  id: 'INV-LIVE-RESET',
  description: 'KVM_RESET_DIRTY_RINGS terminates (at most INT_MAX entries) even when userspace keeps re-flagging entries.',
  check(s) {
    const a = resetInFlight(s);
    if (!a || !a.unterminated) return null;
    return viol('INV-LIVE-RESET', 'RESET never terminates: userspace keeps flagging entries RESET and the loop has no bound', []);
  },
};

export const RING_INVARIANTS: readonly Invariant<MachineState>[] = [
  INV_RING_BOUND, INV_RING_GATE, INV_RING_FIFO, INV_RING_RESET_EXACT, INV_RESET_VALID, INV_LIVE_RESET,
];

export const ringMechanism: Mechanism = {
  id: RING_ID,
  init,
  mark,
  pending,
  candidates,
  isEnabled,
  apply,
  canEnter: (s, v) => !wouldExit(s, v),
  onEnter,
  // The vCPU thread that got KVM_EXIT_DIRTY_RING_FULL (or would at its next request check) waits in userspace
  // for the reaper before issuing KVM_RUN again (QEMU reaps before re-entering).
  canLoad: (s, v) => !wouldExit(s, v),
  collects: true,
  collectStep,
  quiescent,
  metrics,
};

registerMechanism(ringMechanism);
// explore: the ring state's canonical encoding and fast copy (codec.ts).
registerExtCodec(RING_ID, ringCodec);

export { KVM_DIRTY_GFN_F_DIRTY, offsetOf };
