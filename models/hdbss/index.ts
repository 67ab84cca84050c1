/**
 * hdbss: ARM hardware dirty state (FEAT_HAFDBS at stage 2) feeding the KVM dirty log, with the dirty state
 * harvested from per-vCPU FEAT_HDBSS buffers (producer `hdbss`, the default) or by a page-table scan of
 * writable-dirty descriptors (producer `dbm`, the SW/HW combined dirty log). See hdbss.ts and ../hw-dirty/.
 *
 * `hdbssEntries` scales the buffer down so that full-buffer faults happen in short runs (0 = the architectural
 * size of the SZ encoding `hdbssSz`: 512 << SZ entries).
 */
import { HDBSS_MIGRATIONS } from './migrations.ts';
import { makeMachineModel, type PresetBug, type PresetOptions } from '../machine/model.ts';
import { DEFAULT_CONFIG } from '../machine/state.ts';
import { checkHdbssRingOptions, INV_HDBSS_REGS, INV_HDBSS_UAF, INV_LIVE_HDBSS, INV_SYNC_COMPLETE } from './hdbss.ts';
import { HW_INVARIANTS } from '../hw-dirty/hw.ts';
import { RING_INVARIANTS_IF_RING } from '../hw-dirty/ring-feed.ts';

/** Few target pages: hardware updates, full buffers and re-armed spans meet in short runs. */
const FEW_PAGES = { storePages: [1, 2, 3] };
/** One small memslot and many rounds: a re-armed span, a hardware update and a CLEAR meet in short runs. */
const SMALL_SLOT = { slots: [{ base: 0, npages: 8 }], storePages: [1, 2, 3], itsPages: [5], rounds: 6, tlbEntries: 8 };
const BLOCK_CONFIG = { blocks: true, slots: [{ base: 0, npages: 515 }], storePages: [0, 1, 5, 511, 512, 514], itsPages: [513] };

