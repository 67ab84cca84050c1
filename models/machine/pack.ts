/**
 * The machine's explore hooks: a canonical packed encoding of the behaviour-relevant state (`packMachine`) and
 * the symmetry groups a design allows (`machineSymmetry`); the exact copies (`cloneMachine`, `copyMachineInto`)
 * are copy.ts, re-exported here.
 *
 * What the encoding leaves out, and why that is sound (two states with the same encoding have the same enabled
 * events, the same invariant verdicts and successors with the same encoding):
 * - `design`, `config`, `mechKey`, `bug`, `totalPages`: static, equal in every state of one exploration.
 * - `stats`, `oracle.touched` and `oracle.justified`: write-only counters for metrics (precision); no precondition, reducer branch
 *   or invariant reads them.
 * - `vcpus[].lastPe` (coverage only): read only by `vcpu/loaded` to count `stats.vcpuMigrations`, a metric. It is
 *   still copied by `cloneMachine` and `copyMachineInto` and saved (save.ts), so every path counts the same.
 * - guest memory versions: only `mem[g] === copied[g]` is ever read (INV-NOLOSS, INV-FINAL), and a retired
 *   write always makes them differ (copied <= mem) while a copy makes them equal, so one bit per page is a
 *   bisimulation of the two version arrays.
 * - page-table entries outside [0, totalPages) (`cloneMachine` trims them too) and level-2/level-3 tables not
 *   yet allocated (read as 0).
 * - DEAD_VMID: a stale VMID (not 0, not the current one) of a PE with no vCPU loaded: its readers (the PTA's
 *   device filter on a hardware update, INV-VMID) look only at PEs running a vCPU, and `vcpu/loaded` overwrites
 *   it (with the VM's VMID) before any of them can. And (with relative VMIDs) the tag of a TLB entry other than the current VMID: lookups and
 *   fills compare tags with `s.vmid` only, TLBIs ignore tags, and a tag that is not current never becomes current
 *   again (the VMID only advances at the vcpu_load after a rollover, and the rollover flushed every TLB: entries
 *   filled since carry the old VMID, which comes round again only after 254 more rollovers, each a full flush).
 *   Its slot, page and flags stay encoded (eviction order, TLBI by range, the evict events).
 * Mechanism state under `ext` is packed generically (every field), or by the mechanism's own `pack` hook.
 *
 * `checkShape` guards the hand-written layout: a field added to the machine state that this file does not
 * know makes explore stop with a message instead of silently merging different states.
 */
import type { JsonValue, PackSink, SymmetryGroup } from '../../src/core/model.ts';
import { bitNext, pget, type Paged } from './paged.ts';
import type { MachineState } from './state.ts';
import { extCodec, extCodecsVersion } from './registry.ts';
import type { ExtCodec } from './mechanisms.ts';
import { tlbBase, tlbFlags, tlbPack, tlbVmid } from './tlb.ts';
import { hasBug } from './knobs.ts';

export { cloneMachine, copyMachineInto, copyNums, copyPagedInto } from './copy.ts';

/** The enums as small integers (also the saved layout's, save.ts). */
export const RUN = { out: 0, host: 1, guest: 2, fault: 3 } as const;
export const PHASE = { idle: 0, precopy: 1, stopping: 2, final: 3, done: 4 } as const;
export const KIND = { enable: 0, get: 1, clear: 2, reset: 3 } as const;

const KEYS = {
  state: 'audit,bug,config,design,ext,mechKey,oracle,pes,s2,slots,stats,totalPages,vcpus,vmid,vmm',
  vcpu: 'fault,lastPe,mark,pe,requests,run,store',
  pe: 'loaded,tlb,vmid,vtcr',
  slot: 'base,bitmap,id,logging,npages',
  vmm: 'collectSlot,fetched,fetchedCount,finalCollect,ioctl,itsSaved,phase,round,slotsEnabled,toCopy,toCopyCount',
  ioctl: 'deliver,flush,kind,rearmed,slot,snapshotPending',
  oracle: 'copied,justified,mem,touched',
  audit: 'clearActual,clearErrno,clearExpected,kind,rearmed,slot',
} as const;

/** Fields that may be absent (added while other models were being written); each handled where noted. */
const OPTIONAL = new Set(['copyCursor']);

function sameKeys(o: object, want: string, what: string): void {
  const got = Object.keys(o).filter((k) => !OPTIONAL.has(k)).sort().join(',');
  if (got !== want) {
    throw new Error(`[dtsim] models/machine/pack.ts does not know the ${what} fields ${got} (expected ${want}): `
      + 'add the new fields to packMachine (pack.ts) and cloneMachine/copyMachineInto (copy.ts) before exploring');
  }
}

