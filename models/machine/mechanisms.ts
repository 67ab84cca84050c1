/**
 * How a mechanism (dirty ring, PTA device, HDBSS, DBM page-table scan) plugs into the shared machine.
 *
 * The machine owns what every design shares (page table, TLBs, vCPUs, faults, host writes, the VMM's copy
 * loop). A mechanism supplies hooks; the machine calls them at fixed points. A design selects its mechanisms
 * through its options (`consumer`, `producer`). Every hook is optional.
 */
import type { Invariant } from '../../src/core/model.ts';
import type { Compiled } from '../../src/core/schema.ts';
import type { EventDecl } from './events.ts';
import type { MachineEvent } from './model-events.ts';
import type { MachineState } from './state.ts';
import type { MechanismView } from './view.ts';

/**
 * What one mechanism folder declares (listed once in models/mechanisms.ts): its mechanisms and its events. Typed by
 * its event declarations `D` so the machine's event union is derived from them (`EventOf`).
 */
export interface MechanismFolder<D extends readonly EventDecl[] = readonly EventDecl[]> {
  /** The folder under models/ (for messages and docs). */
  readonly folder: string;
  /**
   * The folder's mechanisms. A function, read on first use: the registry must not read a mechanism's binding while
   * the import cycle through the machine is still being evaluated.
   */
  readonly mechanisms: () => readonly Mechanism[];
  /** The folder's own event types (declared `as const satisfies readonly EventDecl[]`). */
  readonly events: D;
  /**
   * The state parts the folder owns, by `s.ext` key: each a compiled schema (src/core/schema.ts) giving the part's
   * copies, saved layout, canonical encoding, shape check and view. A function, read on first use (as `mechanisms`).
   */
  readonly parts?: () => { readonly [key: string]: Compiled<unknown> };
}

/**
 * What the preconditions of one state share: values `isEnabled` would otherwise rebuild for every candidate it
 * checks (the VMM's next collection step, the ring's harvest and rewrite lists...). `candidates` makes one per
 * state and filters all its candidates through it, so each is computed at most once per state; a lone
 * `isEnabled(s, e)` gets a fresh one. Valid for one unchanged state only: never kept across an `apply`.
 */
export interface EnabledMemo {
  /** The VMM's next collection step (machine.ts `nextCollectStep`); undefined until computed. */
  collect: MachineEvent | null | undefined;
  /** Per mechanism id, that mechanism's own memo (made and read by the mechanism alone). */
  readonly own: { [id: string]: object | undefined };
  /**
   * Do candidates include the kinds enumerated once per guest page (stores, aging, unmaps, read faults...)?
   * False for the scale workload (`candidates(s, false)`, models/machine/workload.ts), which makes its own stores.
   */
  perPage: boolean;
  /**
   * Whose candidates are wanted, by timeline lane (`lane`, events.ts): `ALL_AGENTS` (-1, the default) every lane's;
   * v >= 0 only vCPU v's lane (its stores, faults, exits, entries, loads...); `peAgent(p)` only PE p's lane (its
   * TLB evictions); `VMM_HOST` (-2) the VMM's lane (with the ring harvests) and the host's. A hint for the scale
   * workload, which picks the acting lane first and asks for that lane's events only (models/machine/workload.ts),
   * so a step costs O(1), not O(vCPUs x TLB entries). It only ever leaves candidates out: a producer may ignore it
   * and emit more (the workload keeps the lane's own), but must never leave out a wanted one; preconditions
   * (`isEnabled`) never read it.
   */
  agent: number;
}

/** `EnabledMemo.agent`: every lane's candidates (the checker's, the simulator's, the default). */
export const ALL_AGENTS = -1;
/** `EnabledMemo.agent`: the candidates of the VMM's and the host's lanes (no vCPU's, no PE's). */
export const VMM_HOST = -2;
/** `EnabledMemo.agent` of PE `p`'s lane. */
export function peAgent(p: number): number {
  return -3 - p;
}

export function newEnabledMemo(agent: number = ALL_AGENTS): EnabledMemo {
  return { collect: undefined, own: {}, perPage: true, agent };
}

/** Are vCPU `v`'s lane's candidates wanted (`EnabledMemo.agent`)? */
export function wantsVcpu(memo: EnabledMemo, v: number): boolean {
  return memo.agent === ALL_AGENTS || memo.agent === v;
}

/** Are PE `p`'s lane's candidates wanted (`EnabledMemo.agent`)? */
export function wantsPe(memo: EnabledMemo, p: number): boolean {
  return memo.agent === ALL_AGENTS || memo.agent === peAgent(p);
}

/** Are the candidates of the VMM's and the host's lanes wanted (`EnabledMemo.agent`)? */
export function wantsShared(memo: EnabledMemo): boolean {
  return memo.agent === ALL_AGENTS || memo.agent === VMM_HOST;
}

