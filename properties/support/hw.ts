/**
 * Shared driver for the hardware dirty-state property files (hdbss.*, pta.*): runs a correct design on choice
 * sequences, fails on any violation or unfinished run, and sums what the runs exercised so each file can assert
 * it was not vacuous (hardware updates, full-buffer faults, vCPU migrations, block updates, ...).
 */
import fc from 'fast-check';
import { runChoices } from '../../src/core/engine.ts';
import type { MachineModel } from '../../models/index.ts';
import type { Design } from '../../src/core/model.ts';
import type { MachineConfig } from '../../models/machine/state.ts';
import { fcSeed } from './seed.ts';
import { choicesArb } from './models.ts';

export interface Exercised {
  runs: number;
  /** vcpu/loaded onto a PE other than the vCPU's previous one. */
  migrations: number;
  /** Event counts by type, and the final states' stats summed. */
  events: { [type: string]: number };
  stats: { [k: string]: number };
}

export function holds(model: MachineModel, design: Design, config: MachineConfig, label: string, numRuns: number, maxChoices = 240): Exercised {
  const ex: Exercised = { runs: 0, migrations: 0, events: {}, stats: {} };
  fc.assert(fc.property(choicesArb(maxChoices), (ch) => {
    const r = runChoices(model, design, config, ch);
    if (r.outcome.status !== 'ok') {
      throw new Error(`${r.outcome.status}: ${r.outcome.invariant ?? ''} after event ${r.outcome.eventIndex}: ${r.outcome.message}`);
    }
    if (!model.isFinal(r.outcome.state)) throw new Error('the run did not complete its migration');
    ex.runs++;
    const last: number[] = [];
    for (const e of r.events) {
      ex.events[e.type] = (ex.events[e.type] ?? 0) + 1;
      if (e.type === 'vcpu/loaded') {
        if (last[e.vcpu] !== undefined && last[e.vcpu] !== e.pe) ex.migrations++;
        last[e.vcpu] = e.pe;
      }
    }
    for (const [k, v] of Object.entries(r.outcome.state.stats)) ex.stats[k] = (ex.stats[k] ?? 0) + v;
  }), { seed: fcSeed(label), numRuns });
  return ex;
}
