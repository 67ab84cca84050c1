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
import { wantsShared, wantsVcpu, type EnabledMemo, type Mechanism, type MechanismFolder } from '../machine/mechanisms.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import type { MachineState } from '../machine/state.ts';
import { D_AF, D_DBM, D_VALID, D_W, setL2, setPage } from '../machine/pagetable.ts';
import { flushAllTlb, markPageDirty, markPreArm } from '../machine/kvm.ts';
import { tlbFill } from '../machine/machine.ts';
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
import { INV_HDBSS_REGS, INV_LIVE_HDBSS } from './invariants.ts';

export {
  capacityOf, entryGfn, entryLevel, entryValid, FSC_EXTERNAL_ABORT, FSC_GPF, FSC_OK, hdbssCapacity, hdbssEntry, hdOf, topOf,
  VTCR_HA, VTCR_HD, VTCR_HDBSS, type HdbssExt,
} from './state.ts';
export { INV_HDBSS_REGS, INV_LIVE_HDBSS } from './invariants.ts';

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
    h.prodIndex[pe]!++;
    if (h.resumed[vcpu] !== -1) h.resumed[vcpu] = -1;
    s.stats['hdbssEntries'] = (s.stats['hdbssEntries'] ?? 0) + 1;
  },
  saveOnUnmap: false,
  vmids: false,
};

/**
 * Drains vCPU `v`'s buffer: KVM reads entries [0, INDEX) of its own buffer (the live register when loaded, the
 * saved value otherwise), marks every page each valid entry's leaf maps, zeroes them and resets INDEX and FSC.
 */
export function drain(s: MachineState, v: number): void {
  const h = hdOf(s);
  const { index, fsc, live } = indexOf(s, v);
  const b = h.buf[v]!;
  const n = Math.min(index, b.length);
  const onePage = bug(s, 'hdbss-block-one-page');
  for (let i = 0; i < n; i++) {
    const e = b[i]!;
    if (!entryValid(e)) continue;
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
  if (designOpt(o, 'consumer') !== 'ring' || designOpt(o, 'producer') !== 'hdbss' || designHasBug(bugs, 'ring-no-drain-reserve')) return null;
  const entries = designOpt(o, 'ringEntries');
  const size = typeof entries === 'number' ? entries : 16;
  const cap = capacityOfOptions(o);
  const rsvd = rsvdEntriesOf(size);
  if (size >= rsvd + cap) return null;
  return { field: 'ringEntries', message: `a ${size}-entry dirty ring is smaller than its reserve (${rsvd} + the HDBSS buffer's ${cap} entries, `
    + `reported through kvm_cpu_dirty_log_size()): KVM_ENABLE_CAP(DIRTY_LOG_RING) fails with EINVAL (use a larger ring or fewer hdbssEntries)` };
}

function candidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  hwCandidates(s, out, HDBSS, memo);
  const h = hdOf(s);
  if (!h.enabled && wantsShared(memo)) out.push({ type: 'hdbss/trackingEnabled' });
  for (let vi = 0; vi < s.vcpus.length; vi++) {
    if (!wantsVcpu(memo, vi)) continue;
    const v = s.vcpus[vi]!;
    if (v.run === 'guest' && v.store >= 0) {
      out.push({ type: 'hdbss/fullFaulted', vcpu: vi, gfn: v.store });
      out.push({ type: 'hdbss/appendAborted', vcpu: vi, gfn: v.store });
    }
    if (v.run === 'host') {
      if (h.hdbssf[vi]! >= 0) out.push({ type: 'kvm/hdbssFaultHandled', vcpu: vi, gfn: h.hdbssf[vi]! });
      out.push({ type: 'hdbss/bufferDrained', vcpu: vi });
    }
  }
}

function peHdbss(s: MachineState, vcpu: number): boolean {
  const pe = s.pes[s.vcpus[vcpu]!.pe];
  return !!pe && (pe.vtcr & VTCR_HDBSS) !== 0;
}

function isEnabled(s: MachineState, e: MachineEvent): boolean | undefined {
  const r = hwIsEnabled(s, e, HDBSS);
  if (r !== undefined) return r;
  const h = hdOf(s);
  switch (e.type) {
    case 'hdbss/trackingEnabled':
      return !h.enabled && (s.vmm.phase === 'idle' || s.vmm.phase === 'precopy');
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
      for (let p = 0; p < s.pes.length; p++) {
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
      s.audit = { kind: 'enable', slot: 0, rearmed, clearExpected: null, clearActual: null, clearErrno: 0 };
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
      hdbssf: new Array<number>(nv).fill(-1), resumed: new Array<number>(nv).fill(-1),
      ringReserved: false,
    };
    s.ext['hdbss'] = ext;
  },
  candidates,
  isEnabled,
  apply,
  invariants: [...HW_INVARIANTS, INV_HDBSS_REGS, INV_LIVE_HDBSS],
  canEnter: (s, v) => hdOf(s).hdbssf[v]! < 0,
  onLoad(s, v, pe) {
    hwOnLoad(s, v, pe, HDBSS);
    reserveRing(s);
    // The rework: registers programmed whenever the vCPU owns a buffer; v1 (F12) only when HDBSS is on at load.
    if (!bug(s, 'hdbss-vtcr-before-regs') || hdOf(s).enabled) programRegs(s, v, pe);
  },
  onPut(s, v) {
    if (bug(s, 'hdbss-no-save-at-put')) return; // F9 (v2): no drain, no save of HDBSSPROD_EL2
    const h = hdOf(s);
    const pe = s.vcpus[v]!.pe;
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
    // Guess: kvm_arch_sync_dirty_log waits until every vCPU flushed its buffer (request + wait), modelled as one
    // drain of every buffer, loaded or put.
    for (let v = 0; v < s.vcpus.length; v++) {
      const x = indexOf(s, v);
      if (x.index > 0 || x.fsc !== FSC_OK) drain(s, v);
    }
  },
  faultBits: (s, gfn) => hwFaultBits(s, gfn, HDBSS),
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
