/**
 * The full event union of the machine: the shared core events plus every declared mechanism's own events, derived
 * from their declarations (`EventDecl` in each mechanism folder, listed in models/mechanisms.ts). Adding a mechanism
 * event needs no edit here.
 */
import type { CoreEvent } from './events.ts';
import type { MechanismEvent } from '../mechanisms.ts';

export type MachineEvent = CoreEvent | MechanismEvent;
