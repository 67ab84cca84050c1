/**
 * The dirty ring as a mechanism of the shared machine (registered under the consumer id `ring`): its Next
 * relation (candidates, preconditions, reducer) over the kernel side (kernel.ts) and the VMM side (vmm.ts), the
 * pages it holds for INV-NOLOSS, and the hooks. State: schema.ts (`s.ext.ring`, declared once: types,
 * copy, save/load and canonical encoding) and state.ts (readers); invariants: invariants.ts.
 */
import { wantsShared, wantsVcpu, type EnabledMemo, type Mechanism, type MechanismFolder } from '../machine/mechanisms.ts';
import { collectionStepDone, deliver, nextCollectStep } from '../machine/machine.ts';
import { sameEvent } from '../machine/collect.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import { REQ_RING_SOFT_FULL, REQ_STEAL, type MachineState } from '../machine/state.ts';
import { RING_EVENTS } from './events.ts';
import { ringView } from './view.ts';
import type { Compiled } from '../../src/core/schema.ts';
import { harvest, harvestable, inc, KVM_DIRTY_GFN_F_DIRTY, offsetOf, ringSize, slotIndex, used } from './ring.ts';
import { init, mark, onEnter, resetRings, wouldExit } from './kernel.ts';
import { collectStep, drained, harvestSteps, passStep, rewritesOf, rewrittenPending, ringWorkAllowedIn } from './vmm.ts';
import { RING_PART } from './schema.ts';
import { entryGfn, harvestedTotal, RING_ID, ringExt } from './state.ts';
import { hasBug, type DirtyRingKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type DirtyRingOption, type OptionRead } from '../machine/options.ts';
import type { Ring, RingExt } from './schema.ts';

export { RING_ID, ringExt, type ResetAudit, type RingExt } from './state.ts';
export {
  INV_LIVE_RESET, INV_RESET_VALID, INV_RING_BOUND, INV_RING_FIFO, INV_RING_GATE, INV_RING_RESET_EXACT, RING_INVARIANTS,
} from './invariants.ts';

/** Is a dirty-ring knob on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<DirtyRingKnob> = hasBug;
/** A dirty-ring option (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<DirtyRingOption> = optionOf;

// ---------------------------------------------------------------------------------------------------------
// The Next relation and the reducer

function candidates(s: MachineState, out: MachineEvent[], memo: EnabledMemo): void {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) if (wantsVcpu(memo, v)) out.push({ type: 'vcpu/ringFullExited', vcpu: v });
  // Everything else here is on the VMM's lane or the host's (declared: ring/ events, the soft-full clear).
  if (!wantsShared(memo)) return;
  if (bug(s, 'softfull-cleared-by-reset')) for (const v of R.softFullClears) out.push({ type: 'kvm/softFullRequestCleared', vcpu: v });
  if (ringWorkAllowedIn(s, memo)) {
    // The canonical step comes from collectStep; here the other interleavings: another vCPU's ring first,
    // or a reset interrupted by a signal after 1 or 2 entries.
    const h = harvestSteps(s, memo);
    for (let i = 1; i < h.length; i++) out.push(h[i]!);
    const step = nextCollectStep(s, memo);
    if (step && step.type === 'kvm/dirtyRingsReset' && step.reflag === 0) {
      for (let k = 1; k <= 2; k++) if (k < harvestedTotal(R)) out.push({ type: 'kvm/dirtyRingsReset', signal: k, reflag: 0 });
    }
  }
  if (R.adversary) for (const x of rewritesOf(s, memo)) out.push(x);
  // The weak-memory layer (ring.ts "Memory ordering"): buffered flag stores drain, oldest first, per CPU.
  for (let v = 0; v < R.rings.length; v++) {
    const r = R.rings[v]!;
    if (r.dirtyBuffered > 0) out.push({ type: 'ring/dirtyFlagVisible', vcpu: v });
    if (r.resetBuffered > 0) out.push({ type: 'ring/resetFlagVisible', vcpu: v });
    if (earlyReadPossible(s, r)) out.push({ type: 'ring/payloadReadEarly', vcpu: v, index: r.dirtyIndex });
  }
}

/**
 * B4 (`ring-plain-flags`): may the reset CPU's payload loads of the entry the next push fills be satisfied now,
 * ahead of its (plain) flag load? One early read per ring at a time (enough for B4's shortest counterexamples;
 * more would only multiply interleavings of the same shape), not on an attacked ring, and only while the entry
 * is free (the push that follows is what makes the read stale).
 */
function earlyReadPossible(s: MachineState, r: Ring): boolean {
  return bug(s, 'ring-plain-flags') && r.early.length === 0 && used(r) < ringSize(r);
}

