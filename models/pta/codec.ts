/**
 * Explore codec of `s.ext['pta']` (the page tracking device, pta.ts). See models/hw-dirty/codec.ts for what a
 * codec must guarantee (a bisimulation) and the shared helpers.
 *
 * Per field of `PtaExt` (readers: pta.ts only; elsewhere only the `show` view prints it):
 * - `enabled`: packed.
 * - `vmid` (the tracker's configured VMID, 0 before enable): packed relative to the VM's current VMID
 *   (`vmidRel`, 0 stays 0). It is only compared for equality with PE VMIDs (the device filter, INV-VMID) and
 *   assigned from `s.vmid`, all of which the machine packs through the same rotation when every ext key has a
 *   codec (and absolutely otherwise, which makes this relative value injective anyway).
 * - `cpu` (CPU filter, -1 = all): packed.
 * - `misattributed` (a count of records read into another vCPU's ring): only incremented, and read only by
 *   INV-PTA-ATTR as `=== 0`: packed as 0 or 1 (the count itself is a metric).
 * - `pend`, `ready` (records [base, level, pe, vcpu], oldest first): what reads them is the device filter
 *   (`logged` appends to `pend`), `pta/recordPublished` (enabled iff `pend` is non-empty; moves the oldest
 *   pending record to the end of `ready`), `ptaFlush` (appends `pend` to `ready`), `ptaRead(cpu, vcpu)` (marks
 *   the ready records of a CPU or all, in order, counts misattributions, keeps the others in order),
 *   `pending(gfn)` (does any record of either list cover gfn), `hasRecordsOf(pe)` and `quiescent` (ring
 *   consumer: records of a PE in either list; both lists empty). Hence:
 *   - ring consumer (`consumer: 'ring'`): the marks go to a vCPU's ring in record order and the PE and vCPU
 *     words are read, so both lists are packed exactly (no merging).
 *   - bitmap consumer: `ptaRead` is only called as `ptaRead(-1, -1)` (`syncDirtyLog`): every ready record is
 *     marked into the bitmap (idempotent, order-free; `markRecord`'s block audit is packed as a set too) and
 *     none is kept. So the PE and vCPU words are never read, and `ready` is observed only as the set of
 *     (base, level) it covers: packed as that sorted set.
 *     - correct design (no `pta-read-no-flush`): `syncDirtyLog` flushes before reading, so which records are
 *       pending and which ready is observed only through `pend.length > 0` (`pta/recordPublished`) and the
 *       union (`pending`, the read after the flush); publishing keeps the union. Packed: the number of
 *       pending records, then the sorted set of (base, level) over both lists.
 *     - `pta-read-no-flush`: the read sees `ready` only, and which record a publish moves depends on the order
 *       of `pend`: `pend` is packed as its sequence of (base, level), `ready` as its set.
 * - `deviceRecords` N > 0 (a bounded device): `canUpdate` (is a hardware dirty-state update possible) reads the
 *   number of records held, `pend.length + ready.length`, which the set above does not keep (two ready records
 *   for one page are one pair): so with a bound the number of ready records is packed too. (The soundness check
 *   found this merge unsound: a device with [p0, p0] ready refused an update one with [p0] took.)
 * The number of pending records is not bounded: the device keeps one record per hardware dirty-state update
 * (duplicates included), `pta/recordPublished` is never forced, and an MMU-notifier unmap re-arms a page for
 * another update (write fault -> writable-clean -> update) as often as it happens, even within one guest store
 * (an unmap between the update and the store's retirement makes the store fault and update again). No sound
 * encoding can merge different counts (they enable different numbers of consecutive `pta/recordPublished`),
 * so the correct design is not finite as modelled (properties/explore.hw.test.ts pins this).
 *
 * Field-shape guard: `PTA_FIELDS` lists the fields of `PtaExt` (compiler-checked), `checkFields` the live state.
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from '../../src/core/model.ts';
import { loadNums, saveList } from '../machine/save.ts';
import { vmidRel } from '../machine/pack.ts';
import { registerExtCodec } from '../machine/registry.ts';
import type { MachineState } from '../machine/state.ts';
import { checkFields, copyNums, fieldList } from '../hw-dirty/codec.ts';
import type { PtaExt } from './pta.ts';
import { hasBug, type PtaKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type OptionRead, type PtaOption } from '../machine/options.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<PtaKnob> = hasBug;
/** A pta option (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<PtaOption> = optionOf;

/** Words per record (pta.ts `REC`; not imported: pta.ts imports this module, and registration runs first). */
const REC = 4;

