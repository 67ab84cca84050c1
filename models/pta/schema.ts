/**
 * The state of `s.ext['pta']` (the page tracking device, pta.ts), declared once: src/core/schema.ts derives from
 * `PTA_STATE` its type (`PtaExt`), exact copy, the explorer's save/load, the shape check, the labelled view and
 * the canonical encoding (the visited-set key), declared as the part of key `pta` by `PTA_FOLDER.parts`
 * (models/pta/pta.ts). The encoding must be a bisimulation (see models/hw-dirty/schema.ts; checked on
 * sampled reachable states by properties/explore.hw.test.ts, which also shows that it catches wrong encodings).
 *
 * Per field (readers: pta.ts only; elsewhere only the views print the state):
 * - `enabled`: packed.
 * - `vmid` (the tracker's configured VMID, `pt_config.vmid`, 0 before enable): a VMID role, packed relative to the
 *   VM's current VMID (`ctx.vmid`, as the machine's `vmidRel`; 0 stays 0). It is only compared for equality with
 *   PE VMIDs (the device filter, INV-VMID) and assigned from `s.vmid`, all of which the machine packs through
 *   the same rotation.
 * - `cpu` (the CPU filter, `page_tracking_enable(ctx, cpu)`; -1 = all): a PE role, packed as is (mechanism state
 *   disables PE symmetry).
 * - `pending`, `readable` (records [base, level, pe, vcpu], oldest first) and `misattributed`: hand-written
 *   canonical encodings, each with its soundness argument at its hook below.
 *
 * Names: `pending` and `readable` are the arm reference's (section 5.1, `device: { vmid, pending, readable }`):
 * records inside the device until `page_tracking_flush` (or its internal drain) make them readable to
 * `page_tracking_read_dirty_pages`.
 */
import type { PackSink } from '../../src/core/model.ts';
import { bool, compile, int, nums, record, type Infer, type PackCtx } from '../../src/core/schema.ts';
import type { MachineState } from '../machine/state.ts';
import { hasBug, type PtaKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type OptionRead, type PtaOption } from '../machine/options.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<PtaKnob> = hasBug;
/** A pta option (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<PtaOption> = optionOf;

/** Words per device record: leaf base gfn, level, PE (the CPU id the device sees), vCPU (ground truth, model only). */
export const REC = 4;

/** What the record-list hooks read of the device (the schema's own type would be circular here). */
interface Lists { readonly pending: readonly number[]; readonly readable: readonly number[] }

// Scratch (explore's hot path): `np` words of `pairs` are valid; both arrays only grow (resizing an array in place
// is V8's slow length setter). (base, level) pairs of the records being packed as a set.
const pairs: number[] = [];
let np = 0;
const order: number[] = [];

function addPairs(r: readonly number[]): void {
  for (let i = 0; i < r.length; i += REC) { pairs[np++] = r[i] as number; pairs[np++] = r[i + 1] as number; }
}

/** Pair a before pair b (by base, then level)? */
function pairBefore(a: number, b: number): boolean {
  const d = (pairs[2 * a] as number) - (pairs[2 * b] as number);
  return d < 0 || (d === 0 && (pairs[2 * a + 1] as number) < (pairs[2 * b + 1] as number));
}

/** The sorted distinct (base, level) pairs collected in `pairs`, count first. */
function packPairSet(out: PackSink): void {
  const n = np >>> 1;
  np = 0;
  for (let i = 0; i < n; i++) order[i] = i;
  // Insertion sort for the few records a bounded device holds; an unbounded one may hold many.
  if (n > 32) {
    const sorted = order.slice(0, n).sort((a, b) => (pairBefore(a, b) ? -1 : pairBefore(b, a) ? 1 : 0));
    for (let i = 0; i < n; i++) order[i] = sorted[i] as number;
  }
  for (let i = 1; i < (n > 32 ? 0 : n); i++) {
    const k = order[i] as number;
    let j = i - 1;
    while (j >= 0 && pairBefore(k, order[j] as number)) { order[j + 1] = order[j] as number; j--; }
    order[j + 1] = k;
  }
  let m = 0;
  let pb = NaN;
  let pl = NaN;
  for (let i = 0; i < n; i++) {
    const k = order[i] as number;
    const b = pairs[2 * k] as number;
    const l = pairs[2 * k + 1] as number;
    if (b === pb && l === pl) continue;
    order[m++] = k;
    pb = b; pl = l;
  }
  out.num(m);
  for (let i = 0; i < m; i++) { const k = order[i] as number; out.num(pairs[2 * k] as number); out.num(pairs[2 * k + 1] as number); }
}

