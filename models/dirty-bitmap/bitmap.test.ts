/**
 * Example-based checks of the dirty-bitmap ioctls against the kernel's documented rules (kvm reference 3.3,
 * 3.4, 3.6 and B3): CLEAR validation and error codes, exact re-arming, GET snapshot-and-clear with the arm64
 * [ffs, fls] span, manual protect, INITIALLY_SET, and the v5.0 rules of the B3 knob.
 */
import { describe, expect, it } from 'vitest';
import { clearRangeErrno, EINVAL } from './bitmap.ts';
import { clearRequestValid, referenceClearRearm } from '../oracle/kvm-rules.ts';
import { dirtyBitmap } from './index.ts';
import { replay } from '../../src/core/engine.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { bitGet } from '../machine/paged.ts';
import { D_W, leafOf } from '../machine/pagetable.ts';
import type { MachineConfig, MachineState } from '../machine/state.ts';

describe('KVM_CLEAR_DIRTY_LOG validation (kvm_clear_dirty_log_protect)', () => {
  it('rejects a first_page that is not a multiple of 64', () => {
    expect(clearRangeErrno(200, 1, 64, false, true)).toBe(EINVAL);
    expect(clearRangeErrno(200, 63, 1, false, true)).toBe(EINVAL);
  });
  it('accepts num_pages == 0 (a no-op), also at first_page == npages', () => {
    expect(clearRangeErrno(200, 0, 0, false, true)).toBe(0);
    expect(clearRangeErrno(128, 128, 0, false, true)).toBe(0);
  });
  it('rejects ranges past the slot', () => {
    expect(clearRangeErrno(67, 128, 0, false, true)).toBe(EINVAL);
    expect(clearRangeErrno(67, 64, 64, false, true)).toBe(EINVAL);
  });
  it('accepts an unaligned num_pages only when the range ends at the slot end', () => {
    expect(clearRangeErrno(67, 64, 3, false, true)).toBe(0);
    expect(clearRangeErrno(67, 0, 3, false, true)).toBe(EINVAL);
    expect(clearRangeErrno(200, 0, 64, false, true)).toBe(0);
  });
  it('with the v5.0 rules (B3 knob) the unaligned tail can never be cleared', () => {
    expect(clearRangeErrno(67, 64, 3, true, true)).toBe(EINVAL);
    expect(clearRangeErrno(67, 64, 64, true, true)).toBe(EINVAL);
  });
  it('the reference contract agrees with the kernel rules on every small case', () => {
    for (let n = 1; n <= 130; n++) for (let f = 0; f <= 140; f += 1) for (const num of [0, 1, 3, 63, 64, 65, 128]) {
      expect(clearRangeErrno(n, f, num, false, true) === 0).toBe(clearRequestValid(n, f, num));
    }
  });
  it('re-arms exactly the requested bits that were set', () => {
    const set = new Set([1, 5, 64, 66]);
    expect(referenceClearRearm(67, 0, 64, [0, 1, 2, 5, 64], (o) => set.has(o))).toEqual([1, 5]);
    expect(referenceClearRearm(67, 64, 3, [64, 65, 66], (o) => set.has(o))).toEqual([64, 66]);
  });
});

const cfg: MachineConfig = { ...dirtyBitmap.defaultConfig, vcpus: 1, pes: 1, slots: [{ base: 0, npages: 67 }], stolenTime: false, itsPages: [], rounds: 1 };

function run(options: object, events: MachineEvent[], bugs: string[] = []): MachineState {
  const r = replay(dirtyBitmap, dirtyBitmap.design(options as never, bugs), cfg, events, { path: 'immer' });
  if (r.status === 'rejected') throw new Error(r.message);
  return r.state;
}

/** vCPU 0 on PE 0 stores to `g` through a write fault. */
const store = (g: number): MachineEvent[] => [
  { type: 'guest/storeIssued', vcpu: 0, gfn: g }, { type: 'guest/storeFaulted', vcpu: 0, gfn: g },
  { type: 'kvm/faultMapped', vcpu: 0, gfn: g }, { type: 'kvm/faultMarked', vcpu: 0, gfn: g },
  { type: 'vcpu/entered', vcpu: 0 }, { type: 'guest/storeRetired', vcpu: 0, gfn: g },
];
const start: MachineEvent[] = [{ type: 'vcpu/loaded', vcpu: 0, pe: 0 }, { type: 'vcpu/entered', vcpu: 0 }, { type: 'kvm/loggingEnabled', slot: 0 }];
const copyAll: MachineEvent[] = Array.from({ length: 67 }, (_, g) => ({ type: 'vmm/pageCopied', gfn: g }) as MachineEvent);

