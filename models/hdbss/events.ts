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
  { type: 'hdbss/entryWriteCompleted', fields: { pe: 'pe' }, weight: 8,
    description: 'weakMemory: the oldest outstanding HDBSS entry write of the PE becomes observable to its EL2 accesses (without waiting for a DSB).' },
] as const satisfies readonly EventDecl[];

export type HdbssEvent = EventOf<typeof HDBSS_EVENTS[number]>;
