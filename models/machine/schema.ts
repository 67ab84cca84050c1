/**
 * The machine's state, declared once (src/core/schema.ts): every field with its kind, its label and what the
 * canonical encoding may forget. The state types of state.ts, the exact copies (`cloneMachine`,
 * `copyMachineInto`), the explorer's saved layout (`saveMachine` / `loadMachine`), the canonical encoding
 * (`packMachine`), the shape check and the JSON view are all derived from `MACHINE`. Mechanism state under `ext`
 * is one part per key, declared by the mechanism's folder (`MechanismFolder.parts`, resolved by parts.ts).
 *
 * What the encoding leaves out or canonicalises, and why that is sound (two states with the same encoding have the
 * same enabled events, the same invariant verdicts and successors with the same encoding):
 * - static fields (`design`, `config`, `mechKey`, `bug`, `totalPages`) and fixed ones (a memslot's id, base and
 *   size: set from the configuration, never written): equal in every state of one exploration.
 * - metrics (`stats`, `oracle.touched`, `oracle.justified`, `vcpus[].lastPe`): read by counters and precision
 *   figures only; no precondition, reducer branch or invariant reads them. `lastPe` is read only by `vcpu/loaded`
 *   to count `stats.vcpuMigrations`. `clone`, save and load copy them; `copyInto` (explore's recycling) leaves
 *   the `stale` ones as the recycled state's (the counters but `events`, and the two precision bitsets), as the
 *   hand-written copy did: explore reports no metric, and properties/support/conformance.ts checks every other
 *   field against `clone`.
 * - guest memory versions (`oracle`, `packWith`): only `mem[g] === copied[g]` is ever read (INV-NOLOSS, INV-FINAL),
 *   and a retired write always makes them differ (copied <= mem) while a copy makes them equal, so one bit per
 *   page is a bisimulation of the two version arrays.
 * - page-table entries outside [0, totalPages) (the copies trim them too) and tables not yet allocated (read as 0).
 * - VMIDs are packed relative to the VM's current VMID (`vmidRel`): they are only compared for equality and
 *   advanced by the rollover, and the rotation is a bijection on 1..255 that commutes with it. Mechanism parts
 *   declare their VMID fields (`int('vmid')`) and get the same rotation.
 * - DEAD_VMID (`pes[].vmid`, `dead`): a stale VMID (not 0, not the current one) of a PE with no vCPU loaded: its
 *   readers (the PTA's device filter on a hardware update, INV-VMID) look only at PEs running a vCPU, and
 *   `vcpu/loaded` overwrites it (with the VM's VMID) before any of them can.
 * - the tag of a TLB entry other than the current VMID (`pes[].tlb`, `pack`): lookups and fills compare tags with
 *   `s.vmid` only, TLBIs ignore tags, and a tag that is not current never becomes current again (the VMID only
 *   advances at the vcpu_load after a rollover, and the rollover flushed every TLB: entries filled since carry
 *   the old VMID, which comes round again only after 254 more rollovers, each a full flush). Its slot, page and
 *   flags stay encoded (eviction order, TLBI by range, the evict events).
 * - `vmm.copyCursor` (`pack`): it only speeds up finding the lowest page to copy: any two cursors at or below the
 *   lowest set bit of toCopy behave the same forever (deliver lowers it, a copy resets it), so only a cursor past
 *   that bit (which would skip a page) is encoded.
 * - vCPUs and PEs (`group`): under explore --symmetry they are packed in the permutation's order and every
 *   cross-reference (`vcpus[].pe`, `pes[].loaded`) is renamed (`machineSymmetry` says when that is allowed).
 */
import type { Design, JsonValue, LoadSource, PackSink, SaveSink, SymmetryGroup } from '../../src/core/model.ts';
import {
  array, bits, bool, compile, counters, custom, describe, enumOf, int, nullable, nums, paged, parts, record, statik,
  type Infer, type PackCtx,
} from '../../src/core/schema.ts';
import { imageOf, type WordImage } from '../../src/core/schema-image.ts';
import { bitNext, pget } from './paged.ts';
import { partOf } from './parts.ts';
import type { KnobSet } from './knobs.ts';
import { STAGE2 } from './schema-stage2.ts';
import type { MachineConfig } from './state.ts';
import { tlbBase, tlbFlags, tlbPack, tlbVmid } from './tlb.ts';
import { hasBug } from './knobs.ts';

