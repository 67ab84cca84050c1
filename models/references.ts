/**
 * The reference catalogues, id by id: every bug and rule of the kvm reference (B1-B15 in section 6, the
 * userspace rules U1-U4 in section 8) and of the arm reference (F1-F21, section 6), and the findings of dtsim
 * itself that neither reference lists (F-B1: docs/mutation.md; F-B2: a guessed PTA ring bug), each mapped
 * either to the bug knobs that reproduce it (found in the models' catalogues by their `ref`, never listed here by hand) or to
 * the reason it has none. `dtsim bugs --list` prints this table after the knobs, and README.md's "Reference
 * catalogue" section is checked against it (models/references.test.ts), so a reference can neither be silently
 * forgotten nor claimed twice (a knob AND a reason).
 *
 * The reasons are closed: a reference without a knob is x86-only (the arm64 path has no such code), performance
 * only (no dirty page can be lost, so no invariant can fail: B8 is nevertheless a knob, as the negative control),
 * a test bug (the selftest's oracle, not KVM), covered by another reference's knob (the same event sequence on
 * arm64), or not modelled (with what the model lacks, so the gap is visible).
 */
import type { MachineModel } from './machine/model.ts';

/** Why a reference has no knob of its own. */
export type NoKnobKind = 'x86-only' | 'performance-only' | 'test-bug' | 'covered-by' | 'not-modelled';

export interface Reference {
  /**
   * The catalogue id: B (kvm reference section 6), U (kvm reference section 8, userspace rules), F (arm reference
   * section 6), or F-<letter><n> for a finding of dtsim itself (a design gap the checker found, not in either
   * reference: its title says which references it follows from).
   */
  readonly id: string;
  /** Which reference document and section it comes from. */
  readonly source: 'kvm §6' | 'kvm §8' | 'arm §6' | 'dtsim';
  /** A short title, as the reference has it. */
  readonly title: string;
  /** Set when the reference has no knob: why. A reference with knobs has no `none`. */
  readonly none?: { readonly kind: NoKnobKind; readonly reason: string };
}

