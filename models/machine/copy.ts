/**
 * The machine's exact copies for explore: `cloneMachine` (a fresh private copy) and `copyMachineInto` (the same
 * into a state no longer used, reusing its arrays: explore's hot path, no garbage). The static parts (design,
 * config, bug) are shared: nothing writes them. Mechanism state goes through each key's codec (`registerExtCodec`).
 *
 * Both copy every field but these metrics, which `copyMachineInto` may leave stale (a recycled state's; explore
 * reports no metric): the counters other than `stats.events`, and `oracle.touched` / `oracle.justified`.
 * `vcpus[].lastPe` (coverage only, left out of the encoding, pack.ts) is copied. properties/support/conformance.ts
 * `copyIntoEqualsClone` checks `copyMachineInto` against `cloneMachine` on every other field.
 */
import type { JsonValue } from '../../src/core/model.ts';
import { assignJson, cloneJson } from '../../src/explore/pack.ts';
import type { Paged } from './paged.ts';
import type { L2Entry, Stage2 } from './pagetable.ts';
import type { MachineState, Pe, Slot, Vcpu } from './state.ts';
import { extCodec } from './registry.ts';

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function copyPaged(p: Paged): Paged {
  const out: Paged = new Array<number[][]>(p.length);
  for (let i = 0; i < p.length; i++) out[i] = (p[i] as number[][]).map((leaf) => leaf.slice());
  return out;
}

/**
 * Copies the page table, trimming every table to the entries that cover [0, totalPages): nothing reads or
 * writes a gfn outside the memslots (events and configs are validated), and a 512-entry table per level would
 * otherwise dominate the cost of every copy. A trimmed table behaves the same for every gfn < totalPages.
 */
function copyS2(s2: Stage2, total: number): Stage2 {
  const out: Stage2 = new Array<Stage2[number]>(s2.length);
  for (let i = 0; i < s2.length; i++) {
    const t2 = s2[i];
    if (!t2) { out[i] = null; continue; }
    const base1 = i * (512 * 512);
    const n2 = Math.min(t2.length, Math.ceil((total - base1) / 512));
    const c = t2.slice(0, n2);
    for (let j = 0; j < n2; j++) {
      const e = c[j];
      if (typeof e !== 'number' && e !== undefined) c[j] = e.slice(0, Math.min(e.length, total - base1 - j * 512));
    }
    out[i] = c;
  }
  return out;
}

/**
 * A private mutable copy; the static parts (design, config, bug) are shared: nothing writes them. Explicit
 * object literals (not spreads): this is the explorer's hot path. `checkShape` catches a field it would drop.
 */
export function cloneMachine(s: MachineState): MachineState {
  const vm = s.vmm;
  const io = vm.ioctl;
  const a = s.audit;
  const slots = new Array<Slot>(s.slots.length);
  for (let i = 0; i < slots.length; i++) {
    const sl = s.slots[i]!;
    slots[i] = { id: sl.id, base: sl.base, npages: sl.npages, logging: sl.logging, bitmap: sl.bitmap ? copyPaged(sl.bitmap) : null };
  }
  const pes = new Array<Pe>(s.pes.length);
  for (let i = 0; i < pes.length; i++) {
    const p = s.pes[i]!;
    pes[i] = { loaded: p.loaded, vmid: p.vmid, tlb: p.tlb.slice(), vtcr: p.vtcr };
  }
  const vcpus = new Array<Vcpu>(s.vcpus.length);
  for (let i = 0; i < vcpus.length; i++) {
    const v = s.vcpus[i]!;
    vcpus[i] = { pe: v.pe, run: v.run, store: v.store, fault: v.fault, mark: v.mark, requests: v.requests, lastPe: v.lastPe };
  }
  return {
    design: s.design, config: s.config, mechKey: s.mechKey, bug: s.bug, totalPages: s.totalPages, vmid: s.vmid,
    slots, s2: copyS2(s.s2, s.totalPages), pes, vcpus,
    // Spread: flat fields added to the VMM later (copyCursor) are copied too.
    vmm: { ...vm, toCopy: copyPaged(vm.toCopy), fetched: copyPaged(vm.fetched),
      ioctl: io ? { kind: io.kind, slot: io.slot, deliver: io.deliver.slice(), rearmed: io.rearmed.slice(), flush: io.flush,
        snapshotPending: io.snapshotPending } : null },
    oracle: { mem: copyPaged(s.oracle.mem), copied: copyPaged(s.oracle.copied), touched: copyPaged(s.oracle.touched),
      justified: copyPaged(s.oracle.justified) },
    audit: a ? { kind: a.kind, slot: a.slot, rearmed: a.rearmed?.slice() ?? null, clearExpected: a.clearExpected?.slice() ?? null,
      clearActual: a.clearActual?.slice() ?? null, clearErrno: a.clearErrno } : null,
    stats: { ...s.stats },
    ext: copyExtInto(null, s.ext),
  };
}

