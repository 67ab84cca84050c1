/**
 * Domain rendering of the shared machine state for bisect, show and shrink: descriptor bits decoded with the
 * page-table constants, TLB entries unpacked, bitmap words turned into page numbers, oracle versions by page.
 * Lives in src/cli because it imports models/ (the workflow code sees it only as a `StateView`).
 */
import type { EventBase, JsonValue } from '../core/model.ts';
import { changeLine, type Change, type Section, type StateView } from '../workflow/diff.ts';
import { D_AF, D_BLOCK, D_DBM, D_LOCKED, D_VALID, D_W, BLOCK_PAGES } from '../../models/machine/pagetable.ts';
import { tlbBase, tlbFlags, tlbVmid, T_BLOCK, T_DBM, T_PREARM, T_W } from '../../models/machine/tlb.ts';
import { bitGet, pagedForEach, pagedIndex, pget, type Paged } from '../../models/machine/paged.ts';
import { entryGfn, entryLevel, entryValid } from '../../models/hdbss/hdbss.ts';
import { REQ_RING_SOFT_FULL, REQ_STEAL, type MachineConfig, type MachineState } from '../../models/machine/state.ts';

const MAX_LINES = 256;

/** `valid|W|AF|DBM` for a descriptor (`invalid` for 0). */
export function descBits(d: number): string {
  if (d === 0) return 'invalid';
  const f: string[] = [];
  if (d & D_VALID) f.push('valid'); else f.push('not-valid');
  if (d & D_W) f.push('W');
  if (d & D_AF) f.push('AF');
  if (d & D_DBM) f.push('DBM');
  if (d & D_BLOCK) f.push('block');
  if (d & D_LOCKED) f.push('locked');
  const rest = d & ~(D_VALID | D_W | D_AF | D_DBM | D_BLOCK | D_LOCKED);
  if (rest) f.push(`0x${rest.toString(16)}`);
  return f.join('|');
}

/**
 * `gfn 3 vmid 1 W|DBM` for a packed TLB entry; `pre-arm` marks a writable entry filled before the in-flight
 * re-arming ioctl re-armed its page (INV-FLUSH blames it if it survives the return).
 */
export function tlbEntry(e: number): string {
  const fl = tlbFlags(e);
  const f: string[] = [];
  f.push(fl & T_W ? 'W' : 'ro');
  if (fl & T_DBM) f.push('DBM');
  if (fl & T_PREARM) f.push('pre-arm');
  const base = tlbBase(e);
  const what = fl & T_BLOCK ? `block ${base}-${base + BLOCK_PAGES - 1}` : `gfn ${base}`;
  return `${what} vmid ${tlbVmid(e)} ${f.join('|')}`;
}

function reqBits(r: number): string {
  const f: string[] = [];
  if (r & REQ_STEAL) f.push('STEAL');
  if (r & REQ_RING_SOFT_FULL) f.push('RING_SOFT_FULL');
  const rest = r & ~(REQ_STEAL | REQ_RING_SOFT_FULL);
  if (rest) f.push(`0x${rest.toString(16)}`);
  return f.length ? f.join('|') : '-';
}

/** Page numbers set in a bitset (Paged of 32-bit words), up to `limit`. */
function setBits(bits: Paged, limit = MAX_LINES): { pages: number[]; more: number } {
  const pages: number[] = [];
  let more = 0;
  pagedForEach(bits, (w, word) => {
    let x = word >>> 0;
    while (x !== 0) {
      const b = 31 - Math.clz32(x & -x);
      x = (x & (x - 1)) >>> 0;
      if (pages.length < limit) pages.push(w * 32 + b); else more++;
    }
  });
  return { pages, more };
}

function list(xs: readonly number[], more = 0): string {
  if (xs.length === 0) return '(none)';
  return xs.join(', ') + (more ? `, ... (${more} more)` : '');
}