export const HDBSS_BUGS = [
  { id: 'pte-update-not-atomic', ref: 'F3', expect: 'INV-CAS', options: { producer: 'dbm' },
    description: 'The aging walker reads a writable-clean descriptor, then writes old & ~AF with a plain store: a hardware W update in between is discarded.' },
  { id: 'bbm-drops-hw-dirty', ref: 'F4', expect: 'INV-NOLOSS', options: { producer: 'dbm' },
    description: 'Break-before-make (MMU-notifier unmap) replaces a writable-dirty descriptor without saving its hardware dirty state.' },
  { id: 'wp-before-harvest', ref: 'F5', expect: 'INV-ARMED', options: { producer: 'dbm', manualProtect: true }, config: SMALL_SLOT,
    // Measured on 6e41c41: 5 of 300 searches end in INV-NOLOSS, each a page whose TLB copies were gone before the
    // CLEAR (properties/hdbss.alternative-symptoms.test.ts).
    alsoExpect: { 'INV-NOLOSS': 'when the page has no writable TLB copy left at the CLEAR (evicted or flushed), the write-protect leaves it protected at once, so the lost record shows as data nothing will report again' },
    description: 'KVM_CLEAR_DIRTY_LOG write-protects the [ffs, fls] span of a word before harvesting it: a writable-dirty page inside the span loses its only record (while its writable TLB copy lives until the flush; with none left, its data is lost at once).' },
  { id: 'hdbss-no-save-at-put', ref: 'F9', expect: 'INV-HDBSS-REGS',
    description: 'v2: vcpu_put neither drains the HDBSS buffer nor saves HDBSSPROD_EL2; the next vcpu_load restores a stale index below the undrained entries.' },
  { id: 'hdbss-full-no-drain', ref: 'F10', expect: 'INV-LIVE-HDBSS', options: { hdbssEntries: 1 }, config: FEW_PAGES,
    description: 'The HDBSS-full permission fault handler returns without draining ("buffer already flushed"): the store faults forever.' },
  { id: 'hdbss-full-fallthrough', ref: 'F10', expect: 'INV-ARMED', options: { hdbssEntries: 1 },
    description: 'The HDBSS-full fault falls through to the permission-relax path: the page becomes writable in software with no HDBSS entry and no mark.' },
  { id: 'hdbss-fsc-ignored', ref: 'F10', expect: 'INV-ARMED', options: { hdbssAborts: true }, config: FEW_PAGES,
    description: 'HDBSSPROD_EL2.FSC != 0 (an HDBSS write aborted, its entry lost) is handled like a full buffer: drained, no fallback; the page made writable-dirty by the aborted append is in no log.' },
  { id: 'hdbss-vtcr-before-regs', ref: 'F12', expect: 'INV-HDBSS-REGS',
    description: 'v1: enabling HDBSS sets VTCR_EL2.HDBSS for running vCPUs while HDBSSBR/HDBSSPROD are only programmed at the next vcpu_load.' },
  { id: 'ring-no-drain-reserve', ref: 'F17', expect: 'INV-RING-BOUND', options: { consumer: 'ring', ringEntries: 4, hdbssEntries: 4 },
    config: { vcpus: 1, pes: 1, slots: [{ base: 0, npages: 8 }], storePages: [1, 2, 3, 4], itsPages: [5], rounds: 30, stolenTime: false },
    description: 'Dirty ring without the HDBSS reservation: the soft limit leaves room for the usual 64 entries only, so a full buffer drain overflows the ring.' },
  { id: 'vtcr-switch-no-tlbi', ref: 'F19', expect: 'INV-FLUSH',
    description: 'The switch to HDBSS mode (VTCR_EL2.{HA,HD,HDBSS}, writable-dirty leaves cleaned) relies on KVM_REQ_RELOAD_STAGE2 without a VMID-wide TLBI: writable TLB entries of the old mode outlive it, and stores through them are never logged.' },
  { id: 'hdbss-block-one-page', ref: 'F15', expect: 'INV-BLOCK', config: BLOCK_CONFIG,
    description: 'The drain marks only the entry\'s IPA page, ignoring TTWL: a level-2 entry for a 2 MiB block reports 1 of its 512 pages.' },
  { id: 'hdbss-ring-block-dbm', ref: 'F-B1', expect: 'INV-BLOCK', options: { consumer: 'ring' }, config: BLOCK_CONFIG,
    description: 'With the dirty ring, the HDBSS enable gives DBM to 2 MiB block leaves too: a store to the writable-clean block logs one entry for the whole block, its drain pushes 512 pages into a 16-entry ring (the reserve covers one ring entry per buffer entry), and the pushes past a full ring overwrite entries not yet harvested.' },
  { id: 'hdbss-disable-no-wait', ref: 'F13', expect: 'INV-HDBSS-UAF', options: { hdbssDisable: true },
    description: 'v2 disable: VTCR_EL2.HDBSS cleared for the VM, vCPUs kicked without waiting, buffers freed: a vCPU still in the guest with the old VTCR_EL2 appends into (or later drains) freed memory.' },
  { id: 'hdbss-sync-ipi-wait', ref: 'F14', expect: 'INV-SYNC-COMPLETE', options: { kicks: true },
    description: 'v3 sync_dirty_log: KVM_REQ_FLUSH_HDBSS with KVM_REQUEST_WAIT waits only for the kick IPIs (every vCPU out of guest mode), not for the flushes: the GET snapshots before the buffers are drained.' },
  { id: 'dbm-writable-unmarked', ref: 'F18', expect: 'INV-ARMED',
    description: 'v2 maps write faults writable-dirty (W=1|DBM=1) and this fault path also drops mark_page_dirty, trusting HDBSS: a writable-dirty descriptor has no transition left to log, so the page is writable and in no log (the retried store is lost).' },
  { id: 'hdbss-drain-no-dsb', ref: 'F11', expect: 'INV-ARMED', options: { weakMemory: true },
    // Measured on 7ec6423 (200 search seeds of 1,000 runs): INV-ARMED 138, INV-NOLOSS 62, each NOLOSS with an
    // unmap of the lost page between its store and the drain (properties/hdbss.alternative-symptoms.test.ts).
    alsoExpect: { 'INV-NOLOSS': 'an MMU-notifier unmap between the store and the drain leaves the page protected (with HDBSS the unmap keeps no dirty state: the outstanding entry is its record), so the loss shows as data that nothing will report again' },
    description: 'v3: the drain reads the HDBSS entries with no DSB after the exit (R_RCGCHP): an entry write still outstanding reads as invalid, is skipped, and INDEX is reset over it; its page stays writable-dirty with no record (or, unmapped meanwhile, its data is lost).' },
] as const satisfies readonly PresetBug[];

