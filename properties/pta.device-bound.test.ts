/**
 * Goal: a PTA device of bounded storage (option `deviceRecords` N > 0, models/pta/pta.ts `canUpdate`) holds at
 * most N records, pending and readable together, and a design with such a device really fills it. The bound is
 * what makes the PTA state space finite for `explore --proof` and the reason the `{deviceRecords: 2}` row is in
 * check's matrix; no invariant judged it, so a device that ignored its bound (or never accepted a record) passed
 * every campaign: mutation testing of pta.ts showed 10 such mutants surviving (docs/mutation.md, hole P2: the
 * bound read as `option(s, '')`, the test as `true`, `<=`, `cap / REC`, `pending - readable`, ...).
 * Method: choice sequences drive `pta {deviceRecords: 2}` and `pta {deviceRecords: 2, consumer: 'ring'}` on the
 * check configuration to completion; after every event the device holds at most N records.
 * Non-vacuity: some state of each design has the device full (N records): back-pressure is reached.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pta } from '../models/pta/index.ts';
import { ptaOf, REC } from '../models/pta/pta.ts';
import type { MachineState } from '../models/machine/state.ts';
import type { JsonValue } from '../src/core/model.ts';
import { runChoices } from '../src/core/engine.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';

const RUNS = Math.min(30, Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 200));
const CAP = 2;

describe(`pta: a device of ${CAP} records never holds more, and fills (seed: ${SEED})`, () => {
  const rows: { readonly [k: string]: JsonValue }[] = [{ deviceRecords: CAP }, { deviceRecords: CAP, consumer: 'ring' }];
  for (const opts of rows) {
    const label = JSON.stringify(opts);
    it(label, () => {
      const design = pta.design(opts, []);
      let full = 0;
      const runs = fc.sample(choicesArb(240), { seed: fcSeed(`pta-bound/${label}`), numRuns: RUNS });
      for (const ch of runs) {
        let over: string | null = null;
        runChoices(pta, design, pta.defaultConfig, ch, 100_000, {
          onStep: (s: MachineState) => {
            const d = ptaOf(s);
            const n = (d.pending.length + d.readable.length) / REC;
            if (n > CAP && over === null) over = `the device holds ${n} records (pending ${d.pending.length / REC}, readable ${d.readable.length / REC}), more than ${CAP}`;
            if (n === CAP) full++;
          },
        });
        expect(over).toBeNull();
      }
      expect(full, 'states with a full device').toBeGreaterThan(0);
    });
  }
});
