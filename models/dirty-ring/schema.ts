/**
 * The dirty ring mechanism's state (`s.ext.ring`), declared once (src/core/schema.ts): the types `Ring`,
 * `ResetAudit` and `RingExt` are derived from these declarations, and so are the state's exact copy, the
 * explorer's save/load, the shape check, the JSON view and the canonical encoding (`RING_PART`, registered by
 * `RING_FOLDER.parts` (mechanism.ts); active in every design whose consumer is the ring:
 * dirty-ring, hdbss and pta with `consumer: 'ring'`). Field names follow the kernel's where it has one
 * (struct kvm_dirty_ring's `dirty_index` / `reset_index` / `size` / `soft_limit`, struct kvm_dirty_gfn's
 * `flags` / `slot` / `offset`; userspace's `fetch_index` as in the kvm selftest).
 *
 * The canonical encoding is the generic one (every field in declaration order, `justified` left out as a metric)
 * except for three hand-written canonicalisations, each a bisimulation: two machine states that are equal
 * elsewhere and whose ring encodings are equal have the same enabled events (up to the absolute ring counter
 * an event names, see `packRings`), the same invariant verdicts, and successors (by the same event) with equal
 * encodings. Every reader in models/dirty-ring/*.ts, models/hdbss/hdbss.ts, models/hw-dirty/ring-feed.ts and the
 * machine was checked for each. They are tested as one encoding on sampled reachable states (and shown to have
 * teeth) in properties/explore.ring.test.ts:
 * - `rings`: ring rotation (indices relative to `resetIndex`) and consumed entries left out (`packRings`);
 * - `entryUsed`: packed only for vCPUs in the guest (`packEntryUsed`);
 * - `last` (the reset audit): dead unless a reset is in flight (`auditDead`).
 * Everything else is packed as it is: `size`, `withBitmap`, `adversary` (static per design, one word each);
 * `softLimit` (hdbss lowers it at the first vcpu_load when it feeds the ring); `exited`, `attacked`, `harvested`
 * (order kept: the reset hands out its first `cleared` entries), `always`, `queued`, `pass`, `attackDone`,
 * `softFullClears` (order kept: it orders candidate events). The ring holds no VMIDs (so the machine may encode
 * its VMIDs relative to the current one).
 */
import type { PackSink } from '../../src/core/model.ts';
import { array, bool, compile, int, nullable, nums, record, type Infer, type PackCtx } from '../../src/core/schema.ts';
import type { MachineState } from '../machine/state.ts';

/** One vCPU's ring (struct kvm_dirty_ring + the mmapped kvm_dirty_gfn array), plus userspace's fetch cursor. */
/** What a flat layout's capacities read (schema-layout.ts): the configuration, the guest's size, the ring size. */
type Sized = { readonly totalPages: number; readonly config: { readonly vcpus: number }; readonly ext: { readonly [k: string]: unknown } };
const RING_SIZE = (s: Sized): number => (s.ext['ring'] as { size: number }).size;
const VCPUS = (s: Sized): number => s.config.vcpus;
const PAGES = (s: Sized): number => s.totalPages;
/** Every entry of every ring: what one reset can consume. */
const ALL_ENTRIES = (s: Sized): number => VCPUS(s) * RING_SIZE(s);

