/**
 * Events of the ARM hardware dirty-state mechanisms (FEAT_HAFDBS at stage 2, FEAT_HDBSS, the PTA device), added
 * to the machine's event union (model-events.ts) and to the untrusted-trace schema (`EVENT_FIELDS`).
 *
 * Each event carries the ids it acts on, so a trace reads on its own.
 */
import { EVENT_FIELDS } from '../machine/events.ts';

export type HwEvent =
  /**
   * The PE running `vcpu` performs the stage-2 hardware dirty-state update for the vCPU's pending store to a
   * writable-clean descriptor (DBM=1, W=0) with VTCR_EL2.{HA,HD}: one atomic CAS setting W (S2AP[1]) and AF,
   * the TLB entry refreshed, the HDBSS entry appended / the PTA record made. No fault; the store retires next.
   */
  | { readonly type: 'hw/dirtyStateUpdated'; readonly vcpu: number; readonly gfn: number }
  /** A guest load faults on an invalid descriptor; KVM maps the page read-only (user_mem_abort, read fault). */
  | { readonly type: 'kvm/readFaultMapped'; readonly vcpu: number; readonly gfn: number }
  /** Aging (kvm_pgtable_stage2_mkold) clears AF on a page descriptor with one atomic compare-and-swap. */
  | { readonly type: 'kvm/pteAged'; readonly gfn: number }
  /** Knob `pte-update-not-atomic` (F3): the aging walker reads the descriptor (ctx->old) ... */
  | { readonly type: 'kvm/pteRead'; readonly gfn: number }
  /** ... and later writes `old & ~AF` with a plain store (WRITE_ONCE), discarding a hardware update in between. */
  | { readonly type: 'kvm/pteWritten'; readonly gfn: number }
  /**
   * MMU-notifier unmap of the leaf covering `gfn` (page or block): break-before-make to invalid with an atomic
   * exchange that returns the old descriptor, then TLBI. The page faults in again on its next access.
   */
  | { readonly type: 'mmu/rangeUnmapped'; readonly gfn: number }
  /** VMID rollover (another VM allocated the last VMID): this VM's VMID is reassigned at its next vcpu_load. */
  | { readonly type: 'kvm/vmidRolledOver' };

export type HdbssEvent =
  /** KVM turns HDBSS on (VTCR_EL2.{HA,HD,HDBSS}); buffers exist from vCPU creation. */
  | { readonly type: 'hdbss/trackingEnabled' }
  /** The HDBSS write for the vCPU's hardware dirty update takes an external abort: FSC set, the entry lost. */
  | { readonly type: 'hdbss/appendAborted'; readonly vcpu: number; readonly gfn: number }
  /** The store to a writable-clean page finds the buffer full (or FSC != 0): stage-2 permission fault, HDBSSF=1. */
  | { readonly type: 'hdbss/fullFaulted'; readonly vcpu: number; readonly gfn: number }
  /** KVM's handler for the HDBSSF permission fault (kvm_handle_hdbss_fault). */
  | { readonly type: 'kvm/hdbssFaultHandled'; readonly vcpu: number; readonly gfn: number }
  /** KVM drains the vCPU's buffer into the dirty log (handle_exit / KVM_REQ_FLUSH_HDBSS), in host context. */
  | { readonly type: 'hdbss/bufferDrained'; readonly vcpu: number };

export type PtaEvent =
  /** kvm_arch_enable_dirty_logging: allocate the tracker with config.vmid = the VM's VMID, enable it for all CPUs. */
  | { readonly type: 'pta/trackingEnabled'; readonly vmid: number }
  /** The device makes its oldest pending record readable on its own (internal drain; `flush` does all of them). */
  | { readonly type: 'pta/recordPublished' }
  /** KVM flushes the device and reads the dirty pages of one CPU (the vCPU's PE) into that vCPU's log. */
  | { readonly type: 'pta/cpuLogRead'; readonly vcpu: number; readonly pe: number };

Object.assign(EVENT_FIELDS, {
  'hw/dirtyStateUpdated': { vcpu: 'vcpu', gfn: 'gfn' },
  'kvm/readFaultMapped': { vcpu: 'vcpu', gfn: 'gfn' },
  'kvm/pteAged': { gfn: 'gfn' },
  'kvm/pteRead': { gfn: 'gfn' },
  'kvm/pteWritten': { gfn: 'gfn' },
  'mmu/rangeUnmapped': { gfn: 'gfn' },
  'kvm/vmidRolledOver': {},
  'hdbss/trackingEnabled': {},
  'hdbss/appendAborted': { vcpu: 'vcpu', gfn: 'gfn' },
  'hdbss/fullFaulted': { vcpu: 'vcpu', gfn: 'gfn' },
  'kvm/hdbssFaultHandled': { vcpu: 'vcpu', gfn: 'gfn' },
  'hdbss/bufferDrained': { vcpu: 'vcpu' },
  'pta/trackingEnabled': { vmid: 'u32' },
  'pta/recordPublished': {},
  'pta/cpuLogRead': { vcpu: 'vcpu', pe: 'pe' },
});

/**
 * Scheduler weights (model.ts WEIGHTS): the hardware update and the HDBSSF fault are steps of a guest store (as
 * heavy as the store path); KVM's handlers and drains are frequent host work; aging, unmaps, read faults and
 * VMID rollovers are background noise.
 */
export const HW_WEIGHTS: { readonly [type: string]: number } = {
  'hw/dirtyStateUpdated': 60, 'hdbss/fullFaulted': 60, 'kvm/hdbssFaultHandled': 60, 'hdbss/appendAborted': 3,
  'hdbss/bufferDrained': 10, 'hdbss/trackingEnabled': 5,
  'kvm/readFaultMapped': 10, 'kvm/pteAged': 3, 'kvm/pteRead': 3, 'kvm/pteWritten': 10, 'mmu/rangeUnmapped': 3,
  'kvm/vmidRolledOver': 3, 'pta/trackingEnabled': 5, 'pta/recordPublished': 5, 'pta/cpuLogRead': 10,
};
