/**
 * The explore codec of the dirty ring's state (`s.ext.ring`, `RingExt`): a canonical packed encoding and a fast
 * deep copy, registered by mechanism.ts with `registerExtCodec('ring', ringCodec)` (so it is active in every
 * design whose consumer is the ring: dirty-ring, hdbss and pta with `consumer: 'ring'`).
 *
 * The encoding is a bisimulation: two machine states that are equal elsewhere and whose ring encodings are
 * equal have the same enabled events (up to the absolute ring counter an event names, see below), the same
 * invariant verdicts, and successors (by the same event) with equal encodings. What it leaves out, per field,
 * and why that is sound (every reader in models/dirty-ring/*.ts, models/hdbss/hdbss.ts, models/hw-dirty/
 * ring-feed.ts and the machine was checked):
 *
 * - Ring indices `dirtyIndex`, `resetIndex`, `fetchIndex` (free-running u32): only `dirtyIndex - resetIndex` and
 *   `fetchIndex - resetIndex` (u32) are written. Every reader uses differences in u32 arithmetic (`used`,
 *   `(fetchIndex - resetIndex) >>> 0`, the INT_MAX bound of the reflag reset adds a count to `resetIndex`), or the
 *   array position `counter & (size - 1)` of a counter reached by stepping from `resetIndex` / `fetchIndex` /
 *   `dirtyIndex`. Adding a constant k to the three indices (mod 2^32) and rotating the four entry arrays by k
 *   (mod size, a power of two dividing 2^32) therefore commutes with every event and invariant; nothing compares an index with a constant or orders two of them. Entries are
 *   written in counter order from `resetIndex`, so the physical rotation is left out too. The u32 wrap is thus
 *   invisible (a `ringStart` near 2^32 and 0 give the same encodings). Only event payloads (`ring/entryHarvested`
 *   and `ring/entryRewritten` name an absolute counter, `index`) and invariant messages (INV-RING-FIFO prints
 *   the absolute indices) see k: the same event up to that translation is enabled, and verdicts are equal.
 * - Entry `flags`: written for every entry, in counter order (INV-RING-FIFO reads every entry's flags; in a
 *   correct state the entries outside [reset, dirty) are 0, so this costs nothing in merging). Entries past the
 *   "window" (below) are written sparsely: only the non-zero ones, with their position.
 * - Entry contents (`slot`, `offLo`, `offHi`): written for the entries of the window, the first
 *   min(max(dirtyIndex - resetIndex, fetchIndex - resetIndex), size) counters from `resetIndex` (read by `pending`,
 *   the harvest, the reset loop, the adversary's `rewriteSteps` / `rewrittenPending` and `mark`'s duplicate count), and for any
 *   entry with non-zero flags (a harvest reads the contents at `fetchIndex` only if its flags are DIRTY; the reset
 *   loop reads them only while the flags hold RESET). The other entries (consumed: flags 0, outside the window)
 *   are left out: no reader reaches them before `push` rewrites all three fields and the flags. Exception: with
 *   the `adversary` option and its re-flagging reset still to come (`attackDone` 0), every entry's contents are
 *   written: that reset (reflag) consumes two laps of the whole ring whatever the flags, re-arming the pages
 *   the stale contents name.
 * - `just` (per vCPU and array slot, "the entry was justified"): left out; written by `mark` and read by the
 *   harvest only to count `ringUnjustified` (a statistic for `metrics`, which explore never reports). Copied.
 * - `entryUsed[v]`: read only by INV-RING-GATE, and only while vCPU v's `run` is 'guest'; the only transition
 *   into 'guest' (`vcpu/entered`) rewrites it (`onEnter`). Written when v is in the guest, else -1.
 * - `last` (the reset audit): read only by the invariants through `resetInFlight` (while `vmm.ioctl` is the
 *   reset), and written (replaced) by every reset, which only starts with no ioctl in flight. Written in full
 *   (counts, expected / actual gfns, the out-of-slot strings, unterminated) while a reset is in flight, else -1.
 * - `size`, `withBitmap`, `adversary`: static per design; written anyway (one word each, free).
 * - `soft`: written (hdbss lowers it at the first vcpu_load when it feeds the ring).
 * - `exited`, `attacked`, `harv` (order kept: the reset hands out its first `cleared` entries), `always`,
 *   `queued`, `pass`, `attackDone`, `softFullClears` (order kept: it orders candidate events): written as they are.
 * The ring holds no VMIDs (so the machine may encode its VMIDs relative to the current one).
 *
 * `checkRingShape` guards the hand-written layout: a field added to `RingExt`, `Ring` or `ResetAudit` that this
 * file does not know makes explore stop with a message instead of silently merging different states (the key
 * tables below are typed `Record<keyof T, true>`, so tsc also fails when an interface grows).
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from '../../src/core/model.ts';
import type { ExtCodec } from '../machine/mechanisms.ts';
import type { MachineState } from '../machine/state.ts';
import type { ResetAudit, RingExt } from './state.ts';
import type { Ring } from './ring.ts';
import { copyNums } from '../machine/pack.ts';
import { loadNums, saveList } from '../machine/save.ts';

const RING_EXT_KEYS: Record<keyof RingExt, true> = {
  size: true, soft: true, withBitmap: true, adversary: true, rings: true, exited: true, entryUsed: true, attacked: true,
  harv: true, always: true, queued: true, just: true, pass: true, attackDone: true, softFullClears: true, last: true,
};
const RING_KEYS: Record<keyof Ring, true> = { dirtyIndex: true, resetIndex: true, fetchIndex: true, flags: true, slot: true, offLo: true, offHi: true };
const AUDIT_KEYS: Record<keyof ResetAudit, true> = {
  cleared: true, consumed: true, expected: true, invalid: true, actual: true, outOfSlot: true, unterminated: true,
};

function keyList(o: object): string {
  return Object.keys(o).sort().join(',');
}
const WANT = { ext: keyList(RING_EXT_KEYS), ring: keyList(RING_KEYS), audit: keyList(AUDIT_KEYS) } as const;
const COUNT = { ext: Object.keys(RING_EXT_KEYS).length, ring: Object.keys(RING_KEYS).length, audit: Object.keys(AUDIT_KEYS).length } as const;

function countKeys(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

function sameKeys(o: object, what: keyof typeof WANT, label: string): void {
  const got = keyList(o);
  if (got !== WANT[what]) {
    throw new Error(`[dtsim] models/dirty-ring/codec.ts does not know the ${label} fields ${got} (expected ${WANT[what]}): `
      + 'add the new fields to the ring codec (pack and copy) before exploring');
  }
}

/** Throws if the ring state has fields the hand-written codec does not cover. */
export function checkRingShape(R: RingExt): void {
  sameKeys(R, 'ext', 'ring state (RingExt)');
  for (const r of R.rings) sameKeys(r, 'ring', 'Ring');
  if (R.last !== null) sameKeys(R.last, 'audit', 'reset audit (ResetAudit)');
}

