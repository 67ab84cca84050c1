/**
 * Unit examples for the dirty ring's kernel algorithms (kvm reference section 4): u32 index arithmetic with
 * wrap, push / soft-full / full, in-order harvest, the RESET coalescing worked examples of section 4.6, input
 * validation (B12), the -EINTR path (B15), the INT_MAX bound under re-flagging (B11), and the size rules and
 * error codes of KVM_ENABLE_CAP and WITH_BITMAP (4.1).
 */
import { describe, expect, it } from 'vitest';
import {
  dirtyLogErrno, dirtyRingReset, E2BIG, EINTR, EINVAL, enableDirtyRing, enableRingWithBitmap, ENXIO, harvest,
  harvestable, INT_MAX, KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_RESET, maskOffsets, push, resetRingsErrno, ringNew, rsvdEntriesOf,
  softFull, used, visibleFlags, type ResetCall, type ResetEnv, type ResetTrace, type Ring,
} from './ring.ts';

const SLOTS = [{ base: 0, npages: 1000 }, { base: 1000, npages: 1000 }, { base: 2000, npages: 1000 }];

function env(over: Partial<ResetEnv> = {}, rearmed: [number, bigint, bigint][] = []): ResetEnv {
  return {
    slots: SLOTS, signalAt: 0, reflag: false, unbounded: false, acceptWrap: false, eintrSkipsBatch: false,
    rearm: (slot, off, mask) => { rearmed.push([slot, off, mask]); },
    ...over,
  };
}

function newTrace(): ResetTrace {
  return { consumed: [], calls: [], unterminated: false, interrupted: false };
}

/** Pushes (slot, offset) pairs, harvests them all, and runs one reset; returns the kvm_reset_dirty_gfn calls. */
function resetOf(pairs: [number, number][], over: Partial<ResetEnv> = {}, size = 16): { calls: ResetCall[]; cleared: number; ret: number; ring: Ring } {
  const r = ringNew(size);
  for (const [s, o] of pairs) push(r, s, o);
  while (harvestable(r)) harvest(r);
  const nr = { n: 0 };
  const t = newTrace();
  const ret = dirtyRingReset(r, env(over), nr, t);
  return { calls: t.calls, cleared: nr.n, ret, ring: r };
}

const call = (slot: number, offset: number | bigint, mask: bigint, accepted = true): ResetCall =>
  ({ slot, offset: BigInt(offset), mask, accepted });