/** The knob ids of hdbss (a typo in a `hasBug` call site fails tsc: ../machine/knobs.ts). */
export type HdbssKnob = typeof HDBSS_BUGS[number]['id'];

/**
 * The options of hdbss: option -> allowed values, the first the default (`Preset.options`). Declared `as const`
 * so that `HdbssOption` is the union of its names: a misspelled option name at a read fails tsc
 * (../machine/options.ts).
 */
export const HDBSS_OPTIONS = {
  consumer: ['bitmap', 'ring'],
  producer: ['hdbss', 'dbm'],
  /** Ring consumer (producer hdbss): entries per vCPU ring (see models/dirty-ring). */
  ringEntries: [16, 4, 8, 32, 256],
  /** KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: the backup bitmap for writes with no running vCPU (ITS save). */
  ringWithBitmap: [true],
  hdbssEntries: [2, 1, 4, 8, 0],
  hdbssSz: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  /** Let HDBSS writes take external aborts (FSC != 0, entries lost, KVM falls back to every page). */
  hdbssAborts: [false, true],
  /**
   * kvm_arch_sync_dirty_log as the v3 series does it: KVM_REQ_FLUSH_HDBSS to every loaded vCPU, kick IPIs, each
   * vCPU handling it in its run loop, the GET released when all acknowledged (events); false: one atomic drain
   * (the default of model version 1: a v1 trace is read with it explicit, ./migrations.ts).
   */
  kicks: [true, false],
  /**
   * The HDBSS enable as the 2026 rework's mode switch does it: kvm->arch.mmu.vtcr gains HA|HD|HDBSS, one
   * KVM_REQ_RELOAD_STAGE2 to every loaded vCPU (kick IPIs, no waiter) and the VMID-wide TLBI; each vCPU loads the
   * new VTCR_EL2 when it handles the request before its next entry (requests.ts). false: one atomic
   * switch of every PE's VTCR_EL2 (model version 1, which had no such option: ./migrations.ts).
   */
  enableRequest: [true, false],
  /** The VMM turns HDBSS off during pre-copy (v3 KVM_ENABLE_CAP args[1]=0): request, wait, free the buffers. */
  hdbssDisable: [false, true],
  manualProtect: [false, true],
  eagerSplit: [false, true],
  /**
   * VTCR_EL2.HD (producer dbm only): false sets HA without HD, so a DBM=1, W=0 descriptor is read-only to the
   * hardware (Arm ARM R_PZFQC) and a store to it faults (herd STR-db0-noHD); KVM's fault path then maps it
   * writable-dirty and marks it, as without hardware dirty state.
   */
  hd: [true, false],
  /**
   * The weak-memory layer: HDBSS entry writes outstanding until a DSB (kernel.ts "Memory ordering of the HDBSS
   * writes"), and with the ring consumer the ring's buffered flag stores (models/dirty-ring/ring.ts).
   */
  weakMemory: [false, true],
  /**
   * KVM's own TLB maintenance (models/machine/reducer.ts, as in models/dirty-bitmap): 'inline' (default, every
   * trace recorded before it replays unchanged) performs it inside the path's event; 'events' issues the
   * in-flight ioctl's flush (the logging enable's kvm_flush_remote_tlbs_memslot, the GET/CLEAR re-arm's) as
   * `kvm/ioctlTlbiIssued` before `kvm/ioctlReturned`, the fault path's break-before-make TLBI of a block as
   * `kvm/faultTlbiIssued` before the page is mapped, and the HDBSS enable's VMID-wide TLBI (the mode switch,
   * reducer.ts `hdbss/trackingEnabled`) as `kvm/switchTlbiIssued` before KVM_ENABLE_CAP returns.
   */
  kvmTlbi: ['inline', 'events'],
} as const satisfies PresetOptions;

/** The option names of hdbss (../machine/options.ts). */
export type HdbssOption = keyof typeof HDBSS_OPTIONS;

