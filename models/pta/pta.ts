/**
 * Producer `pta`: the AWS Graviton Page Tracking Agent device of the 2024 RFC (arm reference section 3).
 *
 * The device: one tracker per VM, configured with a VMID (required) and optionally one CPU; it records every
 * hardware dirty-state update made by a PE running with its VMID (and CPU). Records are *pending* inside the
 * device until a `flush` (or the device's own internal drain, `pta/recordPublished`) makes them *readable*;
 * `read_dirty_pages(ctx, cpu)` returns readable records of all CPUs (cpu = -1) or one CPU and consumes them.
 *
 * KVM (patches 3, 5, 7, 8): VTCR_EL2.HD set unconditionally; logging enable allocates the tracker with the
 * VM's VMID (`pta/trackingEnabled`); write faults under hardware logging map the page writable-clean (DBM, no
 * S2AP_W) and mark it; the retried store and later stores after a re-protect are hardware dirty-state updates the
 * device logs (writes through the resulting writable TLB entry are not logged); kvm_arch_sync_dirty_log flushes
 * and reads every CPU's records into the bitmap. With the ring consumer (not in the RFC: `api.rst` says the two
 * are incompatible; our extension following the cover letter's "specific cpu for dirty rings"), KVM flushes and
 * reads the PE's records at vcpu_put (and in host context, `pta/cpuLogRead`) into the ring of the vCPU that ran
 * there, which keeps the attribution right across vCPU migration.
 *
 * Knobs: `pta-read-no-flush` (F6), `pta-vmid-stale` (F7), `dbm-on-readonly` (F8), `pta-ring-read-all-cpus`
 * (F-B2, a guess: the ring feed reads with cpu = -1).
 */
import type { Invariant } from '../../src/core/model.ts';
import { wantsShared, wantsVcpu, type EnabledMemo, type Mechanism, type MechanismFolder } from '../machine/mechanisms.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { slotOf, type MachineState } from '../machine/state.ts';
import {
  HW_INVARIANTS, hwApply, hwCandidates, hwFaultBits, hwInit, hwIsEnabled, hwOnLoad, markRecord, recordPages,
  type HwProducer,
} from '../hw-dirty/hw.ts';
// The state's schema (registers the compiled part of key `pta`).
import { PTA_PART, REC, type PtaExt } from './schema.ts';
import type { Compiled } from '../../src/core/schema.ts';
import { PTA_EVENTS } from './events.ts';
import { hasBug, type PtaKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type OptionRead, type PtaOption } from '../machine/options.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<PtaKnob> = hasBug;
/** A pta option (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<PtaOption> = optionOf;

export { REC, type PtaExt };

export function ptaOf(s: MachineState): PtaExt {
  return s.ext['pta'] as unknown as PtaExt;
}

function ringConsumer(s: MachineState): boolean {
  return option(s, 'consumer') === 'ring';
}

export const PTA: HwProducer = {
  // Patch 7: "Set VTCR_EL2.HD unconditionally" (HA is set upstream).
  vtcr: () => 3,
  dbmOnFault: (s, si) => ptaOf(s).enabled && s.slots[si]!.logging,
  // The RFC leaves the device's storage unspecified. Option `deviceRecords` N > 0 models a device that holds at
  // most N records (pending + readable) and back-pressures: a hardware dirty-state update waits (the store
  // stalls; the vCPU may still exit) until KVM reads records out. 0 = unbounded storage (the default).
  canUpdate: (s) => {
    const cap = option(s, 'deviceRecords');
    if (typeof cap !== 'number' || cap <= 0) return true;
    const d = ptaOf(s);
    return d.pending.length + d.readable.length < cap * REC;
  },
  logged(s, vcpu, pe, base, level) {
    const d = ptaOf(s);
    if (!d.enabled) return;
    // The device filters by VMID (and CPU): a write tagged with another VMID is not tracked.
    if (s.pes[pe]!.vmid !== d.vmid || (d.cpu >= 0 && d.cpu !== pe)) return;
    d.pending.push(base, level, pe, vcpu);
    s.stats['ptaRecords'] = (s.stats['ptaRecords'] ?? 0) + 1;
  },
  saveOnUnmap: false,
  vmids: true,
};

/** page_tracking_flush(ctx): every pending record becomes readable. */
export function ptaFlush(s: MachineState): void {
  const d = ptaOf(s);
  if (d.pending.length === 0) return;
  d.readable = [...d.readable, ...d.pending];
  d.pending = [];
}

