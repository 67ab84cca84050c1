/**
 * Domain rendering of the shared machine state for bisect, show, shrink and diff (`Model.view`): descriptor bits
 * decoded with the page-table constants, TLB entries unpacked, bitmap words turned into page numbers, oracle
 * versions by page. Each mechanism renders its own state (`Mechanism.view`, e.g. models/dirty-ring/view.ts): its
 * sections follow the machine's in the order of models/mechanisms.ts, and a change under `s.ext` is offered to
 * every declared mechanism's `describeChange` before it falls back to its JSON path. src/ sees only the
 * `StateView` through the model.
 */
import type { Change, JsonValue, Section, StateView } from '../../src/core/model.ts';
import { changeLine } from '../../src/workflow/diff.ts';
import { D_AF, D_BLOCK, D_DBM, D_LOCKED, D_VALID, D_W, BLOCK_PAGES } from './pagetable.ts';
import { tlbBase, tlbFlags, tlbVmid, T_BLOCK, T_DBM, T_PREARM, T_W } from './tlb.ts';
import { bitGet, pagedForEach, pagedIndex, pget, type Paged } from './paged.ts';
import { REQ_RING_SOFT_FULL, REQ_STEAL, type MachineState } from './state.ts';
import { declaredMechanisms } from '../mechanisms.ts';

/** At most this many lines per list in a section (the rest is counted: `... (N more)`). */
export const MAX_LINES = 256;

/**
 * A mechanism's rendering of its own state (`Mechanism.view`), called by the machine's view for every declared
 * mechanism (whether or not the state's design selects it: a hook returns nothing when its state is absent).
 */
export interface MechanismView {
  /** Sections for the mechanism's state (none when `s.ext` has no state of it). */
  summarize(s: MachineState): Section[];
  /**
   * Readable lines for one change under `s.ext` (`c.segments[0] === 'ext'`), or null when the change is not one the
   * mechanism renders (the next mechanism is asked, then the change prints as its JSON path). `done` is shared by
   * the changes of one event: a mechanism records there what it has already described (`ring:0:3`).
   */
  describeChange(c: Change, before: MachineState, after: MachineState, done: Set<string>): string[] | null;
}

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
export function setBits(bits: Paged, limit = MAX_LINES): { pages: number[]; more: number } {
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

function gfnOfS2(segs: readonly (string | number)[]): number | null {
  const [, i1, i2, i3] = segs;
  if (typeof i1 !== 'number' || typeof i2 !== 'number') return null;
  return i1 * BLOCK_PAGES * 512 + i2 * BLOCK_PAGES + (typeof i3 === 'number' ? i3 : 0);
}

/** The lines of the first declared mechanism that renders change `c` under `s.ext`, or null. */
function describeExtChange(c: Change, before: MachineState, after: MachineState, done: Set<string>): string[] | null {
  for (const m of declaredMechanisms()) {
    const lines = m.view?.describeChange(c, before, after, done);
    if (lines) return lines;
  }
  return null;
}

function describeChanges(changes: readonly Change[], before: MachineState, after: MachineState): string[] {
  const out: string[] = [];
  const tlbDone = new Set<number>();
  const done = new Set<string>();
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
    if (top === 'ext') {
      const lines = describeExtChange(c, before, after, done);
      if (lines) { out.push(...lines); continue; }
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
  for (const m of declaredMechanisms()) if (m.view) secs.push(...m.view.summarize(s));
  for (const k of Object.keys(s.ext).sort()) {
    const v = s.ext[k] as JsonValue;
    const lines = v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.keys(v).sort().map((f) => `${f}: ${JSON.stringify((v as { [x: string]: JsonValue })[f])}`)
      : [JSON.stringify(v)];
    secs.push({ title: `Mechanism state: ${k}`, lines });
  }
  return secs;
}

/** The machine's `Model.view` (models/machine/model.ts). */
export const machineView: StateView<MachineState> = { describeChanges, summarize };
