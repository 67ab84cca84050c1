/**
 * The HDBSS invariants (after the hardware-dirty-state ones, hw-dirty/hw.ts): INV-HDBSS-REGS (the registers of a
 * PE running a vCPU are that vCPU's, and no index is below its buffer's undrained entries), INV-LIVE-HDBSS
 * (a vCPU resumed from an HDBSS-full fault can complete its store), INV-HDBSS-UAF (no buffer used after the disable
 * freed it) and INV-SYNC-COMPLETE (a GET's snapshot waits for the drains its sync requested).
 */
import type { Invariant, Violation } from '../../src/core/model.ts';
import type { MachineState } from '../machine/state.ts';
import { isWritableClean, leafOf } from '../machine/pagetable.ts';
import { FSC_OK, hdOf, indexOf, topOf, VTCR_HDBSS } from './state.ts';

function viol(invariant: string, message: string, pages: number[]): Violation {
  return { invariant, message, pages };
}

export const INV_HDBSS_REGS: Invariant<MachineState> = {
  id: 'INV-HDBSS-REGS',
  description: 'While VTCR_EL2.HDBSS is set on a PE running a vCPU, HDBSSBR/HDBSSPROD are that vCPU\'s, with HA and HD set; '
    + 'no producer index (live or saved) is below the vCPU\'s undrained entries.',
  check(s) {
    const h = hdOf(s);
    if (!h) return null;
    for (let p = 0; p < s.pes.length; p++) {
      const pe = s.pes[p]!;
      const v = pe.loaded;
      if (v < 0 || (pe.vtcr & VTCR_HDBSS) === 0) continue;
      if ((pe.vtcr & 3) !== 3) return viol('INV-HDBSS-REGS', `PE ${p} has VTCR_EL2.HDBSS without HA and HD`, []);
      if (h.brBaddr[p] !== v) {
        return viol('INV-HDBSS-REGS', `PE ${p} runs vCPU ${v} with VTCR_EL2.HDBSS set but HDBSSBR_EL2 points at ${h.brBaddr[p]! < 0 ? 'an UNKNOWN address' : `vCPU ${h.brBaddr[p]}'s buffer`}`, []);
      }
    }
    for (let v = 0; v < s.vcpus.length; v++) {
      const top = topOf(s, v);
      if (top === 0) continue;
      const x = indexOf(s, v);
      if (x.index < top) {
        return viol('INV-HDBSS-REGS', `vCPU ${v}'s ${x.live >= 0 ? `live HDBSSPROD_EL2.INDEX on PE ${x.live}` : 'saved HDBSSPROD index'} is ${x.index}, `
          + `below its ${top} undrained entries: the next appends overwrite them`, []);
      }
    }
    return null;
  },
};

/**
 * Can vCPU `v`'s retried store to page `g` not complete? Its buffer is still full (or FSC set) and the page still
 * writable-clean, so the retry takes the same HDBSS-full fault again.
 */
export function retryBlocked(s: MachineState, v: number, g: number): boolean {
  const h = hdOf(s)!;
  const x = indexOf(s, v);
  return (x.index >= h.cap || x.fsc !== FSC_OK) && isWritableClean(leafOf(s.s2, g));
}

export const INV_LIVE_HDBSS: Invariant<MachineState> = {
  id: 'INV-LIVE-HDBSS',
  description: 'Bounded progress: KVM resumes a vCPU from an HDBSS-full fault only once the retried store can complete '
    + '(room in the buffer or the page no longer writable-clean); else the store faults forever.',
  check(s) {
    const h = hdOf(s);
    if (!h) return null;
    for (let v = 0; v < s.vcpus.length; v++) {
      // `resumed` is set only by a resume that left the retry blocked (reducer.ts `kvm/hdbssFaultHandled`): the
      // judgement is of the resume, not of later states (a later re-arm that makes the page writable-clean again
      // is a new fault KVM handles anew, not this one repeating).
      const g = h.resumed[v]!;
      if (g < 0 || !retryBlocked(s, v, g)) continue;
      const x = indexOf(s, v);
      return viol('INV-LIVE-HDBSS', `KVM resumed vCPU ${v} from an HDBSS-full fault on page ${g} with its buffer still full `
        + `(INDEX ${x.index} of ${h.cap}) and the page still writable-clean: the retried store faults again, forever`, [g]);
    }
    return null;
  },
};

export const INV_HDBSS_UAF: Invariant<MachineState> = {
  id: 'INV-HDBSS-UAF',
  description: 'No HDBSS buffer is written by the hardware or read by a drain after the disable path freed it '
    + '(every vCPU must have left HDBSS mode and drained before the free).',
  check(s) {
    const h = hdOf(s);
    if (!h || h.uaf < 0) return null;
    return viol('INV-HDBSS-UAF', `an HDBSS buffer was used after it was freed (the entry for page ${h.uaf}): `
      + 'the disable path freed the buffers while a vCPU still ran with VTCR_EL2.HDBSS or still had to drain', [h.uaf]);
  },
};

export const INV_SYNC_COMPLETE: Invariant<MachineState> = {
  id: 'INV-SYNC-COMPLETE',
  description: 'A KVM_GET_DIRTY_LOG takes its snapshot only after every vCPU its kvm_arch_sync_dirty_log request '
    + 'targeted has drained its HDBSS buffer (handled KVM_REQ_FLUSH_HDBSS): no undrained entry from before the GET is missed.',
  check(s) {
    const h = hdOf(s);
    if (!h || h.syncMissed < 0) return null;
    return viol('INV-SYNC-COMPLETE', `KVM_GET_DIRTY_LOG took its snapshot while a vCPU had not handled its flush request: `
      + `its undrained HDBSS entry for page ${h.syncMissed} is not in this collection`, [h.syncMissed]);
  },
};
