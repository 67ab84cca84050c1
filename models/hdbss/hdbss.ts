/**
 * Producer `hdbss`: FEAT_HDBSS (arm reference section 2). Per-vCPU buffers of 8-byte entries sized by the
 * HDBSSBR_EL2.SZ encoding; HDBSSBR_EL2 / HDBSSPROD_EL2 live on the PE while the vCPU is loaded, are programmed
 * at vcpu_load and saved at vcpu_put. Every hardware writable-clean -> writable-dirty transition appends an entry
 * {IPA aligned to the leaf, TTWL, valid} at INDEX; a full buffer (or FSC != 0) makes the store take a stage-2
 * permission fault with HDBSSF=1 instead, which KVM handles by draining. Drains at exit (handle_exit, an event of
 * its own), vcpu_put and kvm_arch_sync_dirty_log mark every page each entry's leaf maps; FSC != 0 means entries
 * were lost and KVM falls back to marking every page of every logging memslot.
 *
 * State in `s.ext['hdbss']` (JSON). Write faults under logging map W=1|DBM=1 and mark the page (v2 onwards);
 * the GET/CLEAR write-protect turns it writable-clean, so the next store is logged by the hardware.
 *
 * The register values, entry format and state type are state.ts, the invariants invariants.ts (both re-exported
 * here); this file is KVM's side (drains, register programming, the ring reserve) and the mechanism's hooks.
 */
