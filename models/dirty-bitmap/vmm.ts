/**
 * The varied VMM of dirty-bitmap (option `clearCalls: 'varied'`, with manual protect): a userspace that issues
 * KVM_CLEAR_DIRTY_LOG calls of every shape the API accepts or refuses, beside QEMU's one-word CLEAR
 * (machine.ts `nextClear`), so that the kernel's validation, its ENOENT path, its reading of only the requested
 * range of the user bitmap and its `mask &= fetch_andnot(...)` are judged by INV-CLEAR-EXACT (errno and re-arm
 * set against models/oracle/kvm-rules.ts) instead of never being reached. QEMU only ever issues valid,
 * word-aligned CLEARs naming exactly the bits GET showed, so with it alone a kernel that accepted an unaligned
 * first_page, cleared bits outside the range or re-armed bits that were not set would go unnoticed
 * (docs/mutation.md, hole H2).
 *
 * Every call is safe for the migration, whatever the kernel returns: the VMM copies every page of the slot it
 * named once the ioctl returns (reducer.ts), and a page whose bit a CLEAR did not clear (refused, or outside
 * the range) is still dirty in the bitmap and writable, so the next GET reports it again. It never names a page
 * inside the range that it neither fetched nor copies afterwards (that would be U1, a VMM bug: a bit set since
 * the GET cleared without its page being copied). The calls, each a scheduler choice once a GET has fetched
 * pages (`w`: the 64-page word of the lowest fetched page of the slot QEMU would clear next, `f = 64 w`,
 * `rest = npages - f`):
 *
 * - multi-word: [f, npages), every fetched page of the range, listed high to low (the user bitmap is a set:
 *   the order the model lists it in must not matter; a range of several words walks several bitmap words);
 * - the whole word: [f, f + min(64, rest)) naming all 64 bits of the word, also those not fetched and those past
 *   the slot end (a VMM about to copy the whole word anyway: bits that are not set must be neither cleared
 *   nor re-armed; bits past npages are ignored);
 * - outside the range: [f, f + min(64, rest)) naming every fetched page of the slot, and the same for the word
 *   of the highest fetched page (the kernel reads only [first, first + ALIGN(num, 64)) of the user bitmap);
 * - refused: first_page f + 1 (unaligned), num_pages rest + 1 (past the slot end), num_pages 1 (unaligned
 *   and not reaching the slot end) when rest > 1; each naming the word's fetched pages (-EINVAL: nothing
 *   cleared);
 * - the empty range at the slot end (first_page == npages, num_pages 0) when npages is a multiple of 64: valid,
 *   a no-op;
 * - while a slot does not log yet (pre-copy, some slot enabled): a CLEAR of the first slot without a dirty
 *   bitmap, aligned (-ENOENT) and unaligned (-EINVAL: alignment is checked before the memslot is looked up).
 */
import { bitGet, bitNext } from '../machine/paged.ts';
import { slotOf, type MachineState } from '../machine/state.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import type { EnabledMemo } from '../machine/mechanisms.ts';
import { optionOf, type OptionRead } from '../machine/options.ts';
import type { DirtyBitmapOption } from '../machine/options.ts';

/** An option of this folder (typed: ../machine/options.ts). */
const option: OptionRead<DirtyBitmapOption> = optionOf;

type ClearEvent = Extract<MachineEvent, { type: 'kvm/dirtyLogCleared' }>;

/** Does the design's VMM issue the varied CLEARs? */
export function variedClears(s: MachineState): boolean {
  return option(s, 'clearCalls') === 'varied';
}

/** The fetched pages of slot `si` in [lo, hi) (slot offsets, ascending). */
function fetchedIn(s: MachineState, si: number, lo: number, hi: number): number[] {
  const sl = s.slots[si]!;
  const out: number[] = [];
  for (let o = lo; o < hi && o < sl.npages; o++) if (bitGet(s.vmm.fetched, sl.base + o)) out.push(o);
  return out;
}

function clear(slot: number, firstPage: number, numPages: number, pages: readonly number[]): ClearEvent {
  return { type: 'kvm/dirtyLogCleared', slot, firstPage, numPages, pages };
}

