/**
 * The machine's event union: every architectural action, named `domain/pastTense`. Only inputs are logged;
 * nothing is derived and re-logged. Each event carries the identifiers it acts on (vCPU, PE, gfn, slot), so a
 * trace reads on its own and the oracle can follow it without looking into mechanism state.
 *
 * Mechanisms add their events by declaration: each mechanism folder exports its `EventDecl`s (fields, lane,
 * weight, description), listed once in models/mechanisms.ts; the event union (model-events.ts), the untrusted-trace
 * schema (`eventFields()`), the lanes and the scheduler weights are all derived from those declarations.
 */
import type { FieldError } from '../../src/core/model.ts';
import { keyName, quote } from '../../src/core/untrusted.ts';
import { mechanismEventDecls } from '../mechanisms.ts';
import type { MachineConfig } from './state.ts';
import { totalPagesOf } from './state.ts';

export type CoreEvent =
  /** A guest store instruction starts on a vCPU running in the guest. */
  | { readonly type: 'guest/storeIssued'; readonly vcpu: number; readonly gfn: number }
  /** The store completes (through a writable TLB entry or a writable descriptor): guest memory changes. */
  | { readonly type: 'guest/storeRetired'; readonly vcpu: number; readonly gfn: number }
  /** The store takes a stage-2 permission or translation fault to EL2. */
  | { readonly type: 'guest/storeFaulted'; readonly vcpu: number; readonly gfn: number }
  /**
   * A guest load instruction on a vCPU running in the guest (no store of its own in flight), as one step: the
   * stage-2 walk reads the leaf covering `gfn` (valid), sets AF if it was clear (hardware with VTCR_EL2.HA, else
   * KVM's access-flag fault handler, kvm_pgtable_stage2_mkyoung: neither touches the dirty state), and the PE
   * caches what the walk read, a read-only leaf included (Arm ARM D8.5.1: only AF=0 descriptors are never cached).
   * A load on an invalid leaf is a translation fault (`kvm/readFaultMapped` where the mechanism models it).
   */
  | { readonly type: 'guest/loadPerformed'; readonly vcpu: number; readonly gfn: number }
  /**
   * TLBI IPAS2E1IS (+ TLBI VMALLE1IS; DSB ISH), `__kvm_tlb_flush_vmid_ipa`: every PE drops its entries of the
   * current VMID covering the IPA `gfn` (a block entry included). Issued as a step of its own by a kernel path
   * outside the modelled ioctls (config `kernelTlbi`), or written in a trace (the litmus shapes).
   */
  | { readonly type: 'kvm/tlbiIpa'; readonly gfn: number }
  /** TLBI VMALLS12E1IS; DSB ISH (`__kvm_tlb_flush_vmid`): every PE drops every entry of the current VMID. */
  | { readonly type: 'kvm/tlbiVmid' }
  /** TLBI ALLE1IS; DSB ISH: every PE drops every stage-2 entry, of every VMID. */
  | { readonly type: 'kvm/tlbiAll' }
  /**
   * Design option kvmTlbi 'events': the TLB maintenance the in-flight KVM ioctl owes (`vmm.ioctl.flush`), as a step
   * of its own between its kernel work and its return (which waits for it): kvm_flush_remote_tlbs_memslot (TLBI
   * by IPA range of the slot, broadcast; DSB ISH) for GET, CLEAR and the logging enable, kvm_flush_remote_tlbs
   * (the VMID) for KVM_RESET_DIRTY_RINGS, or only the VMM's PE under the `local-tlbi` knob.
   */
  | { readonly type: 'kvm/ioctlTlbiIssued'; readonly slot: number }
  /**
   * Design option kvmTlbi 'events': the write-fault path's break-before-make TLBI (TLBI IPAS2E1IS of the block's
   * IPA; DSB ISH) after it invalidated the block at `gfn` (its base), before it maps the faulting page at 4 KiB.
   */
  | { readonly type: 'kvm/faultTlbiIssued'; readonly vcpu: number; readonly gfn: number }
  /** A PE drops a cached leaf (capacity, speculation): never needed for correctness, only hides staleness. */
  | { readonly type: 'pe/tlbEvicted'; readonly pe: number; readonly gfn: number }
  /**
   * MMU-notifier aging of a page while logging is off, in x86's access-tracking style: the leaf is made
   * invalid with no TLB flush (clear_young does not flush). Needed to reproduce B2. On arm64 aging clears AF and
   * leaves W alone; we model the x86 form because it is the one with a known bug (a guess, see README).
   */
  | { readonly type: 'mmu/accessTracked'; readonly gfn: number }
  /** KVM's fault handler (user_mem_abort) maps the page writable (under mmu_lock, read side). */
  | { readonly type: 'kvm/faultMapped'; readonly vcpu: number; readonly gfn: number }
  /** ... then, after dropping mmu_lock, calls mark_page_dirty_in_slot and resumes the vCPU. */
  | { readonly type: 'kvm/faultMarked'; readonly vcpu: number; readonly gfn: number }
  | { readonly type: 'vcpu/loaded'; readonly vcpu: number; readonly pe: number }
  /** Guest entry: KVM processed the vCPU's requests and entered the guest. */
  | { readonly type: 'vcpu/entered'; readonly vcpu: number }
  /** Guest exit to the host (a store in progress is abandoned and re-executed later). */
  | { readonly type: 'vcpu/exited'; readonly vcpu: number }
  | { readonly type: 'vcpu/put'; readonly vcpu: number }
  /** PV stolen time: KVM writes the vCPU's record after vcpu_load (kvm_update_stolen_time), marked by software. */
  | { readonly type: 'host/stolenTimeWritten'; readonly vcpu: number; readonly gfn: number }
  /** vgic-ITS table save (KVM_DEV_ARM_ITS_SAVE_TABLES): a host write with no running vCPU. */
  | { readonly type: 'host/itsTableSaved'; readonly gfn: number }
  /** KVM_SET_USER_MEMORY_REGION adding KVM_MEM_LOG_DIRTY_PAGES to a slot (the whole ioctl). */
  | { readonly type: 'kvm/loggingEnabled'; readonly slot: number }
  /** KVM_GET_DIRTY_LOG without manual protect: snapshot-and-clear each word and re-arm its pages. */
  | { readonly type: 'kvm/dirtyLogHarvested'; readonly slot: number }
  /** KVM_GET_DIRTY_LOG with manual protect: copy the bitmap; nothing cleared or re-armed. */
  | { readonly type: 'kvm/dirtyLogFetched'; readonly slot: number }
  /** KVM_CLEAR_DIRTY_LOG's kernel work: validate, fetch_andnot the requested bits, re-arm what was set. */
  | { readonly type: 'kvm/dirtyLogCleared'; readonly slot: number; readonly firstPage: number; readonly numPages: number;
      readonly pages: readonly number[] }
  /** A re-arming ioctl flushes TLBs (if it must) and returns to the VMM with its result. */
  | { readonly type: 'kvm/ioctlReturned'; readonly slot: number }
  /** The VMM sends a page's current contents to the destination. */
  | { readonly type: 'vmm/pageCopied'; readonly gfn: number }
  /** The VMM stops the VM (vCPUs will leave the guest; the final collection follows). */
  | { readonly type: 'vmm/vmStopped' }
  /** The VMM declares the migration complete (INV-FINAL is checked here). */
  | { readonly type: 'vmm/migrationCompleted' };