const PTA_FIELDS = { enabled: 1, vmid: 1, cpu: 1, pend: 1, ready: 1, misattributed: 1 } as const satisfies Record<keyof PtaExt, 1>;
const PTA_KEYS = fieldList(PTA_FIELDS);

let tick = 0;
/** (base, level) pairs of the records being packed as a set. */
// Scratch (explore's hot path): `np` words of `pairs` are valid; both arrays only grow (resizing an array in place
// is V8's slow length setter).
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

export function packPta(s: MachineState, v: JsonValue, out: PackSink): void {
  const d = v as unknown as PtaExt;
  if ((tick++ & 1023) === 0) checkFields(d, PTA_KEYS, 'pta', 'models/pta/codec.ts');
  out.num(d.enabled ? 1 : 0);
  out.num(vmidRel(s, d.vmid));
  out.num(d.cpu);
  out.num(d.misattributed === 0 ? 0 : 1);
  if (option(s, 'consumer') === 'ring') {
    out.nums(d.pend);
    out.nums(d.ready);
    return;
  }
  // A bounded device back-pressures on the number of records held (canUpdate): pack the ready count too.
  const cap = option(s, 'deviceRecords');
  if (typeof cap === 'number' && cap > 0) out.num(d.ready.length / REC);
  if (bug(s, 'pta-read-no-flush')) {
    out.num(d.pend.length / REC);
    for (let i = 0; i < d.pend.length; i += REC) { out.num(d.pend[i] as number); out.num(d.pend[i + 1] as number); }
    addPairs(d.ready);
    packPairSet(out);
    return;
  }
  out.num(d.pend.length / REC);
  addPairs(d.pend);
  addPairs(d.ready);
  packPairSet(out);
}

export function copyPta(dst: JsonValue | undefined, src: JsonValue): JsonValue {
  const a = src as unknown as PtaExt;
  const d = (dst !== undefined && dst !== null && typeof dst === 'object' && !Array.isArray(dst) ? dst : {}) as unknown as PtaExt;
  d.enabled = a.enabled;
  d.vmid = a.vmid;
  d.cpu = a.cpu;
  d.pend = copyNums(d.pend, a.pend);
  d.ready = copyNums(d.ready, a.ready);
  d.misattributed = a.misattributed;
  return d as unknown as JsonValue;
}

let saveTick = 0;

/** Writes the PTA device state exactly, every field (explore's saved frontier; models/machine/save.ts). */
export function savePta(v: JsonValue, out: SaveSink): void {
  const d = v as unknown as PtaExt;
  if ((saveTick++ & 1023) === 0) checkFields(d, PTA_KEYS, 'pta', 'models/pta/codec.ts');
  out.int(d.enabled ? 1 : 0); out.int(d.vmid); out.int(d.cpu); saveList(d.pend, out); saveList(d.ready, out); out.int(d.misattributed);
}

/** Reads back what `savePta` wrote, as a fresh copy (fields in `PtaExt`'s order). */
export function loadPta(src: LoadSource): JsonValue {
  const enabled = src.int() === 1; const vmid = src.int(); const cpu = src.int();
  const pend = loadNums(src); const ready = loadNums(src); const misattributed = src.int();
  const d: PtaExt = { enabled, vmid, cpu, pend, ready, misattributed };
  return d as unknown as JsonValue;
}

registerExtCodec('pta', { pack: packPta, copy: copyPta, save: savePta, load: loadPta });