function wordBitDiff(before: JsonValue | undefined, after: JsonValue | undefined, firstBit: number): { set: number[]; cleared: number[] } {
  const a = typeof before === 'number' ? before >>> 0 : 0;
  const b = typeof after === 'number' ? after >>> 0 : 0;
  const set: number[] = [];
  const cleared: number[] = [];
  for (let i = 0; i < 32; i++) {
    const m = (1 << i) >>> 0;
    if ((b & m) && !(a & m)) set.push(firstBit + i);
    if ((a & m) && !(b & m)) cleared.push(firstBit + i);
  }
  return { set, cleared };
}

/** A dirty ring as the dirty-ring mechanism stores it (structure of arrays), recognised by shape. */
interface RingJson { dirtyIndex: number; resetIndex: number; fetchIndex: number; flags: number[]; slot: number[]; offLo: number[]; offHi: number[] }

function asRing(v: unknown): RingJson | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const arr = (k: string): boolean => Array.isArray(r[k]);
  return typeof r['dirtyIndex'] === 'number' && typeof r['resetIndex'] === 'number' && typeof r['fetchIndex'] === 'number' && arr('flags') && arr('slot') && arr('offLo') && arr('offHi')
    ? (v as RingJson) : null;
}

function ringsOf(s: MachineState): RingJson[] {
  const e = s.ext['ring'] as { rings?: unknown } | undefined;
  if (!e || !Array.isArray(e.rings)) return [];
  return e.rings.map(asRing).filter((r): r is RingJson => r !== null);
}

/** `DIRTY slot 0 offset 7` for ring entry `j` (KVM_DIRTY_GFN_F_DIRTY = 1, _RESET = 2). */
function ringEntry(r: RingJson, j: number): string {
  const f = r.flags[j] ?? 0;
  const fl = [f & 1 ? 'DIRTY' : '', f & 2 ? 'RESET' : '', f & ~3 ? `0x${(f & ~3).toString(16)}` : ''].filter(Boolean).join('|') || 'empty';
  const off = (r.offHi[j] ?? 0) * 2 ** 32 + ((r.offLo[j] ?? 0) >>> 0);
  return `${fl} slot ${r.slot[j] ?? 0} offset ${off}`;
}

function hdbssBuffers(s: MachineState): number[][] | null {
  const h = s.ext['hdbss'] as { buf?: unknown } | undefined;
  return h && Array.isArray(h.buf) && h.buf.every((b) => Array.isArray(b)) ? (h.buf as number[][]) : null;
}

function hdbssEntryText(e: number): string {
  return entryValid(e) ? `gfn ${entryGfn(e)} level ${entryLevel(e)}` : e === 0 ? 'empty' : `invalid 0x${e.toString(16)}`;
}

function gfnOfS2(segs: readonly (string | number)[]): number | null {
  const [, i1, i2, i3] = segs;
  if (typeof i1 !== 'number' || typeof i2 !== 'number') return null;
  return i1 * BLOCK_PAGES * 512 + i2 * BLOCK_PAGES + (typeof i3 === 'number' ? i3 : 0);
}

