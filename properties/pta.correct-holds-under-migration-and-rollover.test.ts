/**
 * Claim: the correct PTA design (flush before read at sync; tracker VMID re-programmed when vcpu_load allocates a
 * new VMID after a rollover; DBM only on write faults) keeps every invariant (INV-VMID, INV-DBM-SAFE, INV-CAS,
 * INV-ARMED, INV-NOLOSS, INV-FINAL) with two vCPUs migrating between PEs and host writes.
 * Non-vacuity: device records, VMID rollovers, records published by the device itself and migrations happen.
 */
import { describe, expect, it } from 'vitest';
import { pta } from '../models/pta/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { holds } from './support/hw.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150);
const CONFIG = { ...DEFAULT_CONFIG, storePages: [1, 2, 3, 33] };

describe(`pta: correct design holds under migration and VMID rollover (seed: ${SEED})`, () => {
  for (const manualProtect of [false, true]) {
    it(`manualProtect=${manualProtect}`, () => {
      const design = pta.design({ manualProtect }, []);
      const ex = holds(pta, design, CONFIG, `pta/${manualProtect}`, RUNS);
      expect(ex.stats['ptaRecords'] ?? 0).toBeGreaterThan(0);
      expect(ex.events['kvm/vmidRolledOver'] ?? 0).toBeGreaterThan(0);
      expect(ex.events['pta/recordPublished'] ?? 0).toBeGreaterThan(0);
      expect(ex.migrations).toBeGreaterThan(0);
    });
  }
});
