/**
 * The dirty ring's kernel side (kvm reference section 4): mark_page_dirty_in_slot pushes to the running vCPU's
 * ring (duplicates allowed) and sets the soft-full request; writes with no running vCPU go to the slot's backup
 * bitmap (WITH_BITMAP) or are dropped; the request is consumed only by the vCPU at guest entry
 * (kvm_dirty_ring_check_request), which otherwise exits with KVM_EXIT_DIRTY_RING_FULL; KVM_RESET_DIRTY_RINGS
 * consumes harvested entries from reset_index, coalesces them into masks, validates them as untrusted input,
 * re-arms them and flushes the whole VM's TLBs iff it cleared anything, returning the count (the per-ring loop
 * itself is ring.ts `dirtyRingReset`).
 */
import type { JsonValue } from '../../src/core/model.ts';
import { writeProtectRange } from '../machine/kvm.ts';
import { bitGet } from '../machine/paged.ts';
import { REQ_RING_SOFT_FULL, type MachineState } from '../machine/state.ts';
import {
  dirtyRingReset, enableDirtyRing, enableRingWithBitmap, EINTR, KVM_DIRTY_GFN_BYTES, maskOffsets, push, ringNew,
  ringSize, rsvdEntriesOf, slotIndex, softFull, used, type ResetEnv, type ResetTrace, type Ring,
} from './ring.ts';
import { harvestedTotal, RING_ID, ringExt, type ResetAudit, type RingExt } from './state.ts';
import { hasBug, type DirtyRingKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type DirtyRingOption, type OptionRead } from '../machine/options.ts';

/** Is a dirty-ring knob on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<DirtyRingKnob> = hasBug;
/** A dirty-ring option (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<DirtyRingOption> = optionOf;

export function init(s: MachineState): void {
  const entries = option(s, 'ringEntries');
  const size = typeof entries === 'number' ? entries : 16;
  const caps = { dirtyRingSize: 0, createdVcpus: 0, memslots: 0, withBitmap: false };
  // KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING_ACQ_REL) before any vCPU, then WITH_BITMAP before any memslot.
  const err = enableDirtyRing(caps, size * KVM_DIRTY_GFN_BYTES, true);
  if (err !== 0) throw new Error(`[dtsim] ringEntries ${size}: KVM_ENABLE_CAP(DIRTY_LOG_RING) fails with errno ${err}`);
  const withBitmap = option(s, 'ringWithBitmap') !== false;
  if (withBitmap && enableRingWithBitmap(caps) !== 0) throw new Error('[dtsim] KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP refused');
  const n = s.vcpus.length;
  const st = option(s, 'ringStart');
  const start = typeof st === 'number' ? st >>> 0 : 0;
  const ext: RingExt = {
    size, softLimit: size - rsvdEntriesOf(size), withBitmap, adversary: option(s, 'adversary') === true,
    // KVM starts every index at 0; `ringStart` (simulation only) starts them just below 2^32 so runs cross the
    // u32 wrap of dirty_index / reset_index / fetch_index (as a VM that already pushed 2^32 - k entries would).
    rings: Array.from({ length: n }, () => ringNew(size, start)), exited: new Array<number>(n).fill(0),
    entryUsed: new Array<number>(n).fill(0), attacked: new Array<number>(n).fill(0),
    harvested: Array.from({ length: n }, () => [] as number[]), always: [], queued: 0,
    justified: Array.from({ length: n }, () => new Array<number>(size).fill(0)), pass: 0, attackDone: 0, softFullClears: [], last: null,
  };
  s.ext[RING_ID] = ext as unknown as JsonValue;
  for (const k of ['ringEntries', 'ringDuplicates', 'ringFullExits', 'ringResets', 'ringHarvested', 'ringUnjustified',
    'ringMaxOvershoot', 'ringOverflows']) {
    s.stats[k] = 0;
  }
}

/** mark_page_dirty_in_slot with the ring: push to the running vCPU's ring; no vCPU -> backup bitmap or dropped. */
/**
 * Does the ring hold a live entry (flags set, within the used window from `resetIndex`) for (slot, off)? The
 * duplicate count of `mark`. The window is at most two runs of array positions (it may wrap), scanned as plain
 * loops with the offset compared first: this is O(entries) per mark, the one per-event cost of a ring that
 * grows with it (a 64K-entry ring at 20,000 stores/s per vCPU, docs/compare.md).
 */