export const RING = record({
  dirtyIndex: int('index', { u32: true, doc: 'u32, free-running: next entry KVM fills (the kernel\'s dirty_index)' }),
  resetIndex: int('index', { u32: true, doc: 'u32, free-running: next entry KVM_RESET_DIRTY_RINGS consumes (the kernel\'s reset_index)' }),
  fetchIndex: int('index', { u32: true, doc: 'u32, free-running: userspace\'s harvest cursor (fetch_index)' }),
  flags: nums('flags', 'ring size', { max: RING_SIZE, doc: 'kvm_dirty_gfn.flags per entry (KVM_DIRTY_GFN_F_DIRTY 1, _RESET 2)' }),
  slot: nums('int', 'ring size', { max: RING_SIZE, u32: true, doc: 'kvm_dirty_gfn.slot per entry (as_id << 16 | memslot id)' }),
  offLo: nums('int', 'ring size', { max: RING_SIZE, u32: true, doc: 'kvm_dirty_gfn.offset per entry, low 32 bits (u64 in KVM; userspace may write any value)' }),
  offHi: nums('int', 'ring size', { max: RING_SIZE, u32: true, doc: 'kvm_dirty_gfn.offset per entry, high 32 bits' }),
  // The weak-memory layer (option `weakMemory`, ring.ts "Memory ordering"): `flags` above is every thread's own
  // (program-order) view; what the other CPUs see lags behind by these buffered stores.
  dirtyBuffered: int('count', {
    doc: 'weakMemory: the last N pushes\' `flags = DIRTY` stores (the vCPU\'s CPU, after smp_wmb) not yet visible to the other CPUs' }),
  resetBuffered: int('count', {
    doc: 'weakMemory: the last N harvests\' store-release of `flags = RESET` (userspace\'s CPU) not yet visible to the CPU running KVM_RESET_DIRTY_RINGS' }),
  early: nums('int', '0 or 4 words', { max: () => 4,
    doc: 'B4 knob (plain flag load in the reset): [counter, slot, offset low, offset high] the reset CPU\'s payload read of that entry returned early (before the push wrote it), or empty' }),
}, { doc: 'One vCPU\'s ring: struct kvm_dirty_ring and its mmapped kvm_dirty_gfn array, and userspace\'s fetch cursor' });
export type Ring = Infer<typeof RING>;

/** The last KVM_RESET_DIRTY_RINGS, for INV-RING-RESET-EXACT / INV-RESET-VALID / INV-LIVE-RESET. */
export const RESET_AUDIT = record({
  cleared: int('count', { doc: 'Return value (entries reset across all rings)' }),
  consumed: int('count', { doc: 'Entries consumed according to the indices (sum of reset_index advances, u32)' }),
  expected: nums('gfn', 'pages', { max: ALL_ENTRIES, doc: 'Valid (slot, offset) pairs among the consumed entries, as gfns, checked entry by entry (reference)' }),
  invalid: int('count', { doc: 'Consumed entries naming no page of any memslot (untrusted input)' }),
  actual: nums('gfn', 'pages', { max: ALL_ENTRIES, doc: 'In-slot gfns the kernel re-armed (mask bits of accepted calls)' }),
  outOfSlot: nums('int', '3 per re-armed mask bit', { max: (s: Sized) => 3 * ALL_ENTRIES(s), u32: true,
    doc: 'Re-arms outside their memslot, as (slot, offset low 32 bits, offset high 32 bits) triples (offsets are u64)' }),
  unterminated: int('flags', { doc: '1 if the reset loop would never terminate (B11 knob with the re-flagging adversary)' }),
}, { doc: 'What the last KVM_RESET_DIRTY_RINGS did, for INV-RING-RESET-EXACT / INV-RESET-VALID / INV-LIVE-RESET' });
export type ResetAudit = Infer<typeof RESET_AUDIT>;

