/**
 * The designs the property suite checks: every model of the registry with every entry of its option matrix.
 */
import fc from 'fast-check';
import { MODELS, type MachineModel } from '../../models/index.ts';
import type { Design } from '../../src/core/model.ts';
import type { PresetBug } from '../../models/machine/model.ts';
import { runChoices, type DrivenRun } from '../../src/core/engine.ts';
import type { MachineEvent } from '../../models/machine/model-events.ts';
import type { MachineState } from '../../models/machine/state.ts';
import type { MachineConfig } from '../../models/machine/state.ts';

/**
 * One 515-page memslot mapped with 2 MiB blocks: pages 0-511 a block, 512-514 pages; stores at both ends of the
 * block, inside it and on the tail, the ITS table on the tail (the knob catalogue's block configuration).
 */
export const BLOCK_SLOT: Partial<MachineConfig> = {
  blocks: true,
  slots: [{ base: 0, npages: 515 }],
  storePages: [0, 1, 5, 511, 512, 514],
  itsPages: [513],
};

export interface DesignCase {
  readonly label: string;
  readonly model: MachineModel;
  readonly design: Design;
  readonly config: MachineConfig;
}

export function matrixCases(models: readonly MachineModel[] = MODELS): DesignCase[] {
  const out: DesignCase[] = [];
  for (const m of models) {
    for (const opts of m.preset.matrix) {
      const design = m.design(opts, []);
      const label = `${m.id} ${JSON.stringify(opts)}`;
      out.push({ label, model: m, design, config: m.defaultConfig });
    }
  }
  return out;
}

/** A choice sequence (DESIGN.md section 1): choice i selects among the enabled events at step i. */
export function choicesArb(maxLength = 160): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: 1 << 16 }), { maxLength, size: 'max' });
}

/**
 * The catalogue's search for one knob: fast-check choice sequences (at most 240 choices) run against the knob's
 * design on its configuration, `numRuns` runs from `seed`, ending at the first failure (no shrinking: `dtsim bugs`
 * and `dtsim shrink` shrink). Returns the run of the first counterexample, or null if every run held. Shared by the
 * catalogue test, the alternative-symptoms test and scripts/knob-scan.ts, so that all three search alike.
 */
export function searchKnob(m: MachineModel, b: PresetBug, seed: number, numRuns = 1000): DrivenRun<MachineState, MachineEvent> | null {
  const design = m.design({}, [b.id]);
  const config = { ...m.defaultConfig, ...(b.config ?? {}) };
  const res = fc.check(fc.property(choicesArb(240), (ch) => runChoices(m, design, config, ch).outcome.status === 'ok'),
    { seed, numRuns, endOnFailure: true });
  return res.failed ? runChoices(m, design, config, res.counterexample![0]) : null;
}