export const REFERENCES: readonly Reference[] = [
  { id: 'B1', source: 'kvm §6', title: 'non-atomic TDP MMU SPTE writes clobber volatile bits',
    none: { kind: 'covered-by', reason: 'x86 TDP MMU code; its arm64 form (a plain store racing the hardware dirty update) is F3, knob pte-update-not-atomic' } },
  { id: 'B2', source: 'kvm §6', title: 'no TLB flush when enabling logging if all SPTEs were access-tracked' },
  { id: 'B3', source: 'kvm §6', title: 'KVM_CLEAR_DIRTY_LOG range bugs (v5.0-v5.2)' },
  { id: 'B4', source: 'kvm §6', title: 'dirty ring without acquire/release on weakly ordered CPUs' },
  { id: 'B5', source: 'kvm §6', title: 'soft-full request cleared from the reset thread' },
  { id: 'B6', source: 'kvm §6', title: 'dirty info from no-vCPU writers dropped / NULL bitmap' },
  { id: 'B7', source: 'kvm §6', title: 'PML drain order vs "last entry" reasoning',
    none: { kind: 'x86-only', reason: 'nested PML (Intel VMX); arm64 has no PML, and the drain order only matters to the selftest oracle' } },
  { id: 'B8', source: 'kvm §6', title: 'eager split off-by-one during CLEAR (negative control)' },
  { id: 'B9', source: 'kvm §6', title: 'fast page fault on a write-protected large SPTE dirties only its first page' },
  { id: 'B10', source: 'kvm §6', title: 'GET_DIRTY_LOG write-protects before the bitmap snapshot' },
  { id: 'B11', source: 'kvm §6', title: 'unbounded RESET loop (DoS)' },
  { id: 'B12', source: 'kvm §6', title: 'wrapped offset in kvm_reset_dirty_gfn' },
  { id: 'B13', source: 'kvm §6', title: 'shadow-MMU dirty bugs (historic)',
    none: { kind: 'x86-only', reason: 'x86 shadow paging (unsync shadow pages, CR0.WP=0); arm64 stage 2 has no shadow MMU' } },
  { id: 'B14', source: 'kvm §6', title: 'dirty-log selftest flakiness',
    none: { kind: 'test-bug', reason: 'false failures of the selftest oracle, not KVM behaviour; dtsim\'s oracle is the reference model (models/oracle)' } },
  { id: 'B15', source: 'kvm §6', title: '-EINTR in reset skips re-arming the pending batch' },
  { id: 'U1', source: 'kvm §8', title: 'CLEAR only bits a GET has shown set since they were last cleared',
    none: { kind: 'not-modelled', reason: 'QEMU\'s VMM follows U1 (it clears exactly the fetched bits); the varied VMM (dirty-bitmap option clearCalls: varied) names unfetched bits too but copies every page it named, so no knob loses a page by breaking U1' } },
  { id: 'U2', source: 'kvm §8', title: 'set F_RESET only on entries observed F_DIRTY, harvest in order, then RESET',
    none: { kind: 'covered-by', reason: 'the ring adversary option (userspace rewriting harvested entries) and B11/B12\'s knobs exercise what breaking U2 does' } },
  { id: 'U3', source: 'kvm §8', title: 'copy a page only after the re-arming ioctl returned',
    none: { kind: 'covered-by', reason: 'the same protocol order as F2 (userspace copies before the clear/flush): knob vmm-copy-before-clear' } },
  { id: 'U4', source: 'kvm §8', title: 'the final collection happens with vCPUs out of KVM_RUN' },
  { id: 'F1', source: 'arm §6', title: 'missing TLBI after write-protect' },
  { id: 'F2', source: 'arm §6', title: 'userspace copies before the clear/flush' },
  { id: 'F3', source: 'arm §6', title: 'plain-store PTE update races a hardware dirty CAS' },
  { id: 'F4', source: 'arm §6', title: 'break-before-make / unmap discards an unharvested hardware-dirty PTE' },
  { id: 'F5', source: 'arm §6', title: 'range write-protect before harvest' },
  { id: 'F6', source: 'arm §6', title: 'PTA log read without flush' },
  { id: 'F7', source: 'arm §6', title: 'PTA VMID rollover / unallocated VMID' },
  { id: 'F8', source: 'arm §6', title: 'DBM on a non-writable mapping' },
  { id: 'F9', source: 'arm §6', title: 'HDBSS not saved/drained at vcpu_put (v2)' },
  { id: 'F10', source: 'arm §6', title: 'HDBSS full' },
  { id: 'F11', source: 'arm §6', title: 'drain without barriers' },
  { id: 'F12', source: 'arm §6', title: 'enabling HDBSS in VTCR before the buffer registers are valid (v1)' },
  { id: 'F13', source: 'arm §6', title: 'disabling/freeing while vCPUs still run with HDBSS (v2)' },
  { id: 'F14', source: 'arm §6', title: 'sync_dirty_log returns before the drains complete' },
  { id: 'F15', source: 'arm §6', title: 'block mapping reports one page' },
  { id: 'F16', source: 'arm §6', title: 'host-side writes not software-marked' },
  { id: 'F17', source: 'arm §6', title: 'dirty-ring overflow on drain' },
  { id: 'F18', source: 'arm §6', title: 'DBM set on an already-writable mapping' },
  { id: 'F19', source: 'arm §6', title: 'VTCR mode switch without VMID-wide TLBI' },
  { id: 'F20', source: 'arm §6', title: 'guest stage-1 walker dirtying through stage 2',
    none: { kind: 'covered-by', reason: 'a walker update is a stage-2 write translated like any store (R_BDJJL) and KVM takes an S1PTW fault as a write, so the store path to the table page covers it (README modelling choices)' } },
  { id: 'F21', source: 'arm §6', title: 'contiguous descriptor group',
    none: { kind: 'not-modelled', reason: 'KVM never sets the Contiguous bit at stage 2, so no modelled configuration has a group; the 2 MiB block check (F15, INV-BLOCK) is the closest shape (README modelling choices)' } },
  { id: 'F-B1', source: 'dtsim', title: 'finding F-B1 (dtsim), follows from F15 + F17: HDBSS with the dirty ring drains a block\'s one entry as 512 ring pushes' },
  { id: 'F-B2', source: 'dtsim', title: 'finding F-B2 (dtsim, a guess), follows from the PTA cover letter (cpu = -1 for the bitmap, a specific cpu for rings): a ring feed reading every CPU\'s records misattributes them' },
];

/** One row of the table: a reference with its knobs (`model:knob`) or its reason. */
export interface ReferenceRow {
  readonly ref: Reference;
  readonly knobs: readonly { readonly model: string; readonly knob: string }[];
}

/** The table over the given models' catalogues, in catalogue order. */
export function referenceRows(models: readonly MachineModel[]): ReferenceRow[] {
  return REFERENCES.map((ref) => ({
    ref,
    knobs: models.flatMap((m) => m.preset.bugs.filter((b) => b.ref === ref.id).map((b) => ({ model: m.id, knob: b.id }))),
  }));
}

/**
 * What is wrong with the table, as messages (empty when sound): a reference with both knobs and a reason, or
 * neither; a knob whose ref is in no catalogue; a duplicate id.
 */
export function referenceProblems(models: readonly MachineModel[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of REFERENCES) {
    if (seen.has(r.id)) problems.push(`${r.id}: listed twice`);
    seen.add(r.id);
  }
  for (const row of referenceRows(models)) {
    if (row.knobs.length && row.ref.none) problems.push(`${row.ref.id}: has knobs (${row.knobs.map((k) => k.knob).join(', ')}) and a no-knob reason`);
    if (!row.knobs.length && !row.ref.none) problems.push(`${row.ref.id}: has neither a knob nor a reason`);
  }
  for (const m of models) for (const b of m.preset.bugs) {
    if (!seen.has(b.ref)) problems.push(`${m.id}/${b.id}: ref ${b.ref} is in no reference catalogue`);
  }
  return problems;
}