/**
 * Rings: only `dirtyIndex - resetIndex` and `fetchIndex - resetIndex` (u32) of the free-running indices, then
 * the entries in counter order from `resetIndex`. Soundness:
 * - Indices: every reader uses differences in u32 arithmetic (`used`, `(fetchIndex - resetIndex) >>> 0`, the
 *   INT_MAX bound of the reflag reset adds a count to `resetIndex`), or the array position `counter & (size - 1)`
 *   of a counter reached by stepping from `resetIndex` / `fetchIndex` / `dirtyIndex`. Adding a constant k to the
 *   three indices (mod 2^32) and rotating the four entry arrays by k (mod size, a power of two dividing 2^32)
 *   therefore commutes with every event and invariant; nothing compares an index with a constant or orders two
 *   of them. Entries are written in counter order from `resetIndex`, so the physical rotation is left out too.
 *   The u32 wrap is thus invisible (a `ringStart` near 2^32 and 0 give the same encodings). Only event payloads
 *   (`ring/entryHarvested`, `ring/entryRewritten` and `ring/entrySlotRewritten` name an absolute counter, `index`) and invariant messages
 *   (INV-RING-FIFO prints the absolute indices) see k: the same event up to that translation is enabled, and
 *   verdicts are equal.
 * - Entry `flags`: written for every entry, in counter order (INV-RING-FIFO reads every entry's flags; in a
 *   correct state the entries outside [reset, dirty) are 0, so this costs nothing in merging). Entries past the
 *   "window" (below) are written sparsely: only the non-zero ones, with their position.
 * - Entry contents (`slot`, `offLo`, `offHi`): written for the entries of the window, the first
 *   min(max(dirtyIndex - resetIndex, fetchIndex - resetIndex), size) counters from `resetIndex` (read by
 *   `pending`, the harvest, the reset loop, the adversary's `rewriteSteps` / `rewrittenPending` and `mark`'s
 *   duplicate count), and for any entry with non-zero flags (a harvest reads the contents at `fetchIndex` only if
 *   its flags are DIRTY; the reset loop reads them only while the flags hold RESET). The other entries (consumed:
 *   flags 0, outside the window) are left out: no reader reaches them before `push` rewrites all three fields and
 *   the flags. Exception: with the `adversary` option and its re-flagging reset still to come (`attackDone` 0),
 *   every entry's contents are written: that reset (reflag) consumes two laps of the whole ring whatever the
 *   flags, re-arming the pages the stale contents name.
 */
function packRings(rings: readonly Ring[], R: { readonly adversary: boolean; readonly attackDone: number }, _ctx: PackCtx, out: PackSink): void {
  const allContents = R.adversary && R.attackDone === 0;
  out.num(rings.length);
  for (let x = 0; x < rings.length; x++) packRing(rings[x] as Ring, allContents, out);
}

function packRing(r: Ring, allContents: boolean, out: PackSink): void {
  const size = r.flags.length;
  const mask = size - 1;
  const reset = r.resetIndex;
  const used = (r.dirtyIndex - reset) >>> 0;
  const fetched = (r.fetchIndex - reset) >>> 0;
  out.num(used);
  out.num(fetched);
  // The weak-memory layer: both buffered-store counts are relative to an index already packed relatively
  // (dirtyIndex, fetchIndex), so they are translation-invariant as they are; the early read names an absolute
  // counter, packed relative to resetIndex like the indices (and its payload as is). All three are 0 / empty
  // without the option (and `early` without the B4 knob), so they cost one word each there.
  out.num(r.dirtyBuffered);
  out.num(r.resetBuffered);
  const early = r.early;
  if (early.length === 4) {
    out.num(1); out.num(((early[0] as number) - reset) >>> 0); out.num(early[1] as number); out.num(early[2] as number); out.num(early[3] as number);
  } else out.num(0);
  let win = used > fetched ? used : fetched;
  if (allContents || win > size) win = size;
  const flags = r.flags;
  const slot = r.slot;
  const lo = r.offLo;
  const hi = r.offHi;
  let k = 0;
  for (; k < win; k++) {
    const i = (reset + k) & mask;
    out.num(flags[i] as number); out.num(slot[i] as number); out.num(lo[i] as number); out.num(hi[i] as number);
  }
  for (; k < size; k++) {
    const i = (reset + k) & mask;
    const f = flags[i] as number;
    if (f === 0) continue;
    out.num(k); out.num(f); out.num(slot[i] as number); out.num(lo[i] as number); out.num(hi[i] as number);
  }
  out.num(-1);
}

