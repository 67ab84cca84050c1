/**
 * dirty-bitmap: write-protect faults feeding the KVM dirty bitmap (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG with
 * manual protect, KVM_DIRTY_LOG_INITIALLY_SET, eager split of 2 MiB blocks), on arm64 semantics.
 *
 * Not modelled: PML (x86), memslot MOVE/DELETE while logging, -EFAULT from copy_to_user, s390/ppc GET paths.
 */
import { DIRTY_BITMAP_MIGRATIONS } from './migrations.ts';
import { makeMachineModel, type PresetBug, type PresetOptions } from '../machine/model.ts';
import { DEFAULT_CONFIG } from '../machine/state.ts';
import { designOption, type DesignOptionRead, type DesignOptions } from '../machine/options.ts';

export const DIRTY_BITMAP_BUGS = [
  { id: 'missing-tlbi', ref: 'F1', expect: 'INV-FLUSH',
    description: 'GET/CLEAR write-protect the re-armed pages but return without any TLB invalidation.' },
  { id: 'local-tlbi', ref: 'F1', expect: 'INV-FLUSH',
    description: 'The re-arming ioctl invalidates only the TLB of the PE it runs on (nsh scope), not every PE.' },
  { id: 'enable-no-flush', ref: 'B2', expect: 'INV-FLUSH',
    description: 'Enabling logging flushes TLBs only if some descriptor changed, missing stale writable entries of access-tracked pages.' },
  { id: 'clear-tail-never-cleared', ref: 'B3', expect: 'INV-CLEAR-EXACT', options: { manualProtect: true },
    config: { slots: [{ base: 0, npages: 67 }], storePages: [1, 63, 64, 66], itsPages: [65] },
    description: 'v5.0 CLEAR rules: num_pages must be a multiple of 64, so the unaligned tail of a slot can never be cleared.' },
  { id: 'wp-before-snapshot', ref: 'B10', expect: 'INV-ARMED',
    description: 'GET write-protects the slot before it snapshots the bitmap; a fault in between leaves a writable, unreported page.' },
  { id: 'host-write-unmarked', ref: 'F16', expect: 'INV-NOLOSS',
    description: 'The PV stolen-time host write is not marked dirty (a design that trusts hardware logs alone).' },
  { id: 'block-fastfix-first-page', ref: 'B9', expect: 'INV-ARMED', config: { blocks: true, slots: [{ base: 0, npages: 515 }], storePages: [0, 1, 5, 511, 512, 514], itsPages: [513] },
    description: 'A write fault on a write-protected 2 MiB block makes the whole block writable and marks only its first page.' },
  { id: 'vmm-no-final-sync', ref: 'U4', expect: 'INV-FINAL',
    description: 'Userspace bug: the VMM completes the migration after stopping the VM without the final collection.' },
  { id: 'vmm-copy-before-clear', ref: 'F2', expect: 'INV-NOLOSS', options: { manualProtect: true },
    description: 'Userspace bug (protocol order): with manual protect the VMM copies the pages a GET showed before its KVM_CLEAR_DIRTY_LOG re-arms them; a write between the copy and the CLEAR is lost.' },
  { id: 'eager-split-off-by-one', ref: 'B8', expect: null, options: { eagerSplit: true },
    config: { blocks: true, slots: [{ base: 0, npages: 515 }], storePages: [0, 3, 200, 511, 512, 514], itsPages: [513] },
    description: 'Negative control: eager split leaves the last block of the range unsplit (still write-protected): performance only, must not be flagged.' },
] as const satisfies readonly PresetBug[];

/** The knob ids of dirty-bitmap (a typo in a `hasBug` call site fails tsc: ../machine/knobs.ts). */
export type DirtyBitmapKnob = typeof DIRTY_BITMAP_BUGS[number]['id'];

