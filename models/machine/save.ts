/**
 * Transitional: the machine's exact saved layout is derived from its schema (schema.ts `saveMachine` /
 * `loadMachine`). The helpers below remain only for the mechanism codecs that are not yet schema parts.
 */
import type { LoadSource, SaveSink } from '../../src/core/model.ts';
import type { Paged } from './paged.ts';

export { loadMachine, saveMachine } from './schema.ts';

/** A paged array (or bitset): its shape, and its leaves generically (zero runs stay short). Shared with the mechanism codecs. */
export function savePaged(p: Paged, out: SaveSink): void {
  out.int(p.length);
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    out.int(mid.length);
    for (let j = 0; j < mid.length; j++) out.value(mid[j], 1);
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

