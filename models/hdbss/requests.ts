/**
 * Requests, kicks and completion of the HDBSS paths (split from hdbss.ts, no behaviour change): the request bits,
 * who sets them (the sync, the disable, the enable), when the caller is released, and the VMM's collection step
 * the request adds (`syncStep`). The events that deliver and handle them are reducer.ts.
 */
import type { MachineEvent } from '../machine/model-events.ts';
import type { MachineState } from '../machine/state.ts';
import { hasBug, type HdbssKnob, type KnobTest } from '../machine/knobs.ts';
import { optionOf, type HdbssOption, type OptionRead } from '../machine/options.ts';
import { hdOf } from './state.ts';

/** Is a knob of this folder on? (Typed: a misspelled or foreign knob id fails tsc; ../machine/knobs.ts.) */
const bug: KnobTest<HdbssKnob> = hasBug;
/** An hdbss option of the state's design (typed like `bug`: ../machine/options.ts). */
const option: OptionRead<HdbssOption> = optionOf;

// ---------------------------------------------------------------------------------------------------------
// Requests, kicks and completion (options kicks and hdbssDisable)
//
// virt/kvm/kvm_main.c: kvm_make_all_cpus_request(kvm, req) -> kvm_make_vcpus_request_mask: for each vCPU
// kvm_make_request(req, vcpu) (set the bit; smp_wmb before it), and if kvm_request_needs_ipi(vcpu, req) (the
// vCPU is in guest mode; with KVM_REQUEST_WAIT, not outside guest mode) add its CPU to a mask; then
// kvm_kick_many_cpus(mask, wait = req & KVM_REQUEST_WAIT): smp_call_function_many(mask, ack_kick, NULL, wait).
// ack_kick does nothing: the IPI's only effect is the guest exit, and WAIT waits for the IPI handlers to have
// run, i.e. for every targeted vCPU to have left guest mode, NOT for it to have handled the request. The request
// is handled on the vCPU's own thread: arch/arm64/kvm/arm.c check_vcpu_requests, called in the run loop before
// each guest entry (kvm_request_pending -> kvm_check_request test-and-clears the bit). The v3 HDBSS series uses
// it as KVM_REQ_FLUSH_HDBSS (KVM_ARCH_REQ(12)): check_vcpu_requests flushes the buffer; kvm_vcpu_put_vhe flushes
// too (arm reference 2.7, 6 F13/F14).
//
// The model: the caller (KVM's ioctl thread, the VMM's GET or its disable) makes the request (`hdbss/
// flushRequested`, `hdbss/disableRequested`): `REQ_FLUSH` in `req[v]` of every loaded vCPU, and `call` says what it waits
// in. A vCPU in guest mode with its bit set has a kick IPI in flight: `kvm/kickDelivered` makes it exit. A vCPU
// in host context with its bit set handles it (`kvm/requestNoticed`): drains its buffer, reloads VTCR_EL2 after
// a disable, acknowledges (`req[v] = 0`, every pending bit: check_vcpu_requests handles them all); it cannot enter the guest first (`canEnter`). vcpu_put acknowledges
// too (the v3 put flush drains the buffer). The caller is released (`kvm/requestCompleted`) when every targeted
// vCPU has acknowledged: the completion the correct design waits for (the kernel's own WAIT does not give it:
// F14). A put vCPU gets no bit here: the kernel sets one, but its put already drained the buffer and the later
// check drains nothing (left out: it would only add states).
// Knobs: F13 `hdbss-disable-no-wait` (v2: kick without waiting, then free), F14 `hdbss-sync-ipi-wait` (v3: the
// sync's request with KVM_REQUEST_WAIT, released once the IPIs are acknowledged).
//
// The enable (option enableRequest, the default since model version 2) is the 2026 rework's mode switch
// (arm reference 2.7 "Later rework"): kvm_arch_update_hw_dirty_mode sets HA|HD|HDBSS in kvm->arch.mmu.vtcr and
// "issues one KVM_REQ_RELOAD_STAGE2 followed by a VMID-wide TLB invalidation, as the request only reloads
// VTCR_EL2". `hdbss/trackingEnabled` sets `REQ_RELOAD` in `req` of every loaded vCPU and issues the TLBI; the
// same kick IPI and run-loop check deliver it, and `kvm/requestNoticed` loads the new VTCR_EL2 on the vCPU's PE
// (a vCPU loaded later gets it at vcpu_load; a put vCPU's bit is dropped, as the load programs VTCR_EL2 anyway).
// The registers need nothing then: "Registers are programmed whenever the vCPU owns a buffer, regardless of
// whether HDBSS is enabled. The feature can be turned on mid-KVM_RUN" (vcpu_load's `programRegs`). Waiter:
// none. The reference shows no KVM_REQUEST_WAIT and no completion on this path (a guess, README "Modelling
// choices"): the caller returns once the bits are set and the IPIs sent, and vCPUs keep running with the old
// VTCR_EL2 (HA only: a store to a DBM=1, W=0 leaf faults, R_PZFQC, and KVM's fault path marks it) until they
// handle it. So the window the request opens loses nothing here; what the reference names on this path are the
// existing knobs, each still found through the request: F12 (`hdbss-vtcr-before-regs`: the reload sets
// VTCR_EL2.HDBSS over registers v1 programs only at a load with HDBSS on) and F19 (`vtcr-switch-no-tlbi`).

