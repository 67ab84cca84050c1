/**
 * Claim: HDBSS feeding the dirty ring (drains at exit, put and the full-buffer fault push into the owning vCPU's
 * ring; the ring's soft limit reserves room for a full drain) keeps every invariant, the ring's included
 * (INV-RING-BOUND: no drain overflows a ring), with two vCPUs migrating between PEs and tiny buffers.
 * Non-vacuity: hardware updates, drains into rings, soft-full exits and migrations happen.
 */
import { describe, expect, it } from 'vitest';
import { hdbss } from '../models/hdbss/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { holds } from './support/hw.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150);
// One small memslot and long choice sequences: the ring VMM's harvest/reset rounds (which re-arm pages, so the
// hardware logs anything) need many steps.
const CONFIG = { ...DEFAULT_CONFIG, slots: [{ base: 0, npages: 8 }], storePages: [1, 2, 3], itsPages: [5] };

describe(`hdbss feeding the dirty ring holds (seed: ${SEED})`, () => {
  for (const entries of [1, 4]) {
    it(`hdbssEntries=${entries} ringEntries=16`, () => {
      const design = hdbss.design({ consumer: 'ring', hdbssEntries: entries }, []);
      const ex = holds(hdbss, design, CONFIG, `hdbss-ring/${entries}`, RUNS, 600);
      expect(ex.events['hw/dirtyStateUpdated'] ?? 0).toBeGreaterThan(0);
      expect(ex.stats['hdbssDrains'] ?? 0).toBeGreaterThan(0);
      expect(ex.stats['ringEntries'] ?? 0).toBeGreaterThan(0);
      expect(ex.migrations).toBeGreaterThan(0);
      if (entries === 1) expect(ex.events['hdbss/fullFaulted'] ?? 0).toBeGreaterThan(0);
    });
  }
});
