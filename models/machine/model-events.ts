/**
 * The full event union of the machine: the shared core events plus each mechanism's own events.
 * A mechanism adds its union here (one line) and its field schema to `EVENT_FIELDS`.
 */
import type { CoreEvent } from './events.ts';
import type { HdbssEvent, HwEvent, PtaEvent } from '../hw-dirty/events.ts';
import type { RingEvent } from '../dirty-ring/events.ts';

export type MachineEvent = CoreEvent | HwEvent | HdbssEvent | PtaEvent | RingEvent;