function liveEntryOf(r: Ring, slot: number, off: number): boolean {
  const size = ringSize(r);
  const n = Math.min(used(r), size);
  if (n === 0) return false;
  const start = slotIndex(r, r.resetIndex);
  const offLo = r.offLo;
  const hit = (i: number): boolean => r.slot[i] === slot && r.offHi[i] === 0 && r.flags[i] !== 0;
  const end1 = Math.min(size, start + n);
  for (let i = start; i < end1; i++) if (offLo[i] === off && hit(i)) return true;
  for (let i = 0, end2 = n - (end1 - start); i < end2; i++) if (offLo[i] === off && hit(i)) return true;
  return false;
}

export function mark(s: MachineState, slot: number, gfn: number, vcpu: number): boolean {
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
  const dup = liveEntryOf(r, slot, off);
  // A report (entry) is justified if the page was written since the VMM was last handed it, or if the push
  // comes from the write fault on that very page (the store is in flight: it retires after the fault).
  const vc = s.vcpus[vcpu]!;
  const justified = bitGet(s.oracle.touched, gfn) || vc.fault === gfn;
  const ji = slotIndex(r, r.dirtyIndex);
  if (R.justified[vcpu]![ji] !== (justified ? 1 : 0)) R.justified[vcpu]![ji] = justified ? 1 : 0;
  // weakMemory: the DIRTY flag store stays in the vCPU CPU's store buffer until `ring/dirtyFlagVisible`.
  if (push(r, slot, off, option(s, 'weakMemory') === true)) s.stats['ringOverflows'] = (s.stats['ringOverflows'] ?? 0) + 1;
  s.stats['ringEntries'] = (s.stats['ringEntries'] ?? 0) + 1;
  if (dup) s.stats['ringDuplicates'] = (s.stats['ringDuplicates'] ?? 0) + 1;
  const u = used(r);
  if (u >= R.softLimit) {
    s.vcpus[vcpu]!.requests |= REQ_RING_SOFT_FULL;
    const over = u - R.softLimit;
    if (over > (s.stats['ringMaxOvershoot'] ?? 0)) s.stats['ringMaxOvershoot'] = over;
  }
  return true;
}

function vcpuSoftFull(s: MachineState, v: number): boolean {
  const R = ringExt(s);
  return softFull(R.rings[v]!, R.softLimit);
}

/** kvm_dirty_ring_check_request would make the vCPU exit instead of entering. */
export function wouldExit(s: MachineState, v: number): boolean {
  return (s.vcpus[v]!.requests & REQ_RING_SOFT_FULL) !== 0 && vcpuSoftFull(s, v);
}

export function onEnter(s: MachineState, v: number): void {
  const R = ringExt(s);
  const vc = s.vcpus[v]!;
  // kvm_check_request (test-and-clear): entry happened, so the ring was not soft-full (unless a bug cleared it).
  if ((vc.requests & REQ_RING_SOFT_FULL) !== 0 && !vcpuSoftFull(s, v)) vc.requests &= ~REQ_RING_SOFT_FULL;
  if (R.exited[v] !== 0) R.exited[v] = 0;
  const u = used(R.rings[v]!);
  if (R.entryUsed[v] !== u) R.entryUsed[v] = u;
}

