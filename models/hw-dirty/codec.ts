/**
 * Explore codec of `s.ext['hw']` (the FEAT_HAFDBS state shared by the dbm, hdbss and pta producers), plus the
 * helpers the pta and hdbss codecs share (field-shape guard, array copies). See `ExtCodec` in
 * models/machine/mechanisms.ts: `pack` must be a bisimulation (equal encodings, with the rest of the machine
 * equal: same enabled events, same invariant verdicts, successors with equal encodings), `copy` a deep copy.
 *
 * Per field of `HwExt` (readers: hw.ts, scan.ts, pta.ts, hdbss.ts; elsewhere only the `show` view prints it):
 * - `rd` ([] or [gfn, old descriptor] of the F3 split PTE update): packed as is (length, then the words); the
 *   candidates, `kvm/pteWritten` and the unmap guard read both words.
 * - `casLost` (-1 or the first page whose hardware bits a plain write lost): packed as is. Sticky; INV-CAS
 *   reads it (its verdict only depends on `< 0`, but the value is bounded and keeps messages equal too).
 * - `pop` (pages backed by a private host page): one int32 word per 32 pages over [0, totalPages) (the stored
 *   words are unsigned; `| 0` is a bijection on them). Read by read faults, write faults and INV-DBM-SAFE.
 * - `vmidStale`: packed (enables `kvm/vmidRolledOver`, read at vcpu_load).
 * - `blockAudit` ([event number, base, ...], INV-BLOCK's record of the block records the current event turned
 *   into marks): the only readers are INV-BLOCK, which ignores it unless `a[0] === s.stats.events`, and
 *   `markRecord`, which starts a new audit unless `a[0] === s.stats.events`. The machine increments
 *   `stats.events` first thing in every `apply`, so an audit that is not current in a state is never current
 *   again: it behaves exactly as an empty one. Packed as "not current" (-1), or the sorted distinct bases when
 *   current (INV-BLOCK checks each base on its own: order and repeats are not read). The event number itself
 *   (a counter that grows forever) is never packed; `copy` keeps it (the machine copies `stats.events` too).
 * No VMID is stored in `hw` (the VM's VMID is `s.vmid`, packed by the machine).
 *
 * `checkShape`-style guard: `HW_FIELDS` must list exactly the fields of `HwExt` (the compiler checks the type,
 * `checkFields` the live object every 1024th pack), so a field added later stops explore with a message
 * instead of being silently merged.
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from '../../src/core/model.ts';
import { loadNums, loadPaged, saveList, savePaged } from '../machine/save.ts';
import type { MachineState } from '../machine/state.ts';
import type { Paged } from '../machine/paged.ts';
import { registerExtCodec } from '../machine/registry.ts';
import { copyNums, copyPagedInto } from '../machine/pack.ts';
import type { HwExt } from './hw.ts';

/** Throws unless the own keys of `o` are exactly `fields` (sorted, comma-joined). */
export function checkFields(o: object, fields: string, key: string, file: string): void {
  const got = Object.keys(o).sort().join(',');
  if (got !== fields) {
    throw new Error(`[dtsim] ${file} does not know the s.ext['${key}'] fields ${got} (expected ${fields}): `
      + 'add the new fields to its pack/copy before exploring');
  }
}

/** The sorted, comma-joined keys of a field table (its type ties it to the state's type). */
export function fieldList(table: object): string {
  return Object.keys(table).sort().join(',');
}

// The copy helpers are the machine's (one implementation for every codec).
export { copyNums };

/** Every word of a paged array, in index order, as int32 (bit-set words are stored unsigned). */
export function packPagedWords(out: PackSink, p: Paged): void {
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    for (let k = 0; k < mid.length; k++) {
      const leaf = mid[k] as number[];
      for (let j = 0; j < leaf.length; j++) out.num((leaf[j] as number) | 0);
    }
  }
}

const scratch: number[] = [];

/** Writes the sorted distinct values of `a[from..]` (length-prefixed). */
export function packSortedSet(out: PackSink, a: readonly number[], from: number): void {
  scratch.length = 0;
  for (let i = from; i < a.length; i++) scratch.push(a[i] as number);
  scratch.sort((x, y) => x - y);
  let n = 0;
  for (let i = 0; i < scratch.length; i++) if (i === 0 || scratch[i] !== scratch[i - 1]) scratch[n++] = scratch[i] as number;
  out.num(n);
  for (let i = 0; i < n; i++) out.num(scratch[i] as number);
}

const HW_FIELDS = { rd: 1, casLost: 1, pop: 1, vmidStale: 1, blockAudit: 1 } as const satisfies Record<keyof HwExt, 1>;
const HW_KEYS = fieldList(HW_FIELDS);

let tick = 0;

export function packHw(s: MachineState, v: JsonValue, out: PackSink): void {
  const h = v as unknown as HwExt;
  if ((tick++ & 1023) === 0) checkFields(h, HW_KEYS, 'hw', 'models/hw-dirty/codec.ts');
  out.nums(h.rd);
  out.num(h.casLost);
  packPagedWords(out, h.pop);
  out.num(h.vmidStale ? 1 : 0);
  const a = h.blockAudit;
  if (a.length < 2 || a[0] !== s.stats.events) out.num(-1);
  else packSortedSet(out, a, 1);
}

export function copyHw(dst: JsonValue | undefined, src: JsonValue): JsonValue {
  const h = src as unknown as HwExt;
  const d = (dst !== undefined && dst !== null && typeof dst === 'object' && !Array.isArray(dst) ? dst : {}) as unknown as HwExt;
  d.rd = copyNums(d.rd, h.rd);
  d.casLost = h.casLost;
  d.pop = copyPagedInto(Array.isArray(d.pop) ? d.pop : null, h.pop);
  d.vmidStale = h.vmidStale;
  d.blockAudit = copyNums(d.blockAudit, h.blockAudit);
  return d as unknown as JsonValue;
}

let saveTick = 0;

/** Writes the hardware-dirty state exactly, every field (explore's saved frontier; models/machine/save.ts). */
export function saveHw(v: JsonValue, out: SaveSink): void {
  const h = v as unknown as HwExt;
  if ((saveTick++ & 1023) === 0) checkFields(h, HW_KEYS, 'hw', 'models/hw-dirty/codec.ts');
  saveList(h.rd, out); out.int(h.casLost); savePaged(h.pop, out); out.int(h.vmidStale ? 1 : 0); saveList(h.blockAudit, out);
}

/** Reads back what `saveHw` wrote, as a fresh copy (fields in `HwExt`'s order). */
export function loadHw(src: LoadSource): JsonValue {
  const rd = loadNums(src); const casLost = src.int(); const pop = loadPaged(src); const vmidStale = src.int() === 1;
  const blockAudit = loadNums(src);
  const h: HwExt = { rd, casLost, pop, vmidStale, blockAudit };
  return h as unknown as JsonValue;
}

registerExtCodec('hw', { pack: packHw, copy: copyHw, save: saveHw, load: loadHw });
