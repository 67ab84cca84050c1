/**
 * The state of `s.ext['hw']` (FEAT_HAFDBS at stage 2, shared by the dbm, hdbss and pta producers; hw.ts), declared
 * once: src/core/schema.ts derives from `HW_STATE` its type (`HwExt`), exact copy, the explorer's save/load, the
 * shape check, the labelled view and the canonical encoding (the visited-set key), registered below as the part
 * of key `hw` (declared by `HW_FOLDER.parts`, models/hw-dirty/scan.ts). The encoding must be a bisimulation: two machine states whose
 * encodings are equal (with the rest of the machine equal) have the same enabled events, the same invariant
 * verdicts, and successors with equal encodings (checked on sampled reachable states by
 * properties/explore.hw.test.ts).
 *
 * Readers: hw.ts and scan.ts (and the producers through hw.ts); elsewhere only the views print the state. No VMID
 * is stored here (the VM's VMID is `s.vmid`, packed by the machine). Every field is packed generically (as is:
 * the walker's words, the sticky page, the bitset's words, the flag) except `blockAudit`, whose hook is below
 * with its soundness argument.
 *
 * Names: `visitCtx` is the kernel's `struct kvm_pgtable_visit_ctx` (its `addr`, as a gfn, and `old`, the
 * descriptor read once per visit: arm reference 1.6, `stage2_try_set_pte`); `hostWritable` is the reference's
 * `hostWritable` (section 5.1: host PTE writable, not the zero or a KSM page).
 */
import type { PackSink } from '../../src/core/model.ts';
import { bits, bool, compile, int, nums, record, type Infer, type PackCtx } from '../../src/core/schema.ts';
import type { MachineState } from '../machine/state.ts';

// Scratch of `packAuditBases` (explore's hot path; only grows).
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

/**
 * Canonical encoding of `blockAudit` ([event number, base, ...], INV-BLOCK's record of the block records the
 * current event turned into marks). Its only readers are INV-BLOCK, which ignores it unless `a[0] ===
 * s.stats.events`, and `markRecord`, which starts a new audit unless `a[0] === s.stats.events`. The machine
 * increments `stats.events` first thing in every `apply`, so an audit that is not current in a state is never
 * current again: it behaves exactly as an empty one. Packed as "not current" (-1), or, when current, as the
 * sorted distinct bases (INV-BLOCK checks each base on its own: order and repeats are not read). The event number
 * itself (a counter that grows forever, a metric the machine does not pack) is never packed; copy and save keep
 * it exactly, as the machine keeps `stats.events`.
 */
function packBlockAudit(a: readonly number[], _h: unknown, ctx: PackCtx, out: PackSink): void {
  const s = ctx.root as MachineState;
  if (a.length < 2 || a[0] !== s.stats.events) out.num(-1);
  else packSortedSet(out, a, 1);
}

/** What a flat layout's capacities read (schema-layout.ts): the guest's size. */
type Sized = { readonly totalPages: number };

export const HW_STATE = record({
  visitCtx: nums('int', '0 or 2 words', { max: () => 2,
    doc: 'A non-atomic PTE update between its read and its write (F3 knob): [gfn, ctx->old], else []',
  }),
  casLost: int('gfn', { doc: 'First page whose hardware-set bits a software PTE write discarded (INV-CAS), or -1. Sticky' }),
  hostWritable: bits({ max: (s: Sized) => (s.totalPages + 31) >>> 5,
    doc: 'Pages backed by a private, host-writable page; the others are backed by the shared (read-only) zero page',
  }),
  vmidStale: bool({ doc: 'The VMID was lost at a rollover; the next vcpu_load allocates a new one (kvm_arm_vmid_update)' }),
  blockAudit: nums('gfn', 'the block records of one event', {
    // The event number and at most one record per 2 MiB block of the guest.
    max: (s: Sized) => 1 + Math.ceil(s.totalPages / 512),
    doc: 'Block records turned into marks by the current event (INV-BLOCK audit): [event number, base, ...]',
    pack: packBlockAudit,
  }),
});

/** The shared hardware dirty-state (`s.ext['hw']`). */
export type HwExt = Infer<typeof HW_STATE>;

/** The compiled operations of `HW_STATE` (registered as the part of key `hw`). */
export const HW_PART = compile(HW_STATE);

