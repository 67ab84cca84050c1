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
 * here); KVM's side is kernel.ts (drains, register programming, the ring reserve), the request paths
 * requests.ts, the producer and the events' reducer reducer.ts; this file is the mechanism's hooks.
 */
import type { Mechanism, MechanismFolder } from '../machine/mechanisms.ts';
import type { MachineState } from '../machine/state.ts';
import { D_DBM, D_VALID, D_W, leafOf } from '../machine/pagetable.ts';
import { HW_INVARIANTS, hwFaultBits, hwInit, hwOnLoad, recordPages } from '../hw-dirty/hw.ts';
// The mechanism's state schema (the folder declares its compiled part for the machine's copy, pack and save).
import { HDBSS_PART } from './schema.ts';
import type { Compiled } from '../../src/core/schema.ts';
import { HDBSS_EVENTS } from './events.ts';
import { hdbssView } from './view.ts';
import { hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type HdbssOption, type OptionRead } from '../machine/options.ts';
import { capacityOf, entryGfn, entryLevel, entryValid, FSC_OK, hdOf, indexOf, type HdbssExt } from './state.ts';
import { INV_HDBSS_REGS, INV_HDBSS_UAF, INV_LIVE_HDBSS, INV_SYNC_COMPLETE } from './invariants.ts';
import { drain, programRegs, reserveRing } from './kernel.ts';
import { acknowledge, kicks, REQ_FLUSH, syncStep } from './requests.ts';
import { apply, candidates, HDBSS, isEnabled } from './reducer.ts';

export {
  capacityOf, entryGfn, entryLevel, entryValid, FSC_EXTERNAL_ABORT, FSC_GPF, FSC_OK, hdbssCapacity, hdbssEntry, hdOf, topOf,
  VTCR_HA, VTCR_HD, VTCR_HDBSS, type HdbssExt,
} from './state.ts';
export { INV_HDBSS_REGS, INV_HDBSS_UAF, INV_LIVE_HDBSS, INV_SYNC_COMPLETE } from './invariants.ts';
export { checkHdbssRingOptions, drain } from './kernel.ts';
export { REQ_FLUSH, REQ_RELOAD } from './requests.ts';
export { HDBSS } from './reducer.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;
/** An hdbss option of the state's design (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<HdbssOption> = optionOf;

function ringConsumer(s: MachineState): boolean {
  return option(s, 'consumer') === 'ring';
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
      req: new Array<number>(nv).fill(0), call: 'none', synced: false, freed: false, switchTlbi: false, uaf: -1, syncMissed: -1,
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
  heldRecords(s, each) {
    // The valid entries below each buffer's INDEX (live or saved): written by the hardware, not yet drained
    // (a drain zeroes what it reads; FSC's lost entries are no record). Precision only (kvm.ts rearmPrecision).
    const h = hdOf(s);
    for (let v = 0; v < h.buf.length; v++) {
      const b = h.buf[v]!;
      const n = Math.min(indexOf(s, v).index, b.length);
      for (let i = 0; i < n; i++) {
        const e = b[i]!;
        if (e !== 0 && entryValid(e)) each(entryGfn(e), recordPages(entryLevel(e)));
      }
    }
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
  // kvmTlbi 'events': the HDBSS enable (mode switch) owes its VMID-wide TLBI until `kvm/switchTlbiIssued`.
  owesTlbi: (s) => hdOf(s).switchTlbi,
};

/** The hdbss folder as models/mechanisms.ts declares it: the HDBSS mechanism and its events. */
export const HDBSS_FOLDER: MechanismFolder<typeof HDBSS_EVENTS> = {
  folder: 'hdbss', mechanisms: () => [hdbssMechanism], events: HDBSS_EVENTS,
  parts: () => ({ hdbss: HDBSS_PART as unknown as Compiled<unknown> }),
};
