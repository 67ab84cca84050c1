/**
 * Claim: KVM_RESET_DIRTY_RINGS' coalescing loop, fed arbitrary (untrusted) harvested entries, re-arms only pages
 * named by a consumed entry and inside its memslot (no u64 wrap), re-arms every one of them when all consumed
 * entries are valid, returns the number of entries consumed, and with a signal consumes a prefix and still
 * re-arms all of it (the fixed -EINTR path). Entry offsets include the wrap-prone values of B12.
 * Control: with the B12 knob (no `offset >= npages` check) the same property is falsified.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dirtyRingReset, harvest, maskOffsets, push, ringNew, type ResetEnv, type ResetTrace } from '../models/dirty-ring/ring.ts';
import { SEED, fcSeed } from './support/seed.ts';

const SLOTS = [{ base: 0, npages: 67 }, { base: 100, npages: 3 }];
const U64 = 1n << 64n;
const offsetArb = fc.oneof(
  fc.nat(80).map((n) => BigInt(n)),
  fc.constantFrom(U64 - 63n, U64 - 1n, U64 - 64n, 1n << 63n, (1n << 63n) - 1n, 1n << 32n),
);
const entryArb = fc.record({ slot: fc.constantFrom(0, 0, 0, 1, 2, 1 << 16), offset: offsetArb });

function run(entries: { slot: number; offset: bigint }[], signalAt: number, acceptWrap: boolean) {
  const r = ringNew(64);
  for (const e of entries) push(r, e.slot, 0);
  entries.forEach((e, i) => { r.offLo[i] = Number(e.offset & 0xffffffffn); r.offHi[i] = Number(e.offset >> 32n); });
  for (let i = 0; i < entries.length; i++) harvest(r);
  const rearmed = new Set<string>();
  const env: ResetEnv = { slots: SLOTS, signalAt, reflag: false, unbounded: false, acceptWrap, eintrSkipsBatch: false,
    rearm(slot, off, mask) { for (const o of maskOffsets(off, mask)) rearmed.add(`${slot}:${o}`); } };
  const t: ResetTrace = { consumed: [], calls: [], unterminated: false, interrupted: false };
  const nr = { n: 0 };
  dirtyRingReset(r, env, nr, t);
  return { rearmed, nr: nr.n, reset: r.resetIndex };
}

function valid(e: { slot: number; offset: bigint }): boolean {
  const sl = e.slot >>> 16 === 0 ? SLOTS[e.slot & 0xffff] : undefined;
  return !!sl && e.offset < BigInt(sl.npages);
}

function property(acceptWrap: boolean) {
  return fc.property(fc.array(entryArb, { maxLength: 40 }), fc.nat(45), (entries, sig) => {
    const { rearmed, nr, reset } = run(entries, sig, acceptWrap);
    const consumed = entries.slice(0, nr);
    expect(reset).toBe(nr);
    expect(nr).toBe(sig > 0 && sig < entries.length ? sig : entries.length);
    const want = new Set(consumed.filter(valid).map((e) => `${e.slot}:${e.offset}`));
    for (const k of rearmed) expect(want.has(k), `re-armed ${k}, which no consumed valid entry names`).toBe(true);
    if (consumed.every(valid)) expect([...rearmed].sort()).toEqual([...want].sort());
  });
}

describe(`KVM_RESET_DIRTY_RINGS re-arms exactly the valid consumed entries (seed: ${SEED})`, () => {
  it('holds for the fixed kernel on arbitrary entries', () => {
    fc.assert(property(false), { seed: fcSeed('reset-exact'), numRuns: 400 });
  });
  it('is falsified with the B12 knob (a wrapped offset is re-armed)', () => {
    const res = fc.check(property(true), { seed: fcSeed('reset-exact-b12'), numRuns: 2000 });
    expect(res.failed).toBe(true);
  });
});