/** `req` bits: KVM_REQ_FLUSH_HDBSS (sync and disable: the caller waits for it) and KVM_REQ_RELOAD_STAGE2 (enable). */
export const REQ_FLUSH = 1;
export const REQ_RELOAD = 2;

/** Does the sync_dirty_log of a GET go through the request (option kicks) instead of one atomic drain? */
export function kicks(s: MachineState): boolean {
  return option(s, 'kicks') === true;
}

/** kvm_make_all_cpus_request(KVM_REQ_FLUSH_HDBSS): the bit on every loaded vCPU, and the caller waits. */
export function makeRequest(s: MachineState, call: 'sync' | 'disable'): void {
  const h = hdOf(s);
  for (let v = 0; v < s.vcpus.length; v++) if (s.vcpus[v]!.pe >= 0 && (h.req[v]! & REQ_FLUSH) === 0) h.req[v] = h.req[v]! | REQ_FLUSH;
  h.call = call;
}

/** Does the enable go through KVM_REQ_RELOAD_STAGE2 (option enableRequest) instead of one atomic switch? */
export function enableRequest(s: MachineState): boolean {
  return option(s, 'enableRequest') === true;
}

/** kvm_make_all_cpus_request(KVM_REQ_RELOAD_STAGE2): the bit on every loaded vCPU; nobody waits for it. */
export function makeReloadRequest(s: MachineState): void {
  const h = hdOf(s);
  for (let v = 0; v < s.vcpus.length; v++) if (s.vcpus[v]!.pe >= 0 && (h.req[v]! & REQ_RELOAD) === 0) h.req[v] = h.req[v]! | REQ_RELOAD;
}

/**
 * May the caller of the pending request proceed? Correct: every targeted vCPU acknowledged. F14 (the sync with
 * KVM_REQUEST_WAIT): once no targeted vCPU is in guest mode (every IPI acknowledged), handled or not. F13 (the
 * v2 disable: asynchronous kick): at once.
 */
export function released(s: MachineState): boolean {
  const h = hdOf(s);
  if (h.call === 'disable' && bug(s, 'hdbss-disable-no-wait')) return true;
  const ipiOnly = h.call === 'sync' && bug(s, 'hdbss-sync-ipi-wait');
  for (let v = 0; v < s.vcpus.length; v++) {
    if ((h.req[v]! & REQ_FLUSH) === 0) continue;
    if (!ipiOnly || s.vcpus[v]!.run === 'guest') return false;
  }
  return true;
}

/** The vCPU acknowledges its pending requests (handled in its run loop, or put). */
export function acknowledge(s: MachineState, v: number): void {
  const h = hdOf(s);
  if (h.req[v] !== 0) h.req[v] = 0;
}

/**
 * kvm_arch_sync_dirty_log's asynchronous part (`Mechanism.syncStep`): the event the VMM's next GET must wait for.
 * While a request call is pending (a sync's, or the disable's: the VMM's control thread is in that ioctl) it is
 * the call's completion; with option kicks and HDBSS on, a GET first makes its flush request. Null: the GET may go.
 */
export function syncStep(s: MachineState): MachineEvent | null {
  const h = hdOf(s);
  // kvmTlbi 'events': the VMM's control thread is still in KVM_ENABLE_CAP until the mode switch's TLBI ran.
  if (h.switchTlbi) return { type: 'kvm/switchTlbiIssued' };
  if (h.call !== 'none') return { type: 'kvm/requestCompleted' };
  if (!kicks(s) || !h.enabled || h.freed || h.synced) return null;
  return { type: 'hdbss/flushRequested' };
}