function isEnabled(s: MachineState, e: MachineEvent, memo: EnabledMemo): boolean | undefined {
  switch (e.type) {
    case 'vcpu/ringFullExited': {
      const v = s.vcpus[e.vcpu];
      return !!v && v.run === 'host' && (v.requests & REQ_STEAL) === 0 && wouldExit(s, e.vcpu) && ringExt(s).exited[e.vcpu] === 0;
    }
    case 'ring/entryHarvested': {
      if (!ringWorkAllowedIn(s, memo)) return false;
      const R = ringExt(s);
      const r = R.rings[e.vcpu];
      return !!r && R.attacked[e.vcpu] === 0 && e.index === r.fetchIndex && harvestable(r);
    }
    case 'ring/entryRewritten':
    case 'ring/entrySlotRewritten':
      return ringExt(s).adversary && rewritesOf(s, memo).some((x) => sameEvent(x, e));
    case 'kvm/dirtyRingsReset': {
      const step = nextCollectStep(s, memo);
      if (!step || step.type !== 'kvm/dirtyRingsReset' || step.reflag !== e.reflag) return false;
      return e.signal === 0 || (e.reflag === 0 && e.signal <= 2 && e.signal < harvestedTotal(ringExt(s)));
    }
    case 'kvm/softFullRequestCleared':
      return bug(s, 'softfull-cleared-by-reset') && s.vmm.ioctl !== null && s.vmm.ioctl.kind === 'reset'
        && ringExt(s).softFullClears.includes(e.vcpu);
    case 'ring/dirtyFlagVisible': {
      const r = ringExt(s).rings[e.vcpu];
      return !!r && r.dirtyBuffered > 0;
    }
    case 'ring/resetFlagVisible': {
      const r = ringExt(s).rings[e.vcpu];
      return !!r && r.resetBuffered > 0;
    }
    case 'ring/payloadReadEarly': {
      const R = ringExt(s);
      const r = R.rings[e.vcpu];
      return !!r && R.attacked[e.vcpu] === 0 && e.index === r.dirtyIndex && earlyReadPossible(s, r);
    }
    case 'vmm/untrackedPagesQueued':
    case 'vmm/ringCollectionCompleted': {
      const step = nextCollectStep(s, memo);
      return step !== null && step.type === e.type;
    }
    default:
      return undefined;
  }
}

/**
 * The adversary sabotaged the re-arm of the page it had recorded, and (the fixed kernel drops a whole batch that
 * holds an invalid offset, and offset-0 entries on either side coalesce with 0x..ffc1) of any page harvested from
 * this ring before the next reset: it copies all of them at the end.
 */
function sabotaged(R: RingExt, v: number): void {
  for (const g of R.harvested[v]!) if (g >= 0 && !R.always.includes(g)) R.always.push(g);
}

function apply(s: MachineState, e: MachineEvent): boolean {
  const R = ringExt(s);
  switch (e.type) {
    case 'vcpu/ringFullExited':
      R.exited[e.vcpu] = 1;
      s.stats['ringFullExits'] = (s.stats['ringFullExits'] ?? 0) + 1;
      return true;
    case 'ring/entryHarvested': {
      passStep(s);
      if (R.justified[e.vcpu]![slotIndex(R.rings[e.vcpu]!, R.rings[e.vcpu]!.fetchIndex)] !== 1) {
        s.stats['ringUnjustified'] = (s.stats['ringUnjustified'] ?? 0) + 1;
      }
      // weakMemory: the store-release of RESET stays in userspace's CPU's store buffer until `ring/resetFlagVisible`.
      const got = harvest(R.rings[e.vcpu]!, option(s, 'weakMemory') === true);
      const sl = got.slot >>> 16 === 0 ? s.slots[got.slot & 0xffff] : undefined;
      // Entries KVM pushed always name a page; userspace records it and copies it after the reset returns.
      const g = sl && got.offset < BigInt(sl.npages) ? sl.base + Number(got.offset) : -1;
      R.harvested[e.vcpu]!.push(g);
      if (R.adversary && g >= 0 && rewrittenPending(s, R.rings[e.vcpu]!) && !R.always.includes(g)) R.always.push(g);
      s.stats['ringHarvested'] = (s.stats['ringHarvested'] ?? 0) + 1;
      return true;
    }
    case 'ring/entryRewritten': {
      const r = R.rings[e.vcpu]!;
      const i = slotIndex(r, e.index);
      r.offHi[i] = e.offsetHi;
      r.offLo[i] = e.offsetLo;
      sabotaged(R, e.vcpu);
      return true;
    }
    case 'ring/entrySlotRewritten': {
      const r = R.rings[e.vcpu]!;
      r.slot[slotIndex(r, e.index)] = e.slot;
      sabotaged(R, e.vcpu);
      return true;
    }
    case 'kvm/dirtyRingsReset':
      passStep(s);
      resetRings(s, e.signal, e.reflag === 1);
      return true;
    case 'kvm/softFullRequestCleared':
      s.vcpus[e.vcpu]!.requests &= ~REQ_RING_SOFT_FULL;
      R.softFullClears = R.softFullClears.filter((v) => v !== e.vcpu);
      return true;
    case 'ring/dirtyFlagVisible':
      R.rings[e.vcpu]!.dirtyBuffered--;
      return true;
    case 'ring/resetFlagVisible':
      R.rings[e.vcpu]!.resetBuffered--;
      return true;
    case 'ring/payloadReadEarly': {
      const r = R.rings[e.vcpu]!;
      const i = slotIndex(r, e.index);
      r.early = [e.index, r.slot[i]!, r.offLo[i]!, r.offHi[i]!];
      return true;
    }
    case 'vmm/untrackedPagesQueued':
      deliver(s, R.always);
      R.queued = 1;
      return true;
    case 'vmm/ringCollectionCompleted':
      s.vmm.collectSlot = s.slots.length;
      collectionStepDone(s, false);
      return true;
    default:
      return false;
  }
}