function describeChanges(changes: readonly Change[], before: MachineState, after: MachineState): string[] {
  const out: string[] = [];
  const tlbDone = new Set<number>();
  const ringDone = new Set<string>();
  const bitsAcc = new Map<string, { set: number[]; cleared: number[] }>();
  const addBits = (label: string, d: { set: number[]; cleared: number[] }): void => {
    const acc = bitsAcc.get(label) ?? { set: [], cleared: [] };
    acc.set.push(...d.set);
    acc.cleared.push(...d.cleared);
    bitsAcc.set(label, acc);
  };
  for (const c of changes) {
    const s = c.segments;
    const top = s[0];
    if (top === 'stats' && s[1] === 'events') continue;
    if (top === 's2') {
      const g = gfnOfS2(s);
      if (g === null) {
        if (s.length === 2 && typeof s[1] === 'number' && Array.isArray(c.after) && !Array.isArray(c.before)) {
          // A level-2 table appeared: list what it maps.
          out.push(`s2: level-2 table ${s[1]} allocated`);
          c.after.forEach((e2, i2) => {
            const g2 = (s[1] as number) * BLOCK_PAGES * 512 + i2 * BLOCK_PAGES;
            if (typeof e2 === 'number') { if (e2 !== 0) out.push(`s2 block ${g2}-${g2 + BLOCK_PAGES - 1}: invalid -> ${descBits(e2)}`); return; }
            if (Array.isArray(e2)) e2.forEach((d, i3) => { if (typeof d === 'number' && d !== 0) out.push(`s2 descriptor gfn ${g2 + i3}: invalid -> ${descBits(d)}`); });
          });
        } else out.push(changeLine(c));
        continue;
      }
      if (s.length === 3) {
        const what = `s2 2 MiB region ${g}-${g + BLOCK_PAGES - 1}`;
        if (Array.isArray(c.after) && typeof c.before === 'number') {
          out.push(`${what}: ${c.before === 0 ? 'level-3 table allocated' : `block (${descBits(c.before)}) split into a table`}`);
          c.after.forEach((d, i3) => {
            if (typeof d === 'number' && d !== c.before) out.push(`s2 descriptor gfn ${g + i3}: ${c.before === 0 ? 'invalid' : `block ${descBits(c.before as number)}`} -> ${descBits(d)}`);
          });
        }
        else if (typeof c.after === 'number' && Array.isArray(c.before)) out.push(`${what}: table replaced by ${descBits(c.after)}`);
        else if (typeof c.after === 'number' && typeof c.before === 'number') out.push(`${what} block: ${descBits(c.before)} -> ${descBits(c.after)}`);
        else out.push(changeLine(c));
        continue;
      }
      if (s.length === 4 && typeof c.before === 'number' && typeof c.after === 'number') {
        const wp = (c.before & D_W) && !(c.after & D_W) ? ' (write-protected)' : !(c.before & D_W) && (c.after & D_W) ? ' (made writable)' : '';
        out.push(`s2 descriptor gfn ${g}: ${descBits(c.before)} -> ${descBits(c.after)}${wp}`);
        continue;
      }
    }
    if (top === 'pes' && typeof s[1] === 'number' && s[2] === 'tlb') {
      const p = s[1];
      if (tlbDone.has(p)) continue;
      tlbDone.add(p);
      const a = before.pes[p]?.tlb ?? [];
      const b = after.pes[p]?.tlb ?? [];
      for (const e of a) if (!b.includes(e)) out.push(`pe${p} TLB: - ${tlbEntry(e)}`);
      for (const e of b) if (!a.includes(e)) out.push(`pe${p} TLB: + ${tlbEntry(e)}`);
      continue;
    }
    // Paged arrays (paged.ts): a changed entry's path ends in [top, leaf, k].
    const idx3 = (i: number): number | null =>
      s.length === i + 3 && typeof s[i] === 'number' && typeof s[i + 1] === 'number' && typeof s[i + 2] === 'number'
        ? pagedIndex(s[i] as number, s[i + 1] as number, s[i + 2] as number) : null;
    if (top === 'slots' && typeof s[1] === 'number' && s[2] === 'bitmap' && idx3(3) !== null) {
      const base = after.slots[s[1]]?.base ?? 0;
      addBits(`slot ${s[1]} dirty bitmap`, wordBitDiff(c.before, c.after, base + idx3(3)! * 32));
      continue;
    }
    if (top === 'vmm' && (s[1] === 'toCopy' || s[1] === 'fetched') && idx3(2) !== null) {
      addBits(`vmm ${s[1]}`, wordBitDiff(c.before, c.after, idx3(2)! * 32));
      continue;
    }
    if (top === 'oracle' && (s[1] === 'mem' || s[1] === 'copied') && idx3(2) !== null) {
      out.push(`oracle ${s[1] === 'mem' ? 'memory version' : 'copied version'} gfn ${idx3(2)!}: ${String(c.before)} -> ${String(c.after)}`);
      continue;
    }
    if (top === 'oracle' && (s[1] === 'touched' || s[1] === 'justified') && idx3(2) !== null) {
      addBits(`oracle ${s[1]}`, wordBitDiff(c.before, c.after, idx3(2)! * 32));
      continue;
    }
    if (top === 'ext' && s[1] === 'ring' && s[2] === 'rings' && typeof s[3] === 'number') {
      const i = s[3];
      const rb = asRing((before.ext['ring'] as { rings?: unknown[] } | undefined)?.rings?.[i]);
      const ra = asRing((after.ext['ring'] as { rings?: unknown[] } | undefined)?.rings?.[i]);
      const field = s[4];
      if (rb && ra && (field === 'flags' || field === 'slot' || field === 'offLo' || field === 'offHi') && typeof s[5] === 'number') {
        const key = `${i}:${s[5]}`;
        if (!ringDone.has(key)) { ringDone.add(key); out.push(`ring of vcpu${i} entry ${s[5]}: ${ringEntry(rb, s[5])} -> ${ringEntry(ra, s[5])}`); }
        continue;
      }
      const index = field === 'dirtyIndex' ? 'dirty_index' : field === 'resetIndex' ? 'reset_index' : field === 'fetchIndex' ? 'fetch_index' : null;
      if (rb && ra && index !== null && s.length === 5) {
        out.push(`ring of vcpu${i} ${index}: ${String(c.before)} -> ${String(c.after)} (used ${(rb.dirtyIndex - rb.resetIndex) >>> 0} -> ${(ra.dirtyIndex - ra.resetIndex) >>> 0})`);
        continue;
      }
    }
    if (top === 'ext' && s[1] === 'hdbss' && s[2] === 'buf' && typeof s[3] === 'number' && typeof s[4] === 'number' && typeof c.before === 'number' && typeof c.after === 'number') {
      out.push(`HDBSS buffer of vcpu${s[3]} entry ${s[4]}: ${hdbssEntryText(c.before)} -> ${hdbssEntryText(c.after)}`);
      continue;
    }
    if (top === 'vcpus' && s[2] === 'requests' && typeof c.before === 'number' && typeof c.after === 'number') {
      out.push(`vcpus[${String(s[1])}].requests: ${reqBits(c.before)} -> ${reqBits(c.after)}`);
      continue;
    }
    out.push(changeLine(c));
  }
  for (const [label, d] of bitsAcc) {
    if (d.set.length) out.push(`${label}: set gfn ${d.set.join(', ')}`);
    if (d.cleared.length) out.push(`${label}: cleared gfn ${d.cleared.join(', ')}`);
  }
  return out;
}

