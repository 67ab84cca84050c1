/**
 * The simulated machine: guest memory, memslots, the stage-2 page table, PEs with TLBs, vCPUs, KVM's in-flight
 * ioctls and a conforming VMM (userspace) running a pre-copy live migration. Plain JSON data only.
 *
 * Mechanism-specific structures (rings, the PTA device, HDBSS buffers) hang off `ext`, each owned by its folder in
 * `models/`; the shared machine code reaches them only through the hooks in `mechanisms.ts`.
 */
import type { Design, FieldError } from '../../src/core/model.ts';
import type { Infer } from '../../src/core/schema.ts';
import type { AUDIT, IOCTL, MachineShape, ORACLE, PE, SLOT, STATS, VCPU, VMM } from './schema.ts';
import { keyName, quote } from '../../src/core/untrusted.ts';
import { bitsNew, pagedNew } from './paged.ts';
import { mechanismIds } from './selected.ts';
import { BLOCK_PAGES, D_AF, D_BLOCK, D_VALID, D_W, s2New, setL2 } from './pagetable.ts';

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
  /**
   * Pages guest loads may target (`guest/loadPerformed`: a load fills a TLB entry, read-only ones included, and
   * sets AF); empty = no loads. Off by default: the configurations whose explored state counts are pinned
   * (tests, docs) predate loads, and a load only adds read-only TLB entries (the litmus traces and
   * properties/tlb.spurious-fault.test.ts turn it on). Optional in the type (absent: none) so configurations
   * written before it still type-check; `parseMachineConfig` always fills it.
   */
  readonly loadPages?: readonly number[];
  /**
   * Stand-alone TLB invalidations by other kernel paths (`kvm/tlbiIpa`, `kvm/tlbiVmid`, `kvm/tlbiAll`: MMU
   * notifiers, memslot changes, another VM's VMID work) may happen at any point. Off by default (pinned counts).
   */
  readonly kernelTlbi?: boolean;
}

// The state's types are derived from its schema (schema.ts), where each field is declared once with its label.
export type MachineState = MachineShape;
export type Vcpu = Infer<typeof VCPU>;
export type VcpuRun = Vcpu['run'];
export type Pe = Infer<typeof PE>;
export type Slot = Infer<typeof SLOT>;
export type Vmm = Infer<typeof VMM>;
export type VmmPhase = Vmm['phase'];
export type Ioctl = Infer<typeof IOCTL>;
export type Oracle = Infer<typeof ORACLE>;
export type Audit = Infer<typeof AUDIT>;
export type Stats = Infer<typeof STATS>;

export const REQ_STEAL = 1;
export const REQ_RING_SOFT_FULL = 2;

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
  loadPages: [],
  kernelTlbi: false,
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
  for (const k of ['blocks', 'stolenTime', 'kernelTlbi'] as const) {
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
  for (const k of ['itsPages', 'storePages', 'loadPages'] as const) {
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
    loadPages: [...(c['loadPages'] as number[])], kernelTlbi: c['kernelTlbi'] as boolean,
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
  for (let i = 0; i < config.vcpus; i++) vcpus.push({ pe: -1, run: 'out', store: -1, fault: -1, mark: -1, tlbi: -1, staleFault: false, requests: 0, lastPe: -1 });
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
