/**
 * Word images (schema-image.ts): a state written at its layout's fixed offsets and read back is the same state,
 * every field (bitset words unsigned again, counters added by name, a null nullable, an array below its capacity),
 * the image is a function of the state alone (a buffer's old contents never leak into it), and what does not fit
 * throws naming the field instead of being rounded or cut. Every reachable state of every model is checked by
 * schema-layout.test.ts (all proof configurations) and properties/explore.bfs.test.ts (BFS and walks).
 */
import { describe, expect, it } from 'vitest';
import { sampleSchema } from '../../properties/support/schema-sample.ts';
import { imageOf } from './schema-image.ts';
import { layoutOf } from './schema-layout.ts';
import { int, nums, record, type Infer } from './schema.ts';
import { MACHINE, machineImage } from '../../models/machine/schema.ts';
import type { MachineState } from '../../models/machine/state.ts';
import { MODELS } from '../../models/index.ts';
import { SMALL_CONFIG } from '../cli/commands/explore.ts';

const S = sampleSchema(2);
type St = Infer<typeof S>;

const base = (): St => ({
  design: 'd', a: 1, list: [], cpus: [], io: null, mem: [[[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]], set: [[[0, 0]]], stats: { events: 0 },
});

describe('word images', () => {
  it('write then read gives back every field, static ones from like; the words are the layout\'s', () => {
    const root = { n: 3 };
    const init = base();
    const img = imageOf(S, init, root);
    if (img === null) throw new Error('no image');
    expect(img.words).toBe(layoutOf(S, init, root).words);
    const v: St = {
      design: 'd', a: -7, list: [5, 6], cpus: [{ pe: 1, run: 'in', tlb: [2 ** 31 - 1] }, { pe: -1, run: 'out', tlb: [] }],
      io: { on: true, pages: [0, 1, 2] },
      mem: [[[-1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]]],
      // u32 bitset words: the top bit set (stored as a negative int32, read back unsigned).
      set: [[[0x80000001, 0xffffffff]]],
      stats: { events: 12, ringHarvests: 3, other: -1 },
    };
    const w = new Int32Array(img.words);
    img.write(v, w);
    const back = img.read(w, init);
    expect(back).toEqual(v);
    expect(back.design).toBe(init.design);
    expect(back.set[0]?.[0]?.[0]).toBe(0x80000001);
    expect(Object.keys(back.stats)).toEqual(['events', 'ringHarvests', 'other']);
    expect(back.list).not.toBe(v.list);
  });

  it('the image depends on the state only: a buffer full of old words gives the same image', () => {
    const root = { n: 3 };
    const img = imageOf(S, base(), root);
    if (img === null) throw new Error('no image');
    const full: St = { ...base(), list: [1, 2, 3], cpus: [{ pe: 0, run: 'in', tlb: [1, 2] }], io: { on: true, pages: [1, 2, 3] }, stats: { events: 1, x: 2 } };
    const clean = new Int32Array(img.words);
    img.write(base(), clean);
    const dirty = new Int32Array(img.words);
    img.write(full, dirty);
    img.write(base(), dirty);
    expect([...dirty]).toEqual([...clean]);
    expect(img.read(dirty, base())).toEqual(base());
  });

  it('readInto a recycled state of another shape gives what read gives, in place, sharing nothing with the words or the state before', () => {
    const root = { n: 3 };
    const init = base();
    const img = imageOf(S, init, root);
    if (img === null || img.readInto === undefined) throw new Error('no image that reads in place');
    const a: St = {
      ...base(), a: 4, list: [1, 2, 3], cpus: [{ pe: 0, run: 'in', tlb: [1, 2] }, { pe: 1, run: 'out', tlb: [3] }],
      io: { on: true, pages: [1, 2, 3] }, mem: [[[5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]]], set: [[[0xffffffff, 1]]], stats: { events: 3, extra: 1 },
    };
    const b: St = { ...base(), a: -2, list: [9], cpus: [{ pe: 1, run: 'out', tlb: [] }], io: null, stats: { events: 5 } };
    const w = new Int32Array(img.words);
    // Longer lists, a present nullable and a counter added by name in the recycled state; then the other way.
    for (const [from, to] of [[a, b], [b, a], [a, a]] as const) {
      const recycled = structuredClone(from);
      img.write(to, w);
      const got = img.readInto(w, recycled, init);
      expect(got).toBe(recycled);
      expect(got).toEqual(img.read(w, init));
      expect(got).toEqual(to);
      expect(Object.keys(got.stats)).toEqual(Object.keys(to.stats));
      expect(got.design).toBe(init.design);
    }
    // Not a record at all: read fresh.
    img.write(a, w);
    expect(img.readInto(w, null as unknown as St, init)).toEqual(a);
  });

  it('every model: readInto chained over BFS states, one recycled state, gives each state exactly', () => {
    for (const m of MODELS) {
      const pc = m.parseConfig({ ...(m.defaultConfig as object), ...SMALL_CONFIG });
      if (!pc.ok) throw new Error(pc.error.message);
      // pta's default device is unbounded (no image): a bounded one has one.
      const init = m.init(m.id === 'pta' ? m.design({ deviceRecords: 2 }) : m.design(), pc.config) as MachineState;
      const img = machineImage(init);
      if (img === null || img.readInto === undefined) throw new Error(`${m.id}: no image that reads in place`);
      const states: MachineState[] = [init];
      for (let i = 0; i < states.length && states.length < 400; i++) {
        for (const e of m.enabled(states[i] as never)) {
          const c = m.clone!(states[i] as never) as MachineState;
          m.apply(c as never, e);
          states.push(c);
        }
      }
      const w = new Int32Array(img.words);
      let recycled = m.clone!(init as never) as MachineState;
      // Reverse BFS order too: shapes shrink and grow both ways.
      for (const s of [...states, ...states.slice().reverse()]) {
        img.write(s, w);
        recycled = img.readInto(w, recycled, init);
        expect(recycled).toEqual(img.read(w, init));
      }
    }
  });

  it('throws naming the field for what the layout cannot hold exactly', () => {
    const root = { n: 3 };
    const img = imageOf(S, base(), root);
    if (img === null) throw new Error('no image');
    const w = new Int32Array(img.words);
    expect(() => img.write({ ...base(), list: [1, 2, 3, 4] }, w)).toThrow(/list has 4 entries, its layout holds 3/);
    expect(() => img.write({ ...base(), a: 2 ** 31 }, w)).toThrow(/a = 2147483648 is not an int32/);
    expect(() => img.write({ ...base(), a: 0.5 }, w)).toThrow(/a = 0.5 is not an int32/);
    expect(() => img.write({ ...base(), cpus: [{ pe: 0, run: 'in', tlb: [1.5] }] }, w)).toThrow(/cpus\[\]\.tlb = 1.5/);
    expect(() => img.write({ ...base(), cpus: [{ pe: 0, run: 'gone' as 'in', tlb: [] }] }, w)).toThrow(/"gone" of cpus\[\]\.run/);
    expect(() => img.write({ ...base(), set: [[[-1, 0]]] }, w)).toThrow(/set = -1 is not an int32/);
    expect(() => img.write({ ...base(), mem: [[[0, 0], [0]]] }, w)).toThrow(/mem is not a per-page array/);
    const many: { [k: string]: number } = { events: 0 };
    for (let i = 0; i < 33; i++) many[`c${i}`] = i;
    expect(() => img.write({ ...base(), stats: many as St['stats'] }, w)).toThrow(/counters added by name\) has 33 entries, its layout holds 32/);
  });

  it('a list with no capacity in this configuration means no image', () => {
    const T = record({ a: int(), list: nums('gfn', 'n', { max: () => Infinity }) });
    expect(layoutOf(T, { a: 0, list: [] }).unbounded).toEqual(['list']);
    expect(imageOf(T, { a: 0, list: [] })).toBeNull();
  });

  it('every model has a machine image at explore\'s SMALL configuration but the unbounded PTA device', () => {
    for (const m of MODELS) {
      const pc = m.parseConfig({ ...(m.defaultConfig as object), ...SMALL_CONFIG });
      if (!pc.ok) throw new Error(pc.error.message);
      const init = m.init(m.design(), pc.config) as MachineState;
      const img = machineImage(init);
      const unbounded = 'pta' in init.ext;
      expect([m.id, img === null]).toEqual([m.id, unbounded]);
      if (img === null) continue;
      expect(img.words).toBe(layoutOf(MACHINE, init).words);
      const w = new Int32Array(img.words);
      img.write(init, w);
      expect(img.read(w, init)).toEqual(init);
    }
  });
});
