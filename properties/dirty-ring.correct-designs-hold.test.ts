/**
 * Claim: the correct dirty-ring design (every entry of its option matrix: ring sizes 4, 16 and 256, with and
 * without the backup bitmap, with an adversarial userspace) holds every invariant (the ring's, INV-FLUSH,
 * INV-ARMED, INV-NOLOSS, INV-FINAL) and completes its migration, with several vCPUs and PEs, tiny TLBs and
 * host writes (PV stolen time, ITS table save).
 * Non-vacuity: soft-full exits, resets (some interrupted by a signal), duplicate entries and ITS saves happen;
 * with the adversary, rewritten entries and the re-flagging reset happen; with `ringStart` near 2^32 the ring
 * indices cross the u32 wrap.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runChoices } from '../src/core/engine.ts';
import { dirtyRing } from '../models/dirty-ring/index.ts';
import { ringExt } from '../models/dirty-ring/mechanism.ts';
import { DEFAULT_CONFIG, type MachineConfig } from '../models/machine/state.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { holds } from './support/hw.ts';
import { choicesArb } from './support/models.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 60);
const CONFIGS: readonly [string, MachineConfig][] = [
  ['check config', dirtyRing.defaultConfig],
  ['3 vCPUs, 2 PEs, 2-entry TLBs', { ...DEFAULT_CONFIG, vcpus: 3, pes: 2, tlbEntries: 2 }],
  ['2 vCPUs, 3 PEs, one slot', { ...DEFAULT_CONFIG, pes: 3, slots: [{ base: 0, npages: 24 }], itsPages: [20], rounds: 2 }],
];

describe(`dirty-ring correct designs hold every invariant (seed: ${SEED})`, () => {
  for (const opts of dirtyRing.preset.matrix) {
    for (const [name, config] of CONFIGS) {
      it(`${JSON.stringify(opts)} on ${name}`, () => {
        const design = dirtyRing.design(opts, []);
        const ex = holds(dirtyRing, design, config, `ring/${JSON.stringify(opts)}/${name}`, RUNS, 240);
        expect(ex.stats['ringEntries'] ?? 0).toBeGreaterThan(0);
        expect(ex.events['kvm/dirtyRingsReset'] ?? 0).toBeGreaterThan(0);
        expect(ex.events['host/itsTableSaved'] ?? 0).toBeGreaterThan(0);
        expect(ex.stats['ringDuplicates'] ?? 0).toBeGreaterThan(0);
        const size = (opts['ringEntries'] as number | undefined) ?? 16;
        if (size <= 16) expect(ex.events['vcpu/ringFullExited'] ?? 0).toBeGreaterThan(0);
        if (opts['adversary'] === true) {
          expect(ex.events['ring/entryRewritten'] ?? 0).toBeGreaterThan(0);
          expect(ex.events['ring/entrySlotRewritten'] ?? 0).toBeGreaterThan(0);
          expect(ex.stats['ringResets'] ?? 0).toBeGreaterThan(0);
        }
      });
    }
  }

  it('ringStart = 2^32 - 8: runs cross the u32 wrap of the ring indices (non-vacuity of that matrix entry)', () => {
    const design = dirtyRing.design({ ringStart: 4294967288 }, []);
    let wrapped = 0;
    for (const ch of fc.sample(choicesArb(240), { seed: fcSeed('ring-wrap'), numRuns: 20 })) {
      const o = runChoices(dirtyRing, design, dirtyRing.defaultConfig, ch).outcome;
      expect(o.status).toBe('ok');
      if (ringExt(o.state).rings.some((r) => r.dirtyIndex < 4294967288 && r.resetIndex < 4294967288)) wrapped++;
    }
    expect(wrapped).toBeGreaterThan(0);
  });
});
