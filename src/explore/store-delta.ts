/**
 * The saved states of one BFS level as deltas (split out of store.ts, which turns a state into words and back):
 * each state's words are kept as a delta against the words of the state appended before it (runs of equal words,
 * from the start and from the end, referred to; the others written out), with a whole state (a keyframe) every
 * `keyframe` states. Consecutive states of a BFS level are mostly siblings or cousins (a few events apart), so
 * this takes the frontier to about a third of its words (a tenth of a fixed-size word image, whose unused
 * capacity is zeros in every state; each model's figure is pinned in properties/explore.bfs.test.ts).
 *
 * Loads are sequential in BFS: the next state is rebuilt from the one loaded before; any other index rolls
 * forward from its keyframe.
 *
 * Two encoders write the same format (the reader below does not know which wrote a delta):
 * - the general one, for states of any length (the generic walk and the models' save/load layouts: an array
 *   that grew or shrank moves every word after it, so the common suffix is matched from the end);
 * - a positional one when the state has the previous state's length (every fixed-size word image, and so every
 *   save of a model with `Model.image`): one forward pass, no suffix. It was the larger part of a save in the
 *   CPU profile of a dirty-ring exploration (encode 7% of the whole run, the image writer 9%).
 */
import { IntColumn } from './pack.ts';

/** A whole state is kept every this many appends (a load out of order rolls forward at most this many deltas). */
export const KEYFRAME = 64;

/** A power of two of at least `n` (and 1024). */
export function sizeFor(n: number): number {
  let size = 1 << 10;
  while (size < n) size *= 2;
  return size;
}

export class DeltaLog {
  /** The words of the state appended last (`prevLen` of them). */
  private prev = new Int32Array(1 << 10);
  private prevLen = 0;
  /** The words of the state loaded last (index `viewIndex`, -1: none), and where the next load's go. */
  private view = new Int32Array(1 << 10);
  private spare = new Int32Array(1 << 10);
  private viewIndex = -1;
  /** The deltas (per state its word count, then its runs: `patch`). */
  private d = new Int32Array(1 << 16);
  private dlen = 0;
  /** Start offset of each state's delta in `d`. */
  private readonly starts = new IntColumn();

  constructor(private readonly keyframe = KEYFRAME) {
    if (!Number.isInteger(keyframe) || keyframe < 1) throw new Error(`[dtsim] state store: keyframe ${keyframe} is not a positive integer`);
  }

  /** States appended since the last `clear`. */
  get size(): number {
    return this.starts.n;
  }

  /** Bytes of the deltas and their start offsets (the buffers' spare capacity is not counted). */
  bytes(): number {
    return 4 * (this.dlen + this.starts.n);
  }

  /** Forgets every state (the buffers stay). */
  clear(): void {
    this.dlen = 0;
    this.starts.n = 0;
    this.prevLen = 0;
    this.viewIndex = -1;
  }

  /**
   * Appends the state in the first `n` words of `cur`; returns its index. The log keeps `cur` as the previous
   * state's words and hands back, in `free`, the buffer the caller writes the next state into (no copy).
   */
  append(cur: Int32Array<ArrayBuffer>, n: number): number {
    const index = this.starts.n;
    this.starts.push(this.dlen);
    const pn = index % this.keyframe === 0 ? 0 : this.prevLen;
    // Worst case: a run word per word, plus the count and the suffix's shift and run.
    const need = 2 * n + 4;
    if (this.dlen + need > this.d.length) {
      let size = this.d.length * 2;
      while (size < this.dlen + need) size *= 2;
      const b = new Int32Array(size);
      b.set(this.d.subarray(0, this.dlen));
      this.d = b;
    }
    this.dlen = pn === n ? this.encodeSame(cur, n) : this.encode(cur, n, pn);
    this.free = this.prev;
    this.prev = cur;
    this.prevLen = n;
    return index;
  }

  /** After `append`: the buffer to write the next state into (the previous state's, no longer needed). */
  free: Int32Array<ArrayBuffer> = new Int32Array(1 << 10);