describe('dirty ring indices (u32, free-running)', () => {
  it('wraps dirty_index and reset_index at 2^32 and keeps used = dirty - reset', () => {
    const r = ringNew(8, 0xfffffffe);
    for (let i = 0; i < 4; i++) push(r, 0, 10 + i);
    expect(r.dirtyIndex).toBe(2);
    expect(used(r)).toBe(4);
    // Entry of counter c at c & (size - 1): 0xfffffffe -> 6, 0xffffffff -> 7, 0 -> 0, 1 -> 1.
    expect([r.offLo[6], r.offLo[7], r.offLo[0], r.offLo[1]]).toEqual([10, 11, 12, 13]);
    const got: number[] = [];
    while (harvestable(r)) got.push(Number(harvest(r).offset));
    expect(got).toEqual([10, 11, 12, 13]);
    expect(r.fetchIndex).toBe(2);
    const nr = { n: 0 };
    const rearmed: [number, bigint, bigint][] = [];
    expect(dirtyRingReset(r, env({}, rearmed), nr, newTrace())).toBe(0);
    expect(nr.n).toBe(4);
    expect(r.resetIndex).toBe(2);
    expect(used(r)).toBe(0);
    expect(rearmed).toEqual([[0, 10n, 0b1111n]]);
  });

  it('push sets DIRTY, reports a push into a full ring (the kernel WARNs and overwrites), soft limit = size - rsvd', () => {
    const r = ringNew(4);
    expect(rsvdEntriesOf(4)).toBe(2);
    expect(rsvdEntriesOf(256)).toBe(64);
    expect(rsvdEntriesOf(4096)).toBe(64);
    expect(push(r, 0, 1)).toBe(false);
    expect(softFull(r, 2)).toBe(false);
    push(r, 0, 2);
    expect(softFull(r, 2)).toBe(true);
    push(r, 0, 3);
    push(r, 0, 4);
    expect(used(r)).toBe(4);
    expect(push(r, 0, 5)).toBe(true); // full: overwrites the oldest entry
    expect(used(r)).toBe(5);
    expect(r.flags.every((f) => f === KVM_DIRTY_GFN_F_DIRTY)).toBe(true);
  });

  it('userspace harvests only entries flagged exactly DIRTY, in order, and marks them RESET', () => {
    const r = ringNew(4);
    expect(harvestable(r)).toBe(false);
    push(r, 1, 7);
    expect(harvest(r)).toEqual({ slot: 1, offset: 7n });
    expect(r.flags[0]).toBe(KVM_DIRTY_GFN_F_RESET);
    expect(harvestable(r)).toBe(false);
  });

  it('RESET stops at the first entry not harvested', () => {
    const r = ringNew(8);
    push(r, 0, 1);
    push(r, 0, 2);
    push(r, 0, 3);
    harvest(r);
    harvest(r);
    const nr = { n: 0 };
    const t = newTrace();
    dirtyRingReset(r, env(), nr, t);
    expect(nr.n).toBe(2);
    expect(r.resetIndex).toBe(2);
    expect(r.flags[2]).toBe(KVM_DIRTY_GFN_F_DIRTY);
    expect(t.calls).toEqual([call(0, 1, 0b11n)]);
  });
});

describe('KVM_RESET_DIRTY_RINGS coalescing (kvm reference 4.6 worked examples)', () => {
  it('offsets 10, 11, 12 -> one call (s, 10, 0b111)', () => {
    expect(resetOf([[0, 10], [0, 11], [0, 12]]).calls).toEqual([call(0, 10, 0b111n)]);
  });
  it('offsets 100, 99 -> (s, 99, 0b11)', () => {
    expect(resetOf([[0, 100], [0, 99]]).calls).toEqual([call(0, 99, 0b11n)]);
  });
  it('offsets 0, 63, 64 -> (s, 0, 1 | 1<<63) then (s, 64, 1)', () => {
    expect(resetOf([[0, 0], [0, 63], [0, 64]]).calls).toEqual([call(0, 0, 1n | (1n << 63n)), call(0, 64, 1n)]);
  });
  it('offsets 63, 0 -> (s, 0, 1<<63 | 1)', () => {
    expect(resetOf([[0, 63], [0, 0]]).calls).toEqual([call(0, 0, (1n << 63n) | 1n)]);
  });
  it('offsets 5 (slot 1), 6 (slot 2), 7 (slot 1) -> three calls', () => {
    expect(resetOf([[1, 5], [2, 6], [1, 7]]).calls).toEqual([call(1, 5, 1n), call(2, 6, 1n), call(1, 7, 1n)]);
  });
  it('duplicates are absorbed; a backward step that would shift a set bit out starts a new batch', () => {
    expect(resetOf([[0, 10], [0, 10], [0, 11]]).calls).toEqual([call(0, 10, 0b11n)]);
    // 0 and 63 set (mask 1|1<<63); stepping back to offset -1 relative would shift bit 63 out.
    expect(resetOf([[0, 1], [0, 64], [0, 0]]).calls).toEqual([call(0, 1, 1n | (1n << 63n)), call(0, 0, 1n)]);
  });
  it('returns the number of entries consumed, including duplicates', () => {
    expect(resetOf([[0, 10], [0, 10], [0, 11]]).cleared).toBe(3);
  });
});

