/**
 * The small configuration `dtsim explore` starts from, and the configurations the explore test files build on it
 * (properties/explore.bfs.test.ts and its long half, explore.bfs-deep.test.ts).
 */
import { dirtyBitmap } from '../../models/dirty-bitmap/index.ts';
import type { MachineModel } from '../../models/index.ts';
import type { MachineConfig } from '../../models/machine/state.ts';

/** The small configuration `dtsim explore` starts from (src/cli/commands/explore.ts SMALL_CONFIG). */
export const SMALL: Partial<MachineConfig> = { vcpus: 1, pes: 1, slots: [{ base: 0, npages: 3 }], blocks: false, tlbEntries: 1,
  stolenTime: true, itsPages: [2], rounds: 1, storePages: [] };

/** Model `m`'s configuration for knob `bug` ('' for none): its defaults, SMALL, the knob's own config, then `extra`. */
export function configOf(m: MachineModel, bug: string, extra: Partial<MachineConfig>): MachineConfig {
  const knob = m.preset.bugs.find((b) => b.id === bug)?.config ?? {};
  const r = m.parseConfig({ ...m.defaultConfig, ...SMALL, ...knob, ...extra });
  if (!r.ok) throw new Error(`${r.error.field}: ${r.error.message}`);
  return r.config;
}

/** The same for dirty-bitmap (`null`: no knob). */
export function configFor(bug: string | null, extra: Partial<MachineConfig> = {}): MachineConfig {
  return configOf(dirtyBitmap, bug ?? '', extra);
}