/** Field kinds for validating untrusted events. */
export type FieldKind = 'vcpu' | 'pe' | 'gfn' | 'slot' | 'u64' | 'offsets' | 'u32' | 'int';

/**
 * One event type of a mechanism, declared in the mechanism's own folder (e.g. models/dirty-ring/events.ts) and
 * listed in models/mechanisms.ts: that is the whole of adding an event. Declare the list `as const satisfies
 * readonly EventDecl[]` so `EventOf` can derive the event's TypeScript type from it.
 */
export interface EventDecl {
  /** `domain/pastTense`, e.g. `ring/entryHarvested`. Never rename: traces name it. */
  readonly type: string;
  /** Field name -> kind: validates untrusted traces (`parseEventWith`), types the event (`EventOf`), `npm run schemas`. */
  readonly fields: { readonly [field: string]: FieldKind };
  /** What the event models, in kernel / Arm terms (the doc of the event type). */
  readonly description: string;
  /** Relative weight for the seeded scheduler (`Model.weightOf`); default 5. */
  readonly weight?: number;
  /**
   * Timeline lane when it is not the one `lane` derives from the fields (`vcpuN` from a `vcpu` field, `peN` from a
   * `pe` field, else `vmm` for `vmm/` and `kvm/` types, else `host`): e.g. `vmm` for userspace acting on a vCPU's ring.
   */
  readonly lane?: 'vmm' | 'host';
}

/** The TypeScript value of a field of kind `K`. */
type FieldValue<K extends FieldKind> = K extends 'offsets' ? readonly number[] : number;