export const hdbss = makeMachineModel({
  id: 'hdbss',
  version: 2,
  migrations: HDBSS_MIGRATIONS,
  description: 'DBM hardware dirty state harvested from per-vCPU FEAT_HDBSS buffers (or a page-table scan), feeding the dirty bitmap or the dirty ring.',
  options: HDBSS_OPTIONS,
  bugs: HDBSS_BUGS,
  invariants: [...HW_INVARIANTS, INV_HDBSS_REGS, INV_LIVE_HDBSS, INV_HDBSS_UAF, INV_SYNC_COMPLETE, ...RING_INVARIANTS_IF_RING],
  checkConfig: DEFAULT_CONFIG,
  checkOptions: checkHdbssRingOptions,
  situations: [
    { id: 'hw-dirty-update', label: 'a hardware dirty-state update (DBM: W set by a CAS, no fault)', stat: 'hwDirtyUpdates' },
    { id: 'hdbss-full-fault', label: 'a store takes an HDBSS-full permission fault', stat: 'hdbssFullFaults', when: { producer: 'hdbss', consumer: 'bitmap', hdbssEntries: 2 } },
    { id: 'hdbss-put-undrained', label: 'a vCPU is put (and may move PE) with undrained HDBSS entries', stat: 'hdbssPutUndrained', when: { producer: 'hdbss' } },
    { id: 'hdbss-kick-delivered', label: 'a kick IPI makes a vCPU with a pending request (KVM_REQ_FLUSH_HDBSS, or the enable\'s RELOAD_STAGE2) exit the guest', stat: 'hdbssKicks', when: { producer: 'hdbss', consumer: 'bitmap', kicks: true } },
    { id: 'hdbss-request-noticed', label: 'a vCPU handles KVM_REQ_FLUSH_HDBSS in its run loop before entering', stat: 'hdbssRequestsNoticed', when: { producer: 'hdbss', consumer: 'bitmap', kicks: true } },
    { id: 'hdbss-request-at-put', label: 'a vCPU with a pending KVM_REQ_FLUSH_HDBSS is put (the put flush acknowledges it)', stat: 'hdbssRequestsAtPut', when: { producer: 'hdbss', consumer: 'bitmap', kicks: true } },
    { id: 'hdbss-waiter-released', label: 'the caller of kvm_make_all_cpus_request is released after every acknowledgement', stat: 'hdbssWaitersReleased', when: { producer: 'hdbss', consumer: 'bitmap', kicks: true } },
    { id: 'hdbss-reload-kicked', label: 'a kick IPI makes a vCPU still running with the old VTCR_EL2 after the HDBSS enable exit (KVM_REQ_RELOAD_STAGE2 pending)',
      stat: 'hdbssReloadKicks', when: { producer: 'hdbss', enableRequest: true } },
    { id: 'hdbss-reload-noticed', label: 'a vCPU loads VTCR_EL2.{HA,HD,HDBSS} when it handles KVM_REQ_RELOAD_STAGE2 before its next entry',
      stat: 'hdbssReloads', when: { producer: 'hdbss', enableRequest: true } },
    { id: 'hdbss-disabled', label: 'HDBSS turned off and its buffers freed during pre-copy', stat: 'hdbssFreed', when: { producer: 'hdbss', consumer: 'bitmap', hdbssDisable: true } },
    { id: 'soft-full-exit', label: 'a vCPU exits with KVM_EXIT_DIRTY_RING_FULL', stat: 'ringFullExits', when: { consumer: 'ring' }, unless: { ringEntries: 256 } },
    { id: 'reset-coalesced', label: 'a ring reset coalesces several entries into one mask', stat: 'ringResetCoalesced', when: { consumer: 'ring' }, unless: { ringEntries: 256 } },
    { id: 'hdbss-drain-in-flight', label: 'a drain finds HDBSS entry writes still outstanding (its DSB completes them; weak memory)',
      stat: 'hdbssDrainInFlight', when: { producer: 'hdbss', weakMemory: true } },
    { id: 'kvm-tlbi-window', label: 'a guest store completes while a KVM path still owes its TLBI (kvmTlbi events)',
      stat: 'kvmTlbiWindowStores', when: { kvmTlbi: 'events' } },
  ],
  matrix: [
    {},
    { manualProtect: true },
    { hdbssEntries: 4 },
    { hdbssAborts: true },
    // Model version 1's guesses (one atomic drain per GET, one atomic enable), still checked.
    { kicks: false, enableRequest: false },
    { hdbssDisable: true },
    { producer: 'dbm' },
    { producer: 'dbm', manualProtect: true },
    { consumer: 'ring' },
    { consumer: 'ring', hdbssEntries: 4 },
    { weakMemory: true },
    { kvmTlbi: 'events' },
  ],
});