/**
 * page_tracking_read_dirty_pages(ctx, cpu, ...) until it returns 0, each record marked: with cpu = -1 into the
 * bitmap (no vCPU), else into vCPU `vcpu`'s log (the vCPU KVM attributes the CPU's records to).
 */
export function ptaRead(s: MachineState, cpu: number, vcpu: number): void {
  const d = ptaOf(s);
  if (d.readable.length === 0) return;
  const keep: number[] = [];
  const r = d.readable;
  for (let i = 0; i < r.length; i += REC) {
    const base = r[i]!;
    const level = r[i + 1]!;
    const pe = r[i + 2]!;
    const who = r[i + 3]!;
    if (cpu >= 0 && pe !== cpu) { keep.push(base, level, pe, who); continue; }
    if (vcpu >= 0 && who !== vcpu) d.misattributed++;
    // Coverage (pta-ring-read): a per-CPU read feeds the ring of the vCPU that ran there. A ring feed that never
    // reads per CPU sends every record to the backup bitmap instead: nothing is lost, so only this situation's GAP
    // in `dtsim check` shows it (issue 18, P3).
    if (cpu >= 0) s.stats['ptaRingReads'] = (s.stats['ptaRingReads'] ?? 0) + 1;
    markRecord(s, base, level, vcpu, false);
  }
  d.readable = keep;
}

/**
 * The ring feed's read: flush, then read the records of PE `pe` into vCPU `vcpu`'s ring (the vCPU that ran there).
 * F-B2 (guess, knob `pta-ring-read-all-cpus`): the read passes cpu = -1 as the bitmap path does, so every CPU's
 * records go into this vCPU's ring.
 */
function ringRead(s: MachineState, pe: number, vcpu: number): void {
  ptaFlush(s);
  ptaRead(s, bug(s, 'pta-ring-read-all-cpus') ? -1 : pe, vcpu);
}

function hasRecordsOf(r: readonly number[], pe: number): boolean {
  for (let i = 0; i < r.length; i += REC) if (r[i + 2] === pe) return true;
  return false;
}

function covers(r: readonly number[], gfn: number): boolean {
  for (let i = 0; i < r.length; i += REC) {
    const base = r[i]!;
    if (gfn >= base && gfn < base + recordPages(r[i + 1]!)) return true;
  }
  return false;
}

function candidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  hwCandidates(s, out, PTA, memo);
  const d = ptaOf(s);
  if (wantsShared(memo)) {
    if (!d.enabled) out.push({ type: 'pta/trackingEnabled', vmid: s.vmid });
    if (d.pending.length > 0) out.push({ type: 'pta/recordPublished' });
  }
  if (ringConsumer(s)) {
    for (let vi = 0; vi < s.vcpus.length; vi++) {
      if (!wantsVcpu(memo, vi)) continue;
      const v = s.vcpus[vi]!;
      if (v.run === 'host') out.push({ type: 'pta/cpuLogRead', vcpu: vi, pe: v.pe });
    }
  }
}

function isEnabled(s: MachineState, e: MachineEvent): boolean | undefined {
  const r = hwIsEnabled(s, e, PTA);
  if (r !== undefined) return r;
  const d = ptaOf(s);
  switch (e.type) {
    case 'pta/trackingEnabled':
      // kvm_arch_enable_dirty_logging on the first logging memslot; config.vmid = the VM's VMID counter.
      return !d.enabled && e.vmid === s.vmid && s.slots.some((sl) => sl.logging)
        && (s.vmm.phase === 'precopy' || s.vmm.phase === 'stopping');
    case 'pta/recordPublished':
      return d.pending.length > 0;
    case 'pta/cpuLogRead': {
      const v = s.vcpus[e.vcpu];
      return ringConsumer(s) && !!v && v.run === 'host' && v.pe === e.pe
        && (hasRecordsOf(d.pending, e.pe) || hasRecordsOf(d.readable, e.pe));
    }
    default:
      return undefined;
  }
}

function apply(s: MachineState, e: MachineEvent): boolean {
  if (hwApply(s, e, PTA)) return true;
  const d = ptaOf(s);
  switch (e.type) {
    case 'pta/trackingEnabled':
      d.enabled = true;
      d.vmid = e.vmid;
      d.cpu = -1;
      return true;
    case 'pta/recordPublished':
      d.readable = [...d.readable, ...d.pending.slice(0, REC)];
      d.pending = d.pending.slice(REC);
      return true;
    case 'pta/cpuLogRead':
      ringRead(s, e.pe, e.vcpu);
      return true;
    default:
      return false;
  }
}