/** Throws if the state has fields the hand-written encoding does not cover. */
export function checkShape(s: MachineState): void {
  sameKeys(s, KEYS.state, 'machine state');
  for (const v of s.vcpus) sameKeys(v, KEYS.vcpu, 'vCPU');
  for (const p of s.pes) sameKeys(p, KEYS.pe, 'PE');
  for (const sl of s.slots) sameKeys(sl, KEYS.slot, 'memslot');
  sameKeys(s.vmm, KEYS.vmm, 'VMM');
  if (s.vmm.ioctl) sameKeys(s.vmm.ioctl, KEYS.ioctl, 'ioctl');
  sameKeys(s.oracle, KEYS.oracle, 'oracle');
  if (s.audit) sameKeys(s.audit, KEYS.audit, 'audit');
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function packWords(out: PackSink, p: Paged): void {
  for (const m of p) for (const c of m) for (let i = 0; i < c.length; i++) out.num(c[i] as number);
}

function packList(out: PackSink, a: readonly number[] | null): void {
  if (a === null) out.num(-1);
  else out.nums(a);
}

let shapeTick = 0;

/**
 * The canonical encoding. `relabel` = [vcpuPerm, pePerm] (new index of each old vCPU / PE), or null.
 * vCPUs and PEs are written in their new order and every cross-reference (vcpu.pe, pe.loaded) is renamed.
 */
export function packMachine(s: MachineState, out: PackSink, relabel: readonly (readonly number[])[] | null): void {
  if ((shapeTick++ & 1023) === 0) checkShape(s);
  const vp = relabel ? relabel[0] : undefined;
  const pp = relabel ? relabel[1] : undefined;
  const nv = s.vcpus.length;
  const np = s.pes.length;
  // VMIDs relative to the VM's current one (see vmidRel), so s.vmid itself is always 1; but only when every key
  // of s.ext has a codec (which encodes its own VMIDs relatively): a generically packed mechanism state may hold
  // absolute VMIDs (the PTA's configured VMID), and merging on relative machine VMIDs would then be unsound.
  const rel = allExtCodecs(s);
  out.num(rel ? -1 : s.vmid);
  // vCPUs in new order: old index i goes to vp[i].
  for (let j = 0; j < nv; j++) {
    const v = s.vcpus[vp ? vp.indexOf(j) : j]!;
    out.num(v.pe < 0 ? -1 : pp ? pp[v.pe]! : v.pe);
    out.num(RUN[v.run]);
    out.num(v.store); out.num(v.fault); out.num(v.mark); out.num(v.requests);
    // v.lastPe: left out, coverage only (header).
  }
  for (let j = 0; j < np; j++) {
    const p = s.pes[pp ? pp.indexOf(j) : j]!;
    out.num(p.loaded < 0 ? -1 : vp ? vp[p.loaded]! : p.loaded);
    // A stale VMID (neither none nor the current one) of a PE with no vCPU loaded is dead (DEAD_VMID, header).
    out.num(p.loaded < 0 && p.vmid !== 0 && p.vmid !== s.vmid ? -1 : rel ? vmidRel(s, p.vmid) : p.vmid); out.num(p.vtcr);
    if (!rel) out.nums(p.tlb);
    else {
      out.num(p.tlb.length);
      for (let i = 0; i < p.tlb.length; i++) {
        const e = p.tlb[i] as number;
        // A TLB entry tagged with another VMID than the current one never matches again (header): its tag is dead.
        out.num(tlbPack(tlbBase(e), tlbVmid(e) === s.vmid ? 1 : 0, tlbFlags(e)));
      }
    }
  }
  for (const sl of s.slots) {
    out.num(sl.logging ? 1 : 0);
    if (sl.bitmap) { out.num(1); packWords(out, sl.bitmap); } else out.num(-1);
  }
  // Stage 2, over [0, totalPages): a level-2 entry is a block/invalid descriptor (>= 0) or a table (-1 + pages).
  const total = s.totalPages;
  for (let g = 0; g < total; g += 512) {
    const t2 = s.s2[g >>> 18];
    const e = t2 ? t2[(g >>> 9) & 511] : 0;
    if (e === undefined || typeof e === 'number') { out.num(e ?? 0); continue; }
    out.num(-1);
    const end = Math.min(total, g + 512);
    for (let x = g; x < end; x++) out.num(e[x & 511] as number);
  }
  const vm = s.vmm;
  out.num(PHASE[vm.phase]); out.num(vm.round); out.num(vm.collectSlot); out.num(vm.slotsEnabled);
  packWords(out, vm.toCopy); out.num(vm.toCopyCount);
  // The copy cursor only speeds up finding the lowest page to copy: any two cursors at or below the lowest
  // set bit of toCopy behave the same forever (deliver lowers it, a copy resets it), so only a cursor past
  // that bit (which would skip a page) is encoded.
  const cur = (vm as { copyCursor?: number }).copyCursor;
  if (cur !== undefined) out.num(cur <= bitNext(vm.toCopy, 0, s.totalPages) || vm.toCopyCount === 0 ? -1 : cur);
  packWords(out, vm.fetched); out.num(vm.fetchedCount);
  out.num(vm.finalCollect ? 1 : 0); out.num(vm.itsSaved);
  const io = vm.ioctl;
  if (!io) out.num(-1);
  else {
    out.num(KIND[io.kind]); out.num(io.slot); out.nums(io.deliver); out.nums(io.rearmed);
    out.num(io.flush ? 1 : 0); out.num(io.snapshotPending ? 1 : 0);
  }
  // Oracle: one bit per page, "memory differs from the copy sent", 32 pages a word.
  const mem = s.oracle.mem;
  const copied = s.oracle.copied;
  let w = 0;
  for (let g = 0; g < total; g++) {
    if (pget(mem, g) !== pget(copied, g)) w |= 1 << (g & 31);
    if ((g & 31) === 31 || g === total - 1) { out.num(w); w = 0; }
  }
  const a = s.audit;
  if (!a) out.num(-1);
  else {
    out.num(KIND[a.kind]); out.num(a.slot); packList(out, a.rearmed); packList(out, a.clearExpected);
    packList(out, a.clearActual); out.num(a.clearErrno);
  }
  packExt(s, out);
}

/**
 * A VMID relative to the VM's current VMID: 0 (no VMID, a PE that never ran the VM) stays 0, the current VMID
 * is 1, and the others keep their distance modulo the 255 VMIDs of the model's rollover (`(v % 255) + 1`).
 * VMIDs are only ever compared for equality and advanced by that rollover, and this rotation is a bijection
 * on 1..255 that commutes with it, so states differing only by a rotation of every VMID behave the same (and
 * a VMID rollover no longer multiplies the state space by 255). Mechanism codecs encode their VMIDs with it.
 */
export function vmidRel(s: MachineState, v: number): number {
  return v === 0 ? 0 : ((v - s.vmid + 255) % 255) + 1;
}

/**
 * Sorted keys of `s.ext` and their codecs, cached per design's mechanisms: mechanisms add their keys at init only,
 * so the key set is fixed for a design (checked: a different count is recomputed), and codecs change only through
 * `registerExtCodec` (checked by its version).
 */
interface ExtPlan {
  readonly keys: readonly string[];
  readonly codecs: readonly (ExtCodec | undefined)[];
  /** Every key has a codec (VMIDs may be packed relatively everywhere). */
  readonly all: boolean;
  readonly version: number;
}
const extPlans = new Map<string, ExtPlan>();
function extPlan(s: MachineState): ExtPlan {
  let p = extPlans.get(s.mechKey);
  let n = 0;
  for (const _ in s.ext) n++;
  if (!p || p.keys.length !== n || p.version !== extCodecsVersion()) {
    const keys = Object.keys(s.ext).sort();
    const codecs = keys.map((k) => extCodec(k));
    p = { keys, codecs, all: codecs.every((c) => c !== undefined), version: extCodecsVersion() };
    extPlans.set(s.mechKey, p);
  }
  return p;
}

/** Does every key of `s.ext` have a codec (so VMIDs may be packed relatively everywhere)? */
function allExtCodecs(s: MachineState): boolean {
  return extPlan(s).all;
}

/** Mechanism state: each key's codec (`registerExtCodec`), the generic encoding for keys without one. */
function packExt(s: MachineState, out: PackSink): void {
  if (s.mechKey === '' && isEmpty(s.ext)) { out.num(0); return; }
  const plan = extPlan(s);
  const keys = plan.keys;
  // The key set is fixed by the design (explore never mixes designs): the count and the order suffice.
  out.num(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const c = plan.codecs[i];
    if (c) c.pack(s, s.ext[k] as JsonValue, out);
    else out.json(s.ext[k]);
  }
}

/**
 * The groups explore --symmetry may permute, always [vcpus, pes] (size 1 = not permuted):
 * - vCPUs are interchangeable when no per-vCPU page exists (stolen time off: each vCPU's stolen-time record is
 *   its own page) and the design has no mechanism state (rings, HDBSS buffers are per vCPU and not renamed here);
 * - PEs are interchangeable unless the design has the `local-tlbi` knob (it singles out the VMM's PE, the last
 *   one) or mechanism state (which may name PEs).
 * vCPU ids never reach guest memory, the page table or the VMM; a PE id only selects whose TLB a store uses.
 */
export function machineSymmetry(s: MachineState): readonly SymmetryGroup[] {
  const plain = s.mechKey === '';
  const vOk = plain && !s.config.stolenTime;
  const pOk = plain && !hasBug(s, 'local-tlbi');
  return [
    { name: 'vcpus', size: vOk ? s.vcpus.length : 1,
      why: vOk ? 'no per-vCPU page (stolen time off) and no per-vCPU mechanism state' : 'not permuted: stolen-time pages or mechanism state are per vCPU' },
    { name: 'pes', size: pOk ? s.pes.length : 1,
      why: pOk ? 'no PE is singled out (no local-TLBI knob, no mechanism state)' : 'not permuted: the design singles out a PE or has mechanism state' },
  ];
}
