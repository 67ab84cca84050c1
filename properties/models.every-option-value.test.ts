/**
 * Goal: every value a user may give each documented option (`Preset.options`: the values `dtsim run --opt`,
 * `compare` and traces accept) builds a correct design that initialises and holds every invariant, one option
 * away from the defaults at a time. The check matrix (`Preset.matrix`) names only the combinations worth a
 * campaign; a value outside it (dirty-ring's 4096- and 65536-entry rings, the sizes QEMU users pick and `dtsim
 * compare --preset` runs at scale) was run by no gate test, so a mutant that made KVM_ENABLE_CAP refuse them
 * (models/dirty-ring/ring.ts `bytes >= KVM_DIRTY_RING_MAX_ENTRIES * 16`, or the maximum divided instead of
 * multiplied: docs/mutation.md, ring.ts, hole R1) passed the whole mutation gate while every such design failed
 * at its first state.
 * Method: for each model, option and non-default value, the design `{ [option]: value }` (the model's own
 * `checkOptions` may refuse a combination the modelled kernel refuses, e.g. hdbss with `hd: false` needs the DBM
 * producer: such a value is then tried over the first matrix row that accepts it, and a value no row accepts
 * fails the test), DTSIM_OPTION_RUNS choice sequences of up to 240 choices driven to completion on the check
 * configuration, every invariant after every event (as models.correct-designs-hold.test.ts).
 * Non-vacuity: each value's run applies at least one event (a design that fails at init throws here).
 * And the refusals themselves: exactly the values below are refused one option away from the defaults, each
 * naming its option and the kernel rule, and a ring too small for the HDBSS drain reserve is refused (the
 * kvm_cpu_dirty_log_size() check of KVM_ENABLE_CAP): a `checkOptions` that lost a refusal, or refused without
 * saying which option, passed the gate (docs/mutation.md, hdbss kernel.ts: `checkHdbssRingOptions`).
 */
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../src/core/model.ts';
import { runChoices } from '../src/core/engine.ts';
import { MODELS } from '../models/index.ts';
import type { MachineModel } from '../models/machine/model.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb, type DesignCase } from './support/models.ts';
import { assertDesignHolds } from './support/failures.ts';

const RUNS = Number(process.env['DTSIM_OPTION_RUNS'] ?? 10);

/** The design for `{ [key]: value }` over the defaults, else over the first matrix row `design` accepts it with. */
function designWith(m: MachineModel, key: string, value: JsonValue): DesignCase {
  const rows: { readonly [k: string]: JsonValue }[] = [{}, ...m.preset.matrix];
  const errors: string[] = [];
  for (const row of rows) {
    const opts = { ...row, [key]: value };
    // `design` merges the defaults, validates and asks the model's `checkOptions`: a refusal throws.
    try {
      return { label: `${m.id} ${JSON.stringify(opts)}`, model: m, design: m.design(opts, []), config: m.defaultConfig };
    } catch (e) {
      errors.push(`${JSON.stringify(opts)}: ${(e as Error).message}`);
    }
  }
  throw new Error(`${m.id}: no matrix row accepts ${key}=${JSON.stringify(value)}: ${errors.join('; ')}`);
}

describe(`every documented option value builds a correct design that holds (seed: ${SEED})`, () => {
  for (const m of MODELS) {
    for (const [key, values] of Object.entries(m.preset.options)) {
      for (const value of values.slice(1)) {
        it(`${m.id} ${key}=${JSON.stringify(value)}`, () => {
          const c = designWith(m, key, value);
          const first = runChoices(c.model, c.design, c.config, [0, 0, 0, 0]);
          expect(first.events.length, c.label).toBeGreaterThan(0);
          assertDesignHolds(c, choicesArb(240), { seed: fcSeed(`option-value/${c.label}`), numRuns: RUNS });
        });
      }
    }
  }
});

/** `model option=value` refused on the defaults, with a phrase of the rule its message must give. */
const REFUSED_ON_DEFAULTS: { readonly [label: string]: string } = {
  'dirty-bitmap clearCalls="varied"': 'options.clearCalls: varied CLEAR calls need manualProtect: true',
  'hdbss hd=false': 'options.hd: hd=false (VTCR_EL2.HD clear) needs producer=dbm',
};

/** Combinations the modelled kernel refuses, with the phrase the refusal must give. */
const REFUSED_COMBINATIONS: readonly { readonly model: string; readonly options: { readonly [k: string]: JsonValue }; readonly says: string }[] = [
  { model: 'hdbss', options: { consumer: 'ring', ringEntries: 4, hdbssEntries: 4 },
    says: 'options.ringEntries: a 4-entry dirty ring is smaller than its reserve (2 + the HDBSS buffer\'s 4 entries' },
  { model: 'hdbss', options: { consumer: 'ring', ringEntries: 8, hdbssEntries: 8 },
    says: 'options.ringEntries: a 8-entry dirty ring is smaller than its reserve (4 + the HDBSS buffer\'s 8 entries' },
];

describe('the refused option values and combinations', () => {
  it('exactly the listed values are refused one option away from the defaults, each naming its option and rule', () => {
    const refused: { [label: string]: string } = {};
    for (const m of MODELS) {
      for (const [key, values] of Object.entries(m.preset.options)) {
        for (const value of values.slice(1)) {
          try { m.design({ [key]: value }, []); } catch (e) { refused[`${m.id} ${key}=${JSON.stringify(value)}`] = (e as Error).message; }
        }
      }
    }
    expect(Object.keys(refused).sort()).toEqual(Object.keys(REFUSED_ON_DEFAULTS).sort());
    for (const [label, says] of Object.entries(REFUSED_ON_DEFAULTS)) expect(refused[label], label).toContain(says);
  });
  it('a ring too small for the HDBSS drain reserve is refused, and the smallest that fits is accepted', () => {
    for (const c of REFUSED_COMBINATIONS) {
      const m = MODELS.find((x) => x.id === c.model)!;
      expect(() => m.design(c.options, []), JSON.stringify(c.options)).toThrow(c.says);
      expect(() => m.design(c.options, []), JSON.stringify(c.options)).toThrow('KVM_ENABLE_CAP(DIRTY_LOG_RING) fails with EINVAL');
    }
    const hdbss = MODELS.find((x) => x.id === 'hdbss')!;
    // 8 entries: reserve 4 (half a ring below a page) + a 4-entry buffer.
    expect(() => hdbss.design({ consumer: 'ring', ringEntries: 8, hdbssEntries: 4 }, [])).not.toThrow();
    // The page-table scan has no HDBSS buffer to reserve for; F17's kernel does not report the buffer, so KVM
    // accepts the ring (and a drain overflows it: the knob).
    expect(() => hdbss.design({ producer: 'dbm', consumer: 'ring', ringEntries: 4, hdbssEntries: 4 }, [])).not.toThrow();
    expect(() => hdbss.design({ consumer: 'ring', ringEntries: 4, hdbssEntries: 4 }, ['ring-no-drain-reserve'])).not.toThrow();
  });
});