/** The event type a declaration describes (distributes over a union of declarations). */
export type EventOf<D extends EventDecl> = D extends unknown
  ? { readonly [K in 'type' | keyof D['fields']]: K extends 'type' ? D['type'] : FieldValue<D['fields'][K & keyof D['fields']]> }
  : never;

/** Schema of every core event type: field name -> kind (mechanisms declare theirs: `EventDecl`). */
const CORE_EVENT_FIELDS: { readonly [type: string]: { readonly [field: string]: FieldKind } } = {
  'guest/storeIssued': { vcpu: 'vcpu', gfn: 'gfn' },
  'guest/storeRetired': { vcpu: 'vcpu', gfn: 'gfn' },
  'guest/storeFaulted': { vcpu: 'vcpu', gfn: 'gfn' },
  'guest/loadPerformed': { vcpu: 'vcpu', gfn: 'gfn' },
  'kvm/tlbiIpa': { gfn: 'gfn' },
  'kvm/tlbiVmid': {},
  'kvm/tlbiAll': {},
  'kvm/ioctlTlbiIssued': { slot: 'slot' },
  'kvm/faultTlbiIssued': { vcpu: 'vcpu', gfn: 'gfn' },
  'pe/tlbEvicted': { pe: 'pe', gfn: 'gfn' },
  'mmu/accessTracked': { gfn: 'gfn' },
  'kvm/faultMapped': { vcpu: 'vcpu', gfn: 'gfn' },
  'kvm/faultMarked': { vcpu: 'vcpu', gfn: 'gfn' },
  'vcpu/loaded': { vcpu: 'vcpu', pe: 'pe' },
  'vcpu/entered': { vcpu: 'vcpu' },
  'vcpu/exited': { vcpu: 'vcpu' },
  'vcpu/put': { vcpu: 'vcpu' },
  'host/stolenTimeWritten': { vcpu: 'vcpu', gfn: 'gfn' },
  'host/itsTableSaved': { gfn: 'gfn' },
  'kvm/loggingEnabled': { slot: 'slot' },
  'kvm/dirtyLogHarvested': { slot: 'slot' },
  'kvm/dirtyLogFetched': { slot: 'slot' },
  'kvm/dirtyLogCleared': { slot: 'slot', firstPage: 'u64', numPages: 'u32', pages: 'offsets' },
  'kvm/ioctlReturned': { slot: 'slot' },
  'vmm/pageCopied': { gfn: 'gfn' },
  'vmm/vmStopped': {},
  'vmm/migrationCompleted': {},
};

/**
 * The core events and every declared mechanism event, by type, built on first use (models/mechanisms.ts imports
 * the mechanisms, which import this file: reading the declarations at module evaluation could meet them
 * uninitialised in an import cycle).
 */
interface EventTables {
  readonly fields: { readonly [type: string]: { readonly [field: string]: FieldKind } };
  readonly lanes: ReadonlyMap<string, 'vmm' | 'host'>;
  readonly weights: ReadonlyMap<string, number>;
}
let tables: EventTables | undefined;

function eventTables(): EventTables {
  if (tables) return tables;
  const fields: { [type: string]: { readonly [field: string]: FieldKind } } = { ...CORE_EVENT_FIELDS };
  const lanes = new Map<string, 'vmm' | 'host'>();
  const weights = new Map<string, number>();
  for (const d of mechanismEventDecls()) {
    if (Object.hasOwn(fields, d.type)) throw new Error(`[dtsim] event type '${d.type}' declared twice`);
    fields[d.type] = d.fields;
    if (d.lane !== undefined) lanes.set(d.type, d.lane);
    if (d.weight !== undefined) weights.set(d.type, d.weight);
  }
  tables = { fields, lanes, weights };
  return tables;
}

/** Schema of every known event type (core and declared): field name -> kind. */
export function eventFields(): { readonly [type: string]: { readonly [field: string]: FieldKind } } {
  return eventTables().fields;
}

/** The scheduler weight a mechanism declared for an event type (`EventDecl.weight`), or undefined. */
export function declaredWeight(type: string): number | undefined {
  return eventTables().weights.get(type);
}

/** Field lists of each schema, computed once (validation runs per event of a million-event trace). */
const schemaEntries = new Map<string, readonly (readonly [string, FieldKind])[]>();
const totals = new WeakMap<MachineConfig, number>();

function fieldError(field: string, message: string): { ok: false; error: FieldError } {
  return { ok: false, error: { field, message } };
}

