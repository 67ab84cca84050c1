/**
 * The dirty ring mechanism's state, `s.ext.ring` (plain JSON), and the small readers the kernel side
 * (kernel.ts), the VMM side (vmm.ts), the Next relation (mechanism.ts) and the invariants (invariants.ts) share.
 * The state's declaration (its fields, their labels, types and every derived operation, the canonical encoding
 * included) is schema.ts.
 */
import type { MachineState } from '../machine/state.ts';
import type { Ring, RingExt } from './schema.ts';

export type { ResetAudit, Ring, RingExt } from './schema.ts';

export const RING_ID = 'ring';

export function ringExt(s: MachineState): RingExt {
  return s.ext[RING_ID] as unknown as RingExt;
}

/** The gfn an entry names, or -1 if (slot, offset) is not a page of a memslot. */
export function entryGfn(s: MachineState, r: Ring, i: number): number {
  const slot = r.slot[i] as number;
  if (slot >>> 16 !== 0 || (r.offHi[i] as number) !== 0) return -1;
  const sl = s.slots[slot & 0xffff];
  const off = r.offLo[i] as number;
  return sl && off < sl.npages ? sl.base + off : -1;
}

/** Entries the VMM harvested and has not reset yet, over every ring. */
export function harvestedTotal(R: RingExt): number {
  let n = 0;
  for (const h of R.harvested) n += h.length;
  return n;
}
