/**
 * Scenario examples for the dirty ring on the shared machine: the soft-full request, KVM_EXIT_DIRTY_RING_FULL,
 * the reap (harvest in order, RESET, whole-VM flush, re-arm), the request consumed only at guest entry; and where
 * a write with no running vCPU goes (backup bitmap, dropped, or copied by the VMM itself).
 */
import { describe, expect, it } from 'vitest';
import { mutableCopy } from '../../src/core/engine.ts';
import { markPageDirty } from '../machine/kvm.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { bitGet } from '../machine/paged.ts';
import { D_VALID, D_W, leafOf } from '../machine/pagetable.ts';
import { REQ_RING_SOFT_FULL, type MachineConfig, type MachineState } from '../machine/state.ts';
import { dirtyRing } from './index.ts';
import { INV_RING_BOUND, INV_RING_FIFO, INV_RING_GATE, ringExt, ringMechanism } from './mechanism.ts';
import { used } from './ring.ts';

const CONFIG: MachineConfig = {
  vcpus: 1, pes: 1, slots: [{ base: 0, npages: 8 }], blocks: false, tlbEntries: 4, stolenTime: false, itsPages: [5],
  rounds: 1, storePages: [],
};

function start(options: { [k: string]: boolean | number } = {}, bugs: string[] = []): MachineState {
  return mutableCopy(dirtyRing.init(dirtyRing.design(options, bugs), CONFIG));
}

function step(s: MachineState, e: MachineEvent): void {
  expect(dirtyRing.isEnabled(s, e), `${dirtyRing.describeEvent(e)} should be enabled`).toBe(true);
  dirtyRing.apply(s, e);
  for (const inv of dirtyRing.invariants) expect(inv.check(s), inv.id).toBeNull();
}

function fault(s: MachineState, gfn: number): void {
  step(s, { type: 'guest/storeIssued', vcpu: 0, gfn });
  step(s, { type: 'guest/storeFaulted', vcpu: 0, gfn });
  step(s, { type: 'kvm/faultMapped', vcpu: 0, gfn });
  step(s, { type: 'kvm/faultMarked', vcpu: 0, gfn });
}

/** Re-enters the guest and retires the store that faulted. */
function retire(s: MachineState, gfn: number): void {
  step(s, { type: 'vcpu/entered', vcpu: 0 });
  step(s, { type: 'guest/storeRetired', vcpu: 0, gfn });
}

describe('dirty ring on the machine: soft-full exit and reap', () => {
  it('a push reaching the soft limit sets the request; the vCPU exits with RING_FULL, waits for the reap, and the request is consumed at entry', () => {
    const s = start({ ringEntries: 4 }); // soft limit 2
    step(s, { type: 'kvm/loggingEnabled', slot: 0 });
    for (let g = 0; g < 8; g++) step(s, { type: 'vmm/pageCopied', gfn: g });
    step(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 });
    step(s, { type: 'vcpu/entered', vcpu: 0 });
    fault(s, 1);
    retire(s, 1);
    fault(s, 2);
    const R = ringExt(s);
    expect(used(R.rings[0]!)).toBe(2);
    expect(s.vcpus[0]!.requests & REQ_RING_SOFT_FULL).toBe(REQ_RING_SOFT_FULL);
    expect(dirtyRing.isEnabled(s, { type: 'vcpu/entered', vcpu: 0 })).toBe(false);
    step(s, { type: 'vcpu/ringFullExited', vcpu: 0 });
    expect(dirtyRing.isEnabled(s, { type: 'vcpu/ringFullExited', vcpu: 0 })).toBe(false);
    step(s, { type: 'vcpu/put', vcpu: 0 });
    expect(dirtyRing.isEnabled(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 })).toBe(false);
    // The reaper: harvest in order (index 1 before index 0 is not enabled), then RESET.
    expect(dirtyRing.isEnabled(s, { type: 'ring/entryHarvested', vcpu: 0, index: 1 })).toBe(false);
    step(s, { type: 'ring/entryHarvested', vcpu: 0, index: 0 });
    step(s, { type: 'ring/entryHarvested', vcpu: 0, index: 1 });
    step(s, { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 0 });
    expect(s.vmm.ioctl).toMatchObject({ kind: 'reset', deliver: [1, 2], rearmed: [1, 2], flush: true });
    expect(leafOf(s.s2, 1) & D_W).toBe(0);
    expect(leafOf(s.s2, 2) & (D_VALID | D_W)).toBe(D_VALID);
    step(s, { type: 'kvm/ioctlReturned', slot: 0 });
    expect(s.pes[0]!.tlb).toEqual([]);
    expect(s.vmm.toCopyCount).toBe(2);
    expect(used(R.rings[0]!)).toBe(0);
    // The reset did not touch the request: only guest entry consumes it.
    expect(s.vcpus[0]!.requests & REQ_RING_SOFT_FULL).toBe(REQ_RING_SOFT_FULL);
    step(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 });
    step(s, { type: 'vcpu/entered', vcpu: 0 });
    expect(s.vcpus[0]!.requests & REQ_RING_SOFT_FULL).toBe(0);
    // The store to page 2 re-executes against the re-armed page: it faults again (a new report).
    expect(dirtyRing.isEnabled(s, { type: 'guest/storeRetired', vcpu: 0, gfn: 2 })).toBe(false);
    step(s, { type: 'guest/storeFaulted', vcpu: 0, gfn: 2 });
    expect(ringExt(s).entryUsed[0]).toBe(0);
    expect(s.stats['ringFullExits']).toBe(1);
  });

  it('duplicate pushes are kept and counted (a second fault on a re-armed page before RESET)', () => {
    const s = start({ ringEntries: 16 });
    step(s, { type: 'kvm/loggingEnabled', slot: 0 });
    step(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 });
    step(s, { type: 'vcpu/entered', vcpu: 0 });
    fault(s, 3);
    retire(s, 3);
    // A second mark of the same page while its entry is un-reset (e.g. a PV write): pushed again.
    markPageDirty(s, 3, 0);
    expect(used(ringExt(s).rings[0]!)).toBe(2);
    expect(s.stats['ringEntries']).toBe(2);
    expect(s.stats['ringDuplicates']).toBe(1);
  });
});

