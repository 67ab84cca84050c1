/**
 * Explore codec of `s.ext['hdbss']` (FEAT_HDBSS buffers and registers, hdbss.ts). See models/hw-dirty/codec.ts
 * for what a codec must guarantee (a bisimulation) and the shared helpers.
 *
 * Per field of `HdbssExt` (readers: hdbss.ts, which also lowers the ring's soft limit once by `cap`, and
 * invariants.ts; elsewhere only the `show` view prints it):
 * - `enabled`, `cap`, `ringReserved`: packed (`cap` is fixed by the design; one word).
 * - `buf` (per vCPU, `cap` entries, 0 = invalid): packed as is, entry by entry. Drains read entries [0, INDEX)
 *   in order (ring pushes are ordered), `pending` and INV-HDBSS-REGS read every position, appends write at
 *   INDEX; a drained entry is zeroed, so nothing stale is left to merge. HDBSS entries carry no VMID.
 * - `savedIndex`, `savedFsc`, `hdbssf`, `resumed` (per vCPU): packed as is (the saved index is also read while the
 *   vCPU is loaded, by the register programming at HDBSS enable).
 * - `br`, `prodIndex`, `prodFsc` (per PE: HDBSSBR_EL2 owner, HDBSSPROD_EL2.INDEX and .FSC): read only for a PE that runs a
 *   vCPU (the hardware update and HDBSS-full checks, appends, the vCPU's index while loaded, vcpu_put's save,
 *   INV-HDBSS-REGS for loaded PEs), and every vcpu_load programs all three before any such read. So the values
 *   a PE keeps while no vCPU is loaded on it are dead: packed as -1, 0, 0. Not under the F12 knob
 *   (`hdbss-vtcr-before-regs`), whose vcpu_load leaves them unprogrammed while HDBSS is off: packed as is.
 * No field holds a VMID.
 *
 * Field-shape guard: `HDBSS_FIELDS` lists the fields of `HdbssExt` (compiler-checked), `checkFields` the live state.
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from '../../src/core/model.ts';
import { loadNums, saveList } from '../machine/save.ts';
import { registerExtCodec } from '../machine/registry.ts';
import type { MachineState } from '../machine/state.ts';
import { checkFields, copyNums, fieldList } from '../hw-dirty/codec.ts';
import type { HdbssExt } from './state.ts';
import { hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;

const HDBSS_FIELDS = {
  enabled: 1, cap: 1, buf: 1, savedIndex: 1, savedFsc: 1, br: 1, prodIndex: 1, prodFsc: 1, hdbssf: 1, resumed: 1, ringReserved: 1,
} as const satisfies Record<keyof HdbssExt, 1>;
const HDBSS_KEYS = fieldList(HDBSS_FIELDS);

let tick = 0;

export function packHdbss(s: MachineState, v: JsonValue, out: PackSink): void {
  const h = v as unknown as HdbssExt;
  if ((tick++ & 1023) === 0) checkFields(h, HDBSS_KEYS, 'hdbss', 'models/hdbss/codec.ts');
  out.num(h.enabled ? 1 : 0);
  out.num(h.cap);
  out.num(h.ringReserved ? 1 : 0);
  out.num(h.buf.length);
  for (let i = 0; i < h.buf.length; i++) out.nums(h.buf[i] as number[]);
  out.nums(h.savedIndex);
  out.nums(h.savedFsc);
  out.nums(h.hdbssf);
  out.nums(h.resumed);
  const live = !bug(s, 'hdbss-vtcr-before-regs');
  const np = h.br.length;
  out.num(np);
  for (let p = 0; p < np; p++) {
    const pe = s.pes[p];
    if (live && pe !== undefined && pe.loaded < 0) { out.num(-1); out.num(0); out.num(0); continue; }
    out.num(h.br[p] as number); out.num(h.prodIndex[p] as number); out.num(h.prodFsc[p] as number);
  }
}

export function copyHdbss(dst: JsonValue | undefined, src: JsonValue): JsonValue {
  const h = src as unknown as HdbssExt;
  const d = (dst !== undefined && dst !== null && typeof dst === 'object' && !Array.isArray(dst) ? dst : {}) as unknown as HdbssExt;
  d.enabled = h.enabled;
  d.cap = h.cap;
  const buf = Array.isArray(d.buf) ? d.buf : [];
  if (buf.length !== h.buf.length) buf.length = h.buf.length;
  for (let i = 0; i < h.buf.length; i++) buf[i] = copyNums(buf[i], h.buf[i] as number[]);
  d.buf = buf;
  d.savedIndex = copyNums(d.savedIndex, h.savedIndex);
  d.savedFsc = copyNums(d.savedFsc, h.savedFsc);
  d.br = copyNums(d.br, h.br);
  d.prodIndex = copyNums(d.prodIndex, h.prodIndex);
  d.prodFsc = copyNums(d.prodFsc, h.prodFsc);
  d.hdbssf = copyNums(d.hdbssf, h.hdbssf);
  d.resumed = copyNums(d.resumed, h.resumed);
  d.ringReserved = h.ringReserved;
  return d as unknown as JsonValue;
}

let saveTick = 0;

/** Writes the HDBSS state exactly, every field (explore's saved frontier; models/machine/save.ts). */
export function saveHdbss(v: JsonValue, out: SaveSink): void {
  const h = v as unknown as HdbssExt;
  if ((saveTick++ & 1023) === 0) checkFields(h, HDBSS_KEYS, 'hdbss', 'models/hdbss/codec.ts');
  out.int(h.enabled ? 1 : 0); out.int(h.cap);
  out.int(h.buf.length);
  for (const b of h.buf) saveList(b, out);
  saveList(h.savedIndex, out); saveList(h.savedFsc, out); saveList(h.br, out); saveList(h.prodIndex, out); saveList(h.prodFsc, out);
  saveList(h.hdbssf, out); saveList(h.resumed, out); out.int(h.ringReserved ? 1 : 0);
}

/** Reads back what `saveHdbss` wrote, as a fresh copy (fields in `HdbssExt`'s order). */
export function loadHdbss(src: LoadSource): JsonValue {
  const enabled = src.int() === 1; const cap = src.int();
  const buf: number[][] = [];
  for (let i = src.int(); i > 0; i--) buf.push(loadNums(src));
  const savedIndex = loadNums(src); const savedFsc = loadNums(src); const br = loadNums(src); const prodIndex = loadNums(src);
  const prodFsc = loadNums(src);
  const hdbssf = loadNums(src); const resumed = loadNums(src); const ringReserved = src.int() === 1;
  const h: HdbssExt = { enabled, cap, buf, savedIndex, savedFsc, br, prodIndex, prodFsc, hdbssf, resumed, ringReserved };
  return h as unknown as JsonValue;
}

registerExtCodec('hdbss', { pack: packHdbss, copy: copyHdbss, save: saveHdbss, load: loadHdbss });
