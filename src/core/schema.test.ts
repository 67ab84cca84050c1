/**
 * The schema compiler (schema.ts): every derived operation carries every declared field, and a field added to a
 * schema is carried by copy, copy-into, save/load, the word image (schema-image.ts), pack and the view without any
 * other edit.
 */
import { describe as group, expect, it } from 'vitest';
import fc from 'fast-check';
import { StateStore } from '../explore/store.ts';
import { imageOf } from './schema-image.ts';
import { Packer } from '../explore/pack.ts';
import {
  array, bits, bool, compile, counters, describe, enumOf, int, nullable, nums, paged, record, statik, strs,
  type Compiled, type PackCtx, type Schema,
} from './schema.ts';

const IDENTITY: PackCtx = { root: null, vcpu: (i) => i, pe: (i) => i, vmid: (v) => v, order: (_g, j) => j };

function packed<T>(c: Compiled<T>, v: T, ctx: PackCtx = IDENTITY): number[] {
  const p = new Packer();
  c.pack(v, ctx, p);
  return Array.from(p.words.subarray(0, p.len));
}

function roundTrip<T>(c: Compiled<T>, v: T, like: T): T {
  const st = new StateStore<T>(like, undefined, 1, { save: (s, out) => c.save(s, out), load: (src, l) => c.load(src, l) });
  const i = st.save(v);
  return st.load(i);
}

// Capacities (for the word image, schema-image.ts): 4 of everything, 8 per-page entries.
const FOUR = (): number => 4;
const CPU = record({
  pe: int('pe', { doc: 'PE it runs on, or -1' }),
  run: enumOf(['out', 'guest'] as const),
  hits: int('count', { metric: true }),
  list: nums('gfn', 'pages', { max: FOUR }),
});
const BASE = {
  design: statik<{ readonly name: string }>(),
  vmid: int('vmid'),
  cpus: array(CPU, 'vcpus', { group: 'vcpus', max: FOUR }),
  mem: paged({ max: () => 8 }),
  set: bits({ max: FOUR }),
  io: nullable(record({ kind: enumOf(['get', 'clear'] as const), pages: nums('gfn', 'pages', { max: FOUR }) })),
  notes: strs(),
  stats: counters(['events']),
};

function sample(extra?: { key: string; value: unknown }): Record<string, unknown> {
  const s: Record<string, unknown> = {
    design: { name: 'd' }, vmid: 3,
    cpus: [{ pe: 1, run: 'guest', hits: 4, list: [5, 6] }, { pe: -1, run: 'out', hits: 0, list: [] }],
    mem: [[[0, 1, 2, 3]]], set: [[[5]]], io: { kind: 'clear', pages: [1] }, notes: ['a'], stats: { events: 2, other: 1 },
  };
  if (extra) s[extra.key] = extra.value;
  return s;
}

group('compiled schema operations', () => {
  const c = compile(record(BASE)) as Compiled<Record<string, unknown>>;

  it('clone and copyInto are exact, deep and share only static fields', () => {
    const s = sample();
    const k = c.clone(s);
    expect(k).toEqual(s);
    expect(k['design']).toBe(s['design']);
    expect(k['cpus']).not.toBe(s['cpus']);
    ((k['cpus'] as { list: number[] }[])[0] as { list: number[] }).list.push(9);
    expect(((s['cpus'] as { list: number[] }[])[0] as { list: number[] }).list).toEqual([5, 6]);
    const dead = c.clone(sample());
    (dead['cpus'] as { pe: number }[]).forEach((x) => { x.pe = 7; });
    dead['io'] = null;
    const into = c.copyInto(dead, s);
    expect(into).toEqual(s);
    expect(into['io']).not.toBe(s['io']);
  });

  it('save/load through the explorer store gives back an equal state (statics from `like`)', () => {
    const s = sample();
    const like = c.clone(s);
    const back = roundTrip(c, s, like);
    expect(back).toEqual(s);
    expect(back['design']).toBe(like['design']);
  });

  it('pack leaves metrics and statics out, keeps every other field, and applies roles and groups', () => {
    const a = sample();
    const b = c.clone(a);
    (b['cpus'] as { hits: number }[])[0]!.hits = 99;
    (b['stats'] as { events: number }).events = 50;
    (b as { design: object }).design = { name: 'other' };
    expect(packed(c, b)).toEqual(packed(c, a));
    const d = c.clone(a);
    (d['cpus'] as { list: number[] }[])[1]!.list.push(3);
    expect(packed(c, d)).not.toEqual(packed(c, a));
    // The vCPU group permuted and PEs renamed: packing the swapped state under the swap gives the original's words.
    const sw = c.clone(a);
    (sw['cpus'] as unknown[]).reverse();
    const swap: PackCtx = { ...IDENTITY, order: (_g, j) => 1 - j };
    expect(packed(c, sw, swap)).toEqual(packed(c, a));
    const rel: PackCtx = { ...IDENTITY, vmid: (v) => v - 3 };
    const v2 = c.clone(a);
    v2['vmid'] = 4;
    expect(packed(c, v2, rel)).not.toEqual(packed(c, a, rel));
  });

  it('check names an undeclared, missing or mistyped field', () => {
    expect(c.check(sample())).toBeNull();
    expect(c.check(sample({ key: 'extra', value: 1 }))).toMatch(/^extra: not in the schema/);
    const s = sample();
    (s['cpus'] as { run: string }[])[1]!.run = 'flying';
    expect(c.check(s)).toMatch(/^cpus\[1\]\.run: must be one of out, guest/);
    const m = sample();
    delete m['notes'];
    expect(c.check(m)).toMatch(/^notes: missing/);
  });

  it('view renders enums, bitsets and per-page arrays readably, and describe labels every field', () => {
    const v = c.view(sample()) as Record<string, unknown>;
    expect(v['set']).toEqual([0, 2]);
    expect(v['mem']).toEqual({ default: 0, except: { 1: 1, 2: 2, 3: 3 } });
    expect(v).not.toHaveProperty('design');
    const d = describe(record(BASE));
    expect(d).toContain('cpus[].pe  int:pe  PE it runs on, or -1');
    expect(d).toContain('cpus[].run  enum(out|guest)');
    expect(d).toContain('io.kind  enum(get|clear)');
    expect(d).toContain('set  bits');
    expect(d).toContain('cpus[].hits  int:count (metric)');
  });
});