export interface Mechanism {
  readonly id: string;
  /** Adds the mechanism's state under `s.ext[id]` at init (after the machine is built). */
  init?(s: MachineState): void;
  /**
   * Consumer override of mark_page_dirty_in_slot (e.g. push to the running vCPU's ring). Return true if the
   * mark was consumed; false lets the machine set the slot bitmap bit (if the slot has a bitmap).
   */
  mark?(s: MachineState, slot: number, gfn: number, vcpu: number): boolean;
  /** Is a dirty record for `gfn` held by this mechanism (ring entry, buffer entry, device record...)? */
  pending?(s: MachineState, gfn: number): boolean;
  /**
   * Optional, with `pending`: the same answer for every page of one state, as a predicate built once (a set of
   * the gfns the mechanism's records cover). Invariants that ask about every tracked page use it
   * (`PendingIndex`, invariants.ts); it must agree with `pending` on every gfn.
   */
  pendingIndex?(s: MachineState): (gfn: number) => boolean;
  /**
   * Precision only (kvm.ts `rearmPrecision`): calls `each` with the page range of every record this mechanism
   * holds that logs a write KVM has not marked yet (an HDBSS buffer entry before its drain; not a ring entry,
   * whose push was the mark). A re-arm keeps such a page `touched`: the drain's mark after the re-arm reports a
   * write made before it, which the re-arm's snapshot did not include. Absent: no such records.
   */
  heldRecords?(s: MachineState, each: (base: number, pages: number) => void): void;
  /** Candidate events of this mechanism (filtered through `isEnabled` with the same memo). */
  candidates?(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void;
  /** Precondition of the mechanism's own events; undefined for events it does not own. */
  isEnabled?(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean | undefined;
  /** Applies the mechanism's own events; returns false for events it does not own. */
  apply?(s: MachineState, e: MachineEvent): boolean;
  /** Extra invariants, checked before the common INV-ARMED / INV-NOLOSS / INV-FINAL. */
  readonly invariants?: readonly Invariant<MachineState>[];
  /** Guest-entry gate (e.g. ring soft-full): false keeps the vCPU out of the guest. */
  canEnter?(s: MachineState, vcpu: number): boolean;
  /** Guest entry happened (kvm_check_request consumes requests here, e.g. the ring soft-full request). */
  onEnter?(s: MachineState, vcpu: number): void;
  /** vcpu_load gate: false while the vCPU thread is in userspace waiting (e.g. for the ring reaper). */
  canLoad?(s: MachineState, vcpu: number): boolean;
  /** Context-switch points (HDBSS save/restore and drains). */
  onLoad?(s: MachineState, vcpu: number, pe: number): void;
  onPut?(s: MachineState, vcpu: number): void;
  onExit?(s: MachineState, vcpu: number): void;
  /** Does this mechanism replace the bitmap collection of the VMM (ring harvest/reset)? */
  readonly collects?: boolean;
  /** The VMM's next collection step when `collects` (an event), or null when the round is complete. */
  collectStep?(s: MachineState, memo: EnabledMemo): MachineEvent | null;
  /**
   * kvm_arch_sync_dirty_log(kvm, memslot): called at the start of KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG
   * to move hardware-held dirty state (device records, buffers, DBM-dirty descriptors) into the slot bitmap.
   */
  syncDirtyLog?(s: MachineState, slot: number): void;
  /**
   * The asynchronous part of kvm_arch_sync_dirty_log, as the VMM's collection step before its next GET: an event
   * the GET must wait for (e.g. a request to every vCPU, then the caller's release once they acknowledged), or
   * null when the GET may go. Bitmap collection only (the ring's harvest calls no sync).
   */
  syncStep?(s: MachineState): MachineEvent | null;
  /** Extra descriptor bits when KVM maps a page writable on a write fault (e.g. DBM). */
  faultBits?(s: MachineState, gfn: number): number;
  /**
   * Map the write fault writable-clean (W=0; with DBM from `faultBits`) instead of writable: the retried store
   * then takes a hardware dirty-state update, which the mechanism logs (PTA RFC patch 8: S2AP_W never set by
   * software under hardware logging). The fault still marks the page.
   */
  faultClean?(s: MachineState, gfn: number): boolean;
  /** Is the mechanism quiescent (nothing left to drain) so the final collection may start? */
  quiescent?(s: MachineState): boolean;
  /**
   * kvmTlbi 'events': does a KVM path of this mechanism owe a TLBI it has not issued yet (e.g. the HDBSS enable's
   * VMID-wide TLBI, `kvm/switchTlbiIssued`)? The machine's own owed TLBIs (an ioctl's, the fault path's) it knows
   * itself; it asks this for coverage only (a store completing in such a window counts in `kvmTlbiWindowStores`,
   * situation `kvm-tlbi-window`). Preconditions stay the mechanism's own. Absent: it never owes one.
   */
  owesTlbi?(s: MachineState): boolean;
  /** Metrics to add to the model's report. */
  metrics?(s: MachineState, out: { [k: string]: number }): void;
  /**
   * Domain rendering of the mechanism's state for bisect, show, shrink and diff (models/machine/view.ts calls it):
   * its summary sections and readable lines for changes under `s.ext`.
   */
  readonly view?: MechanismView;
}