/** Un-reset ring entries, harvested-not-reset entries held by the VMM, and pages the VMM will copy anyway. */
function pending(s: MachineState, gfn: number): boolean {
  const R = ringExt(s);
  for (let v = 0; v < R.rings.length; v++) {
    const h = R.harvested[v]!;
    for (let k = 0; k < h.length; k++) if (h[k] === gfn) return true;
    if (R.attacked[v] !== 0) continue;
    const r = R.rings[v]!;
    for (let c = r.resetIndex, n = Math.min(used(r), ringSize(r)); n > 0; c = inc(c), n--) {
      if (entryGfn(s, r, slotIndex(r, c)) === gfn) return true;
    }
  }
  return R.always.includes(gfn);
}

/** `pending` for every gfn of one state at once: the set of gfns the rings' records hold (`Mechanism.pendingIndex`). */
function pendingIndex(s: MachineState): (gfn: number) => boolean {
  const R = ringExt(s);
  const held = new Set<number>(R.always);
  for (let v = 0; v < R.rings.length; v++) {
    for (const g of R.harvested[v]!) held.add(g);
    if (R.attacked[v] !== 0) continue;
    const r = R.rings[v]!;
    for (let c = r.resetIndex, n = Math.min(used(r), ringSize(r)); n > 0; c = inc(c), n--) held.add(entryGfn(s, r, slotIndex(r, c)));
  }
  return (g) => held.has(g);
}

function quiescent(s: MachineState): boolean {
  return s.vmm.phase !== 'stopping' || drained(s);
}

function metrics(_s: MachineState, out: { [k: string]: number }): void {
  const e = out['ringEntries'] ?? 0;
  out['duplicateRate'] = e ? (out['ringDuplicates'] ?? 0) / e : 0;
  const h = out['ringHarvested'] ?? 0;
  out['ringUnjustifiedRate'] = h ? (out['ringUnjustified'] ?? 0) / h : 0;
}

// ---------------------------------------------------------------------------------------------------------
// The mechanism

export const ringMechanism: Mechanism = {
  id: RING_ID,
  view: ringView,
  init,
  mark,
  pending,
  pendingIndex,
  candidates,
  isEnabled,
  apply,
  canEnter: (s, v) => !wouldExit(s, v),
  onEnter,
  // The vCPU thread that got KVM_EXIT_DIRTY_RING_FULL (or would at its next request check) waits in userspace
  // for the reaper before issuing KVM_RUN again (QEMU reaps before re-entering).
  canLoad: (s, v) => !wouldExit(s, v),
  collects: true,
  collectStep,
  quiescent,
  metrics,
};

/** The dirty-ring folder as models/mechanisms.ts declares it: the ring mechanism, its events and its state part. */
export const RING_FOLDER: MechanismFolder<typeof RING_EVENTS> = {
  folder: 'dirty-ring', mechanisms: () => [ringMechanism], events: RING_EVENTS,
  // The ring state's copy, save/load and canonical encoding, compiled from its schema (schema.ts).
  parts: () => ({ [RING_ID]: RING_PART as unknown as Compiled<unknown> }),
};

export { KVM_DIRTY_GFN_F_DIRTY, offsetOf };