/**
 * A VMID relative to the VM's current VMID: 0 (no VMID, a PE that never ran the VM) stays 0, the current VMID
 * is 1, and the others keep their distance modulo the 255 VMIDs of the model's rollover (`(v % 255) + 1`).
 */
export function vmidRel(s: { readonly vmid: number }, v: number): number {
  return v === 0 ? 0 : ((v - s.vmid + 255) % 255) + 1;
}

// ---------------------------------------------------------------------------------------------------------------
// The schema.

type Root = { readonly vmid: number; readonly totalPages: number };
/** What a flat layout's capacities read (schema-layout.ts): the configuration and the guest's size. */
type Sized = { readonly totalPages: number; readonly config: MachineConfig };
const PAGES = (s: Sized): number => s.totalPages;
const BIT_WORDS = (s: Sized): number => (s.totalPages + 31) >>> 5;
const rootOf = (ctx: PackCtx): Root => ctx.root as Root;

export const VCPU = record({
  pe: int('pe', { doc: 'PE it is loaded on, or -1 (put)' }),
  run: enumOf(['out', 'host', 'guest', 'fault'] as const, { doc: 'where the vCPU thread is' }),
  store: int('gfn', { doc: 'gfn of the store the vCPU is executing (issued, not retired), or -1' }),
  fault: int('gfn', { doc: 'gfn of the write fault KVM is handling, or -1' }),
  mark: int('gfn', { doc: 'gfn the fault handler made writable and will mark dirty after dropping mmu_lock, or -1' }),
  tlbi: int('gfn', { doc: 'kvmTlbi \'events\': base gfn of the block whose break-before-make TLBI (`kvm/faultTlbiIssued`) the vCPU\'s fault path owes before it maps the page, or -1' }),
  staleFault: bool({ doc: 'the fault KVM is handling was taken through a stale read-only TLB copy: the descriptor already permitted the write (tlb.ts; read by explore --reach queries and tests, never by a precondition or invariant)' }),
  requests: int('flags', { doc: 'KVM request bits (REQ_*)' }),
  lastPe: int('pe', { metric: true, doc: 'PE the vCPU was last loaded on (-1: never): a load elsewhere is a migration (coverage only)' }),
});

export const PE = record({
  loaded: int('vcpu', { doc: 'vCPU loaded on this PE, or -1' }),
  vmid: int('vmid', {
    doc: 'VMID programmed in VTTBR_EL2 (the VM\'s VMID when a vCPU of it is loaded)',
    // DEAD_VMID (header).
    dead: (p: { loaded: number; vmid: number }, ctx) => p.loaded < 0 && p.vmid !== 0 && p.vmid !== rootOf(ctx).vmid,
  }),
  tlb: nums('tlb', 'config.tlbEntries', {
    max: (s: Sized) => s.config.tlbEntries,
    doc: 'cached leaves (tlb.ts: base gfn, VMID, flags W/DBM/BLOCK/PREARM)',
    // A tag other than the current VMID never matches again (header): packed as 0, the current one as 1.
    pack(tlb: number[], _p: unknown, ctx: PackCtx, out: PackSink): void {
      const vmid = rootOf(ctx).vmid;
      out.num(tlb.length);
      for (let i = 0; i < tlb.length; i++) {
        const e = tlb[i] as number;
        out.num(tlbPack(tlbBase(e), tlbVmid(e) === vmid ? 1 : 0, tlbFlags(e)));
      }
    },
  }),
  vtcr: int('flags', { doc: 'VTCR_EL2 bits HA=1, HD=2, HDBSS=4 as seen by this PE' }),
});

