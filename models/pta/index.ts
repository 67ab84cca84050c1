/**
 * pta: the Graviton Page Tracking Agent RFC (2024): the first write to a page faults and is marked, later writes
 * after a re-protect are DBM hardware dirty-state updates logged by the page tracking device, which KVM reads at
 * kvm_arch_sync_dirty_log (bitmap). See pta.ts.
 */
import { makeMachineModel, type PresetBug } from '../machine/model.ts';
import { DEFAULT_CONFIG } from '../machine/state.ts';
import { INV_PTA_ATTR, INV_VMID } from './pta.ts';
import { HW_INVARIANTS } from '../hw-dirty/hw.ts';

export const PTA_BUGS: readonly PresetBug[] = [
  { id: 'pta-read-no-flush', ref: 'F6', expect: 'INV-FINAL',
    description: 'RFC patch 5: kvm_arch_sync_dirty_log reads the device without flushing it first; records still pending inside the device miss the final collection.' },
  { id: 'pta-vmid-stale', ref: 'F7', expect: 'INV-VMID',
    description: 'The tracker keeps the VMID captured at logging enable; after a VMID rollover the vCPUs run with a new VMID the device does not track.' },
  { id: 'dbm-on-readonly', ref: 'F8', expect: 'INV-DBM-SAFE',
    description: 'RFC patch 8: with hardware logging a read fault maps the page with DBM regardless of `writable`, e.g. onto the shared zero page.' },
];

export const pta = makeMachineModel({
  id: 'pta',
  version: 1,
  description: 'Graviton PTA device (RFC): first write faults, later writes via DBM logged by the device; KVM reads it into the dirty bitmap.',
  options: {
    consumer: ['bitmap'],
    producer: ['pta'],
    manualProtect: [false, true],
  },
  bugs: PTA_BUGS,
  invariants: [...HW_INVARIANTS, INV_VMID, INV_PTA_ATTR],
  checkConfig: DEFAULT_CONFIG,
  matrix: [
    {},
    { manualProtect: true },
  ],
});
