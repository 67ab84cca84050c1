/**
 * FEAT_HAFDBS at stage 2, unit examples (arm reference 1.3-1.7): the hardware dirty-state update of a
 * writable-clean descriptor, the DBM=0 permission fault, stale writable TLB entries, atomic vs split software PTE
 * updates (INV-CAS), the page-table scan, break-before-make unmaps, and the mode switch's TLBI.
 */
import { describe, expect, it } from 'vitest';
import { hdbss } from '../hdbss/index.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import type { MachineConfig, MachineState } from '../machine/state.ts';
import { bitGet, bitsNew } from '../machine/paged.ts';
import { D_AF, D_BLOCK, D_DBM, D_VALID, D_W, leafOf, setL2, setPage } from '../machine/pagetable.ts';
import { INV_CAS } from './hw.ts';
import { INV_FLUSH } from '../machine/invariants.ts';

const CONFIG: MachineConfig = {
  vcpus: 2, pes: 2, slots: [{ base: 0, npages: 8 }], blocks: false, tlbEntries: 4, stolenTime: false,
  itsPages: [], rounds: 1, storePages: [1, 2, 3],
};
const WC = D_VALID | D_AF | D_DBM;
const WD = WC | D_W;

function start(options: { [k: string]: number | boolean | string }, bugs: string[] = [], config = CONFIG): MachineState {
  const s = structuredClone(hdbss.init(hdbss.design(options, bugs), config));
  return s;
}
function step(s: MachineState, e: MachineEvent): void {
  expect(hdbss.isEnabled(s, e), `${hdbss.describeEvent(e)} enabled`).toBe(true);
  hdbss.apply(s, e);
}
function en(s: MachineState, e: MachineEvent): boolean {
  return hdbss.isEnabled(s, e);
}
/** Logging on, the bulk copy done, vCPU 0 running on PE 0. */
function running(options: { [k: string]: number | boolean | string }, bugs: string[] = [], config = CONFIG): MachineState {
  const s = start(options, bugs, config);
  step(s, { type: 'kvm/loggingEnabled', slot: 0 });
  s.vmm.toCopy = bitsNew(s.totalPages, false);
  s.vmm.toCopyCount = 0;
  step(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 });
  step(s, { type: 'vcpu/entered', vcpu: 0 });
  return s;
}

describe('hardware dirty state on a store', () => {
  it('writable-clean with HA|HD: no fault, one update sets W and AF, then the store retires', () => {
    const s = running({ producer: 'dbm' });
    expect(s.pes[0]!.vtcr & 3).toBe(3);
    setPage(s.s2, 2, WC);
    step(s, { type: 'guest/storeIssued', vcpu: 0, gfn: 2 });
    expect(en(s, { type: 'guest/storeFaulted', vcpu: 0, gfn: 2 })).toBe(false);
    expect(en(s, { type: 'guest/storeRetired', vcpu: 0, gfn: 2 })).toBe(false);
    step(s, { type: 'hw/dirtyStateUpdated', vcpu: 0, gfn: 2 });
    expect(leafOf(s.s2, 2)).toBe(WD);
    step(s, { type: 'guest/storeRetired', vcpu: 0, gfn: 2 });
  });
  it('DBM=0 and W=0: a permission fault, no hardware update', () => {
    const s = running({ producer: 'dbm' });
    setPage(s.s2, 2, D_VALID | D_AF);
    step(s, { type: 'guest/storeIssued', vcpu: 0, gfn: 2 });
    expect(en(s, { type: 'hw/dirtyStateUpdated', vcpu: 0, gfn: 2 })).toBe(false);
    step(s, { type: 'guest/storeFaulted', vcpu: 0, gfn: 2 });
  });
  it('a stale writable TLB entry completes the store with no descriptor access (no update)', () => {
    const s = running({ producer: 'dbm' });
    setPage(s.s2, 2, WC);
    step(s, { type: 'guest/storeIssued', vcpu: 0, gfn: 2 });
    step(s, { type: 'hw/dirtyStateUpdated', vcpu: 0, gfn: 2 });
    step(s, { type: 'guest/storeRetired', vcpu: 0, gfn: 2 });
    setPage(s.s2, 2, WC); // write-protected in memory, no TLBI yet
    step(s, { type: 'guest/storeIssued', vcpu: 0, gfn: 2 });
    expect(en(s, { type: 'hw/dirtyStateUpdated', vcpu: 0, gfn: 2 })).toBe(false);
    step(s, { type: 'guest/storeRetired', vcpu: 0, gfn: 2 });
    expect(leafOf(s.s2, 2)).toBe(WC);
  });
});