/*
 * The record lists. What reads them: the device filter (`logged` appends to `pending`), `pta/recordPublished`
 * (enabled iff `pending` is non-empty; moves the oldest pending record to the end of `readable`), `ptaFlush`
 * (appends `pending` to `readable`), `ptaRead(cpu, vcpu)` (marks the readable records of a CPU or all, in order,
 * counts misattributions, keeps the others in order), `pending(gfn)` (does any record of either list cover gfn),
 * `hasRecordsOf(pe)` and `quiescent` (ring consumer: records of a PE in either list; both lists empty), and
 * `canUpdate` with `deviceRecords` N > 0 (the number of records held). Hence:
 * - ring consumer (`consumer: 'ring'`): the marks go to a vCPU's ring in record order and the PE and vCPU words
 *   are read, so both lists are packed exactly (no merging).
 * - bitmap consumer: `ptaRead` is only called as `ptaRead(-1, -1)` (`syncDirtyLog`): every readable record is
 *   marked into the bitmap (idempotent, order-free; `markRecord`'s block audit is packed as a set too) and none
 *   is kept. So the PE and vCPU words are never read, and `readable` is observed only as the set of
 *   (base, level) it covers.
 *   - correct design (no `pta-read-no-flush`): `syncDirtyLog` flushes before reading, so which records are
 *     pending and which readable is observed only through `pending.length > 0` (`pta/recordPublished`) and the
 *     union (`pending(gfn)`, the read after the flush); publishing keeps the union. Packed: the number of
 *     pending records (`pending`'s hook), then the sorted set of (base, level) over both lists (`readable`'s).
 *   - `pta-read-no-flush`: the read sees `readable` only, and which record a publish moves depends on the order
 *     of `pending`: `pending` is packed as its sequence of (base, level), `readable` as its set.
 *   - `deviceRecords` N > 0 (a bounded device): `canUpdate` reads the number of records held,
 *     `pending.length + readable.length`, which the set does not keep (two readable records for one page are one
 *     pair): so with a bound the number of readable records is packed too (`readable`'s hook). (The soundness
 *     check found this merge unsound once: a device with [p0, p0] readable refused an update one with [p0] took.)
 * Each hook's words are self-delimiting (a count first, or a length fixed by the design, which one exploration
 * never changes), so the concatenation is injective on what the hooks keep.
 * The number of pending records is not bounded: the device keeps one record per hardware dirty-state update
 * (duplicates included), `pta/recordPublished` is never forced, and an MMU-notifier unmap re-arms a page for
 * another update (write fault -> writable-clean -> update) as often as it happens, even within one guest store
 * (an unmap between the update and the store's retirement makes the store fault and update again). No sound
 * encoding can merge different counts (they enable different numbers of consecutive `pta/recordPublished`), so
 * the correct design is not finite as modelled (properties/explore.hw.test.ts pins this).
 */

/** Canonical encoding of `pending` (see the record lists above). */
function packPending(p: readonly number[], _d: Lists, ctx: PackCtx, out: PackSink): void {
  const s = ctx.root as MachineState;
  if (option(s, 'consumer') === 'ring') { out.nums(p); return; }
  out.num(p.length / REC);
  if (!bug(s, 'pta-read-no-flush')) return;
  for (let i = 0; i < p.length; i += REC) { out.num(p[i] as number); out.num(p[i + 1] as number); }
}

/** Canonical encoding of `readable` (see the record lists above; the correct bitmap design packs `pending`'s
 * (base, level) pairs here, in one set with the readable ones). */
function packReadable(r: readonly number[], d: Lists, ctx: PackCtx, out: PackSink): void {
  const s = ctx.root as MachineState;
  if (option(s, 'consumer') === 'ring') { out.nums(r); return; }
  const cap = option(s, 'deviceRecords');
  if (typeof cap === 'number' && cap > 0) out.num(r.length / REC);
  if (!bug(s, 'pta-read-no-flush')) addPairs(d.pending);
  addPairs(r);
  packPairSet(out);
}

/**
 * Canonical encoding of `misattributed` (a count of records read into another vCPU's ring): it is only
 * incremented, and read only by INV-PTA-ATTR as `=== 0` (its message prints the count, which is not a verdict):
 * packed as 0 or 1, the count itself is kept by copy and save as a metric.
 */
function packMisattributed(n: number, _d: unknown, _ctx: PackCtx, out: PackSink): void {
  out.num(n === 0 ? 0 : 1);
}

/**
 * The words a flat layout gives each record list (schema-layout.ts): a device of `deviceRecords` N > 0 holds at
 * most N records in both lists together (`canUpdate`, pta.ts), so each list at most N x REC words. The default
 * device (N = 0) is unbounded as modelled (above): no capacity, so its states have no word image and the explorer
 * saves them through the schema's `save`/`load` (src/core/schema-image.ts).
 */
function recordCap(s: MachineState): number {
  const n = option(s, 'deviceRecords');
  return typeof n === 'number' && n > 0 ? n * REC : Infinity;
}

export const PTA_STATE = record({
  enabled: bool({ doc: 'The tracker is allocated and enabled (page_tracking_enable)' }),
  vmid: int('vmid', { doc: 'The tracker\'s configured VMID (pt_config.vmid); 0 before enable' }),
  cpu: int('pe', { doc: 'The tracker\'s CPU filter (page_tracking_enable(ctx, cpu)); -1: all CPUs' }),
  pending: nums<Lists>('int', `${REC} words per record; unbounded, or deviceRecords`, {
    doc: 'Records inside the device, not yet readable: [base, level, pe, vcpu] each, oldest first',
    pack: packPending,
    max: recordCap,
  }),
  readable: nums<Lists>('int', `${REC} words per record; unbounded, or deviceRecords`, {
    doc: 'Records page_tracking_read_dirty_pages returns: [base, level, pe, vcpu] each, oldest first',
    pack: packReadable,
    max: recordCap,
  }),
  misattributed: int('count', {
    doc: 'Records KVM read and attributed to a vCPU other than the one that made the write (ring attribution)',
    pack: packMisattributed,
  }),
});

/** The PTA device state (`s.ext['pta']`). */
export type PtaExt = Infer<typeof PTA_STATE>;

/** The compiled operations of `PTA_STATE` (registered as the part of key `pta`). */
export const PTA_PART = compile(PTA_STATE);

