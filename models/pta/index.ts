/**
 * pta: the Graviton Page Tracking Agent RFC (2024): the first write to a page faults and is marked, later writes
 * after a re-protect are DBM hardware dirty-state updates logged by the page tracking device, which KVM reads at
 * kvm_arch_sync_dirty_log (bitmap). See pta.ts.
 */
import { PTA_MIGRATIONS } from './migrations.ts';
import { makeMachineModel, type PresetBug, type PresetOptions } from '../machine/model.ts';
import { DEFAULT_CONFIG } from '../machine/state.ts';
import { INV_PTA_ATTR, INV_VMID } from './pta.ts';
import { HW_INVARIANTS } from '../hw-dirty/hw.ts';
import { RING_INVARIANTS_IF_RING } from '../hw-dirty/ring-feed.ts';

export const PTA_BUGS = [
  { id: 'pta-read-no-flush', ref: 'F6', expect: 'INV-FINAL',
    description: 'RFC patch 5: kvm_arch_sync_dirty_log reads the device without flushing it first; records still pending inside the device miss the final collection.' },
  { id: 'pta-vmid-stale', ref: 'F7', expect: 'INV-VMID',
    description: 'The tracker keeps the VMID captured at logging enable; after a VMID rollover the vCPUs run with a new VMID the device does not track.' },
  { id: 'dbm-on-readonly', ref: 'F8', expect: 'INV-DBM-SAFE',
    description: 'RFC patch 8: with hardware logging a read fault maps the page with DBM regardless of `writable`, e.g. onto the shared zero page.' },
  // Guess (finding F-B2): the RFC has no ring path (api.rst: incompatible with the ring); its cover letter says
  // "specific cpu for dirty rings". The knob is the ring feed calling read_dirty_pages with cpu = -1, as patch 5's
  // bitmap path does, so the vCPU being put consumes every CPU's records into its own ring.
  { id: 'pta-ring-read-all-cpus', ref: 'F-B2', expect: 'INV-PTA-ATTR', options: { consumer: 'ring' },
    description: 'Ring consumer: the per-CPU read at vcpu_put (and in host context) passes cpu = -1 (the bitmap path\'s call) instead of the PE the vCPU ran on: every CPU\'s records, other vCPUs\' writes included, are pushed into the ring of the vCPU that read them.' },
] as const satisfies readonly PresetBug[];

/** The knob ids of pta (a typo in a `hasBug` call site fails tsc: ../machine/knobs.ts). */
export type PtaKnob = typeof PTA_BUGS[number]['id'];

/**
 * The options of pta: option -> allowed values, the first the default (`Preset.options`). Declared `as const`
 * so that `PtaOption` is the union of its names: a misspelled option name at a read fails tsc
 * (../machine/options.ts).
 */
export const PTA_OPTIONS = {
  consumer: ['bitmap', 'ring'],
  producer: ['pta'],
  /**
   * Ring consumer: entries per vCPU ring. 256 (KVM's minimum, reserve 64) covers the pages one guest stay can
   * dirty. 4 (below KVM's minimum, accepted for checking as in models/dirty-ring) keeps `explore --proof` small.
   */
  ringEntries: [256, 16, 4096, 4],
  /** KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: the backup bitmap for writes with no running vCPU (ITS save). */
  ringWithBitmap: [true],
  manualProtect: [false, true],
  /**
   * Device storage in records (pending + readable); a full device back-pressures hardware dirty-state updates
   * until KVM reads it. 0: unbounded (the RFC does not say). A bound makes the state space finite (explore).
   * 4096: a device sized for real guests, compared at scale by `dtsim compare --preset` (docs/compare.md).
   */
  deviceRecords: [0, 2, 4, 4096],
  /**
   * KVM's own TLB maintenance (models/machine/reducer.ts, as in models/dirty-bitmap): 'inline' (default, every
   * trace recorded before it replays unchanged) performs it inside the path's event; 'events' issues the
   * in-flight ioctl's flush (the logging enable's, GET/CLEAR's) as `kvm/ioctlTlbiIssued` before
   * `kvm/ioctlReturned`, and the fault path's break-before-make TLBI of a block as `kvm/faultTlbiIssued`. The
   * MMU-notifier unmap and VMID roll-over flushes (../hw-dirty/hw.ts) stay inside their events.
   */
  kvmTlbi: ['inline', 'events'],
} as const satisfies PresetOptions;

/** The option names of pta (../machine/options.ts). */
export type PtaOption = keyof typeof PTA_OPTIONS;

export const pta = makeMachineModel({
  id: 'pta',
  version: 1,
  migrations: PTA_MIGRATIONS,
  description: 'Graviton PTA device (RFC): first write faults, later writes via DBM logged by the device; KVM reads it into the dirty bitmap, or per CPU into the dirty rings.',
  options: PTA_OPTIONS,
  bugs: PTA_BUGS,
  invariants: [...HW_INVARIANTS, INV_VMID, INV_PTA_ATTR, ...RING_INVARIANTS_IF_RING],
  checkConfig: DEFAULT_CONFIG,
  situations: [
    { id: 'hw-dirty-update', label: 'a hardware dirty-state update (DBM: W set by a CAS, no fault)', stat: 'hwDirtyUpdates' },
    { id: 'pta-record', label: 'the tracking device logs a write', stat: 'ptaRecords' },
    { id: 'pta-ring-read', label: 'a per-CPU read (vcpu_put or host context) feeds a record to the ring of the vCPU that ran there', stat: 'ptaRingReads', when: { consumer: 'ring' } },
    { id: 'soft-full-exit', label: 'a vCPU exits with KVM_EXIT_DIRTY_RING_FULL', stat: 'ringFullExits', when: { consumer: 'ring' }, unless: { ringEntries: 256 } },
    { id: 'reset-coalesced', label: 'a ring reset coalesces several entries into one mask', stat: 'ringResetCoalesced', when: { consumer: 'ring' }, unless: { ringEntries: 256 } },
    { id: 'kvm-tlbi-window', label: 'a guest store completes while a KVM path still owes its TLBI (kvmTlbi events)',
      stat: 'kvmTlbiWindowStores', when: { kvmTlbi: 'events' } },
  ],
  matrix: [
    {},
    { manualProtect: true },
    { consumer: 'ring' },
    { deviceRecords: 2 },
    { kvmTlbi: 'events' },
  ],
});