import { wantsPe, wantsShared, wantsVcpu, type EnabledMemo, type Mechanism, type MechanismFolder } from '../machine/mechanisms.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import type { MachineState } from '../machine/state.ts';
import { D_AF, D_DBM, D_VALID, D_W, leafOf, setL2, setPage } from '../machine/pagetable.ts';
import { flushAllTlb, markPageDirty, markPreArm } from '../machine/kvm.ts';
import { nextCollectStep, tlbFill } from '../machine/machine.ts';
import { mechanismsOf } from '../machine/selected.ts';
import { ringExt } from '../dirty-ring/mechanism.ts';
import { rsvdEntriesOf } from '../dirty-ring/ring.ts';
import {
  HW_INVARIANTS, hwApply, hwCandidates, hwDirtyPossible, hwFaultBits, hwInit, hwIsEnabled, hwOnLoad, leafAt,
  markRecord, recordPages, setDbmOnMappedLeaves, type HwProducer,
} from '../hw-dirty/hw.ts';
// The mechanism's state schema (the folder declares its compiled part for the machine's copy, pack and save).
import { HDBSS_PART } from './schema.ts';
import type { Compiled } from '../../src/core/schema.ts';
import { HDBSS_EVENTS } from './events.ts';
import { hdbssView } from './view.ts';
import { designHasBug, hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';
import { designOption, optionOf, type DesignOptionRead, type DesignOptions, type HdbssOption, type OptionRead } from '../machine/options.ts';
import {
  capacityOf, capacityOfOptions, entryGfn, entryLevel, entryValid, FSC_EXTERNAL_ABORT, FSC_OK, hdbssEntry, hdOf, indexOf,
  VTCR_HA, VTCR_HD, VTCR_HDBSS, type HdbssExt,
} from './state.ts';
import { INV_HDBSS_REGS, INV_HDBSS_UAF, INV_LIVE_HDBSS, INV_SYNC_COMPLETE } from './invariants.ts';

export {
  capacityOf, entryGfn, entryLevel, entryValid, FSC_EXTERNAL_ABORT, FSC_GPF, FSC_OK, hdbssCapacity, hdbssEntry, hdOf, topOf,
  VTCR_HA, VTCR_HD, VTCR_HDBSS, type HdbssExt,
} from './state.ts';
export { INV_HDBSS_REGS, INV_HDBSS_UAF, INV_LIVE_HDBSS, INV_SYNC_COMPLETE } from './invariants.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;
/** An hdbss option, of the state's design or of a design's options (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<HdbssOption> = optionOf;
const designOpt: DesignOptionRead<HdbssOption> = designOption;

function ringConsumer(s: MachineState): boolean {
  return option(s, 'consumer') === 'ring';
}

export const HDBSS: HwProducer = {
  vtcr: (s) => (hdOf(s).enabled ? VTCR_HA | VTCR_HD | VTCR_HDBSS : VTCR_HA),
  dbmOnFault: (s, si) => hdOf(s).enabled && s.slots[si]!.logging,
  canUpdate(s, _vcpu, pe) {
    const h = hdOf(s);
    if ((s.pes[pe]!.vtcr & VTCR_HDBSS) === 0) return true;
    // R_RSTJMN: full or FSC != 0 -> no hardware dirty update, a permission fault instead.
    return h.prodIndex[pe]! < h.cap && h.prodFsc[pe] === FSC_OK;
  },
  logged(s, vcpu, pe, base, level) {
    if ((s.pes[pe]!.vtcr & VTCR_HDBSS) === 0) return;
    const h = hdOf(s);
    const owner = h.brBaddr[pe]!;
    // HDBSSBR UNKNOWN: the entry goes to some physical address the model does not track (lost).
    if (owner >= 0) h.buf[owner]![h.prodIndex[pe]!] = hdbssEntry(base, level);
    // F13: the buffer HDBSSBR_EL2 points at was freed by the disable path while this vCPU still ran with HDBSS.
    if (h.freed && h.uaf < 0) h.uaf = base;
    h.prodIndex[pe]!++;
    // weakMemory: the entry write is outstanding until a DSB on this PE or `hdbss/entryWriteCompleted` (below).
    if (owner >= 0 && option(s, 'weakMemory') === true) h.inflight[pe]!++;
    if (h.resumed[vcpu] !== -1) h.resumed[vcpu] = -1;
    s.stats['hdbssEntries'] = (s.stats['hdbssEntries'] ?? 0) + 1;
  },
  saveOnUnmap: false,
  vmids: false,
};

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
function cleanLoggingLeaves(s: MachineState): number[] {
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
function programRegs(s: MachineState, v: number, pe: number): void {
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
function reserveRing(s: MachineState): void {
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

// ---------------------------------------------------------------------------------------------------------
// Requests, kicks and completion (options kicks and hdbssDisable)
//
// virt/kvm/kvm_main.c: kvm_make_all_cpus_request(kvm, req) -> kvm_make_vcpus_request_mask: for each vCPU
// kvm_make_request(req, vcpu) (set the bit; smp_wmb before it), and if kvm_request_needs_ipi(vcpu, req) (the
// vCPU is in guest mode; with KVM_REQUEST_WAIT, not outside guest mode) add its CPU to a mask; then
// kvm_kick_many_cpus(mask, wait = req & KVM_REQUEST_WAIT): smp_call_function_many(mask, ack_kick, NULL, wait).
// ack_kick does nothing: the IPI's only effect is the guest exit, and WAIT waits for the IPI handlers to have
// run, i.e. for every targeted vCPU to have left guest mode, NOT for it to have handled the request. The request
// is handled on the vCPU's own thread: arch/arm64/kvm/arm.c check_vcpu_requests, called in the run loop before
// each guest entry (kvm_request_pending -> kvm_check_request test-and-clears the bit). The v3 HDBSS series uses
// it as KVM_REQ_FLUSH_HDBSS (KVM_ARCH_REQ(12)): check_vcpu_requests flushes the buffer; kvm_vcpu_put_vhe flushes
// too (arm reference 2.7, 6 F13/F14).
//
// The model: the caller (KVM's ioctl thread, the VMM's GET or its disable) makes the request (`hdbss/
// flushRequested`, `hdbss/disableRequested`): `REQ_FLUSH` in `req[v]` of every loaded vCPU, and `call` says what it waits
// in. A vCPU in guest mode with its bit set has a kick IPI in flight: `kvm/kickDelivered` makes it exit. A vCPU
// in host context with its bit set handles it (`kvm/requestNoticed`): drains its buffer, reloads VTCR_EL2 after
// a disable, acknowledges (`req[v] = 0`, every pending bit: check_vcpu_requests handles them all); it cannot enter the guest first (`canEnter`). vcpu_put acknowledges
// too (the v3 put flush drains the buffer). The caller is released (`kvm/requestCompleted`) when every targeted
// vCPU has acknowledged: the completion the correct design waits for (the kernel's own WAIT does not give it:
// F14). A put vCPU gets no bit here: the kernel sets one, but its put already drained the buffer and the later
// check drains nothing (left out: it would only add states).
// Knobs: F13 `hdbss-disable-no-wait` (v2: kick without waiting, then free), F14 `hdbss-sync-ipi-wait` (v3: the
// sync's request with KVM_REQUEST_WAIT, released once the IPIs are acknowledged).
//
// The enable (option enableRequest, the default since model version 2) is the 2026 rework's mode switch
// (arm reference 2.7 "Later rework"): kvm_arch_update_hw_dirty_mode sets HA|HD|HDBSS in kvm->arch.mmu.vtcr and
// "issues one KVM_REQ_RELOAD_STAGE2 followed by a VMID-wide TLB invalidation, as the request only reloads
// VTCR_EL2". `hdbss/trackingEnabled` sets `REQ_RELOAD` in `req` of every loaded vCPU and issues the TLBI; the
// same kick IPI and run-loop check deliver it, and `kvm/requestNoticed` loads the new VTCR_EL2 on the vCPU's PE
// (a vCPU loaded later gets it at vcpu_load; a put vCPU's bit is dropped, as the load programs VTCR_EL2 anyway).
// The registers need nothing then: "Registers are programmed whenever the vCPU owns a buffer, regardless of
// whether HDBSS is enabled. The feature can be turned on mid-KVM_RUN" (vcpu_load's `programRegs`). Waiter:
// none. The reference shows no KVM_REQUEST_WAIT and no completion on this path (a guess, README "Modelling
// choices"): the caller returns once the bits are set and the IPIs sent, and vCPUs keep running with the old
// VTCR_EL2 (HA only: a store to a DBM=1, W=0 leaf faults, R_PZFQC, and KVM's fault path marks it) until they
// handle it. So the window the request opens loses nothing here; what the reference names on this path are the
// existing knobs, each still found through the request: F12 (`hdbss-vtcr-before-regs`: the reload sets
// VTCR_EL2.HDBSS over registers v1 programs only at a load with HDBSS on) and F19 (`vtcr-switch-no-tlbi`).

/** `req` bits: KVM_REQ_FLUSH_HDBSS (sync and disable: the caller waits for it) and KVM_REQ_RELOAD_STAGE2 (enable). */
export const REQ_FLUSH = 1;
export const REQ_RELOAD = 2;

/** Does the sync_dirty_log of a GET go through the request (option kicks) instead of one atomic drain? */
function kicks(s: MachineState): boolean {
  return option(s, 'kicks') === true;
}

/** kvm_make_all_cpus_request(KVM_REQ_FLUSH_HDBSS): the bit on every loaded vCPU, and the caller waits. */
function makeRequest(s: MachineState, call: 'sync' | 'disable'): void {
  const h = hdOf(s);
  for (let v = 0; v < s.vcpus.length; v++) if (s.vcpus[v]!.pe >= 0 && (h.req[v]! & REQ_FLUSH) === 0) h.req[v] = h.req[v]! | REQ_FLUSH;
  h.call = call;
}

/** Does the enable go through KVM_REQ_RELOAD_STAGE2 (option enableRequest) instead of one atomic switch? */
function enableRequest(s: MachineState): boolean {
  return option(s, 'enableRequest') === true;
}

/** kvm_make_all_cpus_request(KVM_REQ_RELOAD_STAGE2): the bit on every loaded vCPU; nobody waits for it. */
function makeReloadRequest(s: MachineState): void {
  const h = hdOf(s);
  for (let v = 0; v < s.vcpus.length; v++) if (s.vcpus[v]!.pe >= 0 && (h.req[v]! & REQ_RELOAD) === 0) h.req[v] = h.req[v]! | REQ_RELOAD;
}

/**
 * May the caller of the pending request proceed? Correct: every targeted vCPU acknowledged. F14 (the sync with
 * KVM_REQUEST_WAIT): once no targeted vCPU is in guest mode (every IPI acknowledged), handled or not. F13 (the
 * v2 disable: asynchronous kick): at once.
 */
function released(s: MachineState): boolean {
  const h = hdOf(s);
  if (h.call === 'disable' && bug(s, 'hdbss-disable-no-wait')) return true;
  const ipiOnly = h.call === 'sync' && bug(s, 'hdbss-sync-ipi-wait');
  for (let v = 0; v < s.vcpus.length; v++) {
    if ((h.req[v]! & REQ_FLUSH) === 0) continue;
    if (!ipiOnly || s.vcpus[v]!.run === 'guest') return false;
  }
  return true;
}

/** The vCPU acknowledges its pending requests (handled in its run loop, or put). */
function acknowledge(s: MachineState, v: number): void {
  const h = hdOf(s);
  if (h.req[v] !== 0) h.req[v] = 0;
}

/**
 * kvm_arch_sync_dirty_log's asynchronous part (`Mechanism.syncStep`): the event the VMM's next GET must wait for.
 * While a request call is pending (a sync's, or the disable's: the VMM's control thread is in that ioctl) it is
 * the call's completion; with option kicks and HDBSS on, a GET first makes its flush request. Null: the GET may go.
 */
function syncStep(s: MachineState): MachineEvent | null {
  const h = hdOf(s);
  if (h.call !== 'none') return { type: 'kvm/requestCompleted' };
  if (!kicks(s) || !h.enabled || h.freed || h.synced) return null;
  return { type: 'hdbss/flushRequested' };
}

function candidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  hwCandidates(s, out, HDBSS, memo);
  const h = hdOf(s);
  if (wantsShared(memo)) {
    if (!h.enabled) out.push({ type: 'hdbss/trackingEnabled' });
    else if (option(s, 'hdbssDisable') === true) out.push({ type: 'hdbss/disableRequested' });
    // The sync's request and its completion are the VMM's collection steps (syncStep); the disable's completion is not.
    if (h.call === 'disable' && nextCollectStep(s, memo)?.type !== 'kvm/requestCompleted') out.push({ type: 'kvm/requestCompleted' });
  }
  for (let vi = 0; vi < s.vcpus.length; vi++) {
    if (!wantsVcpu(memo, vi)) continue;
    const v = s.vcpus[vi]!;
    if (h.req[vi] !== 0) out.push(v.run === 'guest' ? { type: 'kvm/kickDelivered', vcpu: vi } : { type: 'kvm/requestNoticed', vcpu: vi });
    if (v.run === 'guest' && v.store >= 0) {
      out.push({ type: 'hdbss/fullFaulted', vcpu: vi, gfn: v.store });
      out.push({ type: 'hdbss/appendAborted', vcpu: vi, gfn: v.store });
    }
    if (v.run === 'host') {
      if (h.hdbssf[vi]! >= 0) out.push({ type: 'kvm/hdbssFaultHandled', vcpu: vi, gfn: h.hdbssf[vi]! });
      out.push({ type: 'hdbss/bufferDrained', vcpu: vi });
    }
  }
  for (let p = 0; p < h.inflight.length; p++) if (h.inflight[p]! > 0 && wantsPe(memo, p)) out.push({ type: 'hdbss/entryWriteCompleted', pe: p });
}