describe('dirty bitmap on the machine', () => {
  it('a write fault marks the page and makes it writable; GET reports it, re-arms it and flushes', () => {
    const s = run({}, [...start, ...copyAll, ...store(5), ...store(9), { type: 'kvm/dirtyLogHarvested', slot: 0 }, { type: 'kvm/ioctlReturned', slot: 0 }]);
    expect(bitGet(s.vmm.toCopy, 5) && bitGet(s.vmm.toCopy, 9)).toBe(true);
    expect(s.vmm.toCopyCount).toBe(2);
    expect(bitGet(s.slots[0]!.bitmap!, 5)).toBe(false);
    // arm64 write-protects the whole [ffs, fls] span of the word: 5..9.
    for (const g of [5, 6, 9]) expect(leafOf(s.s2, g) & D_W).toBe(0);
    expect(s.pes[0]!.tlb).toEqual([]);
  });
  it('manual protect: GET re-arms nothing; CLEAR re-arms the requested set bits only', () => {
    const s1 = run({ manualProtect: true }, [...start, ...copyAll, ...store(5), ...store(9), { type: 'kvm/dirtyLogFetched', slot: 0 }]);
    expect(bitGet(s1.slots[0]!.bitmap!, 5)).toBe(true);
    expect(leafOf(s1.s2, 5) & D_W).toBe(D_W);
    const s2 = run({ manualProtect: true }, [...start, ...copyAll, ...store(5), ...store(9), { type: 'kvm/dirtyLogFetched', slot: 0 },
      { type: 'kvm/dirtyLogCleared', slot: 0, firstPage: 0, numPages: 64, pages: [5, 9] }, { type: 'kvm/ioctlReturned', slot: 0 }]);
    expect(bitGet(s2.slots[0]!.bitmap!, 5)).toBe(false);
    expect(leafOf(s2.s2, 5) & D_W).toBe(0);
    expect(s2.vmm.toCopyCount).toBe(2);
  });
  it('precision: reports of written pages are justified; INITIALLY_SET reports of unwritten pages are not', () => {
    const s = run({}, [...start, ...copyAll, ...store(5), ...store(9), { type: 'kvm/dirtyLogHarvested', slot: 0 }, { type: 'kvm/ioctlReturned', slot: 0 }]);
    expect([s.stats.reports, s.stats.unjustified]).toEqual([2, 0]);
    const words: MachineEvent[] = [0, 1].map((w) => ({ type: 'kvm/dirtyLogCleared', slot: 0, firstPage: w * 64, numPages: w ? 3 : 64,
      pages: Array.from({ length: w ? 3 : 64 }, (_, i) => w * 64 + i) }) as MachineEvent);
    const t = run({ manualProtect: true, initiallySet: true }, [...start, ...store(5), { type: 'kvm/dirtyLogFetched', slot: 0 },
      words[0]!, { type: 'kvm/ioctlReturned', slot: 0 }, words[1]!, { type: 'kvm/ioctlReturned', slot: 0 }]);
    expect([t.stats.reports, t.stats.unjustified]).toEqual([67, 66]);
  });
  it('INITIALLY_SET: every bit starts set and nothing is write-protected at enable', () => {
    const s = run({ manualProtect: true, initiallySet: true }, [...start]);
    for (let o = 0; o < 67; o++) expect(bitGet(s.slots[0]!.bitmap!, o)).toBe(true);
    expect(s.vmm.toCopyCount).toBe(0);
  });
  it('rejects a CLEAR the VMM would not issue (wrong pages for the next word)', () => {
    expect(() => run({ manualProtect: true }, [...start, ...copyAll, ...store(5), { type: 'kvm/dirtyLogFetched', slot: 0 },
      { type: 'kvm/dirtyLogCleared', slot: 0, firstPage: 0, numPages: 64, pages: [6] }])).toThrow(/not enabled/);
  });
});