export const INV_VMID: Invariant<MachineState> = {
  id: 'INV-VMID',
  description: 'While the PTA tracks the VM, every PE running one of its vCPUs runs with the VMID the device filters on.',
  check(s) {
    const d = ptaOf(s);
    if (!d || !d.enabled) return null;
    for (let p = 0; p < s.pes.length; p++) {
      const pe = s.pes[p]!;
      if (pe.loaded >= 0 && pe.vmid !== d.vmid) {
        return { invariant: 'INV-VMID', pages: [],
          message: `PE ${p} runs vCPU ${pe.loaded} with VMID ${pe.vmid} but the page tracking device filters on VMID ${d.vmid}: its writes are not logged` };
      }
    }
    return null;
  },
};

export const INV_PTA_ATTR: Invariant<MachineState> = {
  id: 'INV-PTA-ATTR',
  description: 'Per-CPU PTA reads attribute every record to the vCPU that made the write (dirty ring attribution).',
  check(s) {
    const d = ptaOf(s);
    if (!d || d.misattributed === 0) return null;
    return { invariant: 'INV-PTA-ATTR', pages: [], message: `${d.misattributed} PTA record(s) were pushed to the ring of a vCPU that did not make the write` };
  },
};

export const ptaMechanism: Mechanism = {
  id: 'pta',
  init(s) {
    hwInit(s);
    const ext: PtaExt = { enabled: false, vmid: 0, cpu: -1, pending: [], readable: [], misattributed: 0 };
    s.ext['pta'] = ext;
  },
  candidates,
  isEnabled,
  apply,
  invariants: [...HW_INVARIANTS, INV_VMID, INV_PTA_ATTR],
  onLoad(s, v, pe) {
    const changed = hwOnLoad(s, v, pe, PTA);
    // Guess (the RFC leaves it open): when kvm_arm_vmid_update() hands out a new VMID, KVM re-programs the
    // tracker's VMID. F7: the tracker keeps the VMID captured at enable.
    const d = ptaOf(s);
    if (changed && d.enabled && !bug(s, 'pta-vmid-stale')) d.vmid = s.vmid;
  },
  onPut(s, v) {
    if (!ringConsumer(s)) return;
    ringRead(s, s.vcpus[v]!.pe, v);
  },
  syncDirtyLog(s) {
    // Patch 5 reads without flushing (F6); the correct design flushes first. Like the RFC, it drains every
    // memslot's records (the memslot argument is ignored).
    if (!bug(s, 'pta-read-no-flush')) ptaFlush(s);
    ptaRead(s, -1, -1);
  },
  faultBits: (s, gfn) => hwFaultBits(s, gfn, PTA),
  // Patch 8: with hardware logging the fault maps writable-clean (HWDBM instead of S2AP_W); the retried store
  // is a hardware update the device logs (a redundant record: the fault marked the page too).
  faultClean(s, gfn) {
    const si = slotOf(s, gfn);
    return si >= 0 && PTA.dbmOnFault(s, si);
  },
  pendingIndex(s) {
    const d = ptaOf(s);
    const held = new Set<number>();
    for (const r of [d.pending, d.readable]) {
      for (let i = 0; i < r.length; i += REC) for (let g = r[i]!, n = recordPages(r[i + 1]!); n > 0; g++, n--) held.add(g);
    }
    return (g) => held.has(g);
  },
  pending(s, gfn) {
    const d = ptaOf(s);
    return covers(d.pending, gfn) || covers(d.readable, gfn);
  },
  quiescent(s) {
    if (!ringConsumer(s)) return true;
    const d = ptaOf(s);
    return d.pending.length === 0 && d.readable.length === 0;
  },
  metrics(s, out) {
    out['ptaRecords'] = s.stats['ptaRecords'] ?? 0;
    out['ptaRingReads'] = s.stats['ptaRingReads'] ?? 0;
  },
};

/** The pta folder as models/mechanisms.ts declares it: the PTA device mechanism and its events. */
export const PTA_FOLDER: MechanismFolder<typeof PTA_EVENTS> = {
  folder: 'pta', mechanisms: () => [ptaMechanism], events: PTA_EVENTS,
  parts: () => ({ pta: PTA_PART as unknown as Compiled<unknown> }),
};
