/**
 * The KVM dirty ring data structure and its kernel algorithms (virt/kvm/dirty_ring.c, kvm_main.c), as pure
 * functions over plain JSON data (kvm reference section 4):
 *
 * - enabling: KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING_ACQ_REL, bytes) and KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP rules
 *   and error codes (4.1);
 * - indices: free-running u32 `dirty_index` / `reset_index`, `used = dirty - reset` (u32), entry of counter c at
 *   `c & (size - 1)`, soft limit `size - rsvd` (4.2);
 * - push (4.3), the userspace harvest (4.5) and KVM_RESET_DIRTY_RINGS' per-ring loop with mask coalescing and
 *   validation of the untrusted (slot, offset) (4.6, v6.17+ form, with the B12 fix).
 *
 * Entry offsets are u64 in KVM and userspace may write any value into the mmapped ring (B12), so an entry keeps
 * its offset as two u32 halves (`offLo`, `offHi`); the reset arithmetic is done in BigInt, wrapping at 2^64
 * exactly as the kernel's u64/s64 arithmetic does.
 */
import type { Ring } from './schema.ts';

/** One vCPU's ring (struct kvm_dirty_ring + the mmapped kvm_dirty_gfn array), declared in schema.ts. */
export type { Ring } from './schema.ts';

export const KVM_DIRTY_GFN_F_DIRTY = 1;
export const KVM_DIRTY_GFN_F_RESET = 2;
/** sizeof(struct kvm_dirty_gfn): flags u32, slot u32, offset u64. */
export const KVM_DIRTY_GFN_BYTES = 16;
export const PAGE_SIZE = 4096;
/** KVM_DIRTY_RING_RSVD_ENTRIES (64) + kvm_cpu_dirty_log_size() (0 on arm64: no PML). */
export const KVM_DIRTY_RING_RSVD_ENTRIES = 64;
/** KVM_DIRTY_RING_MAX_ENTRIES. */
export const KVM_DIRTY_RING_MAX_ENTRIES = 65536;
export const INT_MAX = 0x7fffffff;
/** KVM_ADDRESS_SPACE_NUM on arm64 (no SMM address space). */
export const KVM_ADDRESS_SPACE_NUM = 1;
/** KVM_USER_MEM_SLOTS on arm64 (KVM_MEM_SLOTS_NUM = SHRT_MAX, no internal slots). */
export const KVM_USER_MEM_SLOTS = 32767;

export const EINVAL = 22;
export const E2BIG = 7;
export const ENXIO = 6;
export const EINTR = 4;

const U64 = (1n << 64n) - 1n;

/**
 * Smallest ring the simulation accepts. DELIBERATE DEVIATION (documented in the preset): KVM requires
 * `bytes >= max(PAGE_SIZE, rsvd * 16)`, i.e. at least 256 entries with a 64-entry reserve. Bugs around the soft
 * limit need the ring to fill in short runs, so the model also accepts 4..128 entries with a reserve scaled to
 * half the ring (see `rsvdEntriesOf`).
 */
export const MODEL_MIN_ENTRIES = 4;

/**
 * Reserved entries (size - soft limit). KVM: 64 + cpu_dirty_log_size = 64 on arm64. Rings below KVM's minimum
 * (a simulation-only deviation) reserve half the ring: a guess that keeps the same meaning (a budget for pushes
 * between crossing the soft limit and the next guest-entry check); in this model at most one push can happen
 * in that window (the crossing one), so any reserve >= 1 is enough for a correct design.
 */
export function rsvdEntriesOf(entries: number): number {
  return entries * KVM_DIRTY_GFN_BYTES >= PAGE_SIZE ? KVM_DIRTY_RING_RSVD_ENTRIES : entries / 2;
}

/** What KVM_ENABLE_CAP needs to know about the VM. */
export interface RingVmCaps {
  /** kvm->dirty_ring_size in bytes (0: not enabled). */
  dirtyRingSize: number;
  createdVcpus: number;
  memslots: number;
  withBitmap: boolean;
}

/**
 * kvm_vm_ioctl_enable_dirty_log_ring(kvm, size): returns 0 or a positive errno, mutating `vm` on success.
 * Checks in the kernel's order: power of two; at least max(rsvd * 16, PAGE_SIZE) bytes (-EINVAL); at most
 * KVM_DIRTY_RING_MAX_ENTRIES * 16 bytes (-E2BIG); set once (-EINVAL); no vCPU created yet (-EINVAL).
 * `allowSmall` lowers the minimum to MODEL_MIN_ENTRIES entries (the simulation deviation above).
 */
