/**
 * The reference oracle: an ideal tracker computed from the event log alone. It shares no code with the
 * mechanisms: it reads only event fields (which page a retired store or a host write changed, which page the
 * VMM copied) and keeps guest memory versions and the destination's copies. The invariants compare it with
 * what the design can still recover (INV-NOLOSS) and with the final copy (INV-FINAL).
 */
import type { EventBase } from '../../src/core/model.ts';

/** Per-page arrays as a two-level radix of 512-entry arrays: p[i >>> 18][(i >>> 9) & 511][i & 511]. */
type Radix = number[][][];

export interface OracleState {
  mem: Radix;
  copied: Radix;
  touched: Radix;
}

function get(p: Radix, i: number): number {
  return ((p[i >>> 18] as number[][])[(i >>> 9) & 511] as number[])[i & 511] as number;
}
function set(p: Radix, i: number, v: number): void {
  ((p[i >>> 18] as number[][])[(i >>> 9) & 511] as number[])[i & 511] = v;
}
function touch(t: Radix, g: number): void {
  const w = g >>> 5;
  const old = get(t, w);
  const nw = (old | (1 << (g & 31))) >>> 0;
  if (nw !== old) set(t, w, nw);
}

/** Folds one event into the oracle (called for every event, before the machine applies it). */
export function observe(o: OracleState, e: EventBase): void {
  const r = e as EventBase & { gfn?: number };
  switch (e.type) {
    case 'guest/storeRetired':
    case 'host/stolenTimeWritten':
    case 'host/itsTableSaved':
      set(o.mem, r.gfn!, get(o.mem, r.gfn!) + 1);
      touch(o.touched, r.gfn!);
      return;
    case 'guest/storeIssued':
      touch(o.touched, r.gfn!);
      return;
    case 'vmm/pageCopied':
      set(o.copied, r.gfn!, get(o.mem, r.gfn!));
      return;
    default:
      return;
  }
}

/** Data version of a page. */
export function memVersion(o: OracleState, g: number): number {
  return get(o.mem, g);
}
/** Version the destination holds (-1: never copied). */
export function copiedVersion(o: OracleState, g: number): number {
  return get(o.copied, g);
}