function peHdbss(s: MachineState, vcpu: number): boolean {
  const pe = s.pes[s.vcpus[vcpu]!.pe];
  return !!pe && (pe.vtcr & VTCR_HDBSS) !== 0;
}

function isEnabled(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean | undefined {
  const r = hwIsEnabled(s, e, HDBSS);
  if (r !== undefined) return r;
  const h = hdOf(s);
  switch (e.type) {
    case 'hdbss/trackingEnabled':
      return !h.enabled && !h.freed && h.call === 'none' && (s.vmm.phase === 'idle' || s.vmm.phase === 'precopy');
    case 'hdbss/disableRequested':
      // Guess: the VMM turns HDBSS off mid pre-copy (tracking falls back to write-protect faults), from its
      // control thread (no other ioctl of its in flight).
      return option(s, 'hdbssDisable') === true && h.enabled && h.call === 'none' && s.vmm.phase === 'precopy' && s.vmm.ioctl === null;
    case 'hdbss/flushRequested': {
      if (s.vmm.slotsEnabled < s.slots.length) return false;
      const step = nextCollectStep(s, memo);
      return step !== null && step.type === e.type;
    }
    case 'kvm/requestCompleted':
      return h.call !== 'none' && released(s);
    case 'kvm/kickDelivered': {
      const v = s.vcpus[e.vcpu];
      return !!v && h.req[e.vcpu] !== 0 && v.run === 'guest';
    }
    case 'kvm/requestNoticed': {
      // check_vcpu_requests runs in the run loop after handle_exit: a pending HDBSSF fault is handled first.
      const v = s.vcpus[e.vcpu];
      return !!v && h.req[e.vcpu] !== 0 && v.run === 'host' && h.hdbssf[e.vcpu]! < 0;
    }
    case 'hdbss/fullFaulted':
      return hwDirtyPossible(s, e.vcpu, e.gfn) && peHdbss(s, e.vcpu) && !HDBSS.canUpdate(s, e.vcpu, s.vcpus[e.vcpu]!.pe);
    case 'hdbss/appendAborted':
      // Opt-in (option hdbssAborts). Guess: only with the bitmap, whose fallback (every logging page) exists; in ring mode KVM_RUN fails.
      return option(s, 'hdbssAborts') === true && !ringConsumer(s) && hwDirtyPossible(s, e.vcpu, e.gfn) && peHdbss(s, e.vcpu)
        && HDBSS.canUpdate(s, e.vcpu, s.vcpus[e.vcpu]!.pe);
    case 'kvm/hdbssFaultHandled': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'host' && h.hdbssf[e.vcpu] === e.gfn && e.gfn >= 0;
    }
    case 'hdbss/entryWriteCompleted':
      return (h.inflight[e.pe] ?? 0) > 0;
    case 'hdbss/bufferDrained': {
      const v = s.vcpus[e.vcpu];
      if (!v || v.run !== 'host') return false;
      const x = indexOf(s, e.vcpu);
      return x.index > 0 || x.fsc !== FSC_OK;
    }
    default:
      return undefined;
  }
}