function summarize(s: MachineState): Section[] {
  const secs: Section[] = [];
  const s2: string[] = [];
  let more = 0;
  s.s2.forEach((t2, i1) => {
    if (!t2) return;
    t2.forEach((e, i2) => {
      const g0 = i1 * BLOCK_PAGES * 512 + i2 * BLOCK_PAGES;
      if (typeof e === 'number') {
        if (e === 0) return;
        if (s2.length < MAX_LINES) s2.push(`block ${g0}-${g0 + BLOCK_PAGES - 1}: ${descBits(e)}`); else more++;
        return;
      }
      e.forEach((d, i3) => {
        if (d === 0) return;
        if (s2.length < MAX_LINES) s2.push(`gfn ${g0 + i3}: ${descBits(d)}`); else more++;
      });
    });
  });
  if (more) s2.push(`... (${more} more valid leaves)`);
  secs.push({ title: 'Stage-2 page table (valid leaves)', lines: s2.length ? s2 : ['(no valid leaf)'] });
  secs.push({ title: 'TLBs', lines: s.pes.map((p, i) => `pe${i} (loaded vcpu ${p.loaded}, vmid ${p.vmid}, vtcr ${p.vtcr}): ${p.tlb.length ? p.tlb.map(tlbEntry).join('; ') : '(empty)'}`) });
  secs.push({ title: 'vCPUs', lines: s.vcpus.map((v, i) => `vcpu${i}: pe ${v.pe}, ${v.run}, store ${v.store}, fault ${v.fault}, mark ${v.mark}, requests ${reqBits(v.requests)}`) });
  secs.push({
    title: 'Dirty bitmap', lines: s.slots.map((sl) => {
      if (!sl.bitmap) return `slot ${sl.id} [${sl.base}, ${sl.base + sl.npages}) logging ${sl.logging ? 'on' : 'off'}: no bitmap`;
      const b = setBits(sl.bitmap);
      return `slot ${sl.id} [${sl.base}, ${sl.base + sl.npages}) logging ${sl.logging ? 'on' : 'off'}: set gfn ${list(b.pages.map((x) => x + sl.base), b.more)}`;
    }),
  });
  const tc = setBits(s.vmm.toCopy);
  const fe = setBits(s.vmm.fetched);
  const vm = s.vmm;
  secs.push({
    title: 'VMM', lines: [
      `phase ${vm.phase}, round ${vm.round}, collecting slot ${vm.collectSlot}, slots enabled ${vm.slotsEnabled}, final collection ${vm.finalCollect}, ITS pages saved ${vm.itsSaved}`,
      `to copy: ${list(tc.pages, tc.more)}`,
      `fetched, not cleared: ${list(fe.pages, fe.more)}`,
      `ioctl in flight: ${vm.ioctl ? `${vm.ioctl.kind} slot ${vm.ioctl.slot}, deliver [${vm.ioctl.deliver.join(',')}], re-armed [${vm.ioctl.rearmed.join(',')}], flush ${vm.ioctl.flush}` : '(none)'}`,
    ],
  });
  const dirty: string[] = [];
  let dm = 0;
  for (let g = 0; g < s.totalPages; g++) {
    const m = pget(s.oracle.mem, g);
    const c = pget(s.oracle.copied, g);
    if (m !== c && !(m === 0 && c === -1)) {
      if (dirty.length < MAX_LINES) dirty.push(`gfn ${g}: memory v${m}, destination ${c < 0 ? 'never copied' : `v${c}`}${bitGet(s.vmm.toCopy, g) ? ' (to copy)' : ''}`);
      else dm++;
    }
  }
  if (dm) dirty.push(`... (${dm} more)`);
  secs.push({ title: 'Oracle: pages whose destination copy is stale', lines: dirty.length ? dirty : ['(none)'] });
  if (s.audit) secs.push({ title: 'Audit (ioctl just returned)', lines: [JSON.stringify(s.audit)] });
  const rings = ringsOf(s);
  if (rings.length) {
    secs.push({
      title: 'Dirty rings', lines: rings.map((r, i) => {
        const ents: string[] = [];
        for (let j = 0; j < r.flags.length; j++) if ((r.flags[j] ?? 0) !== 0) ents.push(`[${j}] ${ringEntry(r, j)}`);
        return `vcpu${i}: dirty_index ${r.dirtyIndex}, reset_index ${r.resetIndex}, fetch_index ${r.fetchIndex}, used ${(r.dirtyIndex - r.resetIndex) >>> 0}/${r.flags.length}; ${ents.length ? ents.join('; ') : 'no entries'}`;
      }),
    });
  }
  const bufs = hdbssBuffers(s);
  if (bufs) {
    secs.push({
      title: 'HDBSS buffers', lines: bufs.map((b, v) => {
        const ents = b.map((e, k) => (e !== 0 ? `[${k}] ${hdbssEntryText(e)}` : '')).filter(Boolean);
        return `vcpu${v}: ${ents.length ? ents.join('; ') : '(empty)'}`;
      }),
    });
  }
  for (const k of Object.keys(s.ext).sort()) {
    const v = s.ext[k] as JsonValue;
    const lines = v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.keys(v).sort().map((f) => `${f}: ${JSON.stringify((v as { [x: string]: JsonValue })[f])}`)
      : [JSON.stringify(v)];
    secs.push({ title: `Mechanism state: ${k}`, lines });
  }
  return secs;
}

