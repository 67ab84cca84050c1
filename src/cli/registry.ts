/**
 * The CLI's view of the model registry (the one place in src/ that imports models/; the engine never does).
 */
import { MODELS, modelById, type MachineModel } from '../../models/index.ts';
import type { AnyModel, JsonValue } from '../core/model.ts';
import { UsageError } from './errors.ts';

export { MODELS };

export function lookupModel(id: string): AnyModel | undefined {
  return modelById(id) as unknown as AnyModel | undefined;
}

export function requireModel(id: string | undefined): MachineModel {
  if (!id) throw new UsageError(`--model is required (one of: ${MODELS.map((m) => m.id).join(', ')})`);
  const m = modelById(id);
  if (!m) throw new UsageError(`--model: unknown model '${id}' (one of: ${MODELS.map((m) => m.id).join(', ')})`);
  return m;
}

/** `--option key=value` (value parsed as JSON when it is JSON, else taken as a string). */
export function parseOptionFlags(flags: readonly string[]): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UsageError(`--option: expected key=value, got '${f}'`);
    const k = f.slice(0, i);
    const raw = f.slice(i + 1);
    let v: JsonValue;
    try { v = JSON.parse(raw) as JsonValue; } catch { v = raw; }
    out[k] = v;
  }
  return out;
}

/** A non-negative integer flag, or the default. */
export function intFlag(name: string, v: unknown, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got '${String(v)}'`);
  }
  return n;
}

/** A seed flag: any non-empty string of letters, digits, '-', '_' (or a generated default). */
export function seedFlag(v: unknown, dflt: string): string {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new UsageError(`--seed: expected 1-64 characters [A-Za-z0-9_.-], got '${String(v)}'`);
  return v;
}
