/**
 * FEAT_HDBSS as a hardware producer (`HDBSS`: VTCR_EL2 bits, the append of an entry at a hardware dirty-state
 * update, the full-buffer check) and the preconditions and reducer of the folder's events (split from hdbss.ts,
 * no behaviour change; the request paths are requests.ts, the drain and register programming kernel.ts).
 */
import { wantsPe, wantsShared, wantsVcpu, type EnabledMemo } from '../machine/mechanisms.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import type { MachineState } from '../machine/state.ts';
import { D_AF, D_W, setL2, setPage } from '../machine/pagetable.ts';
import { flushAllTlb } from '../machine/kvm.ts';
import { kvmTlbiEvents, nextCollectStep, tlbFill } from '../machine/machine.ts';
import { mechanismsOf } from '../machine/selected.ts';
import { hwApply, hwCandidates, hwDirtyPossible, hwIsEnabled, leafAt, setDbmOnMappedLeaves, type HwProducer } from '../hw-dirty/hw.ts';
import { hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type HdbssOption, type OptionRead } from '../machine/options.ts';
import { entryGfn, entryValid, FSC_EXTERNAL_ABORT, FSC_OK, hdbssEntry, hdOf, indexOf, VTCR_HA, VTCR_HD, VTCR_HDBSS } from './state.ts';
import { cleanLoggingLeaves, drain, programRegs } from './kernel.ts';
import { retryBlocked } from './invariants.ts';
import { acknowledge, enableRequest, makeReloadRequest, makeRequest, released, REQ_FLUSH, REQ_RELOAD } from './requests.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;
/** An hdbss option of the state's design (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<HdbssOption> = optionOf;

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

export function candidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  hwCandidates(s, out, HDBSS, memo);
  const h = hdOf(s);
  if (wantsShared(memo)) {
    if (!h.enabled) out.push({ type: 'hdbss/trackingEnabled' });
    else if (option(s, 'hdbssDisable') === true) out.push({ type: 'hdbss/disableRequested' });
    // The sync's request and its completion are the VMM's collection steps (syncStep); the disable's completion is not.
    if (h.call === 'disable' && nextCollectStep(s, memo)?.type !== 'kvm/requestCompleted') out.push({ type: 'kvm/requestCompleted' });
    // kvmTlbi 'events': the enable's owed TLBI (also the bitmap VMM's next collection step: syncStep).
    if (h.switchTlbi && nextCollectStep(s, memo)?.type !== 'kvm/switchTlbiIssued') out.push({ type: 'kvm/switchTlbiIssued' });
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

export function isEnabled(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean | undefined {
  const r = hwIsEnabled(s, e, HDBSS);
  if (r !== undefined) return r;
  const h = hdOf(s);
  switch (e.type) {
    case 'hdbss/trackingEnabled':
      // kvmTlbi 'events': not while a VMM ioctl is in flight (the logging enable, a GET or CLEAR owing or past its
      // flush): the VMM's control thread issues them and this KVM_ENABLE_CAP one after the other, so the mode
      // switch and its owed TLBI never overlap another path's re-arm and flush. Inline (the default) unchanged.
      return !h.enabled && !h.freed && h.call === 'none' && (s.vmm.phase === 'idle' || s.vmm.phase === 'precopy')
        && (s.vmm.ioctl === null || !kvmTlbiEvents(s));
    case 'hdbss/disableRequested':
      // Guess: the VMM turns HDBSS off mid pre-copy (tracking falls back to write-protect faults), from its
      // control thread (no other ioctl of its in flight).
      return option(s, 'hdbssDisable') === true && h.enabled && h.call === 'none' && !h.switchTlbi && s.vmm.phase === 'precopy' && s.vmm.ioctl === null;
    case 'kvm/switchTlbiIssued':
      return h.switchTlbi;
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

export function apply(s: MachineState, e: MachineEvent): boolean {
  if (hwApply(s, e, HDBSS)) return true;
  const h = hdOf(s);
  switch (e.type) {
    case 'hdbss/trackingEnabled': {
      h.enabled = true;
      // Guess (v3 / Leonardo Bras): DBM on every host-writable leaf, so already-mapped memory is WC or WD.
      // With the dirty ring, pages only (finding F-B1, follows from arm reference F15 + F17): a store to a
      // writable-clean block is ONE HDBSS entry {IPA aligned, TTWL=2} whose drain pushes all 512 pages into the
      // vCPU's ring, far beyond the reserve of one ring entry per buffer entry (kernel.ts `reserveRing`), and
      // kvm_dirty_ring_push on a full ring overwrites unharvested entries (kvm reference 4.3). Guess (the
      // references are silent on what the series does with blocks in ring mode): KVM does what it does for
      // blocks whenever logging is on (arm reference 4.1, `force_pte`): a block keeps no DBM, stays
      // write-protected under logging, and a store to it faults; the fault path splits it and maps the page
      // (models/machine/reducer.ts `faultMapped`), whose later writes are logged one page per entry. Eager
      // splitting at the enable would do as well (more work up front); the bitmap consumer has no capacity to
      // exceed and keeps DBM on blocks. Knob `hdbss-ring-block-dbm`: DBM on blocks with the ring too.
      setDbmOnMappedLeaves(s, !ringConsumer(s) || bug(s, 'hdbss-ring-block-dbm'));
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
      if (!bug(s, 'vtcr-switch-no-tlbi')) {
        // kvmTlbi 'events': the TLBI is owed (`kvm/switchTlbiIssued`): until it ran, PEs keep the old mode's
        // writable entries of the cleaned leaves (their records exist: see above), and the enable has not returned.
        if (kvmTlbiEvents(s)) {
          h.switchTlbi = true;
          return true;
        }
        flushAllTlb(s);
      }
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
      if (bug(s, 'hdbss-full-no-drain')) {
        // F10a: "buffer already flushed", return 1.
      } else if (bug(s, 'hdbss-full-fallthrough')) {
        // F10b: the fault falls through to the permission-relax path: W set by software, no mark.
        const { d, level } = leafAt(s, e.gfn);
        if ((d & 1) !== 0) {
          if (level === 2) setL2(s.s2, e.gfn, d | D_W | D_AF);
          else setPage(s.s2, e.gfn, d | D_W | D_AF);
        }
      } else {
        drain(s, e.vcpu);
      }
      // INV-LIVE-HDBSS judges this resume: the page is kept only if the retried store cannot complete now (a drain
      // or an append clears it). Kept unconditionally, a later re-arm of a page F10b's fall-through had made
      // writable read as this resume never completing (2 of 60 searches found F10b as INV-LIVE-HDBSS).
      const blocked = retryBlocked(s, e.vcpu, e.gfn) ? e.gfn : -1;
      if (h.resumed[e.vcpu] !== blocked) h.resumed[e.vcpu] = blocked;
      return true;
    }
    case 'hdbss/bufferDrained':
      drain(s, e.vcpu);
      return true;
    case 'hdbss/flushRequested':
      makeRequest(s, 'sync');
      return true;
    case 'kvm/switchTlbiIssued':
      // kvmTlbi 'events': the enable's VMID-wide TLBI, and KVM_ENABLE_CAP returns. INV-FLUSH reads the audit: no
      // PE holds an entry of the VMID after it, so no re-armed page can have a stale writable copy.
      h.switchTlbi = false;
      flushAllTlb(s);
      s.audit = { kind: 'enable', slot: 0, rearmed: [], clearExpected: null, clearActual: null, clearErrno: 0, clearErrnoExpected: 0 };
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
        // The free's own obligation (INV-HDBSS-UAF: every vCPU left HDBSS mode and drained before it): a valid entry
        // still in a buffer [0, INDEX) is freed with it. Nothing may read it afterwards (a later drain would read
        // freed memory, which the drain flags), and if nothing does, its page's dirty state is simply gone (F13
        // without a later use: found by `dtsim bugs` as INV-FINAL before this check). The entries count as used
        // after the free from this point.
        if (h.uaf < 0) h.uaf = firstUndrained(s);
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

/** The page of the first valid entry any vCPU's buffer still holds below its INDEX, or -1 (every buffer drained). */
function firstUndrained(s: MachineState): number {
  const h = hdOf(s);
  for (let v = 0; v < h.buf.length; v++) {
    const b = h.buf[v]!;
    const n = Math.min(indexOf(s, v).index, b.length);
    for (let i = 0; i < n; i++) if (entryValid(b[i]!)) return entryGfn(b[i]!);
  }
  return -1;
}