/** Upper bound (exclusive) and name of an integer field kind; 'offsets' and 'int' are checked elsewhere. */
function boundOf(kind: FieldKind, config: MachineConfig, total: number): [number, string] {
  switch (kind) {
    case 'vcpu': return [config.vcpus, 'vCPU'];
    case 'pe': return [config.pes, 'PE'];
    case 'gfn': return [total, 'page'];
    case 'slot': return [config.slots.length, 'memslot'];
    case 'u32': return [2 ** 32, 'value'];
    case 'u64': return [Number.MAX_SAFE_INTEGER + 1, 'value'];
    case 'int': case 'offsets': return [Number.MAX_SAFE_INTEGER + 1, 'value'];
  }
}

/**
 * For an unknown event type that differs from a known one only by case, spacing, invisible characters or
 * compatibility forms (fullwidth slash...): a hint naming the known one. Only the exact spelling is accepted.
 */
function lookalikeHint(type: string): string {
  const skeleton = (s: string): string => s.normalize('NFKC').replace(/[\s\u200b-\u200d\u2060\ufeff\u0300-\u036f]/g, '').toLowerCase();
  const t = skeleton(type.normalize('NFKD'));
  for (const known of Object.keys(eventFields())) if (skeleton(known) === t) return ` (looks like '${known}'; only the exact spelling is accepted)`;
  return '';
}

/** Validates one untrusted event against the schema and the configuration's ranges. */
export function parseEventWith<E>(raw: unknown, config: MachineConfig): { ok: true; event: E } | { ok: false; error: FieldError } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fieldError('', 'an event must be a JSON object');
  const r = raw as Record<string, unknown>;
  const type = r['type'];
  if (typeof type !== 'string') return fieldError('type', 'missing or not a string');
  // Own properties only: a type named `constructor` or `__proto__` is unknown, not Object.prototype's.
  const fields = eventFields();
  const schema = Object.hasOwn(fields, type) ? fields[type] : undefined;
  if (!schema) return fieldError('type', `unknown event type ${quote(type)}${lookalikeHint(type)}`);
  let entries = schemaEntries.get(type);
  if (!entries) { entries = Object.entries(schema); schemaEntries.set(type, entries); }
  let total = totals.get(config);
  if (total === undefined) { total = totalPagesOf(config); totals.set(config, total); }
  let n = 0;
  for (const k in r) {
    n++;
    if (k !== 'type' && !Object.hasOwn(schema, k)) return fieldError(keyName(k), `unexpected field for '${type}'`);
  }
  if (n !== entries.length + 1) {
    for (const [field] of entries) if (r[field] === undefined) return fieldError(field, 'missing');
  }
  for (const [field, kind] of entries) {
    const v = r[field];
    if (v === undefined) return fieldError(field, 'missing');
    if (kind === 'offsets') {
      if (!Array.isArray(v) || v.length > 1 << 20) return fieldError(field, 'must be an array of page offsets');
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > Number.MAX_SAFE_INTEGER) {
          return fieldError(`${field}[${i}]`, `must be a non-negative integer, got ${quote(x)}`);
        }
      }
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) return fieldError(field, `must be an integer, got ${quote(v)}`);
    if (kind === 'int') continue;
    const [hi, what] = boundOf(kind, config, total);
    if (v < 0 || v >= hi) return fieldError(field, `${what} ${v} out of range [0, ${hi})`);
  }
  return { ok: true, event: raw as E };
}

/** One readable line for an event. */
export function describe(e: { readonly type: string; readonly [k: string]: unknown }): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(e)) {
    if (k === 'type') continue;
    parts.push(`${k}=${Array.isArray(v) ? `[${v.length > 8 ? `${v.slice(0, 8).join(',')},...(${v.length})` : v.join(',')}]` : String(v)}`);
  }
  return parts.length ? `${e.type} ${parts.join(' ')}` : e.type;
}

/** Timeline lane: the vCPU, PE, VMM or host agent an event belongs to. */
export function lane(e: { readonly type: string; readonly [k: string]: unknown }): string {
  // A declared lane first (e.g. userspace acting on a vCPU's ring is VMM work although the event names the vCPU).
  const declared = eventTables().lanes.get(e.type);
  if (declared !== undefined) return declared;
  if (typeof e['vcpu'] === 'number') return `vcpu${e['vcpu']}`;
  if (typeof e['pe'] === 'number') return `pe${e['pe']}`;
  if (e.type.startsWith('vmm/') || e.type.startsWith('kvm/')) return 'vmm';
  return 'host';
}
