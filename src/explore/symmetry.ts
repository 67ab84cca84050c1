/**
 * Symmetry reduction for explore (optional, `--symmetry`): a model names groups of interchangeable agents
 * (`Model.symmetry`) and can pack a state under a relabelling of them (`Model.pack(state, out, relabel)`). The
 * canonical key of a state is the lexicographically least encoding over every relabelling (the product of
 * the groups' permutation groups), i.e. one representative per orbit. This is exact (two states get the
 * same key iff one is a relabelling of the other, up to hash collisions) and sound whenever the model's claim
 * holds: relabelling maps enabled events to enabled events, successors to successors, and preserves every
 * invariant's verdict. Only states are merged; the explorer still expands the real state it reached, so a
 * counterexample is a real path that replays as it is.
 */
import type { SymmetryGroup } from '../core/model.ts';
import type { Packer } from './pack.ts';

const permCache = new Map<number, readonly (readonly number[])[]>();

/** Every permutation of 0..n-1 (identity first). */
export function permutations(n: number): readonly (readonly number[])[] {
  const hit = permCache.get(n);
  if (hit) return hit;
  const out: number[][] = [];
  const a = Array.from({ length: n }, (_, i) => i);
  const rec = (k: number): void => {
    if (k === n) { out.push([...a]); return; }
    for (let i = k; i < n; i++) {
      [a[k], a[i]] = [a[i] as number, a[k] as number];
      rec(k + 1);
      [a[k], a[i]] = [a[i] as number, a[k] as number];
    }
  };
  rec(0);
  permCache.set(n, out);
  return out;
}

/** Number of relabellings of a list of groups (the product of the factorials of their sizes). */
export function orbitBound(groups: readonly SymmetryGroup[]): number {
  let n = 1;
  for (const g of groups) for (let i = 2; i <= g.size; i++) n *= i;
  return n;
}

/** Every relabelling: one permutation per group. */
export function relabellings(groups: readonly SymmetryGroup[]): (readonly (readonly number[])[])[] {
  let acc: (readonly (readonly number[])[])[] = [[]];
  for (const g of groups) {
    const next: (readonly (readonly number[])[])[] = [];
    for (const prefix of acc) for (const p of permutations(g.size)) next.push([...prefix, p]);
    acc = next;
  }
  return acc;
}

/**
 * Writes into `best` the least encoding of `state` over `labels` (from `relabellings`), using `scratch`, and
 * hashes it. `pack` is the model's hook bound to the state.
 */
export function packCanonical(
  pack: (out: Packer, relabel: readonly (readonly number[])[]) => void,
  labels: readonly (readonly (readonly number[])[])[], scratch: Packer, best: Packer,
): void {
  best.reset();
  pack(best, labels[0] as readonly (readonly number[])[]);
  for (let i = 1; i < labels.length; i++) {
    scratch.reset();
    pack(scratch, labels[i] as readonly (readonly number[])[]);
    if (scratch.compare(best) < 0) scratch.copyTo(best);
  }
  best.hash();
}
