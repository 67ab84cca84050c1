/**
 * The flat word layout (schema-layout.ts): offsets and sizes follow the declaration and the capacities its lists
 * declare, and every reachable state of every model's correct designs (both proof tiers: BFS from the initial
 * state and seeded random walks deep into each run) fits the layout sized from its initial state, so the declared
 * capacities are true bounds. The only lists without a capacity are the PTA device's record lists, which the
 * model does not bound (properties/explore.hw.test.ts pins that the correct design is not finite).
 */
import { describe, expect, it } from 'vitest';
import { sampleSchema } from '../../properties/support/schema-sample.ts';
import { COUNTER_EXTRA, fits, layoutOf } from './schema-layout.ts';
import type { Design } from './model.ts';
import { MACHINE, machineImage } from '../../models/machine/schema.ts';
import type { MachineState } from '../../models/machine/state.ts';
import { proofCases } from '../../models/proofs.ts';
import { stream } from '../random/streams.ts';

/** The first path where two JSON values differ (object key order aside: not part of a state), or null. */
function differs(a: unknown, b: unknown, path = ''): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${path}: ${String(a)} vs ${String(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return `${path}: length ${a.length} vs ${bb.length}`;
    for (let i = 0; i < a.length; i++) { const d = differs(a[i], bb[i], `${path}[${i}]`); if (d !== null) return d; }
    return null;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  if (ka.length !== Object.keys(rb).length) return `${path}: keys ${ka.join(',')} vs ${Object.keys(rb).join(',')}`;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(rb, k)) return `${path}.${k}: missing`;
    const d = differs(ra[k], rb[k], `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}

const S = sampleSchema();

describe('flat layout', () => {
  it('gives every field its offset and words from the declaration and the declared capacities', () => {
    const root = { n: 3 };
    const v = { design: 'd', a: 1, list: [], cpus: [], io: null, mem: [[[0]]], set: [[[0, 0]]], stats: { events: 0 } };
    const l = layoutOf(S, v, root);
    const at = (p: string): [number, number, number | undefined] => {
      const f = l.fields.find((x) => x.path === p);
      if (!f) throw new Error(`no field ${p}`);
      return [f.offset, f.words, f.cap];
    };
    // a: 1 word; list: length + 3; cpus: length + 3 x (pe, run, tlb length + 2) = 1 + 3 x 5; io: presence, on,
    // pages (length + 3); mem: an entry count + 12 entries; set: a count + the sizing state's 2 words (no capacity
    // declared: unbounded); stats: 1 declared + COUNTER_EXTRA pairs.
    expect(at('a')).toEqual([0, 1, undefined]);
    expect(at('list')).toEqual([1, 4, 3]);
    expect(at('cpus')).toEqual([5, 16, 3]);
    expect(at('cpus[].pe')).toEqual([6, 1, undefined]);
    expect(at('cpus[].run')).toEqual([7, 1, undefined]);
    expect(at('cpus[].tlb')).toEqual([8, 3, 2]);
    expect(at('io?')).toEqual([21, 1, undefined]);
    expect(at('io.on')).toEqual([22, 1, undefined]);
    expect(at('io.pages')).toEqual([23, 4, 3]);
    expect(at('mem')).toEqual([27, 13, undefined]);
    expect(at('set')).toEqual([40, 3, undefined]);
    expect(at('stats')).toEqual([43, 1 + 2 * COUNTER_EXTRA, 1 + COUNTER_EXTRA]);
    expect(l.words).toBe(43 + 1 + 2 * COUNTER_EXTRA);
    expect(l.unbounded).toEqual(['set']);
    expect(l.fields.some((f) => f.path === 'design')).toBe(false);
  });

  it('fits names the first list over its capacity', () => {
    const root = { n: 2 };
    const ok = { design: 'd', a: 1, list: [1, 2], cpus: [{ pe: 0, run: 'in', tlb: [1, 2] }], io: null, mem: [[[0]]], set: [[[0]]], stats: { events: 0 } };
    expect(fits(S, ok, root)).toBeNull();
    expect(fits(S, { ...ok, list: [1, 2, 3] }, root)).toBe('list: 3 > 2');
    expect(fits(S, { ...ok, cpus: [{ pe: 0, run: 'in', tlb: [1, 2, 3] }] }, root)).toBe('cpus[].tlb: 3 > 2');
    expect(fits(S, { ...ok, io: { on: true, pages: [1, 2, 3] } }, root)).toBe('io.pages: 3 > 2');
    const many: { [k: string]: number } = { events: 0 };
    for (let i = 0; i <= COUNTER_EXTRA; i++) many[`c${i}`] = i;
    expect(fits(S, { ...ok, stats: many }, root)).toBe(`stats: ${COUNTER_EXTRA + 1} counters added by name > ${COUNTER_EXTRA}`);
  });

  // Every correct design of both proof tiers: the layout sized from the initial state (the configuration and the
  // design's options) holds every state reached. BFS covers the shallow states, seeded walks the deep ones (ring
  // wrap-around, full buffers, the adversary's resets).
  const cases = [...proofCases(undefined, 1), ...proofCases(undefined, 2)];
  it(`every reachable state of the ${cases.length} proof configurations fits its layout and round-trips through its word image`, () => {
    let checked = 0;
    let images = 0;
    let roundTrips = 0;
    for (const c of cases) {
      const m = c.model;
      const po = m.parseOptions(c.options);
      if (!po.ok) throw new Error(`${m.id}: ${po.error.field}: ${po.error.message}`);
      const design: Design = { model: m.id, modelVersion: m.version, options: po.options, bugs: [] };
      const init = m.init(design, c.config) as MachineState;
      const l = layoutOf(MACHINE, init);
      const label = `${m.id} ${JSON.stringify(c.options)} tier ${c.tier} pes ${c.pes}`;
      // Only the PTA device's record lists have no capacity, and only with unbounded storage (deviceRecords 0:
      // not bounded by the model); with N records each list holds N x 4 words. Exactly those have no image.
      const unboundedPta = 'pta' in init.ext && !((c.options as { deviceRecords?: number }).deviceRecords! > 0);
      expect(l.unbounded, label).toEqual(unboundedPta ? ['ext.pta.pending', 'ext.pta.readable'] : []);
      expect(l.words, label).toBeGreaterThan(0);
      const img = machineImage(init);
      expect(img === null, label).toBe(unboundedPta);
      if (img !== null) { expect(img.words, label).toBe(l.words); images++; }
      const buf = new Int32Array(l.words);
      const check = (s: MachineState): void => {
        const e = fits(MACHINE, s, init);
        if (e !== null) throw new Error(`${label}: ${e}`);
        // The word image (schema-image.ts) gives back the same state, every field, as the model's clone gives
        // it (the stage-2 tables trimmed to the guest).
        if (img !== null) {
          img.write(s, buf);
          const back = img.read(buf, init);
          const d = differs(back, m.clone!(s));
          if (d !== null) throw new Error(`${label}: the image read back differs at ${d}`);
          if (back.design !== init.design) throw new Error(`${label}: static design not shared`);
          roundTrips++;
        }
        checked++;
      };
      const states: MachineState[] = [init];
      for (let i = 0; i < states.length && states.length < 200; i++) {
        for (const e of m.enabled(states[i] as MachineState)) {
          const n = m.clone!(states[i] as MachineState);
          m.apply(n, e);
          check(n);
          states.push(n);
        }
      }
      const rng = stream('layout', label);
      for (let w = 0; w < 4; w++) {
        let s = m.clone!(init);
        for (let k = 0; k < 250; k++) {
          const en = m.enabled(s);
          if (en.length === 0) break;
          s = m.clone!(s);
          m.apply(s, en[rng.int(en.length)]!);
          check(s);
        }
      }
    }
    expect(checked).toBeGreaterThan(cases.length * 300);
    // Every configuration but the unbounded PTA device's has an image, and its states went through it.
    expect(images).toBeGreaterThan(cases.length - 10);
    expect(roundTrips).toBeGreaterThan(images * 300);
  }, 120_000);
});
