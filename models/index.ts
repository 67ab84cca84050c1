/**
 * The model registry: every model the CLI and the tests know, by stable id, and the machine's public face to src/
 * (the CLI imports models/ through this file only, besides models/proofs.ts: properties/architecture.rules.test.ts).
 * Mechanisms are declared in models/mechanisms.ts.
 */
import { dirtyBitmap } from './dirty-bitmap/index.ts';
import { dirtyRing } from './dirty-ring/index.ts';
import { hdbss } from './hdbss/index.ts';
import { pta } from './pta/index.ts';
import type { MachineModel } from './machine/model.ts';

export const MODELS: readonly MachineModel[] = [dirtyBitmap, dirtyRing, hdbss, pta];

export function modelById(id: string): MachineModel | undefined {
  return MODELS.find((m) => m.id === id);
}

export type { MachineModel };
export { dirtyBitmap, dirtyRing, hdbss, pta };

// What the CLI needs of the shared machine beyond the `Model` interface: the configuration's type and bounds (run,
// shrink, campaigns, `npm run schemas`), the event union and field schema (check's seeds, the event schema), and
// the situations every design must reach (check's coverage table).
export { DEFAULT_CONFIG, LIMITS, type MachineConfig } from './machine/state.ts';
export type { MachineEvent } from './machine/model-events.ts';
export { eventFields, type FieldKind } from './machine/events.ts';
export { COMMON_SITUATIONS } from './machine/model.ts';

// The reference catalogues (B/U/F ids) mapped to knobs or to the reason they have none (`dtsim bugs --list`).
export { REFERENCES, referenceRows, referenceProblems, type Reference, type ReferenceRow } from './references.ts';
