/**
 * Goal: the explorer's word-encoded frontier (store.ts) gives back exactly the state it was given: every JSON
 * value, key order included, numbers outside the one-word range, zero runs, holes; fresh objects on every load
 * (no sharing between loads or with the saved state) except the initial state's own top-level objects, which a
 * model's clone shares on purpose; and a clear refusal of what is not JSON.
 * Method: hand-built edge cases, then fast-check JSON values saved many to a store and loaded back in any order.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StateStore } from './store.ts';
import { fcSeed } from '../../properties/support/seed.ts';

function roundTrip<T>(v: T, init: unknown = {}): T {
  const st = new StateStore<T>(init as T);
  st.save(v);
  return st.load(0);
}

describe('the word-encoded frontier (StateStore)', () => {
  it('round-trips numbers of every range, strings, booleans, null and nesting', () => {
    const v = {
      ints: [0, 1, -1, 2147483647, -2147483632, -2147483633, -2147483648, 2 ** 32 - 8, 2 ** 53, -(2 ** 40)],
      floats: [0.5, -1.25, 1e-300, Number.MAX_VALUE],
      s: ['', 'a', 'précis', 'a\u0000b'], b: [true, false], n: null,
      deep: { a: { b: { c: [[1, [2, [3]]], {}] } } }, empty: [],
    };
    expect(roundTrip(v)).toEqual(v);
  });

  it('keeps key order (the same hidden classes as the original) and keys that need quoting', () => {
    const v = { z: 1, a: 2, 'with space': 3, 'quo"te': 4, 'back\\slash': 5, '0': 6, __proto__x: 7 };
    const back = roundTrip(v);
    expect(Object.keys(back)).toEqual(Object.keys(v));
    expect(back).toEqual(v);
  });

  it('a __proto__ own key is data, not a prototype (the generic reader handles that shape)', () => {
    const v = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as Record<string, unknown>;
    const back = roundTrip(v);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__', 'y']);
    expect(back['y']).toBe(2);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ x: 1 });
  });

  it('zero runs of any length and holes (loaded as undefined) come back in place', () => {
    const leaf = new Array<number>(512).fill(0);
    leaf[3] = 7; leaf[511] = 1;
    const holey: (number | undefined)[] = new Array<number | undefined>(4);
    holey[2] = 5;
    const v = { leaf, z1: [0], z2: [0, 0, 1], z3: [1, 0, 0, 0], holey, neg0: [-0, 0, -0] };
    const back = roundTrip(v);
    expect(back.leaf).toEqual(leaf);
    expect(back.z1).toEqual([0]);
    expect(back.z2).toEqual([0, 0, 1]);
    expect(back.z3).toEqual([1, 0, 0, 0]);
    expect(back.holey).toEqual([undefined, undefined, 5, undefined]);
    expect(back.holey.length).toBe(4);
  });

  it('every load is a fresh copy; only the objects the initial state shares with its clone come back shared', () => {
    const design = { id: 'd', bugs: [] as string[] };
    const config = { pages: 3 };
    const init = { design, x: [1, 2], y: { z: 0 }, inner: { config, n: 0 } };
    // The model's clone shares design and config (static), copies the rest.
    const twin = { design, x: [1, 2], y: { z: 0 }, inner: { config, n: 0 } };
    const st = new StateStore(init, twin);
    const s = { design, x: [3, 4], y: { z: 1 }, inner: { config, n: 5 } };
    st.save(s);
    const a = st.load(0);
    const b = st.load(0);
    expect(a.design).toBe(design);
    expect(a.inner.config).toBe(config);
    expect(a.x).not.toBe(s.x);
    expect(a.x).not.toBe(b.x);
    expect(a.inner).not.toBe(b.inner);
    a.x[0] = 99; a.y.z = 2; a.inner.n = 6;
    expect(st.load(0)).toEqual({ design, x: [3, 4], y: { z: 1 }, inner: { config, n: 5 } });
    expect(s.x).toEqual([3, 4]);
    // Without a twin nothing is static: equal values, fresh objects.
    const plain = new StateStore(init);
    plain.save(s);
    const c = plain.load(0);
    expect(c).toEqual(s);
    expect(c.design).not.toBe(design);
  });

  it('refuses values that are not JSON with a clear message', () => {
    const st = new StateStore<unknown>({});
    expect(() => st.save({ m: new Map() })).toThrow(/cannot store a Map object/);
    expect(() => st.save({ f: (): number => 1 })).toThrow(/cannot store a function/);
    expect(() => st.save({ t: new Int32Array(2) })).toThrow(/cannot store a Int32Array object/);
  });

  it('clear forgets the states and the store is reusable (shapes and strings stay valid)', () => {
    const st = new StateStore<{ a: string; n: number }>({ a: '', n: 0 });
    st.save({ a: 'x', n: 1 });
    st.clear();
    expect(st.size).toBe(0);
    st.save({ a: 'y', n: 2 });
    st.save({ a: 'x', n: 3 });
    expect([st.load(1), st.load(0)]).toEqual([{ a: 'x', n: 3 }, { a: 'y', n: 2 }]);
  });

  it('random JSON states saved together load back equal, in any order', () => {
    fc.assert(fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 20 }), fc.nat(), (vs, rot) => {
      const st = new StateStore<unknown>({});
      for (const v of vs) st.save(v);
      for (let k = 0; k < vs.length; k++) {
        const i = (k + rot) % vs.length;
        // JSON semantics: -0 is 0 (the store writes int32 words, as JSON text does).
        expect(st.load(i)).toEqual(JSON.parse(JSON.stringify(vs[i])));
      }
    }), { seed: fcSeed('store/json'), numRuns: 300 });
  });

  it('objects of changing shapes at the same place (a field null, then an object, keys added) are all kept apart', () => {
    const st = new StateStore<unknown>({});
    const vs = [
      { io: null, a: [{ k: 1 }] }, { io: { kind: 'get', d: [1] }, a: [{ k: 1 }, { k: 2, extra: true }] },
      { io: { kind: 'get' }, a: [] }, { io: { d: [1], kind: 'clear' }, a: [{ extra: false, k: 3 }] }, { a: [{ k: 1 }], io: null },
    ];
    for (const v of vs) st.save(v);
    for (let i = vs.length - 1; i >= 0; i--) {
      const back = st.load(i) as Record<string, unknown>;
      expect(back).toEqual(vs[i]);
      expect(JSON.stringify(back)).toBe(JSON.stringify(vs[i]));
    }
  });

  it('states kept as deltas load back exactly in order, in reverse and at random, across keyframes', () => {
    // A walk of small edits (set a number, grow or shrink an array, swap a field between null and an object):
    // consecutive states share most of their words, as BFS siblings do, so most of each is a skipped run.
    type St = { a: number[]; io: { kind: string; d: number[] } | null; n: number; tail: number[] };
    const edit = fc.tuple(fc.nat(5), fc.nat(40), fc.integer({ min: -3, max: 2 ** 31 - 1 }));
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 300 }), fc.nat(), fc.constantFrom(1, 3, 64), (edits, seed, kf) => {
      let cur: St = { a: new Array<number>(24).fill(0), io: null, n: 0, tail: [1, 2, 3] };
      const states: St[] = [];
      for (const [op, at, x] of edits) {
        const c = JSON.parse(JSON.stringify(cur)) as St;
        if (op === 0 || op === 1) c.a[at % c.a.length] = x;
        else if (op === 2) c.a.push(x);
        else if (op === 3 && c.a.length > 1) c.a.pop();
        else if (op === 4) c.io = c.io === null ? { kind: `k${at % 3}`, d: [x] } : null;
        else c.n = x;
        states.push(c);
        cur = c;
      }
      const st = new StateStore<St>(states[0] as St, undefined, kf);
      for (const v of states) st.save(v);
      const n = states.length;
      const orders = [
        Array.from({ length: n }, (_, i) => i),
        Array.from({ length: n }, (_, i) => n - 1 - i),
        Array.from({ length: n }, (_, i) => (seed + i * 7919) % n),
      ];
      for (const order of orders) for (const i of order) expect(st.load(i)).toEqual(states[i]);
    }), { seed: fcSeed('store/deltas'), numRuns: 60 });
  });

  it('deltas take less room than whole states, and a load reports a missing index', () => {
    const base = { a: new Array<number>(100).fill(7), n: 0 };
    const whole = new StateStore(base, undefined, 1);
    const delta = new StateStore(base);
    for (let i = 0; i < 200; i++) {
      const v = { a: base.a.slice(), n: i };
      v.a[i % 100] = i;
      whole.save(v);
      delta.save(v);
    }
    // Whole: ~105 words a state; delta: the count, three runs and two changed words (keyframes aside).
    expect(whole.bytes()).toBeGreaterThan(200 * 100 * 4);
    expect(delta.bytes() * 5).toBeLessThan(whole.bytes());
    expect(delta.load(137)).toEqual({ a: base.a.map((x, k) => (k === 37 ? 137 : x)), n: 137 });
    expect(() => delta.load(200)).toThrow(/no state 200 \(200 saved\)/);
    expect(() => new StateStore(base, undefined, 0)).toThrow(/keyframe 0/);
  });

  it('a save that throws leaves the store as it was (no state, the next delta still correct)', () => {
    const st = new StateStore<unknown>({});
    st.save({ a: [1, 2, 3], b: 1 });
    expect(() => st.save({ a: [1, 2, 3], b: new Map() })).toThrow(/Map/);
    st.save({ a: [1, 2, 4], b: 1 });
    expect(st.size).toBe(2);
    expect([st.load(1), st.load(0), st.load(1)]).toEqual([{ a: [1, 2, 4], b: 1 }, { a: [1, 2, 3], b: 1 }, { a: [1, 2, 4], b: 1 }]);
  });
});
