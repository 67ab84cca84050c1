/**
 * Which mechanisms a design uses, from its options (`consumer`, `producer`), looked up in the declared list
 * (models/mechanisms.ts). Cached per design (`s.mechKey`), so the hot path pays one Map lookup.
 *
 * It imports the mechanisms (through the declared list, read on first use).
 */
import type { Design } from '../../src/core/model.ts';
import type { Mechanism } from './mechanisms.ts';
import type { MachineState } from './state.ts';
import { designOption } from './options.ts';
import { declaredMechanisms } from '../mechanisms.ts';

/**
 * The declared mechanisms by id (models/mechanisms.ts), built on first use: no mechanism registers itself.
 */
let byId: Map<string, Mechanism> | undefined;

function mechanismById(id: string): Mechanism | undefined {
  byId ??= new Map(declaredMechanisms().map((m) => [m.id, m]));
  return byId.get(id);
}

const cache = new Map<string, readonly Mechanism[]>();
const NONE: readonly Mechanism[] = [];

/** Mechanism ids a design selects: its consumer (if not the built-in bitmap) and its producer (if not wp faults). */
export function mechanismIds(d: Design): string[] {
  const ids: string[] = [];
  const c = designOption(d.options, 'consumer');
  const p = designOption(d.options, 'producer');
  if (typeof p === 'string' && p !== 'wp') ids.push(p);
  if (typeof c === 'string' && c !== 'bitmap') ids.push(c);
  return ids;
}

/**
 * The mechanisms of the state's design. Keyed by `s.mechKey` (a string fixed at init): reading a string from
 * an immer draft is free, whereas the design object would come back as a fresh draft proxy each time.
 */
export function mechanismsOf(s: MachineState): readonly Mechanism[] {
  const hit = cache.get(s.mechKey);
  if (hit) return hit;
  const ids = mechanismIds(s.design);
  const ms = ids.length === 0 ? NONE : ids.map((id) => {
    const m = mechanismById(id);
    if (!m) throw new Error(`[dtsim] design selects mechanism '${id}', which is not declared in models/mechanisms.ts`);
    return m;
  });
  cache.set(s.mechKey, ms);
  return ms;
}