/**
 * The varied VMM's CLEAR calls in `s` (besides QEMU's word CLEAR), in a fixed order; none while an ioctl is in
 * flight. Before every slot logs: the CLEARs of a slot without a bitmap. Once a GET has fetched pages: the
 * calls of the module comment for the slot and word QEMU would clear next.
 */
export function variedClearCalls(s: MachineState): ClearEvent[] {
  const vm = s.vmm;
  const out: ClearEvent[] = [];
  if (vm.ioctl !== null) return out;
  if (vm.phase === 'precopy') {
    const si = s.slots.findIndex((sl) => sl.bitmap === null);
    if (si >= 0) {
      out.push(clear(si, 0, s.slots[si]!.npages, []));
      out.push(clear(si, 1, 0, []));
    }
  }
  if (vm.fetchedCount === 0) return out;
  const g = bitNext(vm.fetched, 0, s.totalPages);
  if (g < 0) return out;
  const si = slotOf(s, g);
  const sl = s.slots[si]!;
  const f = Math.floor((g - sl.base) / 64) * 64;
  const rest = sl.npages - f;
  const num = Math.min(64, rest);
  const word = fetchedIn(s, si, f, f + 64);
  const all = fetchedIn(s, si, 0, sl.npages);
  out.push(clear(si, f, rest, fetchedIn(s, si, f, sl.npages).reverse()));
  out.push(clear(si, f, num, Array.from({ length: 64 }, (_, i) => f + i)));
  out.push(clear(si, f, num, all));
  const hf = Math.floor(all[all.length - 1]! / 64) * 64;
  if (hf !== f) out.push(clear(si, hf, Math.min(64, sl.npages - hf), all));
  out.push(clear(si, f + 1, num - 1, word));
  out.push(clear(si, f, rest + 1, word));
  if (rest > 1) out.push(clear(si, f, 1, word));
  if (sl.npages % 64 === 0) out.push(clear(si, sl.npages, 0, []));
  return out;
}

/** `EnabledMemo.own` key of the varied CLEAR calls of the memo's state (computed once per state). */
const VARIED_MEMO = 'dirty-bitmap/variedClears';

/**
 * `variedClearCalls(s)` through the state's memo: the candidates and every candidate CLEAR's precondition ask
 * for the same list, so it is built once per state, not once per candidate (issue 15: `enabled` must not
 * regenerate candidate lists per candidate). The list is read only.
 */
export function variedClearCallsOf(s: MachineState, memo: EnabledMemo): readonly ClearEvent[] {
  const hit = memo.own[VARIED_MEMO] as readonly ClearEvent[] | undefined;
  if (hit !== undefined) return hit;
  const calls = variedClearCalls(s);
  memo.own[VARIED_MEMO] = calls;
  return calls;
}

/**
 * The situations the varied CLEARs are for, counted as `dtsim check` coverage (stats, metrics only):
 * `clearsRefused` (a CLEAR the kernel returned an errno for), `clearsUnsetBits` (a valid CLEAR naming in-range
 * bits that were not set), `clearsIgnoredBits` (a valid CLEAR naming bits outside its range or past the slot
 * end), `clearsMultiWord` (a valid CLEAR of more than one bitmap word). `rearmDue`: how many pages the
 * reference says the CLEAR must re-arm.
 */
export function countClear(s: MachineState, e: ClearEvent, errno: number, rearmDue: number): void {
  const bump = (k: string): void => { s.stats[k] = (s.stats[k] ?? 0) + 1; };
  if (errno !== 0) { bump('clearsRefused'); return; }
  const npages = s.slots[e.slot]!.npages;
  const inRange = new Set<number>();
  let outside = false;
  for (const o of e.pages) {
    if (o >= e.firstPage && o < e.firstPage + e.numPages && o < npages) inRange.add(o);
    else outside = true;
  }
  if (inRange.size > rearmDue) bump('clearsUnsetBits');
  if (outside) bump('clearsIgnoredBits');
  if (Math.ceil(e.numPages / 64) > 1) bump('clearsMultiWord');
}