export function enableDirtyRing(vm: RingVmCaps, bytes: number, allowSmall = false): number {
  if (!Number.isInteger(bytes) || bytes <= 0 || (bytes & (bytes - 1)) !== 0) return EINVAL;
  const min = allowSmall ? MODEL_MIN_ENTRIES * KVM_DIRTY_GFN_BYTES
    : Math.max(KVM_DIRTY_RING_RSVD_ENTRIES * KVM_DIRTY_GFN_BYTES, PAGE_SIZE);
  if (bytes < min) return EINVAL;
  if (bytes > KVM_DIRTY_RING_MAX_ENTRIES * KVM_DIRTY_GFN_BYTES) return E2BIG;
  if (vm.dirtyRingSize !== 0) return EINVAL;
  if (vm.createdVcpus > 0) return EINVAL;
  vm.dirtyRingSize = bytes;
  return 0;
}

/** KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: flags == 0, the ring enabled, and no memslot yet; else -EINVAL. */
export function enableRingWithBitmap(vm: RingVmCaps, flags = 0): number {
  if (flags !== 0 || vm.dirtyRingSize === 0 || vm.memslots > 0) return EINVAL;
  vm.withBitmap = true;
  return 0;
}

/** kvm_use_dirty_bitmap(): GET/CLEAR_DIRTY_LOG fail with -ENXIO on a ring-only VM (no WITH_BITMAP). */
export function dirtyLogErrno(vm: RingVmCaps): number {
  return vm.dirtyRingSize !== 0 && !vm.withBitmap ? ENXIO : 0;
}

/** KVM_RESET_DIRTY_RINGS on a VM without a ring: -EINVAL. */
export function resetRingsErrno(vm: RingVmCaps): number {
  return vm.dirtyRingSize === 0 ? EINVAL : 0;
}

export function ringNew(entries: number, start = 0): Ring {
  return {
    dirtyIndex: start >>> 0, resetIndex: start >>> 0, fetchIndex: start >>> 0,
    flags: new Array<number>(entries).fill(0), slot: new Array<number>(entries).fill(0),
    offLo: new Array<number>(entries).fill(0), offHi: new Array<number>(entries).fill(0),
    dirtyBuffered: 0, resetBuffered: 0, early: [],
  };
}

export function ringSize(r: Ring): number {
  return r.flags.length;
}
/** kvm_dirty_ring_used: dirty_index - reset_index in u32 arithmetic. */
export function used(r: Ring): number {
  return (r.dirtyIndex - r.resetIndex) >>> 0;
}
export function slotIndex(r: Ring, counter: number): number {
  return counter & (ringSize(r) - 1);
}
export function softFull(r: Ring, softLimit: number): boolean {
  return used(r) >= softLimit;
}
export function inc(x: number): number {
  return (x + 1) >>> 0;
}
/** The entry's offset as the u64 the kernel reads. */
export function offsetOf(r: Ring, i: number): bigint {
  return (BigInt(r.offHi[i] as number) << 32n) | BigInt(r.offLo[i] as number);
}

