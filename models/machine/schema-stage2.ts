/**
 * The stage-2 tables' custom schema ops (the one part of the machine's state the schema kinds do not cover): a
 * radix tree of 512-entry tables (pagetable.ts), copied, saved, packed and laid out as words trimmed to
 * [0, totalPages). Used by `MACHINE.s2` (schema.ts); split from it to keep each file readable.
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from '../../src/core/model.ts';
import type { CustomOps, PackCtx } from '../../src/core/schema.ts';
import type { L2Entry, Stage2 } from './pagetable.ts';

// ---------------------------------------------------------------------------------------------------------------
// Stage 2: a radix tree of 512-entry tables (pagetable.ts), copied and packed trimmed to [0, totalPages).

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

function copyS2Into(d: Stage2 | undefined, s2: Stage2, total: number): Stage2 {
  if (d === undefined || d.length !== s2.length) return copyS2(s2, total);
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

const totalOf = (root: unknown): number => (root as { totalPages: number }).totalPages;

function badS2(what: string): never {
  throw new Error(`[dtsim] state word image: s2: ${what}`);
}

/**
 * The stage-2 tables as words (`STAGE2.words`), trimmed to the guest as `copyS2` (the model's clone) trims them:
 * a table the reducers make has 512 entries (pagetable.ts), of which those past the guest's last page are never
 * read, and a copy drops them. Per top-level table 0 (null) or 1; per 512-page block of the guest, at a fixed
 * offset (513 words a block; only the last block is partial), its level-2 entry: a descriptor (>= 0), or
 * -(1 + length) of a level-3 table, followed by its entries. So a load gives what `cloneMachine` gives.
 */
function writeS2(s2: Stage2, w: Int32Array, at: number, root: unknown): void {
  const total = totalOf(root);
  const n1 = Math.ceil(total / (512 * 512));
  if (s2.length !== n1) badS2(`${s2.length} top-level tables, the guest has ${n1}`);
  for (let i = 0; i < n1; i++) {
    const t2 = s2[i];
    if (t2 === null || t2 === undefined) continue;
    w[at + i] = 1;
    const base1 = i * (512 * 512);
    const n2 = Math.min(t2.length, Math.ceil((total - base1) / 512));
    for (let j = 0; j < n2; j++) {
      const g = base1 + j * 512;
      const e = t2[j] ?? 0;
      const pos = at + n1 + (g >>> 9) * 513;
      if (typeof e === 'number') {
        if (!(e >= 0 && (e | 0) === e)) badS2(`descriptor ${e} at gfn ${g}`);
        w[pos] = e;
        continue;
      }
      const n3 = Math.min(e.length, total - g);
      w[pos] = -(1 + n3);
      for (let k = 0; k < n3; k++) {
        const d = e[k] as number;
        if ((d | 0) !== d) badS2(`descriptor ${d} at gfn ${g + k}`);
        w[pos + 1 + k] = d;
      }
    }
  }
}

function readS2(w: Int32Array, at: number, root: unknown): Stage2 {
  const total = totalOf(root);
  const n1 = Math.ceil(total / (512 * 512));
  const s2: Stage2 = [];
  for (let i = 0; i < n1; i++) {
    if (w[at + i] === 0) { s2.push(null); continue; }
    const t2: L2Entry[] = [];
    const base1 = i * (512 * 512);
    const n2 = Math.ceil((total - base1) / 512);
    for (let j = 0; j < n2; j++) {
      const pos = at + n1 + ((base1 + j * 512) >>> 9) * 513;
      const d = w[pos] as number;
      if (d >= 0) { t2.push(d); continue; }
      const leaf: number[] = [];
      for (let k = 0; k < -d - 1; k++) leaf.push(w[pos + 1 + k] as number);
      t2.push(leaf);
    }
    s2.push(t2);
  }
  return s2;
}

export const STAGE2: CustomOps<Stage2> = {
  clone: (v, root) => copyS2(v, totalOf(root)),
  copyInto: (d, v, root) => copyS2Into(d, v, totalOf(root)),
  // Exact (no trimming needed: a copy is already trimmed), generically: the store keeps zero runs short.
  save: (v: Stage2, out: SaveSink) => out.value(v, 2),
  load: (src: LoadSource) => src.value() as Stage2,
  // Over [0, totalPages): a level-2 entry is a block/invalid descriptor (>= 0) or a table (-1 + pages).
  pack(s2: Stage2, ctx: PackCtx, out: PackSink): void {
    const total = totalOf(ctx.root);
    for (let g = 0; g < total; g += 512) {
      const t2 = s2[g >>> 18];
      const e = t2 ? t2[(g >>> 9) & 511] : 0;
      if (e === undefined || typeof e === 'number') { out.num(e ?? 0); continue; }
      out.num(-1);
      const end = Math.min(total, g + 512);
      for (let x = g; x < end; x++) out.num(e[x & 511] as number);
    }
  },
  // Flat layout: per top-level table a presence word, per 512-page block of [0, totalPages) a level-2 word
  // (descriptor, or a table marker) and the block's level-3 entries (writeS2).
  words(root: unknown): number {
    const total = totalOf(root);
    let n = Math.ceil(total / (512 * 512));
    for (let g = 0; g < total; g += 512) n += 1 + Math.min(512, total - g);
    return n;
  },
  writeWords: writeS2,
  readWords: readS2,
  check(v: unknown): string | null {
    if (!Array.isArray(v)) return 'must be an array of level-2 tables';
    for (const t2 of v) {
      if (t2 === null) continue;
      if (!Array.isArray(t2)) return 'a level-2 table must be an array or null';
      for (const e of t2) {
        if (typeof e === 'number') continue;
        if (!Array.isArray(e) || !e.every((x) => typeof x === 'number')) return 'a level-2 entry must be a descriptor or a level-3 table';
      }
    }
    return null;
  },
  view(s2: Stage2): JsonValue {
    // Valid leaves only, by gfn (a block as its base gfn with the block bit in the descriptor).
    const out: { [gfn: string]: number } = {};
    s2.forEach((t2, i) => t2?.forEach((e, j) => {
      const base = i * 512 * 512 + j * 512;
      if (typeof e === 'number') { if (e !== 0) out[String(base)] = e; return; }
      e.forEach((d, k) => { if (d !== 0) out[String(base + k)] = d; });
    }));
    return out;
  },
};