/** KVM_RESET_DIRTY_RINGS' kernel work; sets the in-flight ioctl that `kvm/ioctlReturned` completes. */
export function resetRings(s: MachineState, signal: number, reflag: boolean): void {
  const R = ringExt(s);
  const nr = { n: 0 };
  const trace: ResetTrace = { consumed: [], calls: [], unterminated: false, interrupted: false };
  const actual: number[] = [];
  // (slot, offset low, offset high) triples: the u64 offset as two u32 halves, like a ring entry's.
  const outOfSlot: number[] = [];
  const env: ResetEnv = {
    slots: s.slots, signalAt: signal, reflag, unbounded: bug(s, 'reset-unbounded'), acceptWrap: bug(s, 'reset-offset-wrap'),
    eintrSkipsBatch: bug(s, 'reset-eintr-skips-batch'),
    rearm(slot, offset, mask) {
      const sl = s.slots[slot & 0xffff]!;
      const offs = maskOffsets(offset, mask);
      const inSlot: number[] = [];
      for (const o of offs) {
        if (o < BigInt(sl.npages)) inSlot.push(sl.base + Number(o));
        else outOfSlot.push(slot, Number(o & 0xffffffffn), Number(o >> 32n));
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
  // Coverage (weak memory): the reset runs while a push's DIRTY store is still buffered (it will not see that
  // entry harvested this time), or stops at an entry whose RESET store is still buffered (below).
  if (R.rings.some((r) => r.dirtyBuffered > 0)) s.stats['ringDirtyStoreBuffered'] = (s.stats['ringDirtyStoreBuffered'] ?? 0) + 1;
  const softFullClears: number[] = [];
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    const ret = dirtyRingReset(r, env, nr, trace);
    if (r.resetBuffered > 0 && r.resetIndex !== r.fetchIndex && !reflag) {
      s.stats['ringResetStoreBuffered'] = (s.stats['ringResetStoreBuffered'] ?? 0) + 1;
    }
    // B5 (v7 of the series): the reset thread clears the request of a ring it finds no longer soft-full.
    if (bug(s, 'softfull-cleared-by-reset') && !softFull(r, R.softLimit)) softFullClears.push(v);
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
  const audit: ResetAudit = { cleared: nr.n, consumed, expected: uniqSorted(expected), invalid, actual: uniqSorted(actual), outOfSlot,
    unterminated: trace.unterminated ? 1 : 0 };
  R.last = audit;
  // Userspace: of each ring, the harvested entries the kernel consumed (its reset_index advance: the kernel
  // resets every ring in order from reset_index) were reset; their pages are copied after the ioctl returns. The
  // rest stay harvested and are reset by the next call. Per ring, not the first `cleared` in vCPU order: under
  // weakMemory a ring's reset may stop at an entry whose RESET store is still buffered while the next ring's
  // entries are consumed (with only -EINTR cutting a reset short the two were the same: it stops every ring).
  let left = nr.n;
  const out: number[] = [];
  for (let v = 0; v < R.harvested.length && left > 0; v++) {
    const h = R.harvested[v]!;
    const k = Math.min(left, h.length, (R.rings[v]!.resetIndex - before[v]!) >>> 0);
    for (let i = 0; i < k; i++) out.push(h[i]!);
    if (k > 0) R.harvested[v] = h.slice(k);
    left -= k;
  }
  // Coverage: kvm_reset_dirty_gfn calls that coalesced more than one entry into their mask.
  const coalesced = trace.calls.filter((c) => (c.mask & (c.mask - 1n)) !== 0n).length;
  if (coalesced > 0) s.stats['ringResetCoalesced'] = (s.stats['ringResetCoalesced'] ?? 0) + coalesced;
  s.stats['ringResets'] = (s.stats['ringResets'] ?? 0) + 1;
  // kvm_flush_remote_tlbs(kvm) iff cleared != 0 (F1 knob: the flush is missing).
  s.vmm.ioctl = { kind: 'reset', slot: 0, deliver: uniqSorted(out), rearmed: audit.actual.slice(),
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
