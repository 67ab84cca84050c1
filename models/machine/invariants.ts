/**
 * The common invariants, with stable ids (kvm reference section 7, arm reference section 5.3, DESIGN.md
 * section 4). Checked after every event, in this order; mechanism invariants run between INV-FLUSH and
 * INV-ARMED. Each one has a test (a bug knob's regression trace) showing it can fail.
 */
import type { Invariant, Violation } from '../../src/core/model.ts';
import { bitGet } from './paged.ts';
import { D_VALID, D_W, leafOf } from './pagetable.ts';
import type { MachineState } from './state.ts';
import { tlbBase, tlbFind, tlbFlags, tlbPreArm, tlbVmid, tlbWritable, T_BLOCK, T_PREARM, T_W } from './tlb.ts';
import { mechanismsOf } from './selected.ts';
import { copiedVersion, memVersion } from '../oracle/oracle.ts';

function v(invariant: string, message: string, pages: number[]): Violation {
  return { invariant, message, pages };
}

/**
 * What `pending` consults beyond the slot bitmap, gathered once for one invariant check of one state (never
 * kept across events): the vCPUs' pending marks, the in-flight ioctl's deliveries, and each mechanism's
 * records as a predicate (`Mechanism.pendingIndex`, else its per-page `pending`). An invariant that asks
 * about every tracked page (INV-ARMED, INV-NOLOSS) then pays for the rings, buffers and device records once,
 * not once per page: on a guest of millions of pages with 64K-entry rings that is the difference between
 * milliseconds and hours (`dtsim compare --preset`, docs/compare.md). The answers are the same as `pending`'s.
 */
export interface PendingIndex {
  readonly marks: ReadonlySet<number>;
  readonly deliver: ReadonlySet<number>;
  readonly mech: readonly ((gfn: number) => boolean)[];
}

/**
 * Guests at least this large (pages) get the gathered sets (`writableTlbPages`, `PendingIndex`); below it the
 * per-page questions are cheaper than building sets, which matters to explore's millions of tiny states.
 */
export const INDEX_MIN_PAGES = 4096;

/** Builds the `PendingIndex` of a state (call it lazily: most checks never need it). */
export function pendingIndexOf(s: MachineState): PendingIndex {
  const marks = new Set<number>();
  for (const vc of s.vcpus) if (vc.mark >= 0) marks.add(vc.mark);
  const deliver = new Set<number>(s.vmm.ioctl ? s.vmm.ioctl.deliver : []);
  const mech: ((gfn: number) => boolean)[] = [];
  for (const m of mechanismsOf(s)) {
    if (m.pendingIndex) mech.push(m.pendingIndex(s));
    else if (m.pending) { const f = m.pending; mech.push((g) => f(s, g)); }
  }
  return { marks, deliver, mech };
}

/**
 * Is a dirty record for `gfn` held somewhere KVM or the VMM will still report or copy it from? `idx` (a
 * `PendingIndex` of this very state) answers the same, faster when asked for many pages.
 */
export function pending(s: MachineState, gfn: number, si: number, idx?: PendingIndex): boolean {
  const sl = s.slots[si]!;
  if (sl.bitmap && bitGet(sl.bitmap, gfn - sl.base)) return true;
  if (idx) {
    if (idx.marks.has(gfn) || idx.deliver.has(gfn)) return true;
    for (const f of idx.mech) if (f(gfn)) return true;
    return false;
  }
  for (const vc of s.vcpus) if (vc.mark === gfn) return true;
  const io = s.vmm.ioctl;
  if (io && io.deliver.includes(gfn)) return true;
  for (const m of mechanismsOf(s)) if (m.pending && m.pending(s, gfn)) return true;
  return false;
}

/** A PE whose TLB holds a writable copy for `gfn`, or -1. */
function writableTlbPe(s: MachineState, gfn: number): number {
  for (let p = 0; p < s.pes.length; p++) if (tlbWritable(s.pes[p]!.tlb, gfn, s.vmid)) return p;
  return -1;
}

/** A PE whose TLB lets a write to `gfn` complete through an entry NOT marked pre-arm (filled after any re-arm), or -1. */
function freshWritableTlbPe(s: MachineState, gfn: number): number {
  for (let p = 0; p < s.pes.length; p++) {
    const t = s.pes[p]!.tlb;
    const i = tlbFind(t, gfn, s.vmid);
    if (i >= 0 && (tlbFlags(t[i]!) & (T_W | T_PREARM)) === T_W) return p;
  }
  return -1;
}

/**
 * The pages some PE's TLB lets a write complete to (`tlbWritable` on any PE: the first entry of a PE covering the
 * page decides, a block entry covers its 512 pages), gathered once per check: at most PEs x TLB entries entries,
 * where asking every PE for every page of a large guest costs pages x PEs x entries.
 */
