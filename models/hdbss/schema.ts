/**
 * The FEAT_HDBSS state `s.ext['hdbss']`, declared once (src/core/schema.ts): its TypeScript type (`HdbssExt`),
 * exact copy, the explorer's saved layout, canonical encoding, shape check and labelled view are all derived from
 * `HDBSS_STATE`, declared for the machine by the folder (`HDBSS_FOLDER.parts`, models/hdbss/hdbss.ts).
 *
 * Names follow the Arm ARM (arm reference section 2): per PE the registers as the PE holds them, HDBSSBR_EL2.BADDR
 * (`brBaddr`, modelled as the vCPU whose buffer it points at) and HDBSSPROD_EL2.INDEX / .FSC (`prodIndex`,
 * `prodFsc`); per vCPU KVM's saved copy of HDBSSPROD_EL2 (`savedProdIndex`, `savedProdFsc`: the kernel's
 * `vcpu_hdbss_state.next_index` and, since the rework preserves HDBSSPROD_EL2 across switches, its FSC), the
 * buffer, and the page of a pending ESR_EL2.ISS2.HDBSSF fault (`hdbssf`).
 *
 * Readers of the state: hdbss.ts, kernel.ts (which also lowers the ring's soft limit once by `cap`), requests.ts,
 * reducer.ts, state.ts's readers (`indexOf`, `topOf`) and invariants.ts; elsewhere only the views print it (src/cli/machine-view.ts: `buf`).
 *
 * What the canonical encoding keeps (it must be a bisimulation: two states with one encoding have the same
 * enabled events, invariant verdicts and successor encodings):
 * - `enabled`, `cap`, `ringReserved`: as is (`cap` is fixed by the design; one word).
 * - `buf` (per vCPU, `cap` entries, 0 = invalid): as is, entry by entry. Drains read entries [0, INDEX) in order
 *   (ring pushes are ordered), `pending` and INV-HDBSS-REGS read every position, appends write at INDEX; a
 *   drained entry is zeroed, so nothing stale is left to merge. HDBSS entries carry no VMID.
 * - `savedProdIndex`, `savedProdFsc`, `hdbssf`, `resumed` (per vCPU): as is (the saved index is also read while
 *   the vCPU is loaded, by the register programming at HDBSS enable).
 * - `req` (per vCPU), `call`, `synced`, `freed`, `uaf`, `syncMissed` (requests, kicks and completion;
 *   requests.ts): as is. A kick IPI in flight has no field: it is `req[v] !== 0` with the vCPU in guest mode. With
 *   options kicks, enableRequest and hdbssDisable off they keep their initial values (model version 1's spaces).
 * - `brBaddr`, `prodIndex`, `prodFsc`, `inflight` (per PE): the one hand-written canonicalisation,
 *   `packPeRegister` below (the registers of a PE with no vCPU loaded are dead; `inflight` is 0 there: every
 *   vcpu_put completes or discards the PE's outstanding HDBSS writes, hdbss.ts `onPut`).
 * No field holds a VMID, and none is a metric (every field is read by a precondition, a reducer or an invariant).
 * Per-vCPU and per-PE arrays are packed in index order: mechanism state turns explore's symmetry off
 * (models/machine/parts.ts `partCtx`), so no permutation applies to them.
 */
