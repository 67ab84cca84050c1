/**
 * dirty-ring: write-protect faults feeding per-vCPU KVM dirty rings (KVM_CAP_DIRTY_LOG_RING_ACQ_REL, arm64), with
 * KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP for writes with no running vCPU (vgic-ITS table save), soft-full exits,
 * in-order harvest and KVM_RESET_DIRTY_RINGS (kvm reference section 4).
 *
 * Deliberate deviations and guesses (also in the code they concern):
 * - Ring sizes below KVM's minimum (256 entries = PAGE_SIZE bytes) are accepted for checking, with a reserve of
 *   half the ring instead of 64 entries (ring.ts `rsvdEntriesOf`): small rings make soft-full exits and resets
 *   racing pushes happen in short runs. 256 (KVM's minimum, reserve 64) is in the matrix as the real geometry.
 * - A vCPU thread whose ring is soft-full with the request pending does not issue KVM_RUN again until the VMM
 *   reaped it (mechanism.ts `canLoad`): this drops the one steal-time push KVM could make before its request
 *   check exits again (fewer duplicate entries, no behaviour lost for the invariants).
 * - Without WITH_BITMAP the conforming VMM copies the ITS table pages itself (it knows their GPAs); the B6 knob
 *   `ring-without-bitmap-its` is the VMM that relies on tracking for them.
 * - The adversary (option `adversary`) plays the B12 and B11 reproducers and copies the pages it sabotaged at the
 *   end, so the common invariants stay meaningful; under its final re-flagging reset the ring's indices are
 *   garbage (as in KVM) and the occupancy invariants are not checked for that ring any more.
 * - Memory ordering of the ring's flags (B4) is modelled only with the option `weakMemory` (ring.ts "Memory
 *   ordering"): per-CPU buffered flag stores drained by events, and the reset's early payload read under the B4
 *   knob. Without it every access is sequentially consistent (the ACQ_REL protocol's guarantee).
 * Not modelled: PML (x86), memslot deletion with entries pending.
 */
import { DIRTY_RING_MIGRATIONS } from './migrations.ts';
import { makeMachineModel, type PresetBug, type PresetOptions } from '../machine/model.ts';
import { DEFAULT_CONFIG } from '../machine/state.ts';
import { RING_INVARIANTS } from './mechanism.ts';

export const DIRTY_RING_BUGS = [
  { id: 'softfull-cleared-by-reset', ref: 'B5', expect: 'INV-RING-GATE', options: { ringEntries: 4 },
    description: 'The reset thread clears a vCPU\'s soft-full request after finding its ring not soft-full; a push in between is forgotten and the vCPU enters with a soft-full ring.' },
  { id: 'novcpu-write-dropped', ref: 'B6', expect: 'INV-NOLOSS', options: { ringWithBitmap: true },
    description: 'Pre-c57351a75d01: a write with no running vCPU (ITS table save) is dropped even though the backup bitmap exists.' },
  { id: 'ring-without-bitmap-its', ref: 'B6', expect: 'INV-NOLOSS', options: { ringWithBitmap: false },
    description: 'Userspace bug: ring enabled without WITH_BITMAP while saving the ITS tables; the writes are silently untracked.' },
  { id: 'block-fastfix-first-page', ref: 'B9', expect: 'INV-ARMED',
    config: { blocks: true, slots: [{ base: 0, npages: 515 }], storePages: [0, 1, 5, 511, 512, 514], itsPages: [513] },
    description: 'A write fault on a write-protected 2 MiB block makes the whole block writable and pushes only its first page.' },
  { id: 'reset-offset-wrap', ref: 'B12', expect: 'INV-RESET-VALID', options: { adversary: true },
    description: 'kvm_reset_dirty_gfn without the offset >= npages check: offset 0xffffffffffffffc1 coalesced with 0 wraps and is re-armed.' },
  { id: 'reset-eintr-skips-batch', ref: 'B15', expect: 'INV-RING-RESET-EXACT',
    description: 'A signal during RESET returns -EINTR without re-arming the pending batch, whose entries were already consumed and counted.' },
  { id: 'reset-no-tlb-flush', ref: 'F1', expect: 'INV-FLUSH',
    description: 'KVM_RESET_DIRTY_RINGS re-arms pages but returns without kvm_flush_remote_tlbs: a stale writable TLB entry keeps stores unlogged.' },
  { id: 'reset-unbounded', ref: 'B11', expect: 'INV-LIVE-RESET', options: { adversary: true },
    description: 'Pre-v6.17 RESET loop with no bound: userspace re-flagging entries keeps the kernel in it forever.' },
  { id: 'ring-plain-flags', ref: 'B4', expect: 'INV-RING-RESET-EXACT', options: { weakMemory: true },
    description: 'Pre-8929bc965964: KVM_RESET_DIRTY_RINGS reads an entry\'s flags with a plain load (no acquire), so its loads of slot and offset may return the entry\'s contents from before the push: it re-arms the wrong page and the harvested one stays writable.' },
] as const satisfies readonly PresetBug[];

