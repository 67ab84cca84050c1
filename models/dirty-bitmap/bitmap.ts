/**
 * The KVM dirty bitmap ioctls on the simulated machine (virt/kvm/kvm_main.c, arm64 mmu.c):
 *
 * - KVM_GET_DIRTY_LOG without manual protect (`kvm_get_dirty_log_protect`): for each 64-bit word, xchg it to 0
 *   and re-arm its pages (`kvm_arch_mmu_enable_log_dirty_pt_masked`: arm64 write-protects the whole
 *   [ffs, fls] span of the word), then flush the memslot's TLBs before returning.
 * - with manual protect: GET copies the bitmap (nothing cleared, nothing re-armed, no flush); KVM_CLEAR_DIRTY_LOG
 *   validates its input (the exact rules and error codes below), fetch_andnot's the requested bits and re-arms
 *   exactly the bits that were set, then flushes if anything was re-armed.
 *
 * Bug knobs handled here: `wp-before-snapshot` (B10), `clear-tail-never-cleared` (B3),
 * `eager-split-off-by-one` (B8, negative control). TLB-flush knobs are applied at ioctl return (machine/reducer.ts).
 */
import { bitClear, bitGet, bitSet, pget, type Bits } from '../machine/paged.ts';
import { consumeReport, eagerSplit, flushSlotTlb, writeProtectRange } from '../machine/kvm.ts';
import type { Ioctl, MachineState } from '../machine/state.ts';
import { mechanismsOf } from '../machine/selected.ts';
import { hasBug, type DirtyBitmapKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type DirtyBitmapOption, type OptionRead } from '../machine/options.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<DirtyBitmapKnob> = hasBug;
/** An option of this folder (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<DirtyBitmapOption> = optionOf;

/** kvm_arch_sync_dirty_log: a no-op on mainline arm64; hardware-logging mechanisms drain into the bitmap here. */
function syncDirtyLog(s: MachineState, slot: number): void {
  for (const m of mechanismsOf(s)) m.syncDirtyLog?.(s, slot);
}

export const EINVAL = 22;
export const ENOENT = 2;
export const ENXIO = 6;

/**
 * The kernel's KVM_CLEAR_DIRTY_LOG validation (kvm_clear_dirty_log_protect), in its order: `first_page & 63` ->
 * -EINVAL, checked before the memslot is looked up (so an unaligned CLEAR of a slot without a bitmap is -EINVAL,
 * not -ENOENT); then `!memslot->dirty_bitmap` -> -ENOENT; then `first_page > npages || num_pages > npages -
 * first_page || (num_pages < npages - first_page && (num_pages & 63))` -> -EINVAL. num_pages == 0 is a valid
 * no-op. With the B3 knob (v5.0 rules) num_pages must also be a multiple of 64, so an unaligned tail can never
 * be cleared.
 */
export function clearRangeErrno(npages: number, first: number, num: number, v50Rules: boolean, hasBitmap: boolean): number {
  if (first % 64 !== 0) return EINVAL;
  if (!hasBitmap) return ENOENT;
  if (first > npages || num > npages - first) return EINVAL;
  if (num < npages - first && num % 64 !== 0) return EINVAL;
  if (v50Rules && num % 64 !== 0) return EINVAL;
  return 0;
}

/** Word i (64 pages) of a slot bitmap, as the list of set offsets. */
function wordBits(bm: Bits, npages: number, word: number): number[] {
  const out: number[] = [];
  const lo = word * 64;
  const hi = Math.min(npages, lo + 64);
  for (let o = lo; o < hi; o++) if (bitGet(bm, o)) out.push(o);
  return out;
}

/** arm64 kvm_arch_mmu_enable_log_dirty_pt_masked for one word's set offsets: write-protect [ffs, fls]. */
function rearmWord(s: MachineState, slot: number, offsets: readonly number[]): void {
  const sl = s.slots[slot]!;
  const first = offsets[0]!;
  const last = offsets[offsets.length - 1]!;
  writeProtectRange(s, sl.base + first, sl.base + last + 1);
  if (option(s, 'initiallySet') === true && option(s, 'manualProtect') === true) {
    eagerSplit(s, sl.base + first, sl.base + last + 1, bug(s, 'eager-split-off-by-one'));
  }
}

function newIoctl(kind: Ioctl['kind'], slot: number): Ioctl {
  return { kind, slot, deliver: [], rearmed: [], flush: false, snapshotPending: false };
}