/*
 * Memory ordering (option `weakMemory`; kvm reference B4 and section 7 INV-RING-ORDER). The ring is shared
 * memory between three CPUs, as QEMU's dirty_gfn_set_collected comment draws them: the vCPU's CPU pushes, a
 * userspace CPU harvests, and the CPU that runs KVM_RESET_DIRTY_RINGS resets (the ioctl may come from any
 * userspace thread, so the model never assumes it is the harvester's). The accesses, per the sources:
 * - push (virt/kvm/dirty_ring.c kvm_dirty_ring_push): plain stores of slot and offset, `smp_wmb()`, then the
 *   plain store `flags = DIRTY` (kvm_dirty_gfn_set_dirtied);
 * - harvest (QEMU accel/kvm/kvm-all.c kvm_dirty_ring_reap_one, the kvm selftest likewise): load-acquire of flags
 *   (dirty_gfn_is_dirtied), plain loads of slot and offset, store-release `flags = RESET`
 *   (dirty_gfn_set_collected);
 * - reset (kvm_dirty_ring_reset since 8929bc965964): load-acquire of flags (kvm_dirty_gfn_harvested),
 *   READ_ONCE of slot and offset, store-release `flags = 0` (kvm_dirty_gfn_set_invalid). Before that commit
 *   (the B4 knob `ring-plain-flags`) the flag load and store were plain.
 * The subset of the Arm memory model that matters here (Arm ARM B2.3 "Definition of the Arm memory model":
 * Ordered-before, Barrier-ordered-before, Dependency-ordered-before; herd7's aarch64.cat, relations `ob`, `bob`,
 * `dob`), with the stores modelled as per-thread buffers that drain in an order the scheduler chooses:
 * - Stores of one CPU to different locations may become visible to other CPUs in any order unless ordered:
 *   `DMB ISHST` (smp_wmb) orders earlier stores before later ones (`bob`), and a store-release is ordered after
 *   every earlier access of its CPU (`bob`: po; [L]). So the push's payload is visible before its DIRTY flag,
 *   successive pushes' DIRTY stores become visible in counter order (the next push's smp_wmb), and successive
 *   RESET store-releases in harvest order: each CPU's buffered flag stores are a FIFO, kept as a count of the
 *   newest stores not yet visible (`dirtyBuffered`, `resetBuffered`), drained by the events
 *   `ring/dirtyFlagVisible` and `ring/resetFlagVisible`. Armv8 is other-multi-copy atomic (Arm ARM B2.3; the
 *   `obs` relation of aarch64.cat includes rfe): once visible to one other CPU a store is visible to all, hence
 *   one visibility per store, not one per observer.
 * - A load may be satisfied before an earlier load of the same CPU to a different location unless ordered: by
 *   a load-acquire (`bob`: [A]; po), a `DMB LD`, or an address/data dependency (`dob`); a control dependency
 *   orders later stores but not later loads (`dob` has ctrl; [W], not ctrl; [R]; a load needs ctrl+ISB). The
 *   reset reads slot and offset after `if (!kvm_dirty_gfn_harvested(entry)) break;`: only a control
 *   dependency, so with the plain flag load (B4) those loads may return values older than the push's, i.e. the
 *   entry's previous contents: an ISA2 shape (P0: W payload; DMB ST; W flags | P1: acquire R flags; release W
 *   flags | P2: plain R flags; R payload), allowed by aarch64.cat because P2's two loads are not in `ob`.
 *   Modelled by the event `ring/payloadReadEarly`: the reset CPU's payload read of the entry the next push
 *   fills, taken before that push (`early`), which the reset then consumes instead of the entry's contents.
 *   With the acquire the event is never enabled.
 * - Reads of the reset CPU see a flag as the other CPUs do (`visibleFlags`): a DIRTY still buffered reads as the
 *   entry's previous value (0, the previous lap's set_invalid, which completed before the ioctl that wrote it
 *   returned: kvm_flush_remote_tlbs' requests and IPIs are full barriers) and a RESET still buffered reads as
 *   DIRTY. Each thread reads its own stores (`flags`, the program-order view INV-RING-FIFO checks).
 * Not modelled: the plain `flags = 0` store's reordering under B4 (its failure needs the vCPU's push to read
 * `reset_index` without synchronisation, which the ioctl's flush requests rule out), and a plain userspace
 * harvester (QEMU and the selftest use acquire/release since 2022).
 */

/**
 * kvm_dirty_ring_push(vcpu, slot, offset): fills the entry at dirty_index (payload, smp_wmb, then flags = DIRTY),
 * bumps dirty_index. Returns whether the ring was already full (the kernel WARNs and still overwrites). With
 * `buffered` (weakMemory), the DIRTY store enters the vCPU CPU's store buffer (after the ones already there).
 */
export function push(r: Ring, slot: number, offset: number, buffered = false): boolean {
  const wasFull = used(r) >= ringSize(r);
  const i = slotIndex(r, r.dirtyIndex);
  r.slot[i] = slot >>> 0;
  r.offLo[i] = offset >>> 0;
  r.offHi[i] = Math.floor(offset / 2 ** 32) >>> 0;
  r.flags[i] = KVM_DIRTY_GFN_F_DIRTY;
  r.dirtyIndex = inc(r.dirtyIndex);
  if (buffered && r.dirtyBuffered < ringSize(r)) r.dirtyBuffered++;
  return wasFull;
}

/**
 * The flags of the entry of counter `c` as a CPU other than the one whose store is buffered sees them
 * (weakMemory; equal to `flags` without it): a DIRTY store still buffered in the vCPU's CPU reads as 0, a RESET
 * store still buffered in userspace's CPU reads as DIRTY.
 */
