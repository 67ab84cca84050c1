/**
 * The mechanism state parts of `s.ext`, by key, as the machine's schema resolves them (schema.ts `ext`): the parts
 * each mechanism folder declares (`MechanismFolder.parts`, collected by models/mechanisms.ts `declaredParts`).
 * Nothing registers itself: importing a mechanism's files has no effect.
 *
 * `registerPart` is for tests only: it overrides a key's part (e.g. a deliberately wrong canonicalisation, to show
 * that the soundness check catches it) until it is called again with the previous value.
 */
import type { Compiled, PackCtx } from '../../src/core/schema.ts';
import type { MachineState } from './state.ts';
import { declaredParts } from '../mechanisms.ts';
import { vmidRel } from './schema.ts';

const overrides = new Map<string, Compiled<unknown> | null>();

/** The part of `s.ext[key]`: a test override, else the declared one, else undefined. */
export function partOf(key: string): Compiled<unknown> | undefined {
  if (overrides.size > 0 && overrides.has(key)) return overrides.get(key) ?? undefined;
  return declaredParts().get(key);
}

/**
 * Tests only: makes `part` the part of `key` (undefined: no part at all); returns the part in force before. Passing
 * the declared part back (or calling `registerPart(key, declared)`) restores the declaration.
 */
export function registerPart(key: string, part: Compiled<unknown> | undefined): Compiled<unknown> | undefined {
  const prev = partOf(key);
  if (part !== undefined && part === declaredParts().get(key)) overrides.delete(key);
  else overrides.set(key, part ?? null);
  return prev;
}

/**
 * A pack context for packing one part of `s` on its own (tests and tools; the machine's own pack reuses one
 * context): no renaming (mechanism state disables symmetry), VMIDs relative to the current one (`vmidRel`).
 */
export function partCtx(s: MachineState): PackCtx {
  return { root: s, vcpu: (i) => i, pe: (i) => i, vmid: (v) => vmidRel(s, v), order: (_g, j) => j };
}
