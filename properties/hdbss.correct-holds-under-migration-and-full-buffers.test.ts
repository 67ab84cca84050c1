/**
 * Claim: the correct HDBSS design (per-vCPU buffers saved/restored at vcpu_put/vcpu_load, drained at exit, put,
 * full-buffer fault and sync) keeps every invariant (INV-HDBSS-REGS, INV-LIVE-HDBSS, INV-CAS, INV-DBM-SAFE,
 * INV-BLOCK, INV-ARMED, INV-NOLOSS stepwise, INV-FINAL) and completes the migration, with two vCPUs migrating
 * between two PEs, host writes (stolen time, ITS save) and tiny buffers so that full-buffer faults happen.
 * Non-vacuity: the runs together perform hardware updates, full-buffer faults (1-entry buffers), drains and vCPU
 * migrations.
 */
import { describe, expect, it } from 'vitest';
import { hdbss } from '../models/hdbss/index.ts';
import { DEFAULT_CONFIG } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { holds } from './support/hw.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 150);
const CONFIG = { ...DEFAULT_CONFIG, vcpus: 2, pes: 2, stolenTime: true, storePages: [1, 2, 3, 33, 34] };

describe(`hdbss: correct design holds under migration and full buffers (seed: ${SEED})`, () => {
  for (const entries of [1, 2]) {
    for (const manualProtect of [false, true]) {
      it(`hdbssEntries=${entries} manualProtect=${manualProtect}`, () => {
        const design = hdbss.design({ hdbssEntries: entries, manualProtect }, []);
        const ex = holds(hdbss, design, CONFIG, `hdbss-full/${entries}/${manualProtect}`, RUNS);
        expect(ex.events['hw/dirtyStateUpdated'] ?? 0).toBeGreaterThan(0);
        if (entries === 1) {
          expect(ex.events['hdbss/fullFaulted'] ?? 0).toBeGreaterThan(0);
          expect(ex.events['kvm/hdbssFaultHandled'] ?? 0).toBeGreaterThan(0);
        }
        expect(ex.stats['hdbssDrains'] ?? 0).toBeGreaterThan(0);
        expect(ex.migrations).toBeGreaterThan(0);
        expect(ex.events['host/stolenTimeWritten'] ?? 0).toBeGreaterThan(0);
      });
    }
  }
  it('with HDBSS write aborts (FSC != 0) the fallback keeps every invariant', () => {
    const design = hdbss.design({ hdbssEntries: 2, hdbssAborts: true }, []);
    const ex = holds(hdbss, design, CONFIG, 'hdbss-aborts', RUNS);
    expect(ex.events['hdbss/appendAborted'] ?? 0).toBeGreaterThan(0);
    expect(ex.stats['hdbssFallbacks'] ?? 0).toBeGreaterThan(0);
  });
});
