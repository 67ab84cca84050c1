/**
 * Claim: the PTA feeding the dirty ring through per-CPU reads (at vcpu_put and in host context, into the ring of
 * the vCPU loaded on that CPU) keeps every invariant, attributes every record to the vCPU that made the write
 * across vCPU migrations (INV-PTA-ATTR) and never overflows a ring. Non-vacuity: device records, per-CPU reads
 * and migrations happen.
 */
import { describe, expect, it } from 'vitest';
import { pta } from '../models/pta/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { holds } from './support/hw.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150);
// One small memslot and long choice sequences: the ring VMM's harvest/reset rounds (which re-arm pages, so the
// hardware logs anything) need many steps.
const CONFIG = { ...DEFAULT_CONFIG, slots: [{ base: 0, npages: 8 }], storePages: [1, 2, 3], itsPages: [5] };

describe(`pta feeding the dirty ring holds (seed: ${SEED})`, () => {
  it('ringEntries=256', () => {
    const design = pta.design({ consumer: 'ring' }, []);
    const ex = holds(pta, design, CONFIG, 'pta-ring', RUNS, 600);
    expect(ex.stats['ptaRecords'] ?? 0).toBeGreaterThan(0);
    expect(ex.stats['ringEntries'] ?? 0).toBeGreaterThan(0);
    expect(ex.migrations).toBeGreaterThan(0);
  });
});