export const SLOT = record({
  id: int('index', { fixed: true, doc: 'memslot id' }),
  base: int('gfn', { fixed: true, doc: 'first gfn' }),
  npages: int('count', { fixed: true, doc: 'pages' }),
  logging: bool({ doc: 'KVM_MEM_LOG_DIRTY_PAGES set' }),
  bitmap: nullable(bits({ max: BIT_WORDS }), { doc: 'KVM\'s dirty bitmap (null: no bitmap, e.g. ring-only VM or logging off)' }),
});

// 'enable': KVM_SET_USER_MEMORY_REGION turning logging on, in flight only under kvmTlbi 'events' (its memslot flush
// is then a step of its own, reducer.ts `loggingEnabled`); appended last so the other kinds keep their codes.
const IOCTL_KIND = ['get', 'clear', 'reset', 'enable'] as const;
export const IOCTL = record({
  kind: enumOf(IOCTL_KIND),
  slot: int('index'),
  deliver: nums('gfn', 'slot pages', { max: PAGES, doc: 'pages to hand to the VMM when the ioctl returns (GET snapshot, CLEARed pages, harvested ring entries)' }),
  rearmed: nums('gfn', 'slot pages', { max: PAGES, doc: 'pages re-armed by this ioctl (INV-FLUSH: their pre-arm TLB entries must be gone at return)' }),
  flush: bool({ doc: 'the ioctl still owes a TLB flush (kvmTlbi \'events\': `kvm/ioctlTlbiIssued` performs it, and the ioctl cannot return before)' }),
  snapshotPending: bool({ doc: 'B10 knob: GET that write-protected before taking its snapshot' }),
});

export const VMM = record({
  phase: enumOf(['idle', 'precopy', 'stopping', 'final', 'done'] as const),
  round: int('count', { doc: 'collections completed (pre-copy rounds)' }),
  collectSlot: int('index', { doc: 'next slot to collect in the current round (0 = no collection in progress)' }),
  slotsEnabled: int('count', { doc: 'slots with logging enabled so far (enabled in slot order)' }),
  toCopy: bits({ max: BIT_WORDS, doc: 'pages reported and not yet copied' }),
  toCopyCount: int('count'),
  copyCursor: int('gfn', {
    doc: 'no page below this is in toCopy (the VMM copies in ascending order)',
    // Only a cursor past the lowest set bit of toCopy is observable (header).
    pack(cur: number, vm: { toCopy: number[][][]; toCopyCount: number }, ctx: PackCtx, out: PackSink): void {
      out.num(vm.toCopyCount === 0 || cur <= bitNext(vm.toCopy, 0, rootOf(ctx).totalPages) ? -1 : cur);
    },
  }),
  fetched: bits({ max: BIT_WORDS, doc: 'manual protect: pages a GET showed set and the VMM has not CLEARed yet' }),
  fetchedCount: int('count'),
  finalCollect: bool({ doc: 'the collection in progress is the final one (VM stopped)' }),
  itsSaved: int('count', { doc: 'ITS table pages saved so far (index into config.itsPages)' }),
  ioctl: nullable(IOCTL, { doc: 'a re-arming ioctl between its kernel work and its return to userspace' }),
});

const ORACLE_FIELDS = {
  mem: paged({ max: PAGES, doc: 'data version per page, bumped by every retired write' }),
  copied: paged({ max: PAGES, doc: 'version the VMM sent for each page (-1: never copied)' }),
  touched: bits({ max: BIT_WORDS, metric: true, stale: true, doc: 'precision: pages written since KVM last re-armed them' }),
  justified: bits({ max: BIT_WORDS, metric: true, stale: true, doc: 'precision: pages marked dirty while touched, since last handed to the VMM' }),
} as const;
export const ORACLE = record(ORACLE_FIELDS, {
  // One bit per page, "memory differs from the copy sent", 32 pages a word (header).
  packWith(o, ctx, out) {
    const total = rootOf(ctx).totalPages;
    let w = 0;
    for (let g = 0; g < total; g++) {
      if (pget(o.mem, g) !== pget(o.copied, g)) w |= 1 << (g & 31);
      if ((g & 31) === 31 || g === total - 1) { out.num(w); w = 0; }
    }
  },
});