/**
 * `entryUsed[v]`: read only by INV-RING-GATE, and only while vCPU v's `run` is 'guest'; the only transition into
 * 'guest' (`vcpu/entered`) rewrites it (`onEnter`). So it is written when v is in the guest, else -1.
 */
function packEntryUsed(entryUsed: readonly number[], _R: unknown, ctx: PackCtx, out: PackSink): void {
  const s = ctx.root as MachineState;
  out.num(entryUsed.length);
  for (let x = 0; x < entryUsed.length; x++) {
    const vc = s.vcpus[x];
    out.num(vc !== undefined && vc.run === 'guest' ? entryUsed[x] as number : -1);
  }
}

/**
 * `last` (the reset audit) is read only by the invariants through `resetInFlight` (while `vmm.ioctl` is the
 * reset), and written (replaced) by every reset, which only starts with no ioctl in flight. So it is dead
 * (packed as one fixed word) unless a reset is in flight, and then written in full.
 */
function auditDead(_R: unknown, ctx: PackCtx): boolean {
  const io = (ctx.root as MachineState).vmm.ioctl;
  return io === null || io.kind !== 'reset';
}

export const RING_STATE = record({
  size: int('count', { doc: 'Entries per ring (a power of two; static per design)' }),
  softLimit: int('count', { doc: 'kvm_dirty_ring.soft_limit: size - reserved entries (hdbss lowers it when it feeds the ring)' }),
  withBitmap: bool({ doc: 'KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP enabled (kvm->dirty_ring_with_bitmap; static per design)' }),
  adversary: bool({ doc: 'Adversarial userspace (B11/B12 reproducers; static per design)' }),
  rings: array(RING, 'vcpus', { max: VCPUS, doc: 'Per vCPU: its ring', pack: packRings }),
  exited: nums('flags', 'vcpus', { max: VCPUS, doc: 'Per vCPU: 1 after KVM_EXIT_DIRTY_RING_FULL until it enters the guest again' }),
  entryUsed: nums('count', 'vcpus', { max: VCPUS, doc: 'Per vCPU: ring occupancy at its last guest entry (INV-RING-GATE)', pack: packEntryUsed }),
  attacked: nums('flags', 'vcpus', { max: VCPUS, doc: 'Per vCPU: indices corrupted by adversarial userspace (occupancy is then meaningless)' }),
  harvested: array(nums('gfn', 'ring size (harvested entries are not yet reset)', { max: RING_SIZE }), 'vcpus', { max: VCPUS, doc: 'VMM: per vCPU, gfns harvested and not yet reset, in ring order' }),
  always: nums('gfn', 'pages', { max: PAGES,
    doc: 'VMM: pages it copies at the final collection whatever the tracking says (its commitment stays: they count as pending for the whole run)' }),
  queued: int('flags', { doc: 'The final collection queued `always` for copying' }),
  justified: array(nums('flags', 'ring size', { max: RING_SIZE }), 'vcpus', { max: VCPUS,
    metric: true,
    doc: 'Precision bookkeeping: per vCPU and ring slot, 1 if the entry was pushed for a page written since it was last handed to the VMM (or by the faulting store itself)' }),
  pass: int('int', { doc: 'VMM: 0 idle, 1 reap pass (after a RING_FULL exit), 2 pre-copy round' }),
  attackDone: int('flags', { doc: 'The adversary\'s re-flagging reset has run' }),
  softFullClears: nums('vcpu', 'vcpus', { max: VCPUS,
    doc: 'vCPUs whose soft-full request the in-flight reset will clear, having found their ring not soft-full (softfull-cleared-by-reset knob)' }),
  last: nullable(RESET_AUDIT, { doc: 'The last KVM_RESET_DIRTY_RINGS (packed only while a reset is in flight)', dead: auditDead }),
});
export type RingExt = Infer<typeof RING_STATE>;

/** Every operation on `s.ext.ring`, compiled from `RING_STATE`. */
export const RING_PART = compile(RING_STATE);