describe('KVM_RESET_DIRTY_RINGS input validation (entries are untrusted)', () => {
  const C1 = 0xffffffffffffffc1n;
  function wrapRing(): Ring {
    const r = ringNew(8);
    push(r, 0, 5);
    push(r, 0, 6);
    harvest(r);
    harvest(r);
    // Userspace rewrites the two harvested entries (B12 reproducer).
    r.offHi[0] = 0xffffffff;
    r.offLo[0] = 0xffffffc1;
    r.offHi[1] = 0;
    r.offLo[1] = 0;
    return r;
  }
  it('B12 fixed: 0xffffffffffffffc1 coalesced with 0 (delta 63) is rejected by offset >= npages', () => {
    const rearmed: [number, bigint, bigint][] = [];
    const t = newTrace();
    const nr = { n: 0 };
    dirtyRingReset(wrapRing(), env({}, rearmed), nr, t);
    expect(t.calls).toEqual([call(0, C1, 1n | (1n << 63n), false)]);
    expect(rearmed).toEqual([]);
    expect(nr.n).toBe(2); // invalid entries are still consumed and counted
  });
  it('B12 knob: without the check, offset + fls(mask) wraps to 0 < npages and the batch is accepted', () => {
    const rearmed: [number, bigint, bigint][] = [];
    const t = newTrace();
    dirtyRingReset(wrapRing(), env({ acceptWrap: true }, rearmed), { n: 0 }, t);
    expect(rearmed).toEqual([[0, C1, 1n | (1n << 63n)]]);
  });
  it('rejects a bad address space, a missing slot, an offset past the end, and a mask running past the end', () => {
    const one = (slot: number, offs: number[]): boolean[] => resetOf(offs.map((o) => [slot, o] as [number, number])).calls.map((c) => c.accepted);
    expect(one(1 << 16, [3])).toEqual([false]); // as_id 1 >= KVM_ADDRESS_SPACE_NUM
    expect(one(7, [3])).toEqual([false]); // no memslot 7
    expect(one(0, [1000])).toEqual([false]); // offset == npages
    expect(one(0, [999])).toEqual([true]);
    expect(one(0, [990, 999])).toEqual([true]); // (990, bit 0 | bit 9): last page 999
    expect(one(0, [995, 1005])).toEqual([false]); // (995, bit 0 | bit 10): runs past npages, whole batch dropped
    expect(one(0, [1000, 999])).toEqual([false]); // re-based to (999, 0b11): 999 + 1 == npages
  });
});

describe('KVM_RESET_DIRTY_RINGS termination and signals', () => {
  it('B15: on -EINTR the fixed kernel re-arms the pending batch; the v6.17 code (knob) skips it', () => {
    const fixed = resetOf([[0, 10], [0, 11], [0, 40]], { signalAt: 2 });
    expect(fixed.ret).toBe(-EINTR);
    expect(fixed.cleared).toBe(2);
    expect(fixed.calls).toEqual([call(0, 10, 0b11n)]);
    expect(fixed.ring.resetIndex).toBe(2);
    const knob = resetOf([[0, 10], [0, 11], [0, 40]], { signalAt: 2, eintrSkipsBatch: true });
    expect(knob.cleared).toBe(2);
    expect(knob.calls).toEqual([]);
  });
  it('B11: with userspace re-flagging every entry the loop stops at INT_MAX entries; without the bound it never ends', () => {
    const r = ringNew(4);
    push(r, 0, 1);
    harvest(r);
    const nr = { n: 0 };
    const t = newTrace();
    const rearmed: [number, bigint, bigint][] = [];
    expect(dirtyRingReset(r, env({ reflag: true }, rearmed), nr, t)).toBe(0);
    expect(nr.n).toBe(INT_MAX);
    expect(r.resetIndex).toBe(INT_MAX);
    expect(t.unterminated).toBe(false);
    // The zeroed entries name (slot 0, offset 0); the pushed one (0, 1): every lap re-arms {0, 1}.
    expect(rearmed.every(([s, o, m]) => s === 0 && o === 0n && m === 0b11n)).toBe(true);
    const r2 = ringNew(4);
    const t2 = newTrace();
    dirtyRingReset(r2, env({ reflag: true, unbounded: true }), { n: 0 }, t2);
    expect(t2.unterminated).toBe(true);
  });
  it('a later ring is not processed once the INT_MAX bound is reached', () => {
    const r = ringNew(4);
    push(r, 0, 1);
    harvest(r);
    const nr = { n: INT_MAX };
    const t = newTrace();
    dirtyRingReset(r, env(), nr, t);
    expect(t.consumed).toEqual([]);
    expect(r.resetIndex).toBe(0);
  });
});