function apply(s: MachineState, e: MachineEvent): boolean {
  if (hwApply(s, e, HDBSS)) return true;
  const h = hdOf(s);
  switch (e.type) {
    case 'hdbss/trackingEnabled': {
      h.enabled = true;
      // Guess (v3 / Leonardo Bras): DBM on every host-writable leaf, so already-mapped memory is WC or WD.
      setDbmOnMappedLeaves(s);
      // Guess (the 2026 rework's mode switch): every writable-dirty leaf of a logging memslot is cleaned to
      // writable-clean, so HDBSS logs its next write. Safe: a writable leaf under logging already has its record
      // (the fault marked it, or its HDBSS entry / bitmap bit exists). This re-arms those pages: they must have
      // no writable TLB copy when the switch completes (INV-FLUSH), which the VMID-wide TLBI below ensures.
      const rearmed = cleanLoggingLeaves(s);
      // enableRequest: KVM_REQ_RELOAD_STAGE2; each loaded vCPU loads the new VTCR_EL2 when it handles it ("Requests").
      if (enableRequest(s)) makeReloadRequest(s);
      else for (let p = 0; p < s.pes.length; p++) {
        const pe = s.pes[p]!;
        const v = pe.loaded;
        if (v < 0) continue;
        // Registers first (the rework programs them whenever the vCPU owns a buffer), then VTCR; F12 (v1) sets
        // VTCR on the running vCPUs' PEs while HDBSSBR/HDBSSPROD still hold whatever they held.
        if (!bug(s, 'hdbss-vtcr-before-regs')) programRegs(s, v, p);
        pe.vtcr = VTCR_HA | VTCR_HD | VTCR_HDBSS;
      }
      // The mode switch: a VMID-wide TLB invalidation (cached translations outlive the old mode). F19: the
      // switch relies on KVM_REQ_RELOAD_STAGE2 alone (it reloads VTCR_EL2, not the TLBs).
      if (!bug(s, 'vtcr-switch-no-tlbi')) flushAllTlb(s);
      s.audit = { kind: 'enable', slot: 0, rearmed, clearExpected: null, clearActual: null, clearErrno: 0, clearErrnoExpected: 0 };
      return true;
    }
    case 'hdbss/fullFaulted': {
      const v = s.vcpus[e.vcpu]!;
      v.run = 'host';
      v.store = -1;
      h.hdbssf[e.vcpu] = e.gfn;
      s.stats['hdbssFullFaults'] = (s.stats['hdbssFullFaults'] ?? 0) + 1;
      return true;
    }
    case 'hdbss/appendAborted': {
      const v = s.vcpus[e.vcpu]!;
      const { d, level } = leafAt(s, e.gfn);
      // "When an HDBSS write generates a synchronous External abort, the MMU is permitted to do a hardware
      // update of the stage 2 dirty state": the descriptor is updated, the entry lost, FSC records it.
      if (level === 2) setL2(s.s2, e.gfn, d | D_W | D_AF);
      else setPage(s.s2, e.gfn, d | D_W | D_AF);
      tlbFill(s, v.pe, e.gfn);
      h.prodFsc[v.pe] = FSC_EXTERNAL_ABORT;
      return true;
    }
    case 'kvm/hdbssFaultHandled': {
      h.hdbssf[e.vcpu] = -1;
      h.resumed[e.vcpu] = e.gfn;
      if (bug(s, 'hdbss-full-no-drain')) return true; // F10a: "buffer already flushed", return 1
      if (bug(s, 'hdbss-full-fallthrough')) {
        // F10b: the fault falls through to the permission-relax path: W set by software, no mark.
        const { d, level } = leafAt(s, e.gfn);
        if ((d & 1) !== 0) {
          if (level === 2) setL2(s.s2, e.gfn, d | D_W | D_AF);
          else setPage(s.s2, e.gfn, d | D_W | D_AF);
        }
        return true;
      }
      drain(s, e.vcpu);
      return true;
    }
    case 'hdbss/bufferDrained':
      drain(s, e.vcpu);
      return true;
    case 'hdbss/flushRequested':
      makeRequest(s, 'sync');
      return true;
    case 'hdbss/disableRequested':
      // kvm->arch.mmu.vtcr loses HD and HDBSS (HA stays: HDBSS.vtcr); running vCPUs keep the old VTCR_EL2 until
      // they handle the request (a vCPU loaded later gets the new one at vcpu_load).
      h.enabled = false;
      makeRequest(s, 'disable');
      return true;
    case 'kvm/kickDelivered': {
      // The IPI forces a guest exit (the pending store is abandoned and re-executed after the next entry).
      const v = s.vcpus[e.vcpu]!;
      v.run = 'host';
      v.store = -1;
      for (const m of mechanismsOf(s)) m.onExit?.(s, e.vcpu);
      s.stats['hdbssKicks'] = (s.stats['hdbssKicks'] ?? 0) + 1;
      // Coverage: the vCPU ran in the guest with the old VTCR_EL2 after HDBSS was enabled for the VM.
      if ((h.req[e.vcpu]! & REQ_RELOAD) !== 0) s.stats['hdbssReloadKicks'] = (s.stats['hdbssReloadKicks'] ?? 0) + 1;
      return true;
    }
    case 'kvm/requestNoticed': {
      const r = h.req[e.vcpu]!;
      if ((r & REQ_FLUSH) !== 0) {
        const x = indexOf(s, e.vcpu);
        if (x.index > 0 || x.fsc !== FSC_OK) drain(s, e.vcpu);
        s.stats['hdbssRequestsNoticed'] = (s.stats['hdbssRequestsNoticed'] ?? 0) + 1;
      }
      // VTCR_EL2 reloaded from kvm->arch.mmu.vtcr: after a disable HDBSS off (KVM_REQ_RELOAD_STAGE2 in the
      // rework), after an enable (REQ_RELOAD) HA|HD|HDBSS over the registers vcpu_load programmed (F12: not).
      const pe = s.pes[s.vcpus[e.vcpu]!.pe]!;
      const vt = HDBSS.vtcr(s);
      if (pe.vtcr !== vt) pe.vtcr = vt;
      if ((r & REQ_RELOAD) !== 0) s.stats['hdbssReloads'] = (s.stats['hdbssReloads'] ?? 0) + 1;
      acknowledge(s, e.vcpu);
      return true;
    }
    case 'kvm/requestCompleted':
      if (h.call === 'sync') h.synced = true;
      else if (h.call === 'disable') {
        h.freed = true; // kfree of every vCPU's buffer
        s.stats['hdbssFreed'] = (s.stats['hdbssFreed'] ?? 0) + 1;
      }
      h.call = 'none';
      s.stats['hdbssWaitersReleased'] = (s.stats['hdbssWaitersReleased'] ?? 0) + 1;
      return true;
    case 'hdbss/entryWriteCompleted':
      h.inflight[e.pe]!--;
      return true;
    default:
      return false;
  }
}