describe('the ring state invariants can fail (states no correct design reaches)', () => {
  function twoEntries(): MachineState {
    const s = start({ ringEntries: 4 });
    step(s, { type: 'kvm/loggingEnabled', slot: 0 });
    step(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 });
    markPageDirty(s, 1, 0);
    markPageDirty(s, 2, 0);
    return s;
  }
  it('INV-RING-BOUND: more un-reset entries than the ring holds (a push into a full ring)', () => {
    const s = twoEntries();
    for (let i = 0; i < 3; i++) markPageDirty(s, 3 + i, 0);
    expect(INV_RING_BOUND.check(s)?.invariant).toBe('INV-RING-BOUND');
    expect(s.stats['ringOverflows']).toBe(1);
  });
  it('INV-RING-FIFO: an entry inside [fetch, dirty) that is not DIRTY, or a harvest past dirty_index', () => {
    const s = twoEntries();
    expect(INV_RING_FIFO.check(s)).toBeNull();
    ringExt(s).rings[0]!.flags[1] = 0;
    expect(INV_RING_FIFO.check(s)?.invariant).toBe('INV-RING-FIFO');
    const t = twoEntries();
    ringExt(t).rings[0]!.fetchIndex = 3;
    expect(INV_RING_FIFO.check(t)?.invariant).toBe('INV-RING-FIFO');
  });
  it('INV-RING-GATE: a vCPU in the guest that entered at the soft limit', () => {
    const s = twoEntries(); // soft limit 2 reached: the request is set and entry is refused
    expect(dirtyRing.isEnabled(s, { type: 'vcpu/entered', vcpu: 0 })).toBe(false);
    s.vcpus[0]!.requests &= ~REQ_RING_SOFT_FULL; // what B5's reset thread does
    expect(dirtyRing.isEnabled(s, { type: 'vcpu/entered', vcpu: 0 })).toBe(true);
    dirtyRing.apply(s, { type: 'vcpu/entered', vcpu: 0 });
    expect(INV_RING_GATE.check(s)?.invariant).toBe('INV-RING-GATE');
  });
});