describe('enabling the ring (KVM_ENABLE_CAP) and WITH_BITMAP: size rules and error codes', () => {
  const vm = () => ({ dirtyRingSize: 0, createdVcpus: 0, memslots: 0, withBitmap: false });
  it('size in bytes: power of two, >= max(64 * 16, PAGE_SIZE), <= 65536 * 16 (-E2BIG)', () => {
    expect(enableDirtyRing(vm(), 0)).toBe(EINVAL);
    expect(enableDirtyRing(vm(), 3 * 4096)).toBe(EINVAL);
    expect(enableDirtyRing(vm(), 2048)).toBe(EINVAL); // 128 entries: below PAGE_SIZE
    expect(enableDirtyRing(vm(), 4096)).toBe(0); // 256 entries: KVM's minimum
    expect(enableDirtyRing(vm(), 65536 * 16)).toBe(0);
    expect(enableDirtyRing(vm(), 65536 * 32)).toBe(E2BIG);
    expect(enableDirtyRing(vm(), 3 * 65536 * 32)).toBe(EINVAL); // not a power of two comes first
  });
  it('set once, and only before the first vCPU', () => {
    const a = vm();
    expect(enableDirtyRing(a, 4096)).toBe(0);
    expect(a.dirtyRingSize).toBe(4096);
    expect(enableDirtyRing(a, 8192)).toBe(EINVAL);
    expect(a.dirtyRingSize).toBe(4096);
    expect(enableDirtyRing({ ...vm(), createdVcpus: 1 }, 4096)).toBe(EINVAL);
  });
  it('the simulation deviation accepts 4..128 entries only when asked', () => {
    expect(enableDirtyRing(vm(), 4 * 16)).toBe(EINVAL);
    expect(enableDirtyRing(vm(), 4 * 16, true)).toBe(0);
    expect(enableDirtyRing(vm(), 2 * 16, true)).toBe(EINVAL);
  });
  it('WITH_BITMAP needs flags == 0, the ring, and no memslot; GET/CLEAR are -ENXIO on a ring-only VM; RESET is -EINVAL without a ring', () => {
    expect(enableRingWithBitmap(vm())).toBe(EINVAL);
    const a = vm();
    enableDirtyRing(a, 4096);
    expect(dirtyLogErrno(a)).toBe(ENXIO);
    expect(enableRingWithBitmap({ ...a, memslots: 1 })).toBe(EINVAL);
    expect(enableRingWithBitmap(a, 1)).toBe(EINVAL);
    expect(enableRingWithBitmap(a)).toBe(0);
    expect(dirtyLogErrno(a)).toBe(0);
    expect(resetRingsErrno(vm())).toBe(EINVAL);
    expect(resetRingsErrno(a)).toBe(0);
    expect(dirtyLogErrno(vm())).toBe(0);
  });
});

