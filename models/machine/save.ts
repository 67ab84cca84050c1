/**
 * The machine's exact layout for explore's saved frontier (`Model.save` / `Model.load`, src/explore/store.ts):
 * every field of the state, in a fixed order, numbers as words, the enums as small integers, with no object
 * shapes to look up or dispatch on. The generic walk it replaces cost about 40% of an exploration's time
 * (dirty-bitmap, profile); this is the same information without the walk.
 *
 * Unlike `packMachine` nothing is left out or canonicalised: a load gives back a state equal to the one saved
 * (key order aside: objects are rebuilt in `cloneMachine`'s order, so loads share the clones' hidden classes).
 * The static parts (design, config, mechKey, bug) are not written: a load shares the initial state's, as a clone
 * does. Mechanism state under `ext` goes through its key's codec (`ExtCodec.save`/`load`) where it has one.
 * Parts with no fixed layout (the stage-2 tables, the counters, ext keys without a codec, the leaves of paged
 * arrays, which may be long runs of zeros) go through the store's generic encoding.
 *
 * `checkShape` guards the layout as it guards `packMachine`: a field this file does not know stops explore with
 * a message instead of being dropped.
 */
import type { JsonValue, LoadSource, SaveSink } from '../../src/core/model.ts';
import { extCodec } from './registry.ts';
import type { Paged } from './paged.ts';
import type { Stage2 } from './pagetable.ts';
import { checkShape, KIND, PHASE, RUN } from './pack.ts';
import type { Audit, Ioctl, MachineState, Pe, Slot, Stats, Vcpu, VcpuRun, Vmm, VmmPhase } from './state.ts';

// pack.ts's enum numbering, and its inverse for loads.
const RUNS = Object.keys(RUN) as VcpuRun[];
const PHASES = Object.keys(PHASE) as VmmPhase[];
const KINDS = Object.keys(KIND) as Audit['kind'][];

/**
 * Codec sites (1..63) of the values written generically: the machine's below 32 (ext keys: 8 + their index,
 * at most 16), the mechanism codecs' from 32.
 */
const SITE = { leaf: 1, s2: 2, stats: 3, extKey: 4, ext: 8 } as const;
const EXT_SITES = 16;

/** `v`'s number in one of pack.ts's enum tables; an unknown value is refused. */
function code(table: { readonly [k: string]: number }, v: string, what: string): number {
  const i: unknown = table[v];
  if (typeof i !== 'number' || !Object.prototype.hasOwnProperty.call(table, v)) {
    throw new Error(`[dtsim] models/machine/save.ts: unknown ${what} ${JSON.stringify(v)}`);
  }
  return i;
}
// The inverse tables above rely on each enum numbering its keys 0, 1, ... in order.
for (const [t, keys] of [[RUN, RUNS], [PHASE, PHASES], [KIND, KINDS]] as const) {
  keys.forEach((k, i) => { if ((t as { readonly [k: string]: number })[k] !== i) throw new Error(`[dtsim] models/machine/pack.ts: enum ${k} is not numbered ${i}`); });
}

/** A paged array (or bitset): its shape, and its leaves generically (zero runs stay short). Shared with the mechanism codecs. */
export function savePaged(p: Paged, out: SaveSink): void {
  out.int(p.length);
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    out.int(mid.length);
    for (let j = 0; j < mid.length; j++) out.value(mid[j], SITE.leaf);
  }
}

export function loadPaged(src: LoadSource): Paged {
  const n = src.int();
  const p: Paged = [];
  for (let i = 0; i < n; i++) {
    const m = src.int();
    const mid: number[][] = [];
    for (let j = 0; j < m; j++) mid.push(src.value() as number[]);
    p.push(mid);
  }
  return p;
}

/** A number list (or null) as its length (-1) and its numbers; shared with the mechanism codecs. */
export function saveList(a: readonly number[] | null, out: SaveSink): void {
  if (a === null) { out.int(-1); return; }
  out.int(a.length);
  for (let i = 0; i < a.length; i++) out.int(a[i] as number);
}

export function loadList(src: LoadSource): number[] | null {
  const n = src.int();
  if (n < 0) return null;
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(src.int());
  return a;
}

/** A list `saveList` wrote that is never null (a null there means the words are not what `save` wrote). */
export function loadNums(src: LoadSource): number[] {
  const a = loadList(src);
  if (a === null) throw new Error('[dtsim] corrupt state store: a number list expected, found null');
  return a;
}

let shapeTick = 0;