/** `d` (a dead state's paged array, or null) made equal to `p`, reusing its leaves where the shapes match. */
export function copyPagedInto(d: Paged | null, p: Paged): Paged {
  if (d === null || d.length !== p.length) return copyPaged(p);
  for (let i = 0; i < p.length; i++) {
    const dm = d[i] as number[][];
    const pm = p[i] as number[][];
    if (dm.length !== pm.length) { d[i] = pm.map((leaf) => leaf.slice()); continue; }
    for (let k = 0; k < pm.length; k++) dm[k] = copyNums(dm[k], pm[k] as number[]);
  }
  return d;
}

/**
 * `dst` made equal to `a` when it is an array of the same length, else a fresh copy (resizing an array in
 * place is V8's slow `length` setter, dearer than the small allocation). Shared by the ext codecs.
 */
export function copyNums(dst: unknown, a: readonly number[]): number[] {
  if (!Array.isArray(dst) || dst.length !== a.length) return a.slice();
  const d = dst as number[];
  for (let i = 0; i < a.length; i++) d[i] = a[i] as number;
  return d;
}

function copyS2Into(d: Stage2, s2: Stage2, total: number): Stage2 {
  if (d.length !== s2.length) return copyS2(s2, total);
  for (let i = 0; i < s2.length; i++) {
    const t2 = s2[i];
    if (!t2) { d[i] = null; continue; }
    const base1 = i * (512 * 512);
    const n2 = Math.min(t2.length, Math.ceil((total - base1) / 512));
    let c = d[i];
    if (!c || c.length !== n2) { c = new Array<L2Entry>(n2); d[i] = c; }
    for (let j = 0; j < n2; j++) {
      const e = t2[j];
      if (typeof e === 'number' || e === undefined) { c[j] = e ?? 0; continue; }
      const n3 = Math.min(e.length, total - base1 - j * 512);
      const old = c[j];
      if (typeof old === 'number' || old === undefined || old.length !== n3) { c[j] = e.slice(0, n3); continue; }
      for (let x = 0; x < n3; x++) old[x] = e[x] as number;
    }
  }
  return d;
}

