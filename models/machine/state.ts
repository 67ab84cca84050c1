/**
 * The simulated machine: guest memory, memslots, the stage-2 page table, PEs with TLBs, vCPUs, KVM's in-flight
 * ioctls and a conforming VMM (userspace) running a pre-copy live migration. Plain JSON data only.
 *
 * Mechanism-specific structures (rings, the PTA device, HDBSS buffers) hang off `ext`, each owned by its folder in
 * `models/`; the shared machine code reaches them only through the hooks in `mechanisms.ts`.
 */
import type { Design, FieldError, JsonValue } from '../../src/core/model.ts';
import { keyName, quote } from '../../src/core/untrusted.ts';
import { bitsNew, pagedNew, type Bits, type Paged } from './paged.ts';
import { mechanismIds } from './registry.ts';
import type { KnobSet } from './knobs.ts';
import { BLOCK_PAGES, D_AF, D_BLOCK, D_VALID, D_W, s2New, setL2, type Stage2 } from './pagetable.ts';

export interface SlotConfig {
  readonly base: number;
  readonly npages: number;
}

/** Workload and machine shape; JSON, recorded in traces. */
export interface MachineConfig {
  readonly vcpus: number;
  readonly pes: number;
  readonly slots: readonly SlotConfig[];
  /** Map every 512-aligned, fully covered 2 MiB region as a writable block at start (guest ran with huge pages). */
  readonly blocks: boolean;
  /** Entries per PE TLB. */
  readonly tlbEntries: number;
  /** PV stolen time: each vCPU's record page is written by the host at vcpu_load (marked by software). */
  readonly stolenTime: boolean;
  /** Pages the vgic-ITS table save writes, with no running vCPU, after the VM stops. */
  readonly itsPages: readonly number[];
  /** Pre-copy rounds (collections) before the VMM may stop the VM. */
  readonly rounds: number;
  /** Pages guest stores may target; empty = every page of every slot. */
  readonly storePages: readonly number[];
}

export type VcpuRun = 'out' | 'host' | 'guest' | 'fault';

export interface Vcpu {
  /** PE it is loaded on, or -1 (put). */
  pe: number;
  run: VcpuRun;
  /** gfn of the store the vCPU is executing (issued, not retired), or -1. */
  store: number;
  /** gfn of the write fault KVM is handling, or -1. */
  fault: number;
  /** gfn the fault handler made writable and will mark dirty after dropping mmu_lock, or -1. */
  mark: number;
  /** KVM request bits (REQ_*). */
  requests: number;
  /** PE the vCPU was last loaded on (-1: never): a load elsewhere is a migration (coverage only). */
  lastPe: number;
}
export const REQ_STEAL = 1;
export const REQ_RING_SOFT_FULL = 2;

export interface Pe {
  /** vCPU loaded on this PE, or -1. */
  loaded: number;
  /** VMID programmed in VTTBR_EL2 (the VM's VMID when a vCPU of it is loaded). */
  vmid: number;
  /** Packed cached leaves (tlb.ts). */
  tlb: number[];
  /** VTCR_EL2 bits HA=1, HD=2, HDBSS=4 as seen by this PE. */
  vtcr: number;
}

export interface Slot {
  readonly id: number;
  readonly base: number;
  readonly npages: number;
  logging: boolean;
  /** KVM's dirty bitmap (null: no bitmap, e.g. ring-only VM or logging off). */
  bitmap: Bits | null;
}

export type VmmPhase = 'idle' | 'precopy' | 'stopping' | 'final' | 'done';

/** A re-arming ioctl between its kernel work and its return to userspace. */
export interface Ioctl {
  kind: 'get' | 'clear' | 'reset';
  slot: number;
  /** Pages to hand to the VMM when the ioctl returns (GET snapshot, CLEARed pages, harvested ring entries). */
  deliver: number[];
  /**
   * Pages re-armed by this ioctl: when it returns, no PE may hold a writable TLB entry for one of them that was
   * filled before the re-arm (INV-FLUSH; such entries carry `T_PREARM`, tlb.ts).
   */
  rearmed: number[];
  /** Does the ioctl still owe a TLB flush (the kernel path decided one is needed and has not done it yet)? */
  flush: boolean;
  /** B10 knob: GET that write-protected before taking its snapshot. */
  snapshotPending: boolean;
}

export interface Vmm {
  phase: VmmPhase;
  /** Collections completed (pre-copy rounds). */
  round: number;
  /** Next slot to collect in the current round (0 = no collection in progress). */
  collectSlot: number;
  /** Slots with logging enabled so far (enabled in slot order). */
  slotsEnabled: number;
  /** Pages reported and not yet copied (bitset over gfns). */
  toCopy: Bits;
  toCopyCount: number;
  /** No page below this is in toCopy (the VMM copies in ascending order; keeps the next-page lookup O(1)). */
  copyCursor: number;
  /** Manual protect: pages a GET showed set and the VMM has not CLEARed yet. */
  fetched: Bits;
  fetchedCount: number;
  /** The collection in progress is the final one (VM stopped). */
  finalCollect: boolean;
  /** ITS table pages saved so far (index into config.itsPages). */
  itsSaved: number;
  ioctl: Ioctl | null;
}

