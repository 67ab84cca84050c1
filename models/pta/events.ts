/**
 * The PTA device's own events (Graviton Page Tracking Agent RFC), by declaration (`EventDecl`,
 * models/machine/events.ts), listed once in models/mechanisms.ts.
 */
import type { EventDecl, EventOf } from '../machine/events.ts';

export const PTA_EVENTS = [
  { type: 'pta/trackingEnabled', fields: { vmid: 'u32' }, weight: 5,
    description: 'kvm_arch_enable_dirty_logging: allocate the tracker with config.vmid = the VM\'s VMID, enable it for all CPUs.' },
  { type: 'pta/recordPublished', fields: {}, weight: 5,
    description: 'The device makes its oldest pending record readable on its own (internal drain; `flush` does all of them).' },
  { type: 'pta/cpuLogRead', fields: { vcpu: 'vcpu', pe: 'pe' }, weight: 10,
    description: 'KVM flushes the device and reads the dirty pages of one CPU (the vCPU\'s PE) into that vCPU\'s log.' },
] as const satisfies readonly EventDecl[];

export type PtaEvent = EventOf<typeof PTA_EVENTS[number]>;