/** The knob ids of dirty-ring (a typo in a `hasBug` call site fails tsc: ../machine/knobs.ts). */
export type DirtyRingKnob = typeof DIRTY_RING_BUGS[number]['id'];

/**
 * The options of dirty-ring: option -> allowed values, the first the default (`Preset.options`). Declared `as const`
 * so that `DirtyRingOption` is the union of its names: a misspelled option name at a read fails tsc
 * (../machine/options.ts).
 */
export const DIRTY_RING_OPTIONS = {
  consumer: ['ring'],
  producer: ['wp'],
  // Entries per vCPU ring (power of two). 16 (reserve 8) makes soft-full exits frequent in short runs.
  // 4096 and 65536: the sizes QEMU users pick (dirty-ring-size); compared at scale by `dtsim compare --preset` (docs/compare.md).
  ringEntries: [16, 4, 8, 32, 64, 128, 256, 4096, 65536],
  ringWithBitmap: [true, false],
  adversary: [false, true],
  // Initial value of every ring index (KVM: 0). 2^32 - 8 makes short runs cross the u32 wrap.
  ringStart: [0, 4294967288],
  // The weak-memory layer (ring.ts "Memory ordering"): flag stores buffered per CPU, drained by events; loads
  // as the ACQ_REL protocol orders them (B4's plain loads only under its knob).
  weakMemory: [false, true],
  /**
   * KVM's own TLB maintenance (reducer.ts, `loggingEnabled`, `ioctlFlush`, `faultMapped`): 'inline' (default, every
   * trace recorded before it replays unchanged) performs the flush inside the path's event; 'events' issues it as
   * a step of its own the path owes and waits for: the re-arming ioctl's (and the logging enable's)
   * kvm_flush_remote_tlbs_memslot / kvm_flush_remote_tlbs (`kvm/ioctlTlbiIssued`, before `kvm/ioctlReturned`)
   * and the fault path's break-before-make TLBI of a block (`kvm/faultTlbiIssued`, before the page is mapped), so
   * vCPUs run with stale entries exactly in the windows the kernel has.
   */
  kvmTlbi: ['inline', 'events'],
} as const satisfies PresetOptions;

/** The option names of dirty-ring (../machine/options.ts). */
export type DirtyRingOption = keyof typeof DIRTY_RING_OPTIONS;

export const dirtyRing = makeMachineModel({
  id: 'dirty-ring',
  version: 1,
  migrations: DIRTY_RING_MIGRATIONS,
  description: 'Write-protect faults feeding per-vCPU dirty rings (soft-full exits, harvest, KVM_RESET_DIRTY_RINGS, WITH_BITMAP).',
  options: DIRTY_RING_OPTIONS,
  bugs: DIRTY_RING_BUGS,
  invariants: RING_INVARIANTS,
  checkConfig: DEFAULT_CONFIG,
  situations: [
    { id: 'soft-full-exit', label: 'a vCPU exits with KVM_EXIT_DIRTY_RING_FULL', stat: 'ringFullExits', unless: { ringEntries: 256 } },
    { id: 'reset-coalesced', label: 'a ring reset coalesces several entries into one mask', stat: 'ringResetCoalesced', unless: { ringEntries: 256 } },
    { id: 'kvm-tlbi-window', label: 'a guest store completes while a KVM path still owes its TLBI (kvmTlbi events)',
      stat: 'kvmTlbiWindowStores', when: { kvmTlbi: 'events' } },
    { id: 'ring-dirty-store-buffered', label: 'a ring pass or reset runs while a push\'s DIRTY flag store is still buffered (weak memory)',
      stat: 'ringDirtyStoreBuffered', when: { weakMemory: true } },
    { id: 'ring-reset-store-buffered', label: 'a reset stops at an entry whose RESET flag store is still buffered (weak memory)',
      stat: 'ringResetStoreBuffered', when: { weakMemory: true } },
  ],
  matrix: [
    {},
    { ringEntries: 4 },
    { ringEntries: 256 },
    { ringWithBitmap: false },
    { ringEntries: 4, ringWithBitmap: false },
    { adversary: true },
    { ringStart: 4294967288 },
    { weakMemory: true },
    { kvmTlbi: 'events' },
  ],
});