  /**
   * The delta of `cur` (`n` words) against the previous state of the same length: runs of two or more equal
   * words referred to, the rest written out (the format of `encode`, without a suffix).
   */
  private encodeSame(cur: Int32Array, n: number): number {
    const prev = this.prev;
    const d = this.d;
    let dl = this.dlen;
    d[dl++] = n;
    let i = 0;
    while (i < n) {
      let j = i;
      while (j < n && cur[j] === prev[j]) j++;
      if (j - i >= 2 || j === n) {
        d[dl++] = j - i;
        i = j;
        if (i === n) break;
      }
      // Written out, up to the next pair of equal words (or the end).
      let k = i + 1;
      while (k < n && !(k + 1 < n && cur[k] === prev[k] && cur[k + 1] === prev[k + 1])) k++;
      d[dl++] = i - k;
      while (i < k) d[dl++] = cur[i++] as number;
    }
    return dl;
  }

  /**
   * The delta of `cur` (`n` words) against the first `pn` words of `prev` (0: a keyframe). The words both share
   * at the end (after an array that grew or shrank, a field that became null) are matched from the end; the rest
   * position by position. Returns the new end of `d`.
   */
  private encode(cur: Int32Array, n: number, pn: number): number {
    const prev = this.prev;
    const d = this.d;
    let dl = this.dlen;
    d[dl++] = n;
    // The common suffix (not overlapping the common prefix).
    let pre = 0;
    const mn = n < pn ? n : pn;
    while (pre < mn && cur[pre] === prev[pre]) pre++;
    let suf = 0;
    while (suf < mn - pre && cur[n - 1 - suf] === prev[pn - 1 - suf]) suf++;
    // Position by position up to the suffix (prev's cursor moves with cur's).
    const m = n - suf;
    const pm = pn - suf;
    let i = 0;
    // The common prefix is known (pre <= m, pre <= pm): one run; the loop below would find it again.
    if (pre >= 2) { d[dl++] = pre; i = pre; }
    while (i < m) {
      // Words equal to the previous state's: a run when two or more (a lone one is cheaper written out).
      let j = i;
      while (j < m && j < pm && cur[j] === prev[j]) j++;
      if (j - i >= 2 || j === m) {
        d[dl++] = j - i;
        i = j;
        if (i === m) break;
      }
      // Words written out, up to the next pair of equal words.
      let k = i + 1;
      while (k < m && !(k + 1 < pm && cur[k] === prev[k] && cur[k + 1] === prev[k + 1])) k++;
      d[dl++] = i - k;
      while (i < k) d[dl++] = cur[i++] as number;
    }
    if (suf > 0) {
      // prev's cursor is at m; the suffix starts at pm there.
      if (pm !== m) { d[dl++] = 0; d[dl++] = pm - m; }
      d[dl++] = suf;
    }
    return dl;
  }

  /**
   * The words of state `index` into `view`, from its delta against `view` (the words of state `index - 1`; for
   * a keyframe, anything). Runs: > 0 that many words from the previous state's cursor; < 0 that many words
   * written out (the cursor moves along); 0 then k: the cursor moves by k.
   */
  private patch(index: number): void {
    const d = this.d;
    let p = this.starts.a[index] as number;
    const n = d[p++] as number;
    if (n > this.spare.length) this.spare = new Int32Array(sizeFor(n));
    const from = this.view;
    const to = this.spare;
    let i = 0;
    let q = 0;
    while (i < n) {
      const c = d[p++] as number;
      if (c > 0) {
        for (const e = i + c; i < e;) to[i++] = from[q++] as number;
      } else if (c < 0) {
        for (let k = c; k < 0; k++) to[i++] = d[p++] as number;
        q -= c;
      } else q += d[p++] as number;
    }
    this.spare = from;
    this.view = to;
  }

  /** The words of state `index` (valid until the next `words` call): its length is `lengthOf(index)`. */
  words(index: number): Int32Array<ArrayBuffer> {
    if (index < 0 || index >= this.starts.n) throw new Error(`[dtsim] state store: no state ${index} (${this.starts.n} saved)`);
    // The next state in order is one delta from the view; any other rolls forward from its keyframe.
    const from = index === this.viewIndex + 1 || index === this.viewIndex ? index : index - (index % this.keyframe);
    if (index !== this.viewIndex) for (let k = from; k <= index; k++) this.patch(k);
    this.viewIndex = index;
    return this.view;
  }

  /** The word count of state `index`. */
  lengthOf(index: number): number {
    return this.d[this.starts.a[index] as number] as number;
  }
}
