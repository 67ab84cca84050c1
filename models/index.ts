/**
 * The model registry: every model the CLI and the tests know, by stable id.
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