export const AUDIT = record({
  kind: enumOf(['enable', 'get', 'clear', 'reset'] as const),
  slot: int('index'),
  rearmed: nullable(nums('gfn', 'slot pages', { max: PAGES }), { doc: 're-armed pages; null = the whole slot' }),
  clearExpected: nullable(nums('gfn', 'slot pages', { max: PAGES }), { doc: 'CLEAR: what the documented rules say must be re-armed' }),
  clearActual: nullable(nums('gfn', 'slot pages', { max: PAGES }), { doc: 'CLEAR: what was' }),
  clearErrno: int('errno'),
  clearErrnoExpected: int('errno', { doc: 'CLEAR: the errno the documented rules give (kernel order: alignment, ENOENT, range)' }),
});

export const STATS = counters(['events', 'stores', 'writeFaults', 'reports', 'unjustified', 'tlbi', 'collections'] as const, {
  doc: 'counters (metrics); mechanisms add their own',
  // Recycled states keep stale counters (explore reports none) but `events`, which the hardware-dirty mechanism
  // reads to tell whether its block audit belongs to the current event.
  stale: true, live: ['events'],
});

export const MACHINE = record({
  design: statik<Design>(),
  config: statik<MachineConfig>(),
  mechKey: statik<string>({ doc: 'mechanism ids of the design joined by +' }),
  bug: statik<KnobSet>({ doc: 'bug knobs as a lookup (read it through hasBug)' }),
  totalPages: statik<number>(),
  vmid: int('vmid', { doc: 'the VM\'s current VMID' }),
  slots: array(SLOT, 'config.slots', { max: (s: Sized) => s.config.slots.length }),
  s2: custom('stage2', STAGE2, { doc: 'stage-2 descriptors (pagetable.ts)' }),
  pes: array(PE, 'config.pes', { group: 'pes', max: (s: Sized) => s.config.pes }),
  vcpus: array(VCPU, 'config.vcpus', { group: 'vcpus', max: (s: Sized) => s.config.vcpus }),
  vmm: VMM,
  oracle: ORACLE,
  audit: nullable(AUDIT, { doc: 'the record a returning re-arming ioctl leaves for one event (INV-FLUSH, INV-CLEAR-EXACT)' }),
  stats: STATS,
  ext: parts(partOf, { doc: 'mechanism-owned state (rings, PTA, HDBSS), keyed by mechanism' }),
});

export type MachineShape = Infer<typeof MACHINE>;

const C = compile(MACHINE);

/** The machine's pack context: one per process (packing is not re-entrant), re-aimed at each state. */
class MachineCtx implements PackCtx {
  root: unknown = null;
  vp: readonly number[] | undefined = undefined;
  pp: readonly number[] | undefined = undefined;
  vcpu(i: number): number { return this.vp ? this.vp[i] as number : i; }
  pe(i: number): number { return this.pp ? this.pp[i] as number : i; }
  vmid(v: number): number { return vmidRel(this.root as Root, v); }
  order(g: string, j: number): number {
    const p = g === 'vcpus' ? this.vp : this.pp;
    return p ? p.indexOf(j) : j;
  }
}
const CTX = new MachineCtx();
let shapeTick = 0;

type S = MachineShape;

/** A private mutable copy; the static parts (design, config, bug) are shared: nothing writes them. */
export function cloneMachine<T extends S>(s: T): T {
  return C.clone(s) as T;
}

/** `cloneMachine` into a state no longer used, reusing its arrays (explore's hot path: no garbage). */
export function copyMachineInto<T extends S>(d: T, s: T): T {
  if (d.design !== s.design) return cloneMachine(s);
  return C.copyInto(d, s) as T;
}

/** The canonical encoding. `relabel` = [vcpuPerm, pePerm] (new index of each old vCPU / PE), or null. */
export function packMachine(s: S, out: PackSink, relabel: readonly (readonly number[])[] | null): void {
  // Types derive from the schema, so only a cast can add an undeclared field; a sampled check still stops explore
  // then instead of silently merging states that differ in it.
  if ((shapeTick++ & 16383) === 0) checkShape(s);
  CTX.root = s;
  CTX.vp = relabel ? relabel[0] : undefined;
  CTX.pp = relabel ? relabel[1] : undefined;
  C.pack(s, CTX, out);
}