describe('ring precision metrics', () => {
  it('an entry pushed for a page not written since it was handed to the VMM is an unjustified report; a fault\'s own push is not', () => {
    const s = start({ ringEntries: 16 });
    step(s, { type: 'kvm/loggingEnabled', slot: 0 });
    for (let g = 0; g < 8; g++) step(s, { type: 'vmm/pageCopied', gfn: g });
    step(s, { type: 'vcpu/loaded', vcpu: 0, pe: 0 });
    step(s, { type: 'vcpu/entered', vcpu: 0 });
    fault(s, 3);
    markPageDirty(s, 4, 0); // a mark with no write to page 4 (what a buggy marker would do)
    step(s, { type: 'ring/entryHarvested', vcpu: 0, index: 0 });
    expect(s.stats['ringUnjustified']).toBe(0);
    step(s, { type: 'ring/entryHarvested', vcpu: 0, index: 1 });
    expect(s.stats['ringUnjustified']).toBe(1);
    expect(dirtyRing.metrics(s)['ringUnjustifiedRate']).toBe(0.5);
  });
});

describe('writes with no running vCPU (vgic-ITS table save)', () => {
  function its(options: { [k: string]: boolean | number }, bugs: string[] = []): MachineState {
    const s = start(options, bugs);
    step(s, { type: 'kvm/loggingEnabled', slot: 0 });
    markPageDirty(s, 5, -1);
    return s;
  }
  it('WITH_BITMAP: the mark goes to the backup bitmap, not to a ring', () => {
    const s = its({ ringWithBitmap: true });
    expect(bitGet(s.slots[0]!.bitmap!, 5)).toBe(true);
    expect(used(ringExt(s).rings[0]!)).toBe(0);
  });
  it('B6 knob: dropped although the backup bitmap exists', () => {
    const s = its({ ringWithBitmap: true }, ['novcpu-write-dropped']);
    expect(bitGet(s.slots[0]!.bitmap!, 5)).toBe(false);
    expect(s.stats['droppedMarks']).toBe(1);
  });
  it('ring-only VM: no memslot bitmap, the kernel drops the mark, the conforming VMM copies the ITS pages itself', () => {
    const s = its({ ringWithBitmap: false });
    expect(s.slots[0]!.bitmap).toBeNull();
    expect(s.stats['droppedMarks']).toBe(1);
    expect(ringExt(s).always).toEqual([5]);
    // The backup-bitmap GET is never a step of a ring-only VM (it would fail with -ENXIO).
    expect(dirtyRing.isEnabled(s, { type: 'kvm/dirtyLogHarvested', slot: 0 })).toBe(false);
  });
  it('B6 knob (userspace): ring-only VM relying on tracking for the ITS pages', () => {
    const s = its({ ringWithBitmap: false }, ['ring-without-bitmap-its']);
    expect(ringExt(s).always).toEqual([]);
  });
});

describe('enabled computes what its candidates share once per state', () => {
  it('the VMM\'s next collection step is computed once per state, however many candidates need it', () => {
    const hook = ringMechanism.collectStep!;
    let calls = 0;
    ringMechanism.collectStep = (s, memo) => { calls++; return hook(s, memo); };
    // States where several candidates need the step: the step itself plus the signal-interrupted resets, the
    // final collection's GET of the backup bitmap (WITH_BITMAP), and the adversary's re-flagging reset.
    const shared = new Set<string>();
    try {
      for (const options of [{}, { adversary: true }, { ringEntries: 4, ringWithBitmap: false }] as { [k: string]: boolean | number }[]) {
        const design = dirtyRing.design(options, []);
        for (let seed = 1; seed <= 4; seed++) {
          const s = mutableCopy(dirtyRing.init(design, dirtyRing.defaultConfig));
          for (let i = 0; i < 400 && !dirtyRing.isFinal(s); i++) {
            calls = 0;
            const en = dirtyRing.enabled(s);
            expect(calls, `${JSON.stringify(options)} step ${i}: ${en.map((e) => e.type).join(', ')}`).toBeLessThanOrEqual(1);
            const users = en.filter((e) => e.type === 'kvm/dirtyRingsReset' || e.type === 'kvm/dirtyLogHarvested'
              || e.type === 'vmm/untrackedPagesQueued' || e.type === 'vmm/ringCollectionCompleted');
            if (users.length > 0) shared.add(users.map((e) => e.type).join('+'));
            const e = i < 120 ? en[(i * 7 + seed * 13) % en.length] ?? null : dirtyRing.finish(s);
            if (e === null) break;
            dirtyRing.apply(s, e);
          }
        }
      }
    } finally {
      ringMechanism.collectStep = hook;
    }
    expect([...shared]).toEqual(expect.arrayContaining(['kvm/dirtyRingsReset+kvm/dirtyRingsReset', 'kvm/dirtyLogHarvested']));
  });
});