function writableTlbPages(s: MachineState): Set<number> {
  const out = new Set<number>();
  for (const pe of s.pes) {
    const seen = new Set<number>();
    for (const e of pe.tlb) {
      if (tlbVmid(e) !== s.vmid) continue;
      const base = tlbBase(e);
      const n = (tlbFlags(e) & T_BLOCK) !== 0 ? 512 : 1;
      for (let g = base; g < base + n; g++) {
        if (seen.has(g)) continue;
        seen.add(g);
        if ((tlbFlags(e) & T_W) !== 0) out.add(g);
      }
    }
  }
  return out;
}

/**
 * Protected: a write to the page must fault or be logged by hardware (no writable descriptor or TLB copy).
 * `writable`: the state's `writableTlbPages`, when asking for many pages.
 */
function protectedPage(s: MachineState, gfn: number, writable?: ReadonlySet<number>): boolean {
  const d = leafOf(s.s2, gfn);
  if ((d & (D_VALID | D_W)) === (D_VALID | D_W)) return false;
  return writable ? !writable.has(gfn) : writableTlbPe(s, gfn) < 0;
}

export const INV_CLEAR_EXACT: Invariant<MachineState> = {
  id: 'INV-CLEAR-EXACT',
  description: 'A KVM_CLEAR_DIRTY_LOG re-arms exactly the requested bits that were set and returns the errno of the '
    + 'documented validation rules (EINVAL, ENOENT, 0).',
  check(s) {
    const a = s.audit;
    if (!a || a.kind !== 'clear' || !a.clearExpected || !a.clearActual) return null;
    const exp = a.clearExpected;
    const act = [...a.clearActual].sort((x, y) => x - y);
    const missing = exp.filter((g) => !act.includes(g));
    const extra = act.filter((g) => !exp.includes(g));
    if (missing.length === 0 && extra.length === 0) {
      if (a.clearErrno === a.clearErrnoExpected) return null;
      // Same re-arm set, wrong result: a valid CLEAR refused, or an invalid one accepted (that re-armed nothing
      // only because none of its bits was set), or the wrong error (ENOENT for an unaligned first_page).
      return v('INV-CLEAR-EXACT', `CLEAR on slot ${a.slot} returned errno ${a.clearErrno}; the API requires ${a.clearErrnoExpected}`, exp);
    }
    return v('INV-CLEAR-EXACT', `CLEAR on slot ${a.slot} (errno ${a.clearErrno}) re-armed ${act.length} pages; the API requires ${exp.length}`
      + (missing.length ? `; not re-armed: ${missing.slice(0, 8).join(',')}` : '') + (extra.length ? `; re-armed unrequested: ${extra.slice(0, 8).join(',')}` : ''),
    missing.length ? missing : extra);
  },
};

/** A PE holding a writable TLB entry for `gfn` filled before the in-flight re-arm (`T_PREARM`), or -1. */
function preArmTlbPe(s: MachineState, gfn: number): number {
  for (let p = 0; p < s.pes.length; p++) if (tlbPreArm(s.pes[p]!.tlb, gfn, s.vmid)) return p;
  return -1;
}

/**
 * Staleness, exactly (kvm reference section 7, arm reference section 5.3): when a re-arming ioctl returns, no
 * PE may still cache a writable translation of a page it re-armed that was filled BEFORE the re-arm. Such an
 * entry is stale: a store through it completes with no fault and no log, although KVM has just consumed the page's
 * dirty record. The entries are the ones the re-arm marked `T_PREARM` (tlb.ts) and that neither a TLBI, an
 * eviction nor a refill has replaced since. A writable entry filled AFTER the re-arm is not blamed: it can only
 * come from a write fault on the write-protected page, which marks the page again (a legitimate re-fault, whether
 * the ioctl flushed before it or not at all). The audit of a CLEAR's kernel part (it carries `clearExpected`,
 * for INV-CLEAR-EXACT) is not a return; every return (GET, CLEAR, RESET) and every atomic enable is checked.
 */