describe('software PTE updates racing the hardware (INV-CAS)', () => {
  it('aging is one atomic CAS: it clears AF and nothing can land in between', () => {
    const s = running({ producer: 'dbm' });
    setPage(s.s2, 2, WC);
    step(s, { type: 'kvm/pteAged', gfn: 2 });
    expect(leafOf(s.s2, 2)).toBe(WC & ~D_AF);
    expect(en(s, { type: 'kvm/pteRead', gfn: 2 })).toBe(false);
  });
  it('F3: read, hardware update, plain write: the W bit the hardware set is discarded', () => {
    const s = running({ producer: 'dbm' }, ['pte-update-not-atomic']);
    setPage(s.s2, 2, WC);
    expect(en(s, { type: 'kvm/pteAged', gfn: 2 })).toBe(false);
    step(s, { type: 'kvm/pteRead', gfn: 2 });
    step(s, { type: 'guest/storeIssued', vcpu: 0, gfn: 2 });
    step(s, { type: 'hw/dirtyStateUpdated', vcpu: 0, gfn: 2 });
    expect(INV_CAS.check(s)).toBeNull();
    step(s, { type: 'kvm/pteWritten', gfn: 2 });
    expect(leafOf(s.s2, 2) & D_W).toBe(0);
    expect(INV_CAS.check(s)?.invariant).toBe('INV-CAS');
  });
});

describe('page-table scan and break-before-make (producer dbm)', () => {
  it('kvm_arch_sync_dirty_log marks every page of a writable-dirty block, and a writable-dirty page', () => {
    const cfg: MachineConfig = { ...CONFIG, slots: [{ base: 0, npages: 520 }], storePages: [0, 515] };
    const s = running({ producer: 'dbm' }, [], cfg);
    setL2(s.s2, 0, WD | D_BLOCK);
    setPage(s.s2, 515, WD);
    setPage(s.s2, 516, WC);
    step(s, { type: 'kvm/dirtyLogHarvested', slot: 0 });
    const got = [...s.vmm.ioctl!.deliver].sort((a, b) => a - b);
    expect(got.length).toBe(513);
    expect(got[511]).toBe(511);
    expect(got[512]).toBe(515);
    // ... and re-arms them writable-clean.
    expect(leafOf(s.s2, 5)).toBe(WC | D_BLOCK);
  });
  it('an unmap (break-before-make) of a writable-dirty page saves its dirty state; F4 drops it', () => {
    for (const bug of [false, true]) {
      const s = running({ producer: 'dbm' }, bug ? ['bbm-drops-hw-dirty'] : []);
      setPage(s.s2, 2, WD);
      step(s, { type: 'mmu/rangeUnmapped', gfn: 2 });
      expect(leafOf(s.s2, 2)).toBe(0);
      expect(bitGet(s.slots[0]!.bitmap!, 2)).toBe(!bug);
    }
  });
});

describe('the switch to HDBSS mode', () => {
  it('cleans writable-dirty leaves of logging slots and invalidates the VMID; F19 leaves a writable TLB entry: INV-FLUSH', () => {
    for (const bug of [false, true]) {
      const s = running({}, bug ? ['vtcr-switch-no-tlbi'] : []);
      step(s, { type: 'guest/storeIssued', vcpu: 0, gfn: 2 });
      step(s, { type: 'guest/storeFaulted', vcpu: 0, gfn: 2 });
      step(s, { type: 'kvm/faultMapped', vcpu: 0, gfn: 2 });
      step(s, { type: 'kvm/faultMarked', vcpu: 0, gfn: 2 });
      step(s, { type: 'vcpu/entered', vcpu: 0 });
      step(s, { type: 'guest/storeRetired', vcpu: 0, gfn: 2 });
      step(s, { type: 'hdbss/trackingEnabled' });
      expect(leafOf(s.s2, 2)).toBe(WC);
      expect(s.pes[0]!.tlb.length > 0).toBe(bug);
      expect(INV_FLUSH.check(s)?.invariant ?? null).toBe(bug ? 'INV-FLUSH' : null);
    }
  });
});
