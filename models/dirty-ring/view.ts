/**
 * The dirty ring's rendering for bisect, show, shrink and diff (`Mechanism.view`, called by models/machine/view.ts):
 * a "Dirty rings" section (indices, occupancy and the non-empty entries of each vCPU's ring) and readable lines
 * for a changed entry or index, in KVM's names (dirty_index, reset_index, KVM_DIRTY_GFN_F_DIRTY / _RESET).
 *
 * The ring is read by shape (structure of arrays under `s.ext.ring.rings`), so a state whose ring does not have
 * that shape falls back to the generic "Mechanism state" section and JSON paths instead of failing.
 */
import { match, P } from 'ts-pattern';
import type { Change, Section } from '../../src/core/model.ts';
import type { MachineState } from '../machine/state.ts';
import type { MechanismView } from '../machine/view.ts';
import { RING_ID } from './state.ts';

/** A dirty ring as the dirty-ring mechanism stores it (structure of arrays), recognised by shape. */
interface RingJson { dirtyIndex: number; resetIndex: number; fetchIndex: number; flags: number[]; slot: number[]; offLo: number[]; offHi: number[] }

function asRing(v: unknown): RingJson | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const arr = (k: string): boolean => Array.isArray(r[k]);
  return typeof r['dirtyIndex'] === 'number' && typeof r['resetIndex'] === 'number' && typeof r['fetchIndex'] === 'number' && arr('flags') && arr('slot') && arr('offLo') && arr('offHi')
    ? (v as RingJson) : null;
}

function ringsOf(s: MachineState): RingJson[] {
  const e = s.ext[RING_ID] as { rings?: unknown } | undefined;
  if (!e || !Array.isArray(e.rings)) return [];
  return e.rings.map(asRing).filter((r): r is RingJson => r !== null);
}

function ringAt(s: MachineState, i: number): RingJson | null {
  return asRing((s.ext[RING_ID] as { rings?: unknown[] } | undefined)?.rings?.[i]);
}

/** `DIRTY slot 0 offset 7` for ring entry `j` (KVM_DIRTY_GFN_F_DIRTY = 1, _RESET = 2). */
function ringEntry(r: RingJson, j: number): string {
  const f = r.flags[j] ?? 0;
  const fl = [f & 1 ? 'DIRTY' : '', f & 2 ? 'RESET' : '', f & ~3 ? `0x${(f & ~3).toString(16)}` : ''].filter(Boolean).join('|') || 'empty';
  const off = (r.offHi[j] ?? 0) * 2 ** 32 + ((r.offLo[j] ?? 0) >>> 0);
  return `${fl} slot ${r.slot[j] ?? 0} offset ${off}`;
}

function summarize(s: MachineState): Section[] {
  const rings = ringsOf(s);
  if (!rings.length) return [];
  return [{
    title: 'Dirty rings', lines: rings.map((r, i) => {
      const ents: string[] = [];
      for (let j = 0; j < r.flags.length; j++) if ((r.flags[j] ?? 0) !== 0) ents.push(`[${j}] ${ringEntry(r, j)}`);
      return `vcpu${i}: dirty_index ${r.dirtyIndex}, reset_index ${r.resetIndex}, fetch_index ${r.fetchIndex}, used ${(r.dirtyIndex - r.resetIndex) >>> 0}/${r.flags.length}; ${ents.length ? ents.join('; ') : 'no entries'}`;
    }),
  }];
}

/**
 * A change under `ext.ring.rings[i]`: one line per changed entry (its four arrays change together: described once,
 * from both states) or per changed index, with the ring's occupancy before and after.
 */
function describeChange(c: Change, before: MachineState, after: MachineState, done: Set<string>): string[] | null {
  return match(c.segments)
    .with(['ext', RING_ID, 'rings', P.number, P.union('flags', 'slot', 'offLo', 'offHi'), P.number], ([, , , i, , j]) => {
      const rb = ringAt(before, i);
      const ra = ringAt(after, i);
      if (!rb || !ra) return null;
      const key = `${RING_ID}:${i}:${j}`;
      if (done.has(key)) return [];
      done.add(key);
      return [`ring of vcpu${i} entry ${j}: ${ringEntry(rb, j)} -> ${ringEntry(ra, j)}`];
    })
    .with(['ext', RING_ID, 'rings', P.number, P.union('dirtyIndex', 'resetIndex', 'fetchIndex')], ([, , , i, field]) => {
      const rb = ringAt(before, i);
      const ra = ringAt(after, i);
      if (!rb || !ra) return null;
      const index = match(field).with('dirtyIndex', () => 'dirty_index').with('resetIndex', () => 'reset_index').with('fetchIndex', () => 'fetch_index').exhaustive();
      return [`ring of vcpu${i} ${index}: ${String(c.before)} -> ${String(c.after)} (used ${(rb.dirtyIndex - rb.resetIndex) >>> 0} -> ${(ra.dirtyIndex - ra.resetIndex) >>> 0})`];
    })
    .otherwise(() => null);
}

export const ringView: MechanismView = { summarize, describeChange };