export const hdbssMechanism: Mechanism = {
  id: 'hdbss',
  view: hdbssView,
  init(s) {
    hwInit(s);
    const cap = capacityOf(s);
    const nv = s.vcpus.length;
    const np = s.pes.length;
    const ext: HdbssExt = {
      enabled: false, cap,
      buf: Array.from({ length: nv }, () => new Array<number>(cap).fill(0)),
      savedProdIndex: new Array<number>(nv).fill(0), savedProdFsc: new Array<number>(nv).fill(0),
      brBaddr: new Array<number>(np).fill(-1), prodIndex: new Array<number>(np).fill(0), prodFsc: new Array<number>(np).fill(0),
      inflight: new Array<number>(np).fill(0),
      hdbssf: new Array<number>(nv).fill(-1), resumed: new Array<number>(nv).fill(-1),
      ringReserved: false,
      req: new Array<number>(nv).fill(0), call: 'none', synced: false, freed: false, uaf: -1, syncMissed: -1,
    };
    s.ext['hdbss'] = ext;
  },
  candidates,
  isEnabled,
  apply,
  invariants: [...HW_INVARIANTS, INV_HDBSS_REGS, INV_LIVE_HDBSS, INV_HDBSS_UAF, INV_SYNC_COMPLETE],
  // A pending request is handled before the next entry (check_vcpu_requests).
  canEnter: (s, v) => hdOf(s).hdbssf[v]! < 0 && hdOf(s).req[v] === 0,
  syncStep,
  onLoad(s, v, pe) {
    hwOnLoad(s, v, pe, HDBSS);
    reserveRing(s);
    // The rework: registers programmed whenever the vCPU owns a buffer (none once freed); v1 (F12) only when
    // HDBSS is on at load.
    if (hdOf(s).freed) return;
    if (!bug(s, 'hdbss-vtcr-before-regs') || hdOf(s).enabled) programRegs(s, v, pe);
  },
  onPut(s, v) {
    const h = hdOf(s);
    // The put flush (v3 kvm_vcpu_put_vhe) acknowledges a pending KVM_REQ_FLUSH_HDBSS (see "Requests"); a pending
    // KVM_REQ_RELOAD_STAGE2 is dropped too (the next vcpu_load programs VTCR_EL2 from kvm->arch.mmu.vtcr).
    if (h.req[v] !== 0) {
      if ((h.req[v]! & REQ_FLUSH) !== 0) s.stats['hdbssRequestsAtPut'] = (s.stats['hdbssRequestsAtPut'] ?? 0) + 1;
      acknowledge(s, v);
    }
    if (bug(s, 'hdbss-no-save-at-put')) return; // F9 (v2): no drain, no save of HDBSSPROD_EL2
    const pe = s.vcpus[v]!.pe;
    if (bug(s, 'hdbss-no-save-at-put')) {
      // F9 (v2): no drain, no save of HDBSSPROD_EL2. (weakMemory: the context switch's DSB, in __switch_to,
      // completes the PE's outstanding HDBSS writes: the entries are in the buffer, as without the option.)
      if (h.inflight[pe] !== 0) h.inflight[pe] = 0;
      return;
    }
    // Coverage: a vCPU leaves its PE with undrained entries (drained here, so a move to another PE loses none).
    if (h.prodIndex[pe]! > 0) s.stats['hdbssPutUndrained'] = (s.stats['hdbssPutUndrained'] ?? 0) + 1;
    drain(s, v);
    // A pending HDBSS-full fault (the vCPU was preempted between the fault and its handler) is resolved by this
    // drain: the store was abandoned and re-executes after the next load. Keeping it pending would leave a put
    // vCPU with work only a later load could do, which never comes once the VMM stops the VM (found by a
    // property seed: the final collection waited forever).
    h.hdbssf[v] = -1;
    h.savedProdIndex[v] = h.prodIndex[pe]!;
    h.savedProdFsc[v] = h.prodFsc[pe]!;
  },
  syncDirtyLog(s) {
    const h = hdOf(s);
    if (h.freed) return; // no buffers left (the disable path drained them before freeing)
    if (!kicks(s)) {
      // Guess (option kicks off): kvm_arch_sync_dirty_log waits until every vCPU flushed its buffer (request +
      // completion), modelled as one drain of every buffer, loaded or put.
      for (let v = 0; v < s.vcpus.length; v++) {
        const x = indexOf(s, v);
        if (x.index > 0 || x.fsc !== FSC_OK) drain(s, v);
      }
      return;
    }
    // Option kicks: the request and its completion came first (syncStep). KVM_CLEAR_DIRTY_LOG calls this too; the
    // model makes no request there: an entry drained after a CLEAR sets its bit again for the next GET (its page
    // was written after the re-arm's snapshot or before: reported once more, never lost).
    if (s.vmm.ioctl?.kind === 'clear') return;
    h.synced = false;
    for (let v = 0; v < s.vcpus.length; v++) {
      const x = indexOf(s, v);
      if (x.index === 0 && x.fsc === FSC_OK) continue;
      if (x.live < 0) { drain(s, v); continue; } // a put vCPU's buffer: read by the ioctl thread (not running)
      // F14: the snapshot is taken while a targeted vCPU has not handled the request: its entries are missed.
      if ((h.req[v]! & REQ_FLUSH) !== 0 && h.syncMissed < 0) {
        const b = h.buf[v]!;
        let g = -1;
        for (let i = 0; i < Math.min(x.index, b.length) && g < 0; i++) if (entryValid(b[i]!)) g = entryGfn(b[i]!);
        h.syncMissed = g >= 0 ? g : 0;
      }
    }
  },
  faultBits: (s, gfn) => hwFaultBits(s, gfn, HDBSS),
  /**
   * F18 knob `dbm-writable-unmarked`: the write-fault path maps the page writable-dirty (W=1|DBM=1, as v2 does:
   * "writable-dirty by default") and, trusting HDBSS to log writes to DBM pages, drops mark_page_dirty_in_slot
   * for it. But a writable-dirty descriptor has no clean-to-dirty transition left to log: the store the fault
   * retries, and every later one until the next write-protect, completes with no HDBSS entry (arm reference F18,
   * Marc Zyngier: "Marking writable pages as writable actively prevents logging"). The correct fault path marks.
   */
  mark(s, _slot, gfn, vcpu) {
    if (!bug(s, 'dbm-writable-unmarked') || vcpu < 0) return false;
    const v = s.vcpus[vcpu]!;
    if (v.run !== 'fault' || v.mark !== gfn) return false;
    return (leafOf(s.s2, gfn) & (D_VALID | D_W | D_DBM)) === (D_VALID | D_W | D_DBM);
  },
  pendingIndex(s) {
    const h = hdOf(s);
    const held = new Set<number>();
    for (let v = 0; v < h.buf.length; v++) {
      const x = indexOf(s, v);
      if (x.fsc !== FSC_OK && !bug(s, 'hdbss-fsc-ignored')) return () => true;
      for (const e of h.buf[v]!) {
        if (e === 0) continue;
        const base = entryGfn(e);
        for (let g = base, n = recordPages(entryLevel(e)); n > 0; g++, n--) held.add(g);
      }
    }
    return (g) => held.has(g);
  },
  pending(s, gfn) {
    const h = hdOf(s);
    for (let v = 0; v < h.buf.length; v++) {
      const b = h.buf[v]!;
      for (let i = 0; i < b.length; i++) {
        const e = b[i]!;
        if (e === 0) continue;
        const base = entryGfn(e);
        if (gfn >= base && gfn < base + recordPages(entryLevel(e))) return true;
      }
      // FSC != 0: the fallback will mark every logging page (unless the design ignores FSC).
      const x = indexOf(s, v);
      if (x.fsc !== FSC_OK && !bug(s, 'hdbss-fsc-ignored')) return true;
    }
    return false;
  },
  quiescent(s) {
    if (!ringConsumer(s)) return true;
    for (let v = 0; v < s.vcpus.length; v++) {
      const x = indexOf(s, v);
      if (x.index > 0 || x.fsc !== FSC_OK || hdOf(s).hdbssf[v]! >= 0) return false;
    }
    return true;
  },
  metrics(s, out) {
    out['hdbssEntries'] = s.stats['hdbssEntries'] ?? 0;
  },
};

/** The hdbss folder as models/mechanisms.ts declares it: the HDBSS mechanism and its events. */
export const HDBSS_FOLDER: MechanismFolder<typeof HDBSS_EVENTS> = {
  folder: 'hdbss', mechanisms: () => [hdbssMechanism], events: HDBSS_EVENTS,
  parts: () => ({ hdbss: HDBSS_PART as unknown as Compiled<unknown> }),
};
