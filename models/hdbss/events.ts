/**
 * FEAT_HDBSS's own events, by declaration (`EventDecl`, models/machine/events.ts), listed once in
 * models/mechanisms.ts. Weights: the HDBSSF fault and its handler are steps of a guest store (as heavy as the
 * store path); drains are frequent host work; an aborted append is rare.
 */
import type { EventDecl, EventOf } from '../machine/events.ts';

export const HDBSS_EVENTS = [
  { type: 'hdbss/trackingEnabled', fields: {}, weight: 5,
    description: 'KVM turns HDBSS on (VTCR_EL2.{HA,HD,HDBSS}); buffers exist from vCPU creation.' },
  { type: 'hdbss/appendAborted', fields: { vcpu: 'vcpu', gfn: 'gfn' }, weight: 3,
    description: 'The HDBSS write for the vCPU\'s hardware dirty update takes an external abort: FSC set, the entry lost.' },
  { type: 'hdbss/fullFaulted', fields: { vcpu: 'vcpu', gfn: 'gfn' }, weight: 60,
    description: 'The store to a writable-clean page finds the buffer full (or FSC != 0): stage-2 permission fault, HDBSSF=1.' },
  { type: 'kvm/hdbssFaultHandled', fields: { vcpu: 'vcpu', gfn: 'gfn' }, weight: 60,
    description: 'KVM\'s handler for the HDBSSF permission fault (kvm_handle_hdbss_fault).' },
  { type: 'hdbss/bufferDrained', fields: { vcpu: 'vcpu' }, weight: 10,
    description: 'KVM drains the vCPU\'s buffer into the dirty log (handle_exit / KVM_REQ_FLUSH_HDBSS), in host context.' },
  // Requests, kicks and completion (options kicks / enableRequest / hdbssDisable; requests.ts): the caller's request, the
  // IPI to a vCPU in guest mode, the vCPU handling the request in its run loop, and the caller released.
  { type: 'hdbss/flushRequested', fields: {}, weight: 10,
    description: 'kvm_arch_sync_dirty_log (option kicks, v3): kvm_make_all_cpus_request(KVM_REQ_FLUSH_HDBSS) to every loaded vCPU, a kick IPI to each in guest mode; the GET waits.' },
  // Weight 0.1: a once-per-run VMM action; at 1 the seeded scheduler of `dtsim check` disabled HDBSS so early that
  // the row rarely filled a buffer (hdbss-full-fault a coverage GAP for about one seed in 20; hdbss.test.ts
  // "coverage"). Choice sequences (the property suite, dtsim bugs, explore) round every weight up to 1.
  { type: 'hdbss/disableRequested', fields: {}, weight: 0.1,
    description: 'KVM turns HDBSS off (option hdbssDisable, v3 KVM_ENABLE_CAP args[1]=0): VTCR_EL2.{HD,HDBSS} cleared for the VM, KVM_REQ_FLUSH_HDBSS to every loaded vCPU; the buffers are freed when the caller is released.' },
  { type: 'kvm/kickDelivered', fields: { vcpu: 'vcpu' }, weight: 20,
    description: 'The kick IPI (kvm_kick_many_cpus: smp_call_function_many(ack_kick)) reaches a vCPU in guest mode: it exits to the host.' },
  { type: 'kvm/requestNoticed', fields: { vcpu: 'vcpu' }, weight: 20,
    description: 'check_vcpu_requests in the vCPU\'s run loop (host context, before its next entry): KVM_REQ_FLUSH_HDBSS drains the buffer (and reloads VTCR_EL2 after a disable); the request is acknowledged.' },
  { type: 'kvm/requestCompleted', fields: {}, weight: 10,
    description: 'The caller of kvm_make_all_cpus_request is released: every targeted vCPU acknowledged the request (the sync\'s GET may take its snapshot; the disable frees the buffers).' },
  { type: 'kvm/switchTlbiIssued', fields: {}, weight: 10,
    description: 'kvmTlbi events: the HDBSS enable\'s VMID-wide TLBI (the mode switch\'s kvm_flush_remote_tlbs), a step of its own the enable owes; KVM_ENABLE_CAP returns with it.' },
  { type: 'hdbss/entryWriteCompleted', fields: { pe: 'pe' }, weight: 8,
    description: 'weakMemory: the oldest outstanding HDBSS entry write of the PE becomes observable to its EL2 accesses (without waiting for a DSB).' },
] as const satisfies readonly EventDecl[];

export type HdbssEvent = EventOf<typeof HDBSS_EVENTS[number]>;