/** `cloneMachine` into a state no longer used, reusing its arrays (explore's hot path: no garbage). */
export function copyMachineInto(d: MachineState, s: MachineState): MachineState {
  if (d.slots.length !== s.slots.length || d.pes.length !== s.pes.length || d.vcpus.length !== s.vcpus.length || d.design !== s.design) {
    return cloneMachine(s);
  }
  const w = d as { -readonly [K in keyof MachineState]: MachineState[K] };
  w.vmid = s.vmid;
  w.totalPages = s.totalPages;
  for (let i = 0; i < s.slots.length; i++) {
    const a = d.slots[i]!;
    const b = s.slots[i]!;
    a.logging = b.logging;
    a.bitmap = b.bitmap ? copyPagedInto(a.bitmap, b.bitmap) : null;
  }
  w.s2 = copyS2Into(d.s2, s.s2, s.totalPages);
  for (let i = 0; i < s.pes.length; i++) {
    const a = d.pes[i]!;
    const b = s.pes[i]!;
    a.loaded = b.loaded; a.vmid = b.vmid; a.vtcr = b.vtcr;
    a.tlb = copyNums(a.tlb, b.tlb);
  }
  for (let i = 0; i < s.vcpus.length; i++) {
    const a = d.vcpus[i]!;
    const b = s.vcpus[i]!;
    a.pe = b.pe; a.run = b.run; a.store = b.store; a.fault = b.fault; a.mark = b.mark; a.requests = b.requests;
    // Coverage only (left out of the encoding), but copied: a later `vcpu/loaded` compares against it, and the fast
    // path must equal the reference one (properties/support/conformance.ts copyIntoEqualsClone).
    a.lastPe = b.lastPe;
  }
  const dv = d.vmm;
  const toCopy = dv.toCopy;
  const fetched = dv.fetched;
  const dio = dv.ioctl;
  const sv = s.vmm;
  dv.phase = sv.phase; dv.round = sv.round; dv.collectSlot = sv.collectSlot; dv.slotsEnabled = sv.slotsEnabled;
  dv.toCopyCount = sv.toCopyCount; dv.fetchedCount = sv.fetchedCount; dv.finalCollect = sv.finalCollect; dv.itsSaved = sv.itsSaved;
  const cur = (sv as { copyCursor?: number }).copyCursor;
  if (cur !== undefined) (dv as { copyCursor?: number }).copyCursor = cur;
  dv.toCopy = copyPagedInto(toCopy, sv.toCopy);
  dv.fetched = copyPagedInto(fetched, sv.fetched);
  const io = sv.ioctl;
  if (!io) dv.ioctl = null;
  else if (!dio) dv.ioctl = { kind: io.kind, slot: io.slot, deliver: io.deliver.slice(), rearmed: io.rearmed.slice(), flush: io.flush, snapshotPending: io.snapshotPending };
  else {
    dio.kind = io.kind; dio.slot = io.slot; dio.flush = io.flush; dio.snapshotPending = io.snapshotPending;
    dio.deliver = copyNums(dio.deliver, io.deliver);
    dio.rearmed = copyNums(dio.rearmed, io.rearmed);
    dv.ioctl = dio;
  }
  const o = d.oracle;
  o.mem = copyPagedInto(o.mem, s.oracle.mem);
  o.copied = copyPagedInto(o.copied, s.oracle.copied);
  // oracle.touched and oracle.justified only feed the unjustified-report counter (a metric): not copied, like
  // the counters (a recycled state's are stale; explore reports no metric).
  const a = s.audit;
  const da = d.audit;
  if (!a) w.audit = null;
  else if (!da) {
    w.audit = { kind: a.kind, slot: a.slot, rearmed: a.rearmed?.slice() ?? null, clearExpected: a.clearExpected?.slice() ?? null,
      clearActual: a.clearActual?.slice() ?? null, clearErrno: a.clearErrno };
  } else {
    // Reuse the dead state's audit record (apply replaces a state's audit, it never edits one in place).
    da.kind = a.kind; da.slot = a.slot; da.clearErrno = a.clearErrno;
    da.rearmed = a.rearmed === null ? null : copyNums(da.rearmed, a.rearmed);
    da.clearExpected = a.clearExpected === null ? null : copyNums(da.clearExpected, a.clearExpected);
    da.clearActual = a.clearActual === null ? null : copyNums(da.clearActual, a.clearActual);
  }
  // Counters are metrics, not behaviour, and explore reports none of them: only `events` is copied (the
  // hardware-dirty mechanism uses it to tell whether its block audit belongs to the current event). The other
  // counters of a recycled state are stale; nothing reads them.
  d.stats.events = s.stats.events;
  w.ext = isEmpty(s.ext) && isEmpty(d.ext) ? d.ext : copyExtInto(d.ext, s.ext);
  return d;
}

/** Copies mechanism state through each key's codec (`registerExtCodec`), generically for keys without one. */
function copyExtInto(d: { [k: string]: JsonValue } | null, src: { [k: string]: JsonValue }): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = d ?? {};
  if (d !== null) for (const k in d) if (!(k in src)) delete d[k];
  for (const k in src) {
    const c = extCodec(k);
    const v = src[k] as JsonValue;
    out[k] = c ? c.copy(d !== null ? d[k] : undefined, v) : d !== null ? assignJson(d[k], v) : cloneJson(v);
  }
  return out;
}
