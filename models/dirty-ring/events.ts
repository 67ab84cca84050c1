/**
 * The dirty ring's own events (added to `MachineEvent` in models/machine/model-events.ts) and their field
 * schemas, registered into the machine's `EVENT_FIELDS` so untrusted traces are validated like core events.
 */
import { EVENT_FIELDS } from '../machine/events.ts';

export type RingEvent =
  /** KVM_RUN returns KVM_EXIT_DIRTY_RING_FULL: the request check found the ring soft-full (request kept pending). */
  | { readonly type: 'vcpu/ringFullExited'; readonly vcpu: number }
  /** Userspace harvests the entry at its fetch cursor of `vcpu`'s ring (observes DIRTY, records, sets RESET). */
  | { readonly type: 'ring/entryHarvested'; readonly vcpu: number; readonly index: number }
  /**
   * Adversarial userspace (option `adversary`) rewrites the u64 offset of a harvested entry in the mmapped ring
   * (the B12 reproducer: 0xffffffffffffffc1 then 0). The entry is untrusted input to the next RESET.
   */
  | { readonly type: 'ring/entryRewritten'; readonly vcpu: number; readonly index: number; readonly offsetHi: number;
      readonly offsetLo: number }
  /**
   * KVM_RESET_DIRTY_RINGS' kernel work (the TLB flush and return are `kvm/ioctlReturned`). `signal` > 0: a signal
   * is pending once that many entries were consumed (-EINTR path); `reflag` 1: adversarial userspace keeps
   * setting F_RESET on every entry while the ioctl runs (the B11 reproducer).
   */
  | { readonly type: 'kvm/dirtyRingsReset'; readonly signal: number; readonly reflag: number }
  /** B5 knob only: the reset thread clears a vCPU's soft-full request after finding its ring not soft-full. */
  | { readonly type: 'kvm/softFullRequestCleared'; readonly vcpu: number }
  /**
   * Final collection: the VMM queues for copying the pages it knows it cannot rely on tracking for (ITS tables
   * saved on a ring-only VM, entries its adversarial side rewrote).
   */
  | { readonly type: 'vmm/untrackedPagesQueued' }
  /** Final collection on a ring-only VM (no backup bitmap to GET): rings drained, ITS saved, round complete. */
  | { readonly type: 'vmm/ringCollectionCompleted' };

Object.assign(EVENT_FIELDS, {
  'vcpu/ringFullExited': { vcpu: 'vcpu' },
  'ring/entryHarvested': { vcpu: 'vcpu', index: 'u32' },
  'ring/entryRewritten': { vcpu: 'vcpu', index: 'u32', offsetHi: 'u32', offsetLo: 'u32' },
  'kvm/dirtyRingsReset': { signal: 'u32', reflag: 'u32' },
  'kvm/softFullRequestCleared': { vcpu: 'vcpu' },
  'vmm/untrackedPagesQueued': {},
  'vmm/ringCollectionCompleted': {},
});