export const INV_FLUSH: Invariant<MachineState> = {
  id: 'INV-FLUSH',
  description: 'When a re-arming GET/CLEAR/RESET/enable returns, no PE holds a writable TLB entry for a page it re-armed '
    + 'that was filled before the re-arm (a stale entry that outlived the ioctl).',
  check(s) {
    const a = s.audit;
    if (!a || a.clearExpected !== null) return null;
    // No PE holds a pre-arm entry at all (the usual state at a return): nothing to blame, whatever was re-armed.
    if (!s.pes.some((pe) => pe.tlb.some((e) => (tlbFlags(e) & T_PREARM) !== 0))) return null;
    let lo: number;
    let hi: number;
    const list = a.rearmed;
    if (list === null) { const sl = s.slots[a.slot]!; lo = sl.base; hi = sl.base + sl.npages; } else { lo = 0; hi = list.length; }
    for (let i = lo; i < hi; i++) {
      const g = list === null ? i : list[i] as number;
      const p = preArmTlbPe(s, g);
      if (p >= 0) {
        return v('INV-FLUSH', `${a.kind} on slot ${a.slot} returned while PE ${p} still caches a writable entry for page ${g} `
          + 'filled before the ioctl re-armed it (stale: stores through it are neither faulted nor logged)', [g]);
      }
    }
    return null;
  },
};

export const INV_ARMED: Invariant<MachineState> = {
  id: 'INV-ARMED',
  description: 'Every tracked page is pending (a dirty record exists) or protected (no writable descriptor or TLB copy), '
    + 'except that a page an in-flight re-arming ioctl re-armed may keep writable TLB copies filled before the re-arm until it returns.',
  check(s) {
    const io = s.vmm.ioctl;
    const big = s.totalPages >= INDEX_MIN_PAGES;
    const writable = big ? writableTlbPages(s) : undefined;
    let idx: PendingIndex | undefined;
    for (let si = 0; si < s.slots.length; si++) {
      const sl = s.slots[si]!;
      if (!sl.logging) continue;
      for (let g = sl.base; g < sl.base + sl.npages; g++) {
        if (protectedPage(s, g, writable)) continue;
        if (big) idx ??= pendingIndexOf(s);
        if (pending(s, g, si, idx)) continue;
        if (io && (io.rearmed.includes(g) || io.snapshotPending)) {
          // Inside the ioctl only the TLB clause may lag, and only through entries that predate the re-arm (the
          // ioctl's flush is still to come): the descriptor must already be protected, and a writable copy filled
          // after the re-arm needs a dirty record like any other (kvm reference section 7, INV-ARMED).
          if ((leafOf(s.s2, g) & (D_VALID | D_W)) !== (D_VALID | D_W) && freshWritableTlbPe(s, g) < 0) continue;
        }
        const d = leafOf(s.s2, g);
        const why = (d & (D_VALID | D_W)) === (D_VALID | D_W) ? 'its descriptor is writable' : `PE ${writableTlbPe(s, g)} caches it writable`;
        return v('INV-ARMED', `page ${g} is tracked, has no dirty record, and is not protected: ${why}`, [g]);
      }
    }
    return null;
  },
};

export const INV_NOLOSS: Invariant<MachineState> = {
  id: 'INV-NOLOSS',
  description: 'Every tracked page whose data differs from the copy sent is still recoverable: a dirty record, the VMM\'s '
    + 'to-copy set, an in-flight report, or a fault that will mark it.',
  check(s) {
    const vm = s.vmm;
    if (vm.phase === 'idle') return null;
    let idx: PendingIndex | undefined;
    for (let si = 0; si < s.slots.length; si++) {
      const sl = s.slots[si]!;
      if (!sl.logging) continue;
      for (let g = sl.base; g < sl.base + sl.npages; g++) {
        if (memVersion(s.oracle, g) === copiedVersion(s.oracle, g)) continue;
        if (bitGet(vm.toCopy, g) || bitGet(vm.fetched, g)) continue;
        if (s.totalPages >= INDEX_MIN_PAGES) idx ??= pendingIndexOf(s);
        if (pending(s, g, si, idx)) continue;
        return v('INV-NOLOSS', `page ${g} holds data version ${memVersion(s.oracle, g)} but the destination has ${copiedVersion(s.oracle, g)}, `
          + 'and nothing will report it again: the write is lost', [g]);
      }
    }
    return null;
  },
};

export const INV_FINAL: Invariant<MachineState> = {
  id: 'INV-FINAL',
  description: 'When the migration completes, every page the destination holds equals guest memory (copied == mem).',
  check(s) {
    if (s.vmm.phase !== 'done') return null;
    for (const sl of s.slots) {
      for (let g = sl.base; g < sl.base + sl.npages; g++) {
        if (memVersion(s.oracle, g) !== copiedVersion(s.oracle, g)) {
          return v('INV-FINAL', `migration completed but page ${g} differs: memory version ${memVersion(s.oracle, g)}, copied ${copiedVersion(s.oracle, g)}`, [g]);
        }
      }
    }
    return null;
  },
};

/** The invariants of a design: common ones around the mechanisms' own. */
export function invariantsFor(mech: readonly Invariant<MachineState>[]): Invariant<MachineState>[] {
  return [INV_CLEAR_EXACT, INV_FLUSH, ...mech, INV_ARMED, INV_NOLOSS, INV_FINAL];
}
