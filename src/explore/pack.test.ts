/**
 * Goal: the explorer's fingerprints are canonical (equal states give equal keys whatever built them) and its
 * visited set never loses or invents a member. Method: hand-built values and a few thousand random hashes.
 */
import { describe, expect, it } from 'vitest';
import { HashSet64, Packer, cloneJson, collisionBound, packJson } from './pack.ts';
import { permutations, relabellings } from './symmetry.ts';

function key(v: unknown): string {
  const p = new Packer(4);
  packJson(p, v);
  p.hash();
  return p.hex();
}

describe('packed encodings and the visited set', () => {
  it('the generic encoding ignores key order and undefined members, and separates types and shapes', () => {
    expect(key({ a: 1, b: [1, 2], c: null })).toBe(key({ c: null, b: [1, 2], a: 1, d: undefined }));
    expect(key({ a: 1 })).not.toBe(key({ b: 1 }));
    expect(key([1, 2])).not.toBe(key([[1], 2]));
    expect(key({ a: '1' })).not.toBe(key({ a: 1 }));
    expect(key({ a: true })).not.toBe(key({ a: 1 }));
    expect(key(0)).toBe(key(-0));
    expect(key([])).not.toBe(key({}));
  });

  it('cloneJson is a deep copy', () => {
    const a = { x: [1, [2, 3]], y: { z: 'q' } };
    const b = cloneJson(a);
    expect(b).toEqual(a);
    (b.x[1] as number[])[0] = 9;
    b.y.z = 'r';
    expect(a).toEqual({ x: [1, [2, 3]], y: { z: 'q' } });
  });

  it('HashSet64 keeps every distinct pair exactly once across growth, (0,0) included', () => {
    const set = new HashSet64(4);
    const pairs: [number, number][] = [[0, 0], [0, 1]];
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i;
      pairs.push([x | 0, Math.imul(x, 31) ^ i]);
    }
    let added = 0;
    for (const [a, b] of pairs) if (set.add(a, b)) added++;
    // (0,0) is stored as (0,1): the two collapse, which costs one state at most (reported via the bound).
    expect(added).toBe(pairs.length - 1);
    for (const [a, b] of pairs) expect(set.add(a, b)).toBe(false);
    expect(set.size).toBe(added);
  });

  it('collision bound is n^2/2^65', () => {
    expect(collisionBound(2 ** 20)).toBeCloseTo(2 ** -25, 30);
  });

  it('relabellings enumerate the product of the groups\' permutations', () => {
    expect(permutations(3)).toHaveLength(6);
    const r = relabellings([{ name: 'a', size: 2, why: '' }, { name: 'b', size: 3, why: '' }]);
    expect(r).toHaveLength(12);
    expect(new Set(r.map((x) => JSON.stringify(x))).size).toBe(12);
  });
});