/** Field kinds a test model may add, with two different values each. */
const KINDS: readonly { name: string; schema: () => Schema; a: unknown; b: unknown }[] = [
  { name: 'int', schema: () => int('gfn'), a: 3, b: 4 },
  { name: 'bool', schema: () => bool(), a: false, b: true },
  { name: 'enum', schema: () => enumOf(['x', 'y'] as const), a: 'x', b: 'y' },
  { name: 'nums', schema: () => nums('gfn', 'pages', { max: FOUR }), a: [1, 2], b: [1] },
  { name: 'paged', schema: () => paged({ max: FOUR }), a: [[[0, 0]]], b: [[[0, 7]]] },
  { name: 'nullable record', schema: () => nullable(record({ n: int() })), a: null, b: { n: 1 } },
  { name: 'array of records', schema: () => array(record({ n: int(), l: nums('gfn', 'pages', { max: FOUR }) }), 'vcpus', { max: FOUR }), a: [{ n: 1, l: [] }], b: [{ n: 1, l: [2] }] },
];

group('a field added to a schema is carried by every derived operation', () => {
  it('property: for any kind, place and value, copy / copy-into / save-load / word image / view carry it and pack tells its values apart', () => {
    fc.assert(fc.property(
      fc.constantFrom(...KINDS), fc.boolean(), fc.boolean(), fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,8}$/),
      (kind, nested, metric, rawKey) => {
        const key = `added${rawKey}`;
        const field = metric ? { ...kind.schema(), metric: true } as Schema : kind.schema();
        const schema = nested
          ? record({ ...BASE, io: nullable(record({ kind: enumOf(['get', 'clear'] as const), pages: nums('gfn', 'pages', { max: FOUR }), [key]: field })) })
          : record({ ...BASE, [key]: field });
        const c = compile(schema) as Compiled<Record<string, unknown>>;
        const make = (v: unknown): Record<string, unknown> => {
          const s = sample();
          if (nested) s['io'] = { kind: 'clear', pages: [1], [key]: structuredClone(v) };
          else s[key] = structuredClone(v);
          return s;
        };
        const a = make(kind.a);
        const b = make(kind.b);
        expect(c.check(a)).toBeNull();
        expect(c.clone(a)).toEqual(a);
        expect(c.copyInto(c.clone(b), a)).toEqual(a);
        expect(roundTrip(c, a, c.clone(b))).toEqual(a);
        const va = c.view(a) as Record<string, Record<string, unknown>>;
        expect(nested ? key in (va['io'] as object) : key in va).toBe(true);
        // A metric is left out of the encoding; any other field's two values pack differently.
        if (metric) expect(packed(c, b)).toEqual(packed(c, a));
        else expect(packed(c, b)).not.toEqual(packed(c, a));
        // The explorer's word image carries it too (the schema without `notes`, a list of strings: no capacity,
        // so no image), metric or not, and the two values give different images.
        const { notes: _notes, ...bounded } = schema.fields;
        expect(imageOf(schema, a)).toBeNull();
        const img = imageOf<Record<string, unknown>>(record(bounded), a);
        if (img === null) throw new Error('no image for a bounded schema');
        const wa = new Int32Array(img.words);
        const wb = new Int32Array(img.words);
        const { notes: _na, ...ia } = a;
        const { notes: _nb, ...ib } = b;
        img.write(ia, wa);
        img.write(ib, wb);
        expect(img.read(wa, ib)).toEqual(ia);
        expect([...wa]).not.toEqual([...wb]);
      },
    ), { seed: 42, numRuns: 120 });
  });
});
