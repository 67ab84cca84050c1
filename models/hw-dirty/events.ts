/**
 * Events of the ARM hardware dirty-state layer shared by the hardware producers (FEAT_HAFDBS at stage 2: the
 * DBM page-table scan, FEAT_HDBSS, the PTA device), by declaration (`EventDecl`, models/machine/events.ts), listed
 * once in models/mechanisms.ts. HDBSS's and PTA's own events are declared in their folders.
 *
 * Each event carries the ids it acts on, so a trace reads on its own. Scheduler weights: the hardware update is a
 * step of a guest store (as heavy as the store path); read faults are frequent host work; aging, unmaps and VMID
 * rollovers are background noise.
 */
import type { EventDecl, EventOf } from '../machine/events.ts';

export const HW_EVENTS = [
  { type: 'hw/dirtyStateUpdated', fields: { vcpu: 'vcpu', gfn: 'gfn' }, weight: 60,
    description: 'The PE running `vcpu` performs the stage-2 hardware dirty-state update for the vCPU\'s pending store to a '
      + 'writable-clean descriptor (DBM=1, W=0) with VTCR_EL2.{HA,HD}: one atomic CAS setting W (S2AP[1]) and AF, the TLB '
      + 'entry refreshed, the HDBSS entry appended / the PTA record made. No fault; the store retires next.' },
  { type: 'kvm/readFaultMapped', fields: { vcpu: 'vcpu', gfn: 'gfn' }, weight: 10,
    description: 'A guest load faults on an invalid descriptor; KVM maps the page read-only (user_mem_abort, read fault).' },
  { type: 'kvm/pteAged', fields: { gfn: 'gfn' }, weight: 3,
    description: 'Aging (kvm_pgtable_stage2_mkold) clears AF on a page descriptor with one atomic compare-and-swap.' },
  { type: 'kvm/pteRead', fields: { gfn: 'gfn' }, weight: 3,
    description: 'Knob `pte-update-not-atomic` (F3): the aging walker reads the descriptor (ctx->old) ...' },
  { type: 'kvm/pteWritten', fields: { gfn: 'gfn' }, weight: 10,
    description: '... and later writes `old & ~AF` with a plain store (WRITE_ONCE), discarding a hardware update in between.' },
  { type: 'mmu/rangeUnmapped', fields: { gfn: 'gfn' }, weight: 3,
    description: 'MMU-notifier unmap of the leaf covering `gfn` (page or block): break-before-make to invalid with an atomic '
      + 'exchange that returns the old descriptor, then TLBI. The page faults in again on its next access.' },
  { type: 'kvm/vmidRolledOver', fields: {}, weight: 3,
    description: 'VMID rollover (another VM allocated the last VMID): this VM\'s VMID is reassigned at its next vcpu_load.' },
] as const satisfies readonly EventDecl[];

export type HwEvent = EventOf<typeof HW_EVENTS[number]>;
