/**
 * Claim: with 2 MiB block mappings (the guest ran on huge pages, eager split off or on), hardware dirty updates
 * of whole blocks are harvested for all 512 pages (INV-BLOCK) by both producers (HDBSS level-2 entries, the
 * page-table scan of writable-dirty blocks), and every invariant holds. Non-vacuity: block-level hardware
 * updates happen.
 */
import { describe, expect, it } from 'vitest';
import { hdbss } from '../models/hdbss/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { holds } from './support/hw.ts';

// 515-page guest: every invariant scans every page after every event, so fewer runs than elsewhere.
const RUNS = Math.ceil(Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150) / 6);
const CONFIG = { ...DEFAULT_CONFIG, blocks: true, slots: [{ base: 0, npages: 515 }], storePages: [0, 1, 5, 511, 512, 514], itsPages: [513] };

describe(`hdbss: block mappings hold (seed: ${SEED})`, () => {
  for (const producer of ['hdbss', 'dbm']) {
    for (const eagerSplit of [false, true]) {
      it(`producer=${producer} eagerSplit=${eagerSplit}`, () => {
        const design = hdbss.design({ producer, eagerSplit, hdbssEntries: 2 }, []);
        const ex = holds(hdbss, design, CONFIG, `hdbss-blocks/${producer}/${eagerSplit}`, RUNS);
        expect(ex.events['hw/dirtyStateUpdated'] ?? 0).toBeGreaterThan(0);
        if (!eagerSplit) expect(ex.stats['hwBlockUpdates'] ?? 0).toBeGreaterThan(0);
      });
    }
  }
});