export interface Oracle {
  /** Data version per page, bumped by every retired write (guest store or host write). */
  mem: Paged;
  /** Version the VMM sent for each page (-1: never copied). */
  copied: Paged;
  /**
   * Precision (measured, not asserted): pages written (store issued, or host write) since KVM last re-armed them
   * (the oracle sets the bit; the machine clears it at re-arm unless a store to the page is in flight) ...
   */
  touched: Bits;
  /** ... and pages marked dirty by KVM at a time they were `touched` (a justified report), since last handed to the VMM. */
  justified: Bits;
}

/** The record a returning re-arming ioctl leaves for one event, for INV-FLUSH and INV-CLEAR-EXACT. */
export interface Audit {
  kind: 'enable' | 'get' | 'clear' | 'reset';
  slot: number;
  /** Re-armed pages; null = the whole slot. */
  rearmed: number[] | null;
  /** For CLEAR: what the kernel's documented rules say must be re-armed, and what was. */
  clearExpected: number[] | null;
  clearActual: number[] | null;
  clearErrno: number;
}

export interface Stats {
  events: number;
  stores: number;
  writeFaults: number;
  reports: number;
  unjustified: number;
  tlbi: number;
  collections: number;
  [k: string]: number;
}

export interface MachineState {
  readonly design: Design;
  readonly config: MachineConfig;
  /** Mechanism ids of the design joined by '+' (registry.ts cache key). */
  readonly mechKey: string;
  /** Bug knobs as a lookup (derived from design.bugs); read it through `hasBug` (knobs.ts). */
  readonly bug: KnobSet;
  totalPages: number;
  vmid: number;
  slots: Slot[];
  s2: Stage2;
  pes: Pe[];
  vcpus: Vcpu[];
  vmm: Vmm;
  oracle: Oracle;
  audit: Audit | null;
  stats: Stats;
  /** Mechanism-owned state (rings, PTA, HDBSS), keyed by mechanism id. */
  ext: { [k: string]: JsonValue };
}

export const DEFAULT_CONFIG: MachineConfig = {
  vcpus: 2,
  pes: 2,
  // Two memslots of unaligned sizes (not multiples of 64), so multi-slot collection and tail words are exercised.
  slots: [{ base: 0, npages: 19 }, { base: 32, npages: 13 }],
  blocks: false,
  tlbEntries: 4,
  stolenTime: true,
  itsPages: [40],
  rounds: 3,
  storePages: [],
};

/** Bounds of a configuration (`parseMachineConfig`); the trace JSON Schema (src/cli/schemas.ts) is generated from them. */
export const LIMITS = { vcpus: 64, pes: 64, pages: 1 << 22, tlbEntries: 64, rounds: 1000, slots: 32 } as const;

export function totalPagesOf(c: MachineConfig): number {
  let n = 0;
  for (const s of c.slots) n = Math.max(n, s.base + s.npages);
  return n;
}

/** The slot index holding `gfn`, or -1. */
export function slotOf(s: { readonly slots: readonly { base: number; npages: number }[] }, gfn: number): number {
  const slots = s.slots;
  for (let i = 0; i < slots.length; i++) {
    const sl = slots[i] as { base: number; npages: number };
    if (gfn >= sl.base && gfn < sl.base + sl.npages) return i;
  }
  return -1;
}