export function visibleFlags(r: Ring, c: number): number {
  const f = r.flags[slotIndex(r, c)] as number;
  if (r.dirtyBuffered > 0) {
    const back = (r.dirtyIndex - c) >>> 0;
    if (back >= 1 && back <= r.dirtyBuffered) return 0;
  }
  if (r.resetBuffered > 0) {
    const back = (r.fetchIndex - c) >>> 0;
    if (back >= 1 && back <= r.resetBuffered) return KVM_DIRTY_GFN_F_DIRTY;
  }
  return f;
}

/** Can userspace harvest the entry at its fetch cursor (load-acquire of flags == DIRTY exactly, as the selftest checks)? */
export function harvestable(r: Ring): boolean {
  return visibleFlags(r, r.fetchIndex) === KVM_DIRTY_GFN_F_DIRTY;
}

/**
 * Userspace harvest of the entry at fetch_index: read (slot, offset), then store-release flags = RESET, fetch++.
 * With `buffered` (weakMemory), the RESET store enters userspace's store buffer.
 */
export function harvest(r: Ring, buffered = false): { slot: number; offset: bigint } {
  const i = slotIndex(r, r.fetchIndex);
  const out = { slot: r.slot[i] as number, offset: offsetOf(r, i) };
  r.flags[i] = KVM_DIRTY_GFN_F_RESET;
  r.fetchIndex = inc(r.fetchIndex);
  if (buffered && r.resetBuffered < ringSize(r)) r.resetBuffered++;
  return out;
}

/** A memslot as kvm_reset_dirty_gfn sees it (id_to_memslot). */
export interface SlotView {
  readonly base: number;
  readonly npages: number;
}

/** One kvm_reset_dirty_gfn(kvm, slot, offset, mask) call and what it did. */
export interface ResetCall {
  readonly slot: number;
  readonly offset: bigint;
  readonly mask: bigint;
  /** Passed validation: the mask was re-armed. */
  readonly accepted: boolean;
}

/** Knobs and environment of one KVM_RESET_DIRTY_RINGS. */
export interface ResetEnv {
  readonly slots: readonly SlotView[];
  /** signal_pending() becomes true once this many entries were consumed by the ioctl (0: never). */
  readonly signalAt: number;
  /** Adversarial userspace keeps setting F_RESET on every entry while the ioctl runs (B11 reproducer). */
  readonly reflag: boolean;
  /** B11 knob: no INT_MAX bound on the number of entries consumed. */
  readonly unbounded: boolean;
  /** B12 knob: the `offset >= npages` check is missing (the wrapped `offset + fls(mask)` passes). */
  readonly acceptWrap: boolean;
  /** B15 knob: on -EINTR, return without re-arming the pending batch (v6.17 code). */
  readonly eintrSkipsBatch: boolean;
  /** Called for each accepted batch with the in-slot gfns to re-arm (write-protect). */
  rearm(slot: number, offset: bigint, mask: bigint): void;
}

export interface ResetTrace {
  /**
   * Entries consumed (invalidated and counted), in order (first laps only under reflag), with the contents the
   * push wrote (or the adversary rewrote) there: the reference a correctly ordered read returns. The kernel's
   * own read differs only under the B4 knob (an early read, `Ring.early`).
   */
  readonly consumed: { slot: number; offset: bigint }[];
  readonly calls: ResetCall[];
  /** The loop would never terminate (only with `unbounded` and `reflag`). */
  unterminated: boolean;
  /** Stopped with -EINTR. */
  interrupted: boolean;
}

function fls64(mask: bigint): number {
  let n = -1;
  for (let m = mask; m > 0n; m >>= 1n) n++;
  return n;
}

/**
 * kvm_reset_dirty_gfn: validates the untrusted (slot, offset, mask) and re-arms it. The fixed kernel checks
 * `offset >= npages` first (577a8d3bae05), then `offset + __fls(mask) >= npages` in u64 arithmetic.
 */
export function resetDirtyGfn(env: ResetEnv, slot: number, offset: bigint, mask: bigint, calls: ResetCall[]): void {
  const asId = slot >>> 16;
  const id = slot & 0xffff;
  let ok = asId < KVM_ADDRESS_SPACE_NUM && id < KVM_USER_MEM_SLOTS;
  const ms = ok ? env.slots[id] : undefined;
  if (!ms) ok = false;
  else {
    const np = BigInt(ms.npages);
    if (!env.acceptWrap && offset >= np) ok = false;
    else if (((offset + BigInt(fls64(mask))) & U64) >= np) ok = false;
  }
  calls.push({ slot, offset, mask, accepted: ok });
  if (ok) env.rearm(slot, offset, mask);
}