/** Every field of the state, exactly (explore's saved frontier); the static parts are not written. */
export function saveMachine(s: S, out: SaveSink): void {
  if ((shapeTick++ & 16383) === 0) checkShape(s);
  C.save(s, out);
}

/** A fresh private copy of the state `saveMachine` wrote; the static parts are `like`'s. */
export function loadMachine<T extends S>(src: LoadSource, like: T): T {
  return C.load(src, like) as T;
}

/**
 * The explorer's word images of the states of `init`'s exploration (src/core/schema-image.ts: fixed offsets from
 * MACHINE's layout sized from `init`), or null where this configuration has none: a mechanism list with no bound
 * (the PTA device with `deviceRecords` 0), or a guest so large that a TLB entry (tlb.ts: base gfn x 4096 + tag
 * and flags) may not fit one int32 word. Saves run the same sampled shape check as `saveMachine`.
 */
export function machineImage<T extends S>(init: T): WordImage<T> | null {
  if (tlbPack(init.totalPages, 255, 0) + 4096 > 0x7fffffff) return null;
  const img = imageOf<T>(MACHINE, init);
  if (img === null) return null;
  const write = img.write;
  return {
    words: img.words,
    write(s: T, w: Int32Array): void {
      if ((shapeTick++ & 16383) === 0) checkShape(s);
      write(s, w);
    },
    read: img.read,
    readInto: img.readInto,
  };
}

/** Does the state have exactly the declared shape? Throws naming the first difference. */
export function checkShape(s: unknown): void {
  const e = C.check(s);
  if (e !== null) throw new Error(`[dtsim] machine state does not match its schema (models/machine/schema.ts): ${e}`);
}

/** The state as labelled JSON (enums by name, bitsets as page lists, per-page arrays as exceptions to a default). */
export function viewMachine(s: S): JsonValue {
  return C.view(s);
}

/**
 * The groups explore --symmetry may permute, always [vcpus, pes] (size 1 = not permuted):
 * - vCPUs are interchangeable when no per-vCPU page exists (stolen time off: each vCPU's stolen-time record is
 *   its own page) and the design has no mechanism state (rings, HDBSS buffers are per vCPU and not renamed here);
 * - PEs are interchangeable unless the design has the `local-tlbi` knob (it singles out the VMM's PE, the last
 *   one) or mechanism state (which may name PEs).
 * vCPU ids never reach guest memory, the page table or the VMM; a PE id only selects whose TLB a store uses.
 */
export function machineSymmetry(s: S): readonly SymmetryGroup[] {
  const plain = s.mechKey === '';
  const vOk = plain && !s.config.stolenTime;
  const pOk = plain && !hasBug(s as never, 'local-tlbi');
  return [
    { name: 'vcpus', size: vOk ? s.vcpus.length : 1,
      why: vOk ? 'no per-vCPU page (stolen time off) and no per-vCPU mechanism state' : 'not permuted: stolen-time pages or mechanism state are per vCPU' },
    { name: 'pes', size: pOk ? s.pes.length : 1,
      why: pOk ? 'no PE is singled out (no local-TLBI knob, no mechanism state)' : 'not permuted: the design singles out a PE or has mechanism state' },
  ];
}

/**
 * The state's fields as declared (`dtsim help state`): the machine's, then each mechanism part any of the
 * `initials` (initial states of the model's designs) has, under `ext.<key>`. Static fields (design, config...) are
 * listed too: `--reach` may read them.
 */
export function machineStateFields(initials: readonly S[]): string[] {
  const lines = describe(MACHINE).filter((l) => !l.startsWith('(root)') && !l.startsWith('ext.'));
  const keys = new Set<string>();
  for (const s of initials) for (const k of Object.keys(s.ext)) keys.add(k);
  for (const k of [...keys].sort()) {
    const part = partOf(k);
    if (part) lines.push(...describe(part.schema, `ext.${k}`));
  }
  return lines;
}