import type { PackSink } from '../../src/core/model.ts';
import { array, bool, compile, enumOf, int, nums, record, type Infer, type PackCtx } from '../../src/core/schema.ts';
import type { MachineState } from '../machine/state.ts';
import { hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;

/**
 * The per-PE registers' canonical encoding: HDBSSBR_EL2.BADDR, HDBSSPROD_EL2.INDEX and .FSC of a PE that runs
 * no vCPU are packed as the fixed `deadValue` (-1, 0, 0), the others as they are (BADDR's vCPU through
 * `ctx.vcpu`).
 *
 * Why it is sound: the three registers are read only for a PE that runs a vCPU (the hardware update and
 * HDBSS-full checks `canUpdate`, appends `logged`, the vCPU's index while loaded `indexOf`, vcpu_put's save,
 * INV-HDBSS-REGS for loaded PEs), and every vcpu_load programs all three (`programRegs`) before any such read. So
 * the values a PE keeps while no vCPU is loaded on it are never read before being overwritten: merging them
 * changes no enabled event, verdict or successor. Not under the F12 knob (`hdbss-vtcr-before-regs`), whose
 * vcpu_load leaves them unprogrammed while HDBSS is off (the enable then sets VTCR over whatever they held):
 * there they are live, and packed as is. Tested to be a bisimulation (and a wrong variant to be caught) in
 * properties/explore.hw.test.ts ("hdbss: the registers a PE keeps ...", "the soundness check fails for an hdbss
 * part ...").
 */
function packPeRegister(deadValue: number, vcpuRef: boolean) {
  return (v: number[], _h: unknown, ctx: PackCtx, out: PackSink): void => {
    const s = ctx.root as MachineState;
    const live = !bug(s, 'hdbss-vtcr-before-regs');
    out.num(v.length);
    for (let p = 0; p < v.length; p++) {
      const pe = s.pes[p];
      if (live && pe !== undefined && pe.loaded < 0) { out.num(deadValue); continue; }
      const x = v[p] as number;
      out.num(vcpuRef ? (x < 0 ? -1 : ctx.vcpu(x)) : x);
    }
  };
}

/** What a flat layout's capacities read (schema-layout.ts): the configuration and the buffers' capacity. */
type Sized = { readonly config: { readonly vcpus: number; readonly pes: number }; readonly ext: { readonly [k: string]: unknown } };
const VCPUS = (s: Sized): number => s.config.vcpus;
const PES = (s: Sized): number => s.config.pes;

export const HDBSS_STATE = record({
  enabled: bool({ doc: 'KVM enabled HDBSS (VTCR_EL2.{HA,HD,HDBSS} for the VM)' }),
  cap: int('count', { doc: 'entries per buffer: 2^(HDBSSBR_EL2.SZ+12)/8, or the shrunk hdbssEntries' }),
  buf: array(nums('descriptor', 'cap', { max: (s: Sized) => (s.ext['hdbss'] as { cap: number }).cap, doc: 'one buffer: HDBSS entries {IPA[55:12], TTWL[3:1], Valid[0]}, 0 = invalid (zeroed)' }), 'vcpus',
    { max: VCPUS, doc: 'buffer memory per vCPU: `cap` entries' }),
  savedProdIndex: nums('index', 'vcpus', { max: VCPUS, doc: 'per vCPU: KVM\'s saved HDBSSPROD_EL2.INDEX (next_index; meaningful while the vCPU is put)' }),
  savedProdFsc: nums('flags', 'vcpus', { max: VCPUS, doc: 'per vCPU: KVM\'s saved HDBSSPROD_EL2.FSC (meaningful while the vCPU is put)' }),
  brBaddr: nums('vcpu', 'pes', { max: PES, doc: 'per PE: HDBSSBR_EL2.BADDR, as the vCPU whose buffer it points at (-1: UNKNOWN)',
    pack: packPeRegister(-1, true) }),
  prodIndex: nums('index', 'pes', { max: PES, doc: 'per PE: HDBSSPROD_EL2.INDEX (the next entry the hardware appends at)', pack: packPeRegister(0, false) }),
  prodFsc: nums('flags', 'pes', { max: PES, doc: 'per PE: HDBSSPROD_EL2.FSC (0 = OK, 0b010000 external abort, 0b101000 GPF)', pack: packPeRegister(0, false) }),
  inflight: nums('count', 'pes', { max: PES,
    doc: 'weakMemory, per PE: the newest N HDBSS entry writes (entries [INDEX - N, INDEX)) not yet observable to the PE\'s own EL2 accesses (R_RCGCHP: until a DSB)',
    pack: packPeRegister(0, false) }),
  hdbssf: nums('gfn', 'vcpus', { max: VCPUS, doc: 'per vCPU: page of an HDBSSF permission fault (ESR_EL2.ISS2.HDBSSF) KVM has not handled yet, or -1' }),
  resumed: nums('gfn', 'vcpus', { max: VCPUS, doc: 'per vCPU: page of the HDBSSF fault KVM resumed the guest from while the retried store could not complete (judged at the resume; cleared by a drain or an append), or -1 (INV-LIVE-HDBSS)' }),
  ringReserved: bool({ doc: 'ring consumer: the rings\' soft limit already reserves room for a full buffer drain' }),
  // Requests, kicks and completion (requests.ts). A kick IPI in flight is not a field: it is exactly
  // `req[v] !== 0` with the vCPU in guest mode (an IPI that finds the vCPU already out of guest mode is a no-op).
  req: nums('flags', 'vcpus', { max: VCPUS, doc: 'per vCPU: pending requests, bit 0 KVM_REQ_FLUSH_HDBSS (a sync or disable), bit 1 KVM_REQ_RELOAD_STAGE2 (the enable, option enableRequest); acknowledged when the vCPU handles them (check_vcpu_requests) or is put' }),
  call: enumOf(['none', 'sync', 'disable'] as const, { doc: 'the kvm_make_all_cpus_request call KVM\'s ioctl thread waits in (sync_dirty_log or the disable), or none' }),
  synced: bool({ doc: 'option kicks: the next GET\'s kvm_arch_sync_dirty_log request completed (the GET consumes it)' }),
  freed: bool({ doc: 'the disable path freed the buffers (option hdbssDisable); HDBSS stays off' }),
  switchTlbi: bool({ doc: 'kvmTlbi \'events\': the HDBSS enable (mode switch) still owes its VMID-wide TLBI (`kvm/switchTlbiIssued`); KVM_ENABLE_CAP returns after it' }),
  uaf: int('gfn', { doc: 'page of an HDBSS entry written or drained after its buffer was freed, or -1 (INV-HDBSS-UAF)' }),
  syncMissed: int('gfn', { doc: 'page of an entry a GET\'s snapshot missed: its vCPU had not acknowledged the sync request, or -1 (INV-SYNC-COMPLETE)' }),
});

/** The HDBSS state (`s.ext['hdbss']`; undefined in designs with another producer). */
export type HdbssExt = Infer<typeof HDBSS_STATE>;

/** The compiled operations of `HDBSS_STATE` (what the machine's copy, pack and save use for `s.ext['hdbss']`). */
export const HDBSS_PART = compile(HDBSS_STATE);

