/**
 * The dirty ring's own events, by declaration (`EventDecl`, models/machine/events.ts): listed once in
 * models/mechanisms.ts, from which the machine's event union, the untrusted-trace schema, the lanes and the
 * scheduler weights are derived. Nothing to edit elsewhere to add one.
 */
import type { EventDecl, EventOf } from '../machine/events.ts';

export const RING_EVENTS = [
  { type: 'vcpu/ringFullExited', fields: { vcpu: 'vcpu' },
    description: 'KVM_RUN returns KVM_EXIT_DIRTY_RING_FULL: the request check found the ring soft-full (request kept pending).' },
  // Userspace acting on a vCPU's ring (harvest, rewrite) is VMM work.
  { type: 'ring/entryHarvested', fields: { vcpu: 'vcpu', index: 'u32' }, lane: 'vmm',
    description: 'Userspace harvests the entry at its fetch cursor of `vcpu`\'s ring (observes DIRTY, records, sets RESET).' },
  { type: 'ring/entryRewritten', fields: { vcpu: 'vcpu', index: 'u32', offsetHi: 'u32', offsetLo: 'u32' }, lane: 'vmm',
    description: 'Adversarial userspace (option `adversary`) rewrites the u64 offset of a harvested entry in the mmapped ring '
      + '(the B12 reproducer: 0xffffffffffffffc1 then 0; or the slot\'s npages after an entry of the same slot: a batch one past the '
      + 'slot\'s end). The entry is untrusted input to the next RESET.' },
  { type: 'ring/entrySlotRewritten', fields: { vcpu: 'vcpu', index: 'u32', slot: 'u32' }, lane: 'vmm',
    description: 'Adversarial userspace (option `adversary`) rewrites the u32 slot (as_id << 16 | id) of a harvested entry: another '
      + 'address space or a memslot id with no memslot. The entry is untrusted input to the next RESET, which must ignore it.' },
  { type: 'kvm/dirtyRingsReset', fields: { signal: 'u32', reflag: 'u32' },
    description: 'KVM_RESET_DIRTY_RINGS\' kernel work (the TLB flush and return are `kvm/ioctlReturned`). `signal` > 0: a signal '
      + 'is pending once that many entries were consumed (-EINTR path); `reflag` 1: adversarial userspace keeps setting F_RESET on '
      + 'every entry while the ioctl runs (the B11 reproducer).' },
  // The reset thread is VMM work although it names the vCPU whose request it clears.
  { type: 'kvm/softFullRequestCleared', fields: { vcpu: 'vcpu' }, lane: 'vmm',
    description: 'B5 knob only: the reset thread clears a vCPU\'s soft-full request after finding its ring not soft-full.' },
  // The weak-memory layer (option `weakMemory`; ring.ts "Memory ordering").
  // Lane 'host': the store buffer drains whether or not the vCPU thread runs (a vCPU held out by a full ring still
  // has its last DIRTY stores buffered), so it is the memory system's step, not the vCPU's.
  { type: 'ring/dirtyFlagVisible', fields: { vcpu: 'vcpu' }, lane: 'host', weight: 8,
    description: 'weakMemory: the oldest `flags = DIRTY` store of the vCPU\'s pushes still in its CPU\'s store buffer becomes visible to '
      + 'the other CPUs (after its payload: smp_wmb).' },
  { type: 'ring/resetFlagVisible', fields: { vcpu: 'vcpu' }, lane: 'vmm', weight: 8,
    description: 'weakMemory: the oldest store-release `flags = RESET` userspace made on the vCPU\'s ring and its CPU still buffers '
      + 'becomes visible to the CPU running KVM_RESET_DIRTY_RINGS.' },
  { type: 'ring/payloadReadEarly', fields: { vcpu: 'vcpu', index: 'u32' }, lane: 'vmm',
    description: 'B4 knob only (plain flag load in the reset): the reset CPU\'s loads of slot and offset of the entry of counter `index` '
      + '(the next the vCPU pushes) are satisfied before its flag load, i.e. before the push: it will consume the previous contents.' },
  { type: 'vmm/untrackedPagesQueued', fields: {},
    description: 'Final collection: the VMM queues for copying the pages it knows it cannot rely on tracking for (ITS tables '
      + 'saved on a ring-only VM, entries its adversarial side rewrote).' },
  { type: 'vmm/ringCollectionCompleted', fields: {},
    description: 'Final collection on a ring-only VM (no backup bitmap to GET): rings drained, ITS saved, round complete.' },
] as const satisfies readonly EventDecl[];

export type RingEvent = EventOf<typeof RING_EVENTS[number]>;