describe('maskOffsets (the gfns of one kvm_reset_dirty_gfn call, u64)', () => {
  const U64 = (1n << 64n) - 1n;
  /** The definition: offset + b for every set bit b, ascending, modulo 2^64. */
  const byDefinition = (offset: bigint, mask: bigint): bigint[] => {
    const out: bigint[] = [];
    for (let b = 0n; b < 64n; b++) if ((mask >> b) & 1n) out.push((offset + b) & U64);
    return out;
  };
  it('gives offset + bit for every set bit, ascending, wrapping at 2^64', () => {
    expect(maskOffsets(5n, 0n)).toEqual([]);
    expect(maskOffsets(10n, 0b1011n)).toEqual([10n, 11n, 13n]);
    expect(maskOffsets(U64, (1n << 63n) | 1n)).toEqual([U64, 62n]);
    expect(maskOffsets(0n, 1n << 31n)).toEqual([31n]);
    expect(maskOffsets(0n, 1n << 32n)).toEqual([32n]);
    expect(maskOffsets(100n, U64)).toEqual(byDefinition(100n, U64));
  });
  it('matches the definition on pseudo-random masks and offsets', () => {
    let x = 0x2545f491n;
    const next = (): bigint => { x = (x * 6364136223846793005n + 1442695040888963407n) & U64; return x; };
    for (let t = 0; t < 2000; t++) {
      const mask = next() & next();
      const offset = t % 2 === 0 ? next() : next() % 4096n;
      expect(maskOffsets(offset, mask)).toEqual(byDefinition(offset, mask));
    }
  });
});

describe('memory ordering (option weakMemory, kvm reference B4): buffered flag stores and the B4 early payload read', () => {
  it('a push\'s buffered DIRTY store hides the entry from the harvester until it drains, oldest first', () => {
    const r = ringNew(8);
    push(r, 0, 3, true);
    push(r, 0, 4, true);
    expect(r.flags.slice(0, 2)).toEqual([KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_DIRTY]); // the vCPU's own view
    expect([visibleFlags(r, 0), visibleFlags(r, 1), harvestable(r)]).toEqual([0, 0, false]);
    r.dirtyBuffered--; // ring/dirtyFlagVisible: the oldest (counter 0) drains first (smp_wmb between pushes)
    expect([visibleFlags(r, 0), visibleFlags(r, 1), harvestable(r)]).toEqual([KVM_DIRTY_GFN_F_DIRTY, 0, true]);
  });

  it('the reset stops at a harvested entry whose store-release of RESET is still buffered, and consumes it once visible', () => {
    const r = ringNew(8);
    push(r, 0, 3);
    push(r, 0, 4);
    expect(harvest(r, true)).toEqual({ slot: 0, offset: 3n });
    expect(harvest(r, true)).toEqual({ slot: 0, offset: 4n });
    expect([visibleFlags(r, 0), visibleFlags(r, 1)]).toEqual([KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_DIRTY]);
    let nr = { n: 0 };
    expect(dirtyRingReset(r, env(), nr, newTrace())).toBe(0);
    expect([nr.n, r.resetIndex]).toEqual([0, 0]);
    r.resetBuffered--; // ring/resetFlagVisible: counter 0's RESET
    nr = { n: 0 };
    const rearmed: [number, bigint, bigint][] = [];
    dirtyRingReset(r, env({}, rearmed), nr, newTrace());
    expect([nr.n, r.resetIndex, rearmed]).toEqual([1, 1, [[0, 3n, 1n]]]);
  });

  it('B4: an early payload read (taken before the push) makes the reset re-arm the previous contents, while the reference names the pushed page', () => {
    const r = ringNew(8);
    r.early = [0, r.slot[0]!, r.offLo[0]!, r.offHi[0]!]; // ring/payloadReadEarly before the first push: (slot 0, offset 0)
    push(r, 0, 7);
    harvest(r);
    const rearmed: [number, bigint, bigint][] = [];
    const t = newTrace();
    dirtyRingReset(r, env({}, rearmed), { n: 0 }, t);
    expect(rearmed).toEqual([[0, 0n, 1n]]);
    expect(t.consumed).toEqual([{ slot: 0, offset: 7n }]);
    expect(r.early).toEqual([]);
  });
});
