/**
 * FEAT_HDBSS as KVM's model of it sees it (arm reference section 2): VTCR_EL2 and HDBSSPROD_EL2.FSC values, the
 * buffer entry format and capacity, and the mechanism's state `s.ext['hdbss']` (`HdbssExt`: per vCPU the buffer
 * and KVM's saved HDBSSPROD_EL2, per PE HDBSSBR_EL2 and HDBSSPROD_EL2 as the registers hold them), with the
 * readers hdbss.ts and invariants.ts share. The state's fields, and everything derived from them (copy, save/load,
 * canonical encoding, view), are declared once in schema.ts.
 */
import type { MachineState } from '../machine/state.ts';
import { designOption, type DesignOptionRead, type DesignOptions, type HdbssOption } from '../machine/options.ts';
import type { HdbssExt } from './schema.ts';

/** An hdbss option of a design's options (typed: ../machine/options.ts). */
const designOpt: DesignOptionRead<HdbssOption> = designOption;

export const VTCR_HA = 1;
export const VTCR_HD = 2;
export const VTCR_HDBSS = 4;
/** HDBSSPROD_EL2.FSC values. */
export const FSC_OK = 0;
export const FSC_EXTERNAL_ABORT = 0b010000;
export const FSC_GPF = 0b101000;

/** Entries of a buffer of SZ encoding `sz` (0 = 4 KiB ... 9 = 2 MiB): 2^(SZ+12) bytes of 8-byte entries. */
export function hdbssCapacity(sz: number): number {
  if (!Number.isInteger(sz) || sz < 0 || sz > 9) throw new Error(`[dtsim] HDBSSBR_EL2.SZ ${sz} is reserved`);
  return 2 ** (sz + 12) / 8;
}

/** An HDBSS entry (Table D8-93): IPA[55:12] aligned to the leaf, TTWL[3:1] (3-bit two's complement), Valid[0]. */
export function hdbssEntry(gfn: number, level: number): number {
  return gfn * 4096 + ((level & 7) << 1) + 1;
}
export function entryValid(e: number): boolean {
  return e % 2 === 1;
}
export function entryGfn(e: number): number {
  return Math.floor(e / 4096);
}
export function entryLevel(e: number): number {
  const t = (e >> 1) & 7;
  return t >= 4 ? t - 8 : t;
}

/** The state type is derived from its schema (schema.ts, `HDBSS_STATE`). */
export type { HdbssExt } from './schema.ts';

/** The HDBSS state (undefined in designs with another producer). */
export function hdOf(s: MachineState): HdbssExt {
  return s.ext['hdbss'] as unknown as HdbssExt;
}

/** The model's buffer capacity: `hdbssEntries` (a scaled-down buffer for checking) or the SZ encoding's. */
export function capacityOf(s: MachineState): number {
  return capacityOfOptions(s.design.options);
}

/** The buffer's entries for a design's options: `hdbssEntries` (a shrunk buffer), else 512 << `hdbssSz`. */
export function capacityOfOptions(o: DesignOptions): number {
  const n = designOpt(o, 'hdbssEntries');
  if (typeof n === 'number' && n > 0) return n;
  const sz = designOpt(o, 'hdbssSz');
  return hdbssCapacity(typeof sz === 'number' ? sz : 0);
}

/** The vCPU's producer index: the live register while loaded (and the PE's HDBSSBR is its own), else the saved one. */
export function indexOf(s: MachineState, v: number): { index: number; fsc: number; live: number } {
  const h = hdOf(s);
  const pe = s.vcpus[v]!.pe;
  if (pe >= 0) return { index: h.prodIndex[pe]!, fsc: h.prodFsc[pe]!, live: pe };
  return { index: h.savedProdIndex[v]!, fsc: h.savedProdFsc[v]!, live: -1 };
}

/** One past the highest valid (undrained) entry of a vCPU's buffer. */
export function topOf(s: MachineState, v: number): number {
  const b = hdOf(s).buf[v]!;
  for (let i = b.length - 1; i >= 0; i--) if (b[i] !== 0) return i + 1;
  return 0;
}
