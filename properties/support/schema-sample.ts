/**
 * A small schema with one field of every kind that has a word layout (a statik, an int, a bounded list, an array
 * of records with a nested list, a nullable record, a per-page array, a bitset and counters), its capacities sized
 * from the root's `n`: the fixture of the layout and word-image tests (src/core/schema-layout.test.ts,
 * schema-image.test.ts). `setMax` gives the bitset a declared capacity (the image needs one; the layout test
 * also covers a bitset without).
 */
import { array, bits, bool, counters, enumOf, int, nullable, nums, paged, record, statik } from '../../src/core/schema.ts';

export type SampleRoot = { n: number };

export function sampleSchema(setMax?: number) {
  return record({
    design: statik<string>(),
    a: int('count'),
    list: nums('gfn', 'n', { max: (r: SampleRoot) => r.n }),
    cpus: array(record({ pe: int('pe'), run: enumOf(['out', 'in'] as const), tlb: nums('tlb', '2', { max: () => 2 }) }), 'n',
      { max: (r: SampleRoot) => r.n }),
    io: nullable(record({ on: bool(), pages: nums('gfn', 'n', { max: (r: SampleRoot) => r.n }) })),
    mem: paged({ max: (r: SampleRoot) => r.n * 4 }),
    set: setMax === undefined ? bits() : bits({ max: () => setMax }),
    stats: counters(['events'] as const),
  });
}
