/**
 * The CLI's view of the model registry. src/ imports models/ only through models/index.ts (and models/proofs.ts
 * here), from src/cli alone: properties/architecture.rules.test.ts holds the exact allow-list.
 */
import { LIMITS, MODELS, modelById, referenceRows, type MachineModel } from '../../models/index.ts';
import type { Parsed } from './main.ts';
import type { AnyModel, Design, JsonValue } from '../core/model.ts';
import { UsageError } from './errors.ts';
import { isRecord, setOwn } from '../core/untrusted.ts';

export { MODELS, referenceRows };
export { coverageException, PROOF_BASE, proofBase, proofCases, type ProofOpen, type ProofTier } from '../../models/proofs.ts';

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
    // An own property even for `__proto__` (plain assignment would set the prototype, and the option would vanish
    // silently instead of being refused as unknown).
    setOwn(out, k, v);
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

export interface DesignChoice {
  model: MachineModel;
  design: Design;
  config: unknown;
  bugs: string[];
}

/**
 * ` --option k=v` for every option of `d`'s design that differs from what its knobs alone give (the model's
 * defaults with the knobs' own options), in the design's order: what a saved trace's command line needs to name.
 */
export function optionFlags(d: Pick<DesignChoice, 'model' | 'design' | 'bugs'>): string {
  const base = d.model.design({}, d.bugs).options;
  return Object.entries(d.design.options).filter(([k, x]) => JSON.stringify(base[k]) !== JSON.stringify(x))
    .map(([k, x]) => ` --option ${k}=${optionArg(x)}`).join('');
}

/**
 * An option value as `--option k=v` reads it back (parseOptionFlags: JSON, else the raw string): bare when that
 * reads back the same value and needs no shell quoting (events, 8, true), else its JSON in single quotes.
 */
function optionArg(x: JsonValue): string {
  const bare = typeof x === 'string' ? x : JSON.stringify(x);
  let back: unknown;
  try { back = JSON.parse(bare); } catch { back = bare; }
  return /^[\w.+-]+$/.test(bare) && JSON.stringify(back) === JSON.stringify(x) ? bare : `'${JSON.stringify(x)}'`;
}

/**
 * The design and configuration of a command line: defaults, then `base` (e.g. explore's small configuration), then
 * each knob's own configuration, then --vcpus/--pes/--pages/--tlb-entries/--rounds/--store-pages, then --config.
 */
export function designFromFlags(v: Parsed['values'], base: { readonly [k: string]: unknown }): DesignChoice {
  const model = requireModel(v['model'] as string | undefined);
  const bugs = (v['bug'] as string[] | undefined) ?? [];
  for (const b of bugs) if (!model.bugs.some((k) => k.id === b)) {
    throw new UsageError(`--bug: unknown bug '${b}' for model '${model.id}' (see: dtsim bugs --list)`);
  }
  const options = parseOptionFlags((v['option'] as string[] | undefined) ?? []);
  const po = model.parseOptions(options);
  if (!po.ok) throw new UsageError(`--option ${po.error.field}: ${po.error.message}`);
  let design: Design;
  try { design = model.design(options, bugs); } catch (e) { throw new UsageError((e as Error).message.replace('[dtsim] ', '')); }
  const c: { [k: string]: unknown } = { ...(model.defaultConfig as object), ...base };
  for (const b of bugs) Object.assign(c, model.preset.bugs.find((k) => k.id === b)?.config ?? {});
  // The configuration's own bounds (LIMITS, as --config and traces are checked), not tighter ones of the flags.
  if (v['vcpus'] !== undefined) c['vcpus'] = intFlag('vcpus', v['vcpus'], 1, 1, LIMITS.vcpus);
  if (v['pes'] !== undefined) c['pes'] = intFlag('pes', v['pes'], 1, 1, LIMITS.pes);
  if (v['tlb-entries'] !== undefined) c['tlbEntries'] = intFlag('tlb-entries', v['tlb-entries'], 1, 1, LIMITS.tlbEntries);
  if (v['rounds'] !== undefined) c['rounds'] = intFlag('rounds', v['rounds'], 1, 0, LIMITS.rounds);
  if (v['pages'] !== undefined) {
    const n = intFlag('pages', v['pages'], 3, 1, 1 << 20);
    c['slots'] = [{ base: 0, npages: n }];
    const inside = (a: unknown): number[] => (Array.isArray(a) ? a : []).filter((g): g is number => typeof g === 'number' && g < n);
    c['storePages'] = inside(c['storePages']);
    c['loadPages'] = inside(c['loadPages']);
    const its = inside(c['itsPages']);
    c['itsPages'] = its.length ? its : [n - 1];
  }
  if (typeof v['store-pages'] === 'string') {
    const s = v['store-pages'];
    if (!/^\d+(,\d+)*$/.test(s)) throw new UsageError(`--store-pages: expected gfns like 0,1,2, got '${s}'`);
    c['storePages'] = s.split(',').map(Number);
  }
  if (typeof v['config'] === 'string') {
    let parsed: unknown;
    try { parsed = JSON.parse(v['config']); } catch (e) {
      throw new UsageError(`--config: not valid JSON (${(e as Error).message})`);
    }
    if (!isRecord(parsed)) throw new UsageError('--config: must be a JSON object of config fields');
    // Own properties (not Object.assign, which would set the prototype for `__proto__`): parseConfig refuses unknown ones.
    for (const [k, x] of Object.entries(parsed)) setOwn(c, k, x);
  }
  const pc = model.parseConfig(c);
  if (!pc.ok) throw new UsageError(`--config ${pc.error.field}: ${pc.error.message}`);
  return { model, design, config: pc.config, bugs };
}