/**
 * kvm_dirty_ring_reset(kvm, ring, &nr) as of v6.17 (kvm reference 4.6), with the B11/B15 knobs. `nr` is the
 * ioctl's running count (shared across rings). Returns 0 or -EINTR. Under `reflag` (every entry keeps F_RESET)
 * the loop is periodic: it is simulated for two laps and the rest of the INT_MAX bound is counted arithmetically
 * (later laps consume the same entries and re-arm the same masks again, which changes nothing).
 */
export function dirtyRingReset(r: Ring, env: ResetEnv, nr: { n: number }, trace: ResetTrace): number {
  const size = ringSize(r);
  let mask = 0n;
  let curSlot = 0;
  let curOff = 0n;
  let iter = 0;
  const lapCap = 2 * size;
  while (env.unbounded || nr.n < INT_MAX) {
    if (env.signalAt > 0 && nr.n >= env.signalAt) {
      trace.interrupted = true;
      if (!env.eintrSkipsBatch && mask !== 0n) resetDirtyGfn(env, curSlot, curOff, mask, trace.calls);
      return -EINTR;
    }
    if (env.reflag && iter >= lapCap) {
      // The adversary keeps every entry flagged: the loop only ends at the bound.
      if (env.unbounded) { trace.unterminated = true; break; }
      const rest = INT_MAX - nr.n;
      r.resetIndex = (r.resetIndex + rest) >>> 0;
      nr.n = INT_MAX;
      break;
    }
    const i = slotIndex(r, r.resetIndex);
    // The flag load sees other CPUs' stores only once visible (weakMemory: `visibleFlags`).
    const flags = env.reflag ? KVM_DIRTY_GFN_F_RESET : visibleFlags(r, r.resetIndex);
    if ((flags & KVM_DIRTY_GFN_F_RESET) === 0) break;
    // The reference (INV-RING-RESET-EXACT) is the entry as pushed; what the kernel uses may be an early read
    // of the entry's previous contents (B4: plain flag load, `early`; see "Memory ordering" above).
    const pushedSlot = r.slot[i] as number;
    const pushedOff = offsetOf(r, i);
    let nextSlot = pushedSlot;
    let nextOff = pushedOff;
    const early = r.early;
    if (early.length === 4 && early[0] === r.resetIndex) {
      nextSlot = early[1] as number;
      nextOff = (BigInt(early[3] as number) << 32n) | BigInt(early[2] as number);
      r.early = [];
    }
    r.flags[i] = 0;
    r.resetIndex = inc(r.resetIndex);
    nr.n++;
    iter++;
    trace.consumed.push({ slot: pushedSlot, offset: pushedOff });
    if (mask !== 0n) {
      if (nextSlot === curSlot) {
        const delta = BigInt.asIntN(64, nextOff - curOff);
        if (delta >= 0n && delta < 64n) {
          mask |= 1n << delta;
          continue;
        }
        if (delta > -64n && delta < 0n && (((mask << -delta) & U64) >> -delta) === mask) {
          curOff = nextOff;
          mask = ((mask << -delta) & U64) | 1n;
          continue;
        }
      }
      resetDirtyGfn(env, curSlot, curOff, mask, trace.calls);
    }
    curSlot = nextSlot;
    curOff = nextOff;
    mask = 1n;
  }
  if (mask !== 0n) resetDirtyGfn(env, curSlot, curOff, mask, trace.calls);
  return 0;
}

/** The gfns of a mask call (in u64 arithmetic): offset + bit for each set bit, relative to the slot. */
export function maskOffsets(offset: bigint, mask: bigint): bigint[] {
  const out: bigint[] = [];
  // Set bits only, found 32 at a time as Numbers (explore's hot path: a reset calls this for every batch; 64
  // BigInt shifts per call were 3% of a dirty-ring exploration). Same offsets, same ascending order.
  for (let half = 0; half < 2; half++) {
    let m = Number((mask >> BigInt(32 * half)) & 0xffffffffn);
    while (m !== 0) {
      const low = m & -m;
      const b = 31 - Math.clz32(low) + 32 * half;
      out.push((offset + BigInt(b)) & U64);
      m = (m ^ low) >>> 0;
    }
  }
  return out;
}