export function saveMachine(s: MachineState, out: SaveSink): void {
  if ((shapeTick++ & 1023) === 0) checkShape(s);
  out.int(s.totalPages);
  out.int(s.vmid);
  out.int(s.slots.length);
  for (const sl of s.slots) {
    out.int(sl.id); out.int(sl.base); out.int(sl.npages); out.int(sl.logging ? 1 : 0);
    if (sl.bitmap === null) out.int(-1);
    else { out.int(1); savePaged(sl.bitmap, out); }
  }
  out.value(s.s2, SITE.s2);
  out.int(s.pes.length);
  for (const p of s.pes) { out.int(p.loaded); out.int(p.vmid); saveList(p.tlb, out); out.int(p.vtcr); }
  out.int(s.vcpus.length);
  for (const v of s.vcpus) {
    out.int(v.pe); out.int(code(RUN, v.run, 'vCPU run state')); out.int(v.store); out.int(v.fault); out.int(v.mark);
    out.int(v.requests); out.int(v.lastPe);
  }
  const vm = s.vmm;
  out.int(code(PHASE, vm.phase, 'VMM phase')); out.int(vm.round); out.int(vm.collectSlot); out.int(vm.slotsEnabled);
  savePaged(vm.toCopy, out); out.int(vm.toCopyCount);
  // copyCursor may be absent (pack.ts OPTIONAL); -1 below never occurs as a cursor.
  const cur = (vm as { copyCursor?: number }).copyCursor;
  if (cur === undefined) out.int(-1);
  else { out.int(1); out.int(cur); }
  savePaged(vm.fetched, out); out.int(vm.fetchedCount); out.int(vm.finalCollect ? 1 : 0); out.int(vm.itsSaved);
  const io = vm.ioctl;
  if (io === null) out.int(-1);
  else {
    out.int(code(KIND, io.kind, 'ioctl kind')); out.int(io.slot); saveList(io.deliver, out); saveList(io.rearmed, out);
    out.int(io.flush ? 1 : 0); out.int(io.snapshotPending ? 1 : 0);
  }
  const o = s.oracle;
  savePaged(o.mem, out); savePaged(o.copied, out); savePaged(o.touched, out); savePaged(o.justified, out);
  const a = s.audit;
  if (a === null) out.int(-1);
  else {
    out.int(code(KIND, a.kind, 'audit kind')); out.int(a.slot); saveList(a.rearmed, out); saveList(a.clearExpected, out);
    saveList(a.clearActual, out); out.int(a.clearErrno);
  }
  out.value(s.stats, SITE.stats);
  // Mechanism state, key by key in the state's order: through the key's codec when it has save/load (1), else
  // generically (0).
  const ext = s.ext;
  let n = 0;
  for (const _ in ext) n++;
  out.int(n);
  let i = 0;
  for (const k in ext) {
    out.value(k, SITE.extKey);
    const c = extCodec(k);
    if (c !== undefined && c.save !== undefined && c.load !== undefined) { out.int(1); c.save(ext[k] as JsonValue, out); }
    else { out.int(0); out.value(ext[k], SITE.ext + (i < EXT_SITES ? i : EXT_SITES - 1)); }
    i++;
  }
}

/** A fresh private copy of the state `saveMachine` wrote; the static parts are `like`'s. */
export function loadMachine(src: LoadSource, like: MachineState): MachineState {
  const totalPages = src.int();
  const vmid = src.int();
  const ns = src.int();
  const slots: Slot[] = [];
  for (let i = 0; i < ns; i++) {
    const id = src.int(); const base = src.int(); const npages = src.int(); const logging = src.int() === 1;
    const bitmap = src.int() < 0 ? null : loadPaged(src);
    slots.push({ id, base, npages, logging, bitmap });
  }
  const s2 = src.value() as Stage2;
  const np = src.int();
  const pes: Pe[] = [];
  for (let i = 0; i < np; i++) {
    const loaded = src.int(); const pvmid = src.int(); const tlb = loadNums(src); const vtcr = src.int();
    pes.push({ loaded, vmid: pvmid, tlb, vtcr });
  }
  const nv = src.int();
  const vcpus: Vcpu[] = [];
  for (let i = 0; i < nv; i++) {
    const pe = src.int(); const run = RUNS[src.int()] as VcpuRun; const store = src.int(); const fault = src.int();
    const mark = src.int(); const requests = src.int(); const lastPe = src.int();
    vcpus.push({ pe, run, store, fault, mark, requests, lastPe });
  }
  const phase = PHASES[src.int()] as VmmPhase; const round = src.int(); const collectSlot = src.int(); const slotsEnabled = src.int();
  const toCopy = loadPaged(src); const toCopyCount = src.int();
  const hasCursor = src.int() >= 0;
  const copyCursor = hasCursor ? src.int() : 0;
  const fetched = loadPaged(src); const fetchedCount = src.int(); const finalCollect = src.int() === 1; const itsSaved = src.int();
  let ioctl: Ioctl | null = null;
  const ik = src.int();
  if (ik >= 0) {
    const slot = src.int(); const deliver = loadNums(src); const rearmed = loadNums(src);
    const flush = src.int() === 1; const snapshotPending = src.int() === 1;
    ioctl = { kind: KINDS[ik] as Ioctl['kind'], slot, deliver, rearmed, flush, snapshotPending };
  }
  // initMachine's key order (cloneMachine spreads it).
  const vmm: Vmm = hasCursor
    ? { phase, round, collectSlot, slotsEnabled, toCopy, toCopyCount, copyCursor, fetched, fetchedCount, finalCollect, itsSaved, ioctl }
    : { phase, round, collectSlot, slotsEnabled, toCopy, toCopyCount, fetched, fetchedCount, finalCollect, itsSaved, ioctl } as Vmm;
  const mem = loadPaged(src); const copied = loadPaged(src); const touched = loadPaged(src); const justified = loadPaged(src);
  let audit: Audit | null = null;
  const ak = src.int();
  if (ak >= 0) {
    const slot = src.int(); const rearmed = loadList(src); const clearExpected = loadList(src); const clearActual = loadList(src);
    const clearErrno = src.int();
    audit = { kind: KINDS[ak] as Audit['kind'], slot, rearmed, clearExpected, clearActual, clearErrno };
  }
  const stats = src.value() as Stats;
  const ext: MachineState['ext'] = {};
  const n = src.int();
  for (let i = 0; i < n; i++) {
    const k = src.value() as string;
    if (src.int() === 0) { ext[k] = src.value() as JsonValue; continue; }
    const c = extCodec(k);
    if (c === undefined || c.load === undefined) throw new Error(`[dtsim] a state was saved with the '${k}' codec, which is gone`);
    ext[k] = c.load(src);
  }
  return {
    design: like.design, config: like.config, mechKey: like.mechKey, bug: like.bug, totalPages, vmid,
    slots, s2, pes, vcpus, vmm, oracle: { mem, copied, touched, justified }, audit, stats, ext,
  };
}