/** The cheap form of `checkRingShape`, run on every pack: key counts, the full check on a mismatch. */
function quickShape(R: RingExt): void {
  let ok = countKeys(R) === COUNT.ext && (R.last === null || countKeys(R.last) === COUNT.audit);
  for (let v = 0; ok && v < R.rings.length; v++) ok = countKeys(R.rings[v] as Ring) === COUNT.ring;
  if (!ok) checkRingShape(R);
}

/** Writes one ring: indices relative to `resetIndex`, entries in counter order (see the header). */
function packRing(r: Ring, allContents: boolean, out: PackSink): void {
  const size = r.flags.length;
  const mask = size - 1;
  const reset = r.resetIndex;
  const used = (r.dirtyIndex - reset) >>> 0;
  const fetched = (r.fetchIndex - reset) >>> 0;
  out.num(used);
  out.num(fetched);
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

export function packRingExt(s: MachineState, v: JsonValue, out: PackSink): void {
  const R = v as unknown as RingExt;
  quickShape(R);
  out.num(R.size);
  out.num(R.soft);
  out.num((R.withBitmap ? 1 : 0) | (R.adversary ? 2 : 0));
  out.num(R.pass);
  out.num(R.queued);
  out.num(R.attackDone);
  const n = R.rings.length;
  out.num(n);
  const allContents = R.adversary && R.attackDone === 0;
  for (let x = 0; x < n; x++) {
    out.num(R.exited[x] as number);
    out.num(R.attacked[x] as number);
    const vc = s.vcpus[x];
    out.num(vc !== undefined && vc.run === 'guest' ? R.entryUsed[x] as number : -1);
    packRing(R.rings[x] as Ring, allContents, out);
    out.nums(R.harv[x] as number[]);
  }
  out.nums(R.always);
  out.nums(R.softFullClears);
  const io = s.vmm.ioctl;
  const a = io !== null && io.kind === 'reset' ? R.last : null;
  if (a === null) out.num(-1);
  else {
    out.num(a.cleared); out.num(a.consumed); out.nums(a.expected); out.num(a.invalid); out.nums(a.actual);
    out.num(a.unterminated);
    out.num(a.outOfSlot.length);
    for (let i = 0; i < a.outOfSlot.length; i++) out.json(a.outOfSlot[i]);
  }
}

/** A copy of `a` in `d` when the lengths agree, else a new array (V8's length setter is slow). */
const copyList = copyNums;

function copyLists(d: number[][] | undefined, a: readonly (readonly number[])[]): number[][] {
  const n = a.length;
  if (d === undefined || d.length !== n) return a.map((x) => x.slice());
  for (let i = 0; i < n; i++) d[i] = copyList(d[i], a[i] as number[]);
  return d;
}

function copyRing(d: Ring | undefined, r: Ring): Ring {
  if (d === undefined) {
    return { dirtyIndex: r.dirtyIndex, resetIndex: r.resetIndex, fetchIndex: r.fetchIndex, flags: r.flags.slice(), slot: r.slot.slice(), offLo: r.offLo.slice(),
      offHi: r.offHi.slice() };
  }
  d.dirtyIndex = r.dirtyIndex; d.resetIndex = r.resetIndex; d.fetchIndex = r.fetchIndex;
  d.flags = copyList(d.flags, r.flags);
  d.slot = copyList(d.slot, r.slot);
  d.offLo = copyList(d.offLo, r.offLo);
  d.offHi = copyList(d.offHi, r.offHi);
  return d;
}

function copyAudit(d: ResetAudit | null, a: ResetAudit): ResetAudit {
  if (d === null) {
    return { cleared: a.cleared, consumed: a.consumed, expected: a.expected.slice(), invalid: a.invalid, actual: a.actual.slice(),
      outOfSlot: a.outOfSlot.slice(), unterminated: a.unterminated };
  }
  d.cleared = a.cleared; d.consumed = a.consumed; d.invalid = a.invalid; d.unterminated = a.unterminated;
  d.expected = copyList(d.expected, a.expected);
  d.actual = copyList(d.actual, a.actual);
  d.outOfSlot = a.outOfSlot.length === 0 && d.outOfSlot.length === 0 ? d.outOfSlot : a.outOfSlot.slice();
  return d;
}

/**
 * A deep copy of `src` into `dst` (a dead state's ring state, reused) or a fresh object. Every field is copied,
 * `just` included (no stale metric): fields are explicit, `checkRingShape` (on every pack) catches new ones.
 */
export function copyRingExt(dst: JsonValue | undefined, src: JsonValue): JsonValue {
  const R = src as unknown as RingExt;
  const D = dst as unknown as RingExt | undefined;
  if (D === undefined || D === null || typeof D !== 'object' || !Array.isArray(D.rings)) {
    const fresh: RingExt = {
      size: R.size, soft: R.soft, withBitmap: R.withBitmap, adversary: R.adversary,
      rings: R.rings.map((r) => copyRing(undefined, r)), exited: R.exited.slice(), entryUsed: R.entryUsed.slice(),
      attacked: R.attacked.slice(), harv: R.harv.map((h) => h.slice()), always: R.always.slice(), queued: R.queued,
      just: R.just.map((j) => j.slice()), pass: R.pass, attackDone: R.attackDone, softFullClears: R.softFullClears.slice(),
      last: R.last === null ? null : copyAudit(null, R.last),
    };
    return fresh as unknown as JsonValue;
  }
  D.size = R.size; D.soft = R.soft; D.withBitmap = R.withBitmap; D.adversary = R.adversary;
  D.queued = R.queued; D.pass = R.pass; D.attackDone = R.attackDone;
  const n = R.rings.length;
  if (D.rings.length !== n) D.rings = R.rings.map((r) => copyRing(undefined, r));
  else for (let i = 0; i < n; i++) D.rings[i] = copyRing(D.rings[i], R.rings[i] as Ring);
  D.exited = copyList(D.exited, R.exited);
  D.entryUsed = copyList(D.entryUsed, R.entryUsed);
  D.attacked = copyList(D.attacked, R.attacked);
  D.harv = copyLists(D.harv, R.harv);
  D.always = copyList(D.always, R.always);
  D.just = copyLists(D.just, R.just);
  D.softFullClears = copyList(D.softFullClears, R.softFullClears);
  D.last = R.last === null ? null : copyAudit(D.last, R.last);
  return D as unknown as JsonValue;
}

let saveTick = 0;

/** Writes the ring state exactly, every field (explore's saved frontier; models/machine/save.ts). */
export function saveRingExt(v: JsonValue, out: SaveSink): void {
  const R = v as unknown as RingExt;
  if ((saveTick++ & 1023) === 0) checkRingShape(R);
  out.int(R.size); out.int(R.soft); out.int(R.withBitmap ? 1 : 0); out.int(R.adversary ? 1 : 0);
  out.int(R.rings.length);
  for (const r of R.rings) {
    out.int(r.dirtyIndex); out.int(r.resetIndex); out.int(r.fetchIndex);
    saveList(r.flags, out); saveList(r.slot, out); saveList(r.offLo, out); saveList(r.offHi, out);
  }
  saveList(R.exited, out); saveList(R.entryUsed, out); saveList(R.attacked, out);
  out.int(R.harv.length);
  for (const h of R.harv) saveList(h, out);
  saveList(R.always, out); out.int(R.queued);
  out.int(R.just.length);
  for (const j of R.just) saveList(j, out);
  out.int(R.pass); out.int(R.attackDone); saveList(R.softFullClears, out);
  const a = R.last;
  if (a === null) out.int(-1);
  else {
    out.int(1); out.int(a.cleared); out.int(a.consumed); saveList(a.expected, out); out.int(a.invalid); saveList(a.actual, out);
    out.value(a.outOfSlot, OUT_OF_SLOT_SITE); out.int(a.unterminated);
  }
}

/** The codec site of `outOfSlot` (strings: generic). */
const OUT_OF_SLOT_SITE = 32;

/** Reads back what `saveRingExt` wrote, as a fresh copy (keys in `copyRingExt`'s order). */
export function loadRingExt(src: LoadSource): JsonValue {
  const size = src.int(); const soft = src.int(); const withBitmap = src.int() === 1; const adversary = src.int() === 1;
  const nr = src.int();
  const rings: Ring[] = [];
  for (let i = 0; i < nr; i++) {
    const dirtyIndex = src.int(); const resetIndex = src.int(); const fetchIndex = src.int();
    const flags = loadNums(src); const slot = loadNums(src); const offLo = loadNums(src); const offHi = loadNums(src);
    rings.push({ dirtyIndex, resetIndex, fetchIndex, flags, slot, offLo, offHi });
  }
  const exited = loadNums(src); const entryUsed = loadNums(src); const attacked = loadNums(src);
  const harv: number[][] = [];
  for (let i = src.int(); i > 0; i--) harv.push(loadNums(src));
  const always = loadNums(src); const queued = src.int();
  const just: number[][] = [];
  for (let i = src.int(); i > 0; i--) just.push(loadNums(src));
  const pass = src.int(); const attackDone = src.int(); const softFullClears = loadNums(src);
  let last: ResetAudit | null = null;
  if (src.int() >= 0) {
    const cleared = src.int(); const consumed = src.int(); const expected = loadNums(src); const invalid = src.int(); const actual = loadNums(src);
    const outOfSlot = src.value() as string[]; const unterminated = src.int();
    last = { cleared, consumed, expected, invalid, actual, outOfSlot, unterminated };
  }
  const R: RingExt = { size, soft, withBitmap, adversary, rings, exited, entryUsed, attacked, harv, always, queued, just, pass,
    attackDone, softFullClears, last };
  return R as unknown as JsonValue;
}

export const ringCodec: ExtCodec = { pack: packRingExt, copy: copyRingExt, save: saveRingExt, load: loadRingExt };
