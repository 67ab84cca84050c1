/**
 * KVM's side of FEAT_HDBSS that the events and hooks share (split from hdbss.ts, no behaviour change): the drain
 * of a vCPU's buffer (with the memory ordering of the HDBSS writes, option weakMemory), the re-arm of writable
 * DBM leaves at the enable, the register programming at vcpu_load, and the dirty ring's reserve for a full
 * buffer drain (with the ring-size check of KVM_ENABLE_CAP). The mechanism's hooks are hdbss.ts, its events'
 * preconditions and reducer reducer.ts, the request paths requests.ts.
 */
import type { MachineState } from '../machine/state.ts';
import { D_DBM, D_VALID, D_W, setL2, setPage } from '../machine/pagetable.ts';
import { markPageDirty, markPreArm } from '../machine/kvm.ts';
import { ringExt } from '../dirty-ring/mechanism.ts';
import { rsvdEntriesOf } from '../dirty-ring/ring.ts';
import { leafAt, markRecord, recordPages } from '../hw-dirty/hw.ts';
import { designHasBug, hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';
import { designOption, optionOf, type DesignOptionRead, type DesignOptions, type HdbssOption, type OptionRead } from '../machine/options.ts';
import { capacityOfOptions, entryGfn, entryLevel, entryValid, FSC_OK, hdOf, indexOf } from './state.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;
/** An hdbss option, of the state's design or of a design's options (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<HdbssOption> = optionOf;
const designOpt: DesignOptionRead<HdbssOption> = designOption;

function ringConsumer(s: MachineState): boolean {
  return option(s, 'consumer') === 'ring';
}

/*
 * Memory ordering of the HDBSS writes (option `weakMemory`; arm reference 2.3 "Ordering/observability", F11).
 * The PE's write of an HDBSS entry is a memory write the hardware makes on the guest's behalf; R_RCGCHP: "On
 * exception entry to ELx, where EL1&0 is out-of-context, outstanding HDBSS writes performed by the PE during
 * execution at EL1&0 are guaranteed to be observable to memory accesses from ELx after completion of a DSB
 * instruction that applies to both loads and stores". Until then KVM's loads of the entries may return the
 * buffer's older contents (0: drained entries are zeroed, and R_HKCCN lets the PE zero entries ahead of INDEX).
 * The increments of HDBSSPROD_EL2.INDEX are indirect writes, observable to direct reads after a context
 * synchronization event (I_IXXFYP); the exits and faults that lead to a drain are exceptions (a CSE), so the
 * INDEX the drain reads is current and only the entry writes can lag. In the vocabulary of the Arm memory
 * model (Arm ARM B2.3; herd's aarch64.cat counts DSB SY among the full barriers of `bob`) the DSB orders the
 * PE's outstanding writes before its later loads; the HDBSS writes themselves are hardware writes that
 * aarch64.cat does not describe (nor, as far as the references say, its VMSA variant), so R_RCGCHP is the rule
 * followed. Whether the v3 exit path already executes such a DSB is UNVERIFIED (arm reference F11): the knob
 * is the path that does not.
 * Modelled per PE as `inflight`: the newest N appends whose entry writes are outstanding (the suffix
 * [INDEX - N, INDEX): the PE's HDBSS writes are to consecutive entries, assumed to complete in order, a
 * simplification that only merges interleavings), drained one at a time by `hdbss/entryWriteCompleted`. KVM's
 * drain begins with `dsb(sy); isb()` (the v1/v2 series' flush), which completes them all. F11
 * (`hdbss-drain-no-dsb`, v3, which dropped the barriers): the drain reads the outstanding entries as 0, skips
 * them as invalid, and resets INDEX to 0, after which nothing reads them (software trusts only entries below
 * INDEX; the next appends overwrite them): they are lost, which the model shows by zeroing them.
 */

/**
 * Drains vCPU `v`'s buffer: KVM reads entries [0, INDEX) of its own buffer (the live register when loaded, the
 * saved value otherwise), marks every page each valid entry's leaf maps, zeroes them and resets INDEX and FSC.
 * Under weakMemory it first completes the loaded PE's outstanding entry writes with a DSB (F11: it does not, and
 * loses them).
 */
export function drain(s: MachineState, v: number): void {
  const h = hdOf(s);
  const { index, fsc, live } = indexOf(s, v);
  const b = h.buf[v]!;
  let n = Math.min(index, b.length);
  const outstanding = live >= 0 ? Math.min(h.inflight[live]!, n) : 0;
  if (outstanding > 0) {
    if (bug(s, 'hdbss-drain-no-dsb')) {
      // F11: the loads of entries [n - outstanding, n) return 0 (invalid: skipped), then INDEX is reset below.
      n -= outstanding;
      for (let i = n; i < n + outstanding; i++) b[i] = 0;
      s.stats['hdbssEntriesUnobserved'] = (s.stats['hdbssEntriesUnobserved'] ?? 0) + outstanding;
    } else {
      // dsb(sy); isb(): the outstanding HDBSS writes are observable before the loads below (R_RCGCHP).
      s.stats['hdbssDrainInFlight'] = (s.stats['hdbssDrainInFlight'] ?? 0) + 1;
    }
  }
  if (live >= 0 && h.inflight[live] !== 0) h.inflight[live] = 0;
  const onePage = bug(s, 'hdbss-block-one-page');
  for (let i = 0; i < n; i++) {
    const e = b[i]!;
    if (!entryValid(e)) continue;
    // F13: KVM reads a buffer the disable path already freed (what it finds there is no longer the entries).
    if (h.freed && h.uaf < 0) h.uaf = entryGfn(e);
    b[i] = 0;
    markRecord(s, entryGfn(e), entryLevel(e), v, onePage);
  }
  // F10c knob: FSC != 0 treated like a full buffer (drain and carry on): the lost entries stay lost.
  if (fsc !== FSC_OK && !bug(s, 'hdbss-fsc-ignored')) {
    // Guess (arm reference 2.4 "Model"): entries were lost; the only safe fallback is every page of every
    // logging memslot.
    for (const sl of s.slots) if (sl.logging) for (let g = sl.base; g < sl.base + sl.npages; g++) markPageDirty(s, g, v);
    s.stats['hdbssFallbacks'] = (s.stats['hdbssFallbacks'] ?? 0) + 1;
  }
  if (live >= 0) {
    if (h.prodIndex[live] !== 0) h.prodIndex[live] = 0;
    if (h.prodFsc[live] !== 0) h.prodFsc[live] = 0;
  } else {
    if (h.savedProdIndex[v] !== 0) h.savedProdIndex[v] = 0;
    if (h.savedProdFsc[v] !== 0) h.savedProdFsc[v] = 0;
  }
  if (h.resumed[v] !== -1) h.resumed[v] = -1;
  s.stats['hdbssDrains'] = (s.stats['hdbssDrains'] ?? 0) + 1;
}

/** Clears W on every writable DBM leaf of the logging memslots; returns the pages re-armed. */
export function cleanLoggingLeaves(s: MachineState): number[] {
  const out: number[] = [];
  for (const sl of s.slots) {
    if (!sl.logging) continue;
    let g = sl.base;
    while (g < sl.base + sl.npages) {
      const { d, base, level } = leafAt(s, g);
      const n = recordPages(level);
      if ((d & (D_VALID | D_W | D_DBM)) === (D_VALID | D_W | D_DBM)) {
        if (level === 2) setL2(s.s2, g, d & ~D_W);
        else setPage(s.s2, g, d & ~D_W);
        const lo = Math.max(base, sl.base);
        const hi = Math.min(base + n, sl.base + sl.npages);
        // The re-arm happens now: writable TLB copies of these pages predate it (INV-FLUSH, tlb.ts T_PREARM).
        markPreArm(s, lo, hi);
        for (let p = lo; p < hi; p++) out.push(p);
      }
      g = level === 2 ? base + n : g + 1;
    }
  }
  return out;
}

/** Programs HDBSSBR_EL2 / HDBSSPROD_EL2 on `pe` with vCPU `v`'s buffer and saved index. */
export function programRegs(s: MachineState, v: number, pe: number): void {
  const h = hdOf(s);
  h.brBaddr[pe] = v;
  h.prodIndex[pe] = h.savedProdIndex[v]!;
  h.prodFsc[pe] = h.savedProdFsc[v]!;
}

/**
 * Ring consumer: "Report the HDBSS buffer entry count through kvm_cpu_dirty_log_size(), so a full buffer flush
 * always fits in the ring" (the 2026 rework): the soft limit is lowered by the buffer capacity. The ring is
 * created by its own mechanism after this one, so the reserve is applied at the first vcpu_load, before any push
 * can happen (every push needs a loaded vCPU). F17: no reserve.
 */
export function reserveRing(s: MachineState): void {
  const h = hdOf(s);
  if (h.ringReserved || !ringConsumer(s)) return;
  h.ringReserved = true;
  if (bug(s, 'ring-no-drain-reserve')) return;
  const R = ringExt(s);
  // checkHdbssRingOptions refuses a ring smaller than the reserve, so this is >= 0. KVM's soft limit 0 (a ring of
  // exactly the reserve) would exit at every entry once the vCPU pushed anything; the model keeps 1 there.
  R.softLimit = Math.max(1, R.softLimit - h.cap);
}

/**
 * KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING) fails with EINVAL when the ring is smaller than its reserve
 * (kvm-dirty-tracking.md: `size < kvm_dirty_ring_get_rsvd_entries(kvm) * 16`, rsvd = 64 +
 * kvm_cpu_dirty_log_size()). The rework reports the HDBSS buffer's entry count through kvm_cpu_dirty_log_size(),
 * so the correct design refuses a ring that cannot hold its reserve plus a full buffer drain (here the reserve
 * of the shrunk rings, rsvdEntriesOf: half of a ring below a page). F17 (`ring-no-drain-reserve`) does not report
 * the buffer, so KVM accepts the ring and a drain overflows it.
 */
export function checkHdbssRingOptions(o: DesignOptions, bugs: readonly string[]): { field: string; message: string } | null {
  // VTCR_EL2.HD off is a configuration of the page-table scan only: FEAT_HDBSS requires VTCR_EL2.{HDBSS,HA,HD}.
  if (designOpt(o, 'hd') === false && designOpt(o, 'producer') !== 'dbm') {
    return { field: 'hd', message: 'hd=false (VTCR_EL2.HD clear) needs producer=dbm: FEAT_HDBSS requires VTCR_EL2.{HDBSS,HA,HD}' };
  }
  if (designOpt(o, 'consumer') !== 'ring' || designOpt(o, 'producer') !== 'hdbss' || designHasBug(bugs, 'ring-no-drain-reserve')) return null;
  const entries = designOpt(o, 'ringEntries');
  const size = typeof entries === 'number' ? entries : 16;
  const cap = capacityOfOptions(o);
  const rsvd = rsvdEntriesOf(size);
  if (size >= rsvd + cap) return null;
  return { field: 'ringEntries', message: `a ${size}-entry dirty ring is smaller than its reserve (${rsvd} + the HDBSS buffer's ${cap} entries, `
    + `reported through kvm_cpu_dirty_log_size()): KVM_ENABLE_CAP(DIRTY_LOG_RING) fails with EINVAL (use a larger ring or fewer hdbssEntries)` };
}