describe('dirty ring on the machine: the weak-memory layer (option weakMemory)', () => {
  /** Logging on, the bulk copy done, vCPU 0 running. */
  function running(s: MachineState, vcpus = 1): void {
    step(s, { type: 'kvm/loggingEnabled', slot: 0 });
    for (let g = 0; g < 8; g++) step(s, { type: 'vmm/pageCopied', gfn: g });
    for (let v = 0; v < vcpus; v++) {
      step(s, { type: 'vcpu/loaded', vcpu: v, pe: v });
      step(s, { type: 'vcpu/entered', vcpu: v });
    }
  }

  it('the harvester cannot see an entry whose DIRTY store is still buffered; ring/dirtyFlagVisible publishes it', () => {
    const s = start({ weakMemory: true });
    running(s);
    fault(s, 1);
    const r = ringExt(s).rings[0]!;
    expect([r.dirtyIndex, r.dirtyBuffered]).toEqual([1, 1]);
    expect(dirtyRing.isEnabled(s, { type: 'ring/entryHarvested', vcpu: 0, index: 0 })).toBe(false);
    step(s, { type: 'ring/dirtyFlagVisible', vcpu: 0 });
    expect(dirtyRing.isEnabled(s, { type: 'ring/dirtyFlagVisible', vcpu: 0 })).toBe(false);
    expect(dirtyRing.isEnabled(s, { type: 'ring/entryHarvested', vcpu: 0, index: 0 })).toBe(true);
  });

  it('driven to the end with a DIRTY store still buffered, the final collection waits for it and copies the page (no loss)', () => {
    const s = start({ weakMemory: true });
    running(s);
    fault(s, 1);
    retire(s, 1);
    expect(ringExt(s).rings[0]!.dirtyBuffered).toBe(1);
    s.vmm.round = s.config.rounds; // the pre-copy rounds are over: the next collection is the final one
    const seen: string[] = [];
    for (let i = 0; i < 500 && !dirtyRing.isFinal(s); i++) {
      const e = dirtyRing.finish(s);
      expect(e, 'the completion phase found a step').not.toBeNull();
      seen.push(e!.type);
      step(s, e!); // every invariant (INV-NOLOSS, INV-FINAL, ...) after every event
    }
    expect(dirtyRing.isFinal(s)).toBe(true);
    expect(seen).toContain('ring/dirtyFlagVisible');
    expect(seen.indexOf('vmm/vmStopped')).toBeLessThan(seen.indexOf('ring/dirtyFlagVisible'));
    expect(seen.indexOf('ring/dirtyFlagVisible')).toBeLessThan(seen.indexOf('ring/entryHarvested'));
  });

  it('a reset that stops at one ring\'s buffered RESET and consumes another ring hands the VMM that other ring\'s page', () => {
    const s = mutableCopy(dirtyRing.init(dirtyRing.design({ weakMemory: true }), { ...CONFIG, vcpus: 2, pes: 2 }));
    running(s, 2);
    fault(s, 1); // vCPU 0 pushes page 1
    step(s, { type: 'guest/storeIssued', vcpu: 1, gfn: 2 });
    step(s, { type: 'guest/storeFaulted', vcpu: 1, gfn: 2 });
    step(s, { type: 'kvm/faultMapped', vcpu: 1, gfn: 2 });
    step(s, { type: 'kvm/faultMarked', vcpu: 1, gfn: 2 });
    step(s, { type: 'ring/dirtyFlagVisible', vcpu: 0 });
    step(s, { type: 'ring/dirtyFlagVisible', vcpu: 1 });
    step(s, { type: 'ring/entryHarvested', vcpu: 0, index: 0 });
    step(s, { type: 'ring/entryHarvested', vcpu: 1, index: 0 });
    step(s, { type: 'ring/resetFlagVisible', vcpu: 1 }); // ring 0's RESET still buffered
    step(s, { type: 'kvm/dirtyRingsReset', signal: 0, reflag: 0 });
    const io = s.vmm.ioctl!;
    expect([io.deliver, io.rearmed]).toEqual([[2], [2]]);
    expect(ringExt(s).harvested).toEqual([[1], []]);
  });
});