/** KVM_GET_DIRTY_LOG (no manual protect), kernel part up to the TLB flush. */
export function getDirtyLogProtect(s: MachineState, slot: number): void {
  syncDirtyLog(s, slot);
  const sl = s.slots[slot]!;
  const bm = sl.bitmap!;
  const io = newIoctl('get', slot);
  if (bug(s, 'wp-before-snapshot')) {
    // B10 (pre-2010 x86): write-protect the whole slot and flush first; the bitmap is swapped out later, at
    // return, so a fault in between marks the new bitmap and leaves the page writable and unreported.
    writeProtectRange(s, sl.base, sl.base + sl.npages);
    flushSlotTlb(s, slot);
    io.snapshotPending = true;
    s.vmm.ioctl = io;
    return;
  }
  const words = Math.ceil(sl.npages / 64);
  const words32 = Math.ceil(sl.npages / 32);
  s.stats['bitmapWordsRead'] = (s.stats['bitmapWordsRead'] ?? 0) + words;
  for (let w = 0; w < words; w++) {
    const lo32 = pget(bm, w * 2);
    const hi32 = w * 2 + 1 < words32 ? pget(bm, w * 2 + 1) : 0;
    if (lo32 === 0 && hi32 === 0) continue;
    const offs = wordBits(bm, sl.npages, w);
    // xchg(&dirty_bitmap[i], 0): snapshot and clear this word.
    for (const o of offs) bitClear(bm, o);
    for (const o of offs) {
      io.deliver.push(sl.base + o);
      io.rearmed.push(sl.base + o);
      consumeReport(s, sl.base + o);
    }
    io.flush = true;
    rearmWord(s, slot, offs);
  }
  s.vmm.ioctl = io;
}

/** The B10 GET's late snapshot: swap the bitmap out (clear every bit), re-arming nothing. */
export function lateSnapshot(s: MachineState, io: Ioctl): void {
  const sl = s.slots[io.slot]!;
  const bm = sl.bitmap!;
  for (let o = 0; o < sl.npages; o++) {
    if (bitGet(bm, o)) {
      bitClear(bm, o);
      io.deliver.push(sl.base + o);
      consumeReport(s, sl.base + o);
    }
  }
  io.snapshotPending = false;
}

/** KVM_GET_DIRTY_LOG with manual protect: a copy of the bitmap into the VMM's fetched set. Atomic, no flush. */
export function getDirtyLogManual(s: MachineState, slot: number): number {
  syncDirtyLog(s, slot);
  const sl = s.slots[slot]!;
  const bm = sl.bitmap!;
  let n = 0;
  s.stats['bitmapWordsRead'] = (s.stats['bitmapWordsRead'] ?? 0) + Math.ceil(sl.npages / 64);
  for (let o = 0; o < sl.npages; o++) {
    if (bitGet(bm, o) && !bitGet(s.vmm.fetched, sl.base + o)) {
      bitSet(s.vmm.fetched, sl.base + o);
      s.vmm.fetchedCount++;
      n++;
    }
  }
  return n;
}

/** Result of KVM_CLEAR_DIRTY_LOG's kernel work, for the audit. */
export interface ClearResult {
  readonly errno: number;
  readonly rearmed: number[];
}

/**
 * KVM_CLEAR_DIRTY_LOG kernel part (up to the flush): validation, then for each requested word
 * `mask &= atomic_long_fetch_andnot(mask, &dirty_bitmap[i])` and re-arm what was set. `offsets` stands for the
 * user's bitmap: a set, in any order, and only its bits in [first, first + ALIGN(num, 64)) are read (the
 * user buffer holds no others); a requested bit that is not set is neither cleared nor re-armed.
 */
export function clearDirtyLog(s: MachineState, slot: number, first: number, num: number, offsets: readonly number[]): ClearResult {
  const sl = s.slots[slot]!;
  const io = newIoctl('clear', slot);
  s.vmm.ioctl = io;
  const errno = clearRangeErrno(sl.npages, first, num, bug(s, 'clear-tail-never-cleared'), sl.bitmap !== null);
  if (errno !== 0) return { errno, rearmed: [] };
  // kvm_arch_sync_dirty_log only once the request is valid (a refused CLEAR drains no hardware log).
  syncDirtyLog(s, slot);
  const bm = sl.bitmap!;
  s.stats['bitmapWordsRead'] = (s.stats['bitmapWordsRead'] ?? 0) + Math.ceil(num / 64);
  // Only requested offsets inside [first, first + ALIGN(num, 64)) count; bits past npages are never set.
  const hiReq = first + Math.ceil(num / 64) * 64;
  const byWord = new Map<number, number[]>();
  for (const o of offsets) {
    if (o < first || o >= hiReq || o >= sl.npages) continue;
    const w = Math.floor(o / 64);
    let a = byWord.get(w);
    if (!a) { a = []; byWord.set(w, a); }
    a.push(o);
  }
  const rearmed: number[] = [];
  for (const w of [...byWord.keys()].sort((a, b) => a - b)) {
    const req = byWord.get(w)!.sort((a, b) => a - b);
    const wasSet: number[] = [];
    for (const o of req) {
      if (bitGet(bm, o)) {
        bitClear(bm, o);
        wasSet.push(o);
        consumeReport(s, sl.base + o);
      }
    }
    if (wasSet.length === 0) continue;
    io.flush = true;
    rearmWord(s, slot, wasSet);
    for (const o of wasSet) rearmed.push(sl.base + o);
  }
  io.rearmed = rearmed;
  return { errno: 0, rearmed };
}
