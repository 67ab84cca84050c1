/**
 * Transitional: the field-shape guard and array-copy helpers models/hdbss/codec.ts imports until its state is
 * declared as a schema too (converted in parallel; the integrator deletes this file after the merge). The `hw`
 * state itself is declared once in ./schema.ts, whose compiled operations replace the hand-written codec that
 * was here (copy, save/load, pack, and this guard: a field is carried by every derived operation or by none).
 */
import { copyNums } from '../machine/pack.ts';

/** Throws unless the own keys of `o` are exactly `fields` (sorted, comma-joined). */
export function checkFields(o: object, fields: string, key: string, file: string): void {
  const got = Object.keys(o).sort().join(',');
  if (got !== fields) {
    throw new Error(`[dtsim] ${file} does not know the s.ext['${key}'] fields ${got} (expected ${fields}): `
      + 'add the new fields to its pack/copy before exploring');
  }
}

/** The sorted, comma-joined keys of a field table (its type ties it to the state's type). */
export function fieldList(table: object): string {
  return Object.keys(table).sort().join(',');
}

// The copy helpers are the machine's (one implementation for every codec).
export { copyNums };