/** The page a vCPU's PV stolen-time record lives in: the last pages of slot 0, one per vCPU. */
export function stealPageOf(c: MachineConfig, vcpu: number): number {
  const s0 = c.slots[0] as SlotConfig;
  return s0.base + s0.npages - 1 - (vcpu % s0.npages);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Validates an untrusted configuration; names the first bad field. */
export function parseMachineConfig(raw: unknown): { ok: true; config: MachineConfig } | { ok: false; error: FieldError } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: { field: 'config', message: 'must be an object' } };
  const r = raw as Record<string, unknown>;
  const c = { ...DEFAULT_CONFIG, ...r } as Record<string, unknown>;
  const known = new Set(Object.keys(DEFAULT_CONFIG));
  for (const k of Object.keys(r)) if (!known.has(k)) return { ok: false, error: { field: `config.${keyName(k)}`, message: `unknown field (known: ${[...known].join(', ')})` } };
  const intIn = (k: string, lo: number, hi: number): FieldError | null =>
    isInt(c[k]) && (c[k] as number) >= lo && (c[k] as number) <= hi ? null
      : { field: `config.${k}`, message: `must be an integer in [${lo}, ${hi}], got ${quote(c[k])}` };
  const e = intIn('vcpus', 1, LIMITS.vcpus) ?? intIn('pes', 1, LIMITS.pes) ?? intIn('tlbEntries', 1, LIMITS.tlbEntries)
    ?? intIn('rounds', 0, LIMITS.rounds);
  if (e) return { ok: false, error: e };
  if ((c['pes'] as number) < 1) return { ok: false, error: { field: 'config.pes', message: 'need at least one PE' } };
  for (const k of ['blocks', 'stolenTime'] as const) {
    if (typeof c[k] !== 'boolean') return { ok: false, error: { field: `config.${k}`, message: 'must be a boolean' } };
  }
  if (!Array.isArray(c['slots']) || c['slots'].length === 0 || c['slots'].length > LIMITS.slots) {
    return { ok: false, error: { field: 'config.slots', message: `must be a non-empty array of at most ${LIMITS.slots} memslots` } };
  }
  let end = 0;
  const slots: SlotConfig[] = [];
  for (let i = 0; i < c['slots'].length; i++) {
    const s = c['slots'][i] as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return { ok: false, error: { field: `config.slots[${i}]`, message: 'must be an object' } };
    for (const k of Object.keys(s)) {
      if (k !== 'base' && k !== 'npages') return { ok: false, error: { field: `config.slots[${i}].${keyName(k)}`, message: 'unknown field (known: base, npages)' } };
    }
    if (!isInt(s['base']) || s['base'] < end) {
      return { ok: false, error: { field: `config.slots[${i}].base`, message: `must be an integer >= ${end} (slots are ordered and disjoint)` } };
    }
    if (!isInt(s['npages']) || s['npages'] < 1 || s['base'] + s['npages'] > LIMITS.pages) {
      return { ok: false, error: { field: `config.slots[${i}].npages`, message: `must be an integer >= 1 with base + npages <= ${LIMITS.pages}` } };
    }
    end = s['base'] + s['npages'];
    slots.push({ base: s['base'], npages: s['npages'] });
  }
  const inSlots = (g: unknown): boolean => isInt(g) && slotOf({ slots }, g) >= 0;
  for (const k of ['itsPages', 'storePages'] as const) {
    const a = c[k];
    if (!Array.isArray(a)) return { ok: false, error: { field: `config.${k}`, message: 'must be an array of gfns' } };
    for (let i = 0; i < a.length; i++) {
      if (!inSlots(a[i])) return { ok: false, error: { field: `config.${k}[${i}]`, message: `gfn ${quote(a[i])} is not inside any memslot` } };
    }
  }
  const config: MachineConfig = {
    vcpus: c['vcpus'] as number, pes: c['pes'] as number, slots, blocks: c['blocks'] as boolean,
    tlbEntries: c['tlbEntries'] as number, stolenTime: c['stolenTime'] as boolean,
    itsPages: [...(c['itsPages'] as number[])], rounds: c['rounds'] as number, storePages: [...(c['storePages'] as number[])],
  };
  return { ok: true, config };
}

/** The initial machine: guest running with logging off, nothing cached, nothing copied yet. */
export function initMachine(design: Design, config: MachineConfig): MachineState {
  const total = totalPagesOf(config);
  const s2 = s2New(total);
  if (config.blocks) {
    for (const sl of config.slots) {
      for (let b = Math.ceil(sl.base / BLOCK_PAGES) * BLOCK_PAGES; b + BLOCK_PAGES <= sl.base + sl.npages; b += BLOCK_PAGES) {
        setL2(s2, b, D_VALID | D_W | D_AF | D_BLOCK);
      }
    }
  }
  const bug: { [id: string]: true } = {};
  for (const b of design.bugs) bug[b] = true;
  const pes: Pe[] = [];
  for (let i = 0; i < config.pes; i++) pes.push({ loaded: -1, vmid: 0, tlb: [], vtcr: 0 });
  const vcpus: Vcpu[] = [];
  for (let i = 0; i < config.vcpus; i++) vcpus.push({ pe: -1, run: 'out', store: -1, fault: -1, mark: -1, requests: 0, lastPe: -1 });
  return {
    design, config, mechKey: mechanismIds(design).join('+'), bug, totalPages: total, vmid: 1,
    slots: config.slots.map((s, id) => ({ id, base: s.base, npages: s.npages, logging: false, bitmap: null })),
    s2, pes, vcpus,
    vmm: { phase: 'idle', round: 0, collectSlot: 0, slotsEnabled: 0, toCopy: bitsNew(total, false), toCopyCount: 0, copyCursor: 0,
      fetched: bitsNew(total, false), fetchedCount: 0, finalCollect: false, itsSaved: 0, ioctl: null },
    oracle: { mem: pagedNew(total, 0), copied: pagedNew(total, -1), touched: bitsNew(total, false), justified: bitsNew(total, false) },
    audit: null,
    stats: { events: 0, stores: 0, writeFaults: 0, reports: 0, unjustified: 0, tlbi: 0, collections: 0 },
    ext: {},
  };
}
