/**
 * Producer `dbm`: FEAT_HAFDBS dirty state found by a page-table scan (Keqian Zhu / Shameer Kolothum "SW/HW
 * combined dirty log", arm reference 1.7). VTCR_EL2.{HA,HD} on (option hd=false: HA only, DBM ignored); write faults under logging map the page
 * writable-dirty (W=1, DBM=1) and mark it; GET/CLEAR write-protect it back to writable-clean; the next store is a
 * hardware dirty-state update that nothing logs except the descriptor itself. kvm_arch_sync_dirty_log scans the
 * slot's leaves and marks every page of a writable-dirty leaf (a block: all 512 pages).
 *
 * Knobs: `bbm-drops-hw-dirty` (F4: an unmap discards a writable-dirty descriptor without saving it),
 * `wp-before-harvest` (F5: CLEAR write-protects its [ffs, fls] span before harvesting the hardware dirty state),
 * `pte-update-not-atomic` (F3, in hw.ts).
 */
import type { Mechanism, MechanismFolder } from '../machine/mechanisms.ts';
import type { Compiled } from '../../src/core/schema.ts';
import { HW_PART } from './schema.ts';
import { HW_EVENTS } from './events.ts';
import { slotOf, type MachineState } from '../machine/state.ts';
import { D_DBM, D_VALID, D_W, l2EntryOf } from '../machine/pagetable.ts';
import {
  HW_INVARIANTS, hwApply, hwCandidates, hwFaultBits, hwInit, hwIsEnabled, hwOnLoad, leafAt, markRecord, setDbmOnMappedLeaves,
  type HwProducer,
} from './hw.ts';
import { hasBug, type HdbssKnob, type PtaKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type HdbssOption, type OptionRead } from '../machine/options.ts';

/** The options this producer reads (typed: ../machine/options.ts). */
const option: OptionRead<HdbssOption> = optionOf;

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob | PtaKnob> = hasBug;

const WD = D_VALID | D_DBM | D_W;

export const SCAN: HwProducer = {
  // VTCR_EL2.HA (1) and HD (2) are independent bits: option hd=false sets HA only, so the DBM=1 descriptors are
  // read-only to the hardware (R_PZFQC: DBM ignored) and every write to a writable-clean page faults to KVM.
  vtcr: (s) => (option(s, 'hd') === false ? 1 : 3),
  dbmOnFault: (s, si) => s.slots[si]!.logging,
  canUpdate: () => true,
  logged: () => { /* the descriptor is the only record */ },
  saveOnUnmap: true,
  vmids: false,
};

/** kvm_arch_sync_dirty_log for the scan: mark every page of every writable-dirty leaf of the slot. */
export function scanSlot(s: MachineState, slot: number): void {
  const sl = s.slots[slot]!;
  let g = sl.base;
  while (g < sl.base + sl.npages) {
    const l2 = l2EntryOf(s.s2, g);
    if (typeof l2 === 'number') {
      const base = g - (g % 512);
      if ((l2 & WD) === WD) markRecord(s, base, 2, -1, false);
      g = base + 512;
      continue;
    }
    const d = l2[g & 511] ?? 0;
    if ((d & WD) === WD) markRecord(s, g, 3, -1, false);
    g++;
  }
}

export const dbmScanMechanism: Mechanism = {
  id: 'dbm',
  init(s) {
    hwInit(s);
    // Guess: "HAFDBS for guest" mode: the VM ran with DBM on its writable mappings (blocks included) before logging.
    setDbmOnMappedLeaves(s);
  },
  candidates: (s, out, memo) => hwCandidates(s, out, SCAN, memo),
  isEnabled: (s, e) => hwIsEnabled(s, e, SCAN),
  apply: (s, e) => hwApply(s, e, SCAN),
  invariants: HW_INVARIANTS,
  onLoad(s, vcpu, pe) { hwOnLoad(s, vcpu, pe, SCAN); },
  syncDirtyLog(s, slot) {
    // F5: the CLEAR path write-protects its span first; a harvest after that finds nothing, so it is skipped here.
    if (bug(s, 'wp-before-harvest') && s.vmm.ioctl?.kind === 'clear') return;
    scanSlot(s, slot);
  },
  faultBits: (s, gfn) => hwFaultBits(s, gfn, SCAN),
  pending(s, gfn) {
    const si = slotOf(s, gfn);
    if (si < 0 || !s.slots[si]!.logging) return false;
    return (leafAt(s, gfn).d & WD) === WD;
  },
};

/**
 * The hw-dirty folder as models/mechanisms.ts declares it: the DBM page-table scan and the hardware dirty-state
 * events every hardware producer shares.
 */
/** The hardware dirty state `s.ext.hw` is shared by the dbm, hdbss and pta producers; this folder declares it. */
export const HW_FOLDER: MechanismFolder<typeof HW_EVENTS> = {
  folder: 'hw-dirty', mechanisms: () => [dbmScanMechanism], events: HW_EVENTS,
  parts: () => ({ hw: HW_PART as unknown as Compiled<unknown> }),
};