/**
 * The options of dirty-bitmap: option -> allowed values, the first the default (`Preset.options`). Declared `as const`
 * so that `DirtyBitmapOption` is the union of its names: a misspelled option name at a read fails tsc
 * (../machine/options.ts).
 */
export const DIRTY_BITMAP_OPTIONS = {
  consumer: ['bitmap'],
  producer: ['wp'],
  manualProtect: [false, true],
  initiallySet: [false, true],
  eagerSplit: [false, true],
  /**
   * The TLBI of the write-fault path's permission relaxation (kvm_pgtable_stage2_relax_perms): 'local' (the
   * faulting PE only, __kvm_tlb_flush_vmid_ipa_nsh, current kernels) or 'broadcast' (__kvm_tlb_flush_vmid_ipa,
   * earlier kernels). With 'local' another PE's stale read-only copy can make a later store fault spuriously
   * (herd DBchange-UP-STR-DSB-ISB); with 'broadcast' it cannot (the TLBI follows the change). Both are correct.
   */
  relaxTlbi: ['local', 'broadcast'],
  // The VMM's KVM_CLEAR_DIRTY_LOG calls: QEMU's (one 64-page word at a time, exactly the fetched bits) or, in
  // addition, every shape the API accepts or refuses (./vmm.ts: multi-word, unaligned, past the slot, bits not
  // set or outside the range, a slot without a bitmap). Needs manualProtect (no CLEAR without it).
  clearCalls: ['word', 'varied'],
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

/** A design option of this folder (typed: ../machine/options.ts). */
const designOpt: DesignOptionRead<DirtyBitmapOption> = designOption;

/** `clearCalls: 'varied'` without manual protect: KVM_CLEAR_DIRTY_LOG needs KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2. */
function checkClearCalls(o: DesignOptions): { field: string; message: string } | null {
  if (designOpt(o, 'clearCalls') !== 'varied' || designOpt(o, 'manualProtect') === true) return null;
  return { field: 'clearCalls', message: 'varied CLEAR calls need manualProtect: true (KVM_CLEAR_DIRTY_LOG exists only with '
    + 'KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2; without it GET clears and re-arms by itself)' };
}

/** The option names of dirty-bitmap (../machine/options.ts). */
export type DirtyBitmapOption = keyof typeof DIRTY_BITMAP_OPTIONS;

export const dirtyBitmap = makeMachineModel({
  id: 'dirty-bitmap',
  version: 1,
  migrations: DIRTY_BITMAP_MIGRATIONS,
  description: 'Write-protect faults feeding the KVM dirty bitmap (GET / CLEAR / manual protect / INITIALLY_SET).',
  options: DIRTY_BITMAP_OPTIONS,
  bugs: DIRTY_BITMAP_BUGS,
  invariants: [],
  checkConfig: DEFAULT_CONFIG,
  checkOptions: checkClearCalls,
  situations: [
    { id: 'clear-refused', label: 'a KVM_CLEAR_DIRTY_LOG refused (EINVAL / ENOENT)', stat: 'clearsRefused', when: { clearCalls: 'varied' } },
    { id: 'clear-unset-bits', label: 'a CLEAR naming bits that are not set', stat: 'clearsUnsetBits', when: { clearCalls: 'varied' } },
    { id: 'kvm-tlbi-window', label: 'a guest store completes while a KVM path still owes its TLBI (kvmTlbi events)',
      stat: 'kvmTlbiWindowStores', when: { kvmTlbi: 'events' } },
    { id: 'clear-ignored-bits', label: 'a CLEAR naming bits outside its range', stat: 'clearsIgnoredBits', when: { clearCalls: 'varied' } },
  ],
  matrix: [
    {},
    { manualProtect: true },
    { manualProtect: true, initiallySet: true },
    { eagerSplit: true },
    { manualProtect: true, clearCalls: 'varied' },
    { kvmTlbi: 'events' },
    { manualProtect: true, kvmTlbi: 'events' },
  ],
});