export const machineView: StateView<MachineState> = { describeChanges, summarize };

/**
 * Smaller machines to try when shrinking, most aggressive first: fewer vCPUs, fewer PEs, fewer memslots,
 * fewer pages in a slot, fewer ITS pages, fewer pre-copy rounds, fewer TLB entries. Each is validated by the
 * model's parseConfig before use; gfn lists are filtered to the pages that remain (a non-empty storePages list is
 * never emptied, since empty means "every page").
 */
export function machineConfigCandidates(c: MachineConfig): unknown[] {
  const out: unknown[] = [];
  const within = (slots: readonly { base: number; npages: number }[], g: number): boolean =>
    slots.some((s) => g >= s.base && g < s.base + s.npages);
  const withSlots = (slots: { base: number; npages: number }[]): unknown | null => {
    const its = c.itsPages.filter((g) => within(slots, g));
    const store = c.storePages.filter((g) => within(slots, g));
    if (c.storePages.length > 0 && store.length === 0) return null;
    return { ...c, slots, itsPages: its, storePages: store };
  };
  if (c.vcpus > 1) out.push({ ...c, vcpus: c.vcpus - 1 });
  if (c.pes > 1) out.push({ ...c, pes: c.pes - 1 });
  if (c.slots.length > 1) { const x = withSlots(c.slots.slice(0, -1)); if (x) out.push(x); }
  c.slots.forEach((s, i) => {
    for (const n of [Math.floor(s.npages / 2), s.npages - 8, s.npages - 1]) {
      if (n < 1 || n >= s.npages) continue;
      const slots = c.slots.map((x, j) => (j === i ? { base: x.base, npages: n } : { ...x }));
      const x = withSlots(slots);
      if (x) out.push(x);
    }
  });
  for (let i = c.itsPages.length - 1; i >= 0; i--) out.push({ ...c, itsPages: c.itsPages.filter((_, j) => j !== i) });
  if (c.rounds > 0) out.push({ ...c, rounds: c.rounds - 1 });
  if (c.tlbEntries > 1) out.push({ ...c, tlbEntries: c.tlbEntries - 1 });
  return out;
}

/**
 * Smaller machines that drop one vCPU or PE other than the last: its events are dropped and the higher ids
 * renamed down by one (fields `vcpu` and `pe`, and `vcpu/loaded`'s PE). Events naming a page that depends on the
 * vCPU id (its stolen-time page) become disabled and are skipped by the shrinker's replay.
 */
export function machineRelabelings(c: MachineConfig): { config: unknown; mapEvent: (e: EventBase) => EventBase | null }[] {
  const out: { config: unknown; mapEvent: (e: EventBase) => EventBase | null }[] = [];
  const drop = (field: 'vcpu' | 'pe', k: number) => (e: EventBase): EventBase | null => {
    const r = e as EventBase & { [f: string]: unknown };
    const v = r[field];
    if (typeof v !== 'number') return e;
    if (v === k) return null;
    return v > k ? ({ ...r, [field]: v - 1 } as EventBase) : e;
  };
  for (let k = 0; k < c.vcpus - 1; k++) out.push({ config: { ...c, vcpus: c.vcpus - 1 }, mapEvent: drop('vcpu', k) });
  for (let k = 0; k < c.pes - 1; k++) out.push({ config: { ...c, pes: c.pes - 1 }, mapEvent: drop('pe', k) });
  return out;
}
