/**
 * The dirty ring's invariants (kvm reference section 7), checked after INV-CLEAR-EXACT and INV-FLUSH:
 * INV-RING-BOUND, INV-RING-GATE, INV-RING-FIFO, INV-RING-RESET-EXACT, INV-RESET-VALID, INV-LIVE-RESET.
 */
import type { Invariant, Violation } from '../../src/core/model.ts';
import type { MachineState } from '../machine/state.ts';
import { KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_RESET, ringSize, slotIndex, used } from './ring.ts';
import { ringExt, type ResetAudit } from './state.ts';

function viol(invariant: string, message: string, pages: number[]): Violation {
  return { invariant, message, pages };
}

function resetInFlight(s: MachineState): ResetAudit | null {
  const io = s.vmm.ioctl;
  return io !== null && io.kind === 'reset' ? ringExt(s).last : null;
}

export const INV_RING_BOUND: Invariant<MachineState> = {
  id: 'INV-RING-BOUND',
  description: 'Every ring holds at most `size` un-reset entries (used = dirty_index - reset_index, u32): a push into a full ring overwrites an entry.',
  check(s) {
    const R = ringExt(s);
    for (let v = 0; v < R.rings.length; v++) {
      if (R.attacked[v] !== 0) continue;
      const u = used(R.rings[v]!);
      if (u > R.size) return viol('INV-RING-BOUND', `vCPU ${v}'s ring holds ${u} un-reset entries but has ${R.size}: a push overwrote an unreset entry`, []);
    }
    return null;
  },
};

export const INV_RING_GATE: Invariant<MachineState> = {
  id: 'INV-RING-GATE',
  description: 'A vCPU never enters the guest while its ring is at or above the soft limit (it must exit with KVM_EXIT_DIRTY_RING_FULL).',
  check(s) {
    const R = ringExt(s);
    for (let v = 0; v < R.rings.length; v++) {
      if (R.attacked[v] !== 0 || s.vcpus[v]!.run !== 'guest') continue;
      if (R.entryUsed[v]! >= R.softLimit) {
        return viol('INV-RING-GATE', `vCPU ${v} entered the guest with ${R.entryUsed[v]} un-reset entries in its ring (soft limit ${R.softLimit})`, []);
      }
    }
    return null;
  },
};

export const INV_RING_FIFO: Invariant<MachineState> = {
  id: 'INV-RING-FIFO',
  description: 'Entry states follow the indices: [reset, fetch) harvested (RESET), [fetch, dirty) DIRTY, every other entry invalid; '
    + 'so pushes, harvests and resets all proceed in counter order.',
  check(s) {
    const R = ringExt(s);
    for (let v = 0; v < R.rings.length; v++) {
      if (R.attacked[v] !== 0) continue;
      const r = R.rings[v]!;
      const u = used(r);
      const h = (r.fetchIndex - r.resetIndex) >>> 0;
      if (h > u) return viol('INV-RING-FIFO', `vCPU ${v}: userspace harvested past dirty_index (reset ${r.resetIndex}, fetch ${r.fetchIndex}, dirty ${r.dirtyIndex})`, []);
      for (let k = 0; k < ringSize(r); k++) {
        const c = (r.resetIndex + k) >>> 0;
        const want = k < h ? KVM_DIRTY_GFN_F_RESET : k < u ? KVM_DIRTY_GFN_F_DIRTY : 0;
        const got = r.flags[slotIndex(r, c)];
        if (got !== want) {
          return viol('INV-RING-FIFO', `vCPU ${v}: entry of counter ${c} has flags ${got}, expected ${want} (reset ${r.resetIndex}, fetch ${r.fetchIndex}, dirty ${r.dirtyIndex})`, []);
        }
      }
    }
    return null;
  },
};

export const INV_RING_RESET_EXACT: Invariant<MachineState> = {
  id: 'INV-RING-RESET-EXACT',
  description: 'KVM_RESET_DIRTY_RINGS returns the number of entries it consumed and re-arms exactly the valid (slot, offset) pairs '
    + 'among them (coalescing adds and drops nothing); with invalid entries consumed it may only re-arm fewer.',
  check(s) {
    const a = resetInFlight(s);
    if (!a || a.unterminated) return null;
    if (a.cleared !== a.consumed) {
      return viol('INV-RING-RESET-EXACT', `RESET returned ${a.cleared} but consumed ${a.consumed} entries`, []);
    }
    const extra = a.actual.filter((g) => !a.expected.includes(g));
    if (extra.length) return viol('INV-RING-RESET-EXACT', `RESET re-armed pages no consumed entry names: ${extra.slice(0, 8).join(',')}`, extra);
    if (a.invalid === 0) {
      const missing = a.expected.filter((g) => !a.actual.includes(g));
      if (missing.length) {
        return viol('INV-RING-RESET-EXACT', `RESET consumed and counted entries for pages it did not re-arm: ${missing.slice(0, 8).join(',')}`, missing);
      }
    }
    return null;
  },
};

export const INV_RESET_VALID: Invariant<MachineState> = {
  id: 'INV-RESET-VALID',
  description: 'Ring entries are untrusted input: every gfn RESET re-arms lies inside its memslot (checked without u64 wrap).',
  check(s) {
    const a = resetInFlight(s);
    if (!a || a.outOfSlot.length === 0) return null;
    const shown: string[] = [];
    for (let i = 0; i + 2 < a.outOfSlot.length && shown.length < 4; i += 3) {
      const off = (BigInt(a.outOfSlot[i + 2]! >>> 0) << 32n) | BigInt(a.outOfSlot[i + 1]! >>> 0);
      shown.push(`${a.outOfSlot[i]!}:${off.toString()}`);
    }
    return viol('INV-RESET-VALID', `RESET re-armed offsets outside their memslot (slot:offset) ${shown.join(', ')}`, []);
  },
};

export const INV_LIVE_RESET: Invariant<MachineState> = {
  id: 'INV-LIVE-RESET',
  description: 'KVM_RESET_DIRTY_RINGS terminates (at most INT_MAX entries) even when userspace keeps re-flagging entries.',
  check(s) {
    const a = resetInFlight(s);
    if (!a || !a.unterminated) return null;
    return viol('INV-LIVE-RESET', 'RESET never terminates: userspace keeps flagging entries RESET and the loop has no bound', []);
  },
};

export const RING_INVARIANTS: readonly Invariant<MachineState>[] = [
  INV_RING_BOUND, INV_RING_GATE, INV_RING_FIFO, INV_RING_RESET_EXACT, INV_RESET_VALID, INV_LIVE_RESET,
];
