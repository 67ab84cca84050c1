/**
 * The dirty ring mechanism's state, `s.ext.ring` (plain JSON), and the small readers the kernel side
 * (kernel.ts), the VMM side (vmm.ts), the Next relation (mechanism.ts) and the invariants (invariants.ts) share.
 * Field names follow the kernel's where it has one (a `Ring`'s `dirtyIndex` / `resetIndex` / `fetchIndex`,
 * ring.ts); the explore codec of this state is codec.ts.
 */
import type { MachineState } from '../machine/state.ts';
import type { Ring } from './ring.ts';

export const RING_ID = 'ring';

/** The last KVM_RESET_DIRTY_RINGS, for INV-RING-RESET-EXACT / INV-RESET-VALID / INV-LIVE-RESET. */
export interface ResetAudit {
  /** Return value (entries reset across all rings). */
  cleared: number;
  /** Entries consumed according to the indices (sum of reset_index advances, u32). */
  consumed: number;
  /** Valid (slot, offset) pairs among the consumed entries, as gfns, checked entry by entry (reference). */
  expected: number[];
  /** Consumed entries naming no page of any memslot (untrusted input). */
  invalid: number;
  /** In-slot gfns the kernel re-armed (mask bits of accepted calls). */
  actual: number[];
  /** Re-arms outside their memslot (slot:offset as text, offsets are u64). */
  outOfSlot: string[];
  unterminated: number;
}

export interface RingExt {
  size: number;
  soft: number;
  withBitmap: boolean;
  adversary: boolean;
  rings: Ring[];
  /** Per vCPU: 1 after KVM_EXIT_DIRTY_RING_FULL until it enters the guest again. */
  exited: number[];
  /** Per vCPU: ring occupancy at its last guest entry (INV-RING-GATE). */
  entryUsed: number[];
  /** Per vCPU: indices corrupted by adversarial userspace (occupancy is then meaningless). */
  attacked: number[];
  /** VMM: per vCPU, gfns harvested and not yet reset, in ring order. */
  harv: number[][];
  /**
   * VMM: pages it copies at the final collection whatever the tracking says (its commitment stays: they count
   * as pending for the whole run).
   */
  always: number[];
  /** The final collection queued `always` for copying. */
  queued: number;
  /**
   * Precision bookkeeping (metrics only, read by no precondition or invariant): per vCPU and ring slot, 1 if the
   * entry was pushed for a page written since it was last handed to the VMM (or by the faulting store itself).
   */
  just: number[][];
  /** VMM: 0 idle, 1 reap pass (after a RING_FULL exit), 2 pre-copy round. */
  pass: number;
  attackDone: number;
  /** vCPUs whose soft-full request the in-flight reset will clear, having found their ring not soft-full (only
   * with the softfull-cleared-by-reset knob, B5). */
  softFullClears: number[];
  last: ResetAudit | null;
}

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
  for (const h of R.harv) n += h.length;
  return n;
}
