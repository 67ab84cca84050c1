/**
 * Claim: the DBM page-table-scan design (kvm_arch_sync_dirty_log harvests writable-dirty descriptors; aging by
 * atomic CAS; unmaps save the hardware dirty state) keeps every invariant while hardware updates race aging,
 * MMU-notifier unmaps, read faults, GET/CLEAR write-protects and vCPU migration. Non-vacuity: each of those
 * events happens in the runs.
 */
import { describe, expect, it } from 'vitest';
import { hdbss } from '../models/hdbss/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { holds } from './support/hw.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150);
const CONFIG = { ...DEFAULT_CONFIG, storePages: [1, 2, 3, 33] };

describe(`hdbss producer=dbm: the page-table scan holds (seed: ${SEED})`, () => {
  for (const manualProtect of [false, true]) {
    it(`manualProtect=${manualProtect}`, () => {
      const design = hdbss.design({ producer: 'dbm', manualProtect }, []);
      const ex = holds(hdbss, design, CONFIG, `dbm-scan/${manualProtect}`, RUNS);
      for (const t of ['hw/dirtyStateUpdated', 'kvm/pteAged', 'mmu/rangeUnmapped', 'kvm/readFaultMapped']) {
        expect(ex.events[t] ?? 0, t).toBeGreaterThan(0);
      }
      expect(ex.migrations).toBeGreaterThan(0);
    });
  }
});
