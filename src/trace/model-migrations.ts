/**
 * Traces outlive the models that made them: reading a trace recorded by an older version of its model.
 *
 * A model bumps `version` when its `apply` semantics change, and declares in its own folder one step per bump
 * (`Model.migrations`, see `ModelMigration` in src/core/model.ts). When a trace names an older version, the
 * reader (`parseTrace`) runs the steps from that version to the current one, in order, before it validates the
 * trace against the current model:
 * - a `rewrite` step rewrites the trace's options, bugs, config and events (plain JSON) or names the first thing
 *   it cannot migrate (the trace is refused with that field);
 * - a `replay` step rewrites nothing, and the migrated trace is accepted only when it replays, under the current
 *   model, to exactly its expect block (same status; same event and invariant for a violation). That is the
 *   default rule for a semantic bump: the expect block is the trace's own claim, checked by the deterministic
 *   replay every CI run already does, so a trace that still meets it is still the same evidence; a trace that no
 *   longer meets it is refused (exit 2, field `expect`) rather than silently given a new meaning. There is no
 *   replay under the intermediate versions (this dtsim only has the current one): the check is made once, after
 *   the whole chain.
 * A trace from a NEWER model version than this dtsim knows is refused (no step can go backwards).
 *
 * `assertModelMigrations` is the startup check that a model's chain is complete (one step from each version
 * below the current one, in order), as `assertMigrationsContiguous` is for the format's own MIGRATIONS.
 * Pure: no I/O; the CLI prints what `describeModelMigration` says.
 */
import type { AnyModel, EventBase, FieldError, ModelMigration, ModelTraceParts } from '../core/model.ts';
import { replay } from '../core/engine.ts';

/** What happened to a trace read through its model's migration chain (kept on the parse result). */
export interface ModelMigrationRecord {
  readonly model: string;
  /** The model version the trace was made with, and the current one it was migrated to. */
  readonly from: number;
  readonly to: number;
  /** The steps applied, in order. */
  readonly steps: readonly { readonly from: number; readonly kind: ModelMigration['kind']; readonly why: string }[];
  /** Whether the migrated trace had to (and did) replay to its expect block under version `to`. */
  readonly replayed: boolean;
}

/** Why a model-version check refused a trace; the reader adds the line (of `design`, or of `expect`). */
export interface ModelMigrationError {
  readonly kind: 'invalid' | 'staleModel' | 'modelTooNew';
  readonly field: string;
  readonly message: string;
}

/**
 * Startup assertion: `model.migrations` has exactly one step from each version 1..version-1, in order, each
 * well formed. Throws (a bug in the model's declaration, not bad input) with the model and the gap named.
 */
export function assertModelMigrations(model: { readonly id: string; readonly version: number; readonly migrations?: readonly ModelMigration[] | undefined }): void {
  const { id, version } = model;
  const steps = model.migrations ?? [];
  if (!Number.isInteger(version) || version < 1) throw new Error(`[dtsim] model '${id}': version must be a positive integer, got ${String(version)}`);
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as ModelMigration;
    if (s.from !== i + 1) {
      throw new Error(`[dtsim] model '${id}' migrations: step ${i} is from v${String(s.from)}, expected v${i + 1} (no step from v${i + 1}: a gap, or out of order)`);
    }
    if (typeof s.why !== 'string' || s.why.trim() === '' || /\n/.test(s.why)) throw new Error(`[dtsim] model '${id}' migrations: step from v${s.from} needs a one-line 'why'`);
    switch (s.kind) {
      case 'rewrite':
        if (typeof s.rewrite !== 'function') throw new Error(`[dtsim] model '${id}' migrations: rewrite step from v${s.from} has no rewrite function`);
        break;
      case 'replay':
        break;
      default: {
        const never: never = s;
        throw new Error(`[dtsim] model '${id}' migrations: unknown step kind ${JSON.stringify((never as { kind: unknown }).kind)}`);
      }
    }
  }
  if (steps.length < version - 1) throw new Error(`[dtsim] model '${id}' migrations: no step from v${steps.length + 1} (model is at v${version}): a version bump needs a migration step`);
  if (steps.length > version - 1) throw new Error(`[dtsim] model '${id}' migrations: a step from v${steps.length} is at or above the current version v${version}`);
}

/**
 * Runs the chain for a parsed (unvalidated) trace document whose `design.modelVersion` differs from the model's.
 * Returns the document with the model's parts rewritten and `design.modelVersion` set to the current version, and
 * what was done; or why the trace cannot be read. Never throws (a rewrite that throws is reported as an error).
 */
export function migrateModelTrace(
  doc: Record<string, unknown>, model: AnyModel,
): { ok: true; doc: Record<string, unknown>; record: ModelMigrationRecord } | { ok: false; error: ModelMigrationError } {
  const design = doc['design'] as Record<string, unknown>;
  const mv = design['modelVersion'];
  if (typeof mv !== 'number' || !Number.isInteger(mv) || mv < 1) {
    return { ok: false, error: { kind: 'invalid', field: 'design.modelVersion', message: `must be a positive integer, got ${JSON.stringify(mv) ?? 'nothing'}` } };
  }
  if (mv > model.version) {
    return { ok: false, error: { kind: 'modelTooNew', field: 'design.modelVersion',
      message: `trace was made with ${model.id} v${mv}, newer than this dtsim's v${model.version}; read it with a dtsim that has ${model.id} v${mv} or later` } };
  }
  const chain = model.migrations ?? [];
  let parts: ModelTraceParts = { options: design['options'], bugs: design['bugs'], config: doc['config'], events: doc['events'] };
  const steps: ModelMigrationRecord['steps'][number][] = [];
  let needsReplay = false;
  for (let v = mv; v < model.version; v++) {
    const step = chain[v - 1];
    if (!step || step.from !== v) {
      return { ok: false, error: { kind: 'staleModel', field: 'design.modelVersion',
        message: `trace was made with ${model.id} v${mv}, this dtsim has v${model.version} and no migration step from v${v}` } };
    }
    switch (step.kind) {
      case 'rewrite': {
        let r: ReturnType<typeof step.rewrite>;
        try {
          r = step.rewrite(parts);
        } catch (e) {
          return { ok: false, error: { kind: 'staleModel', field: 'design.modelVersion',
            message: `migrating ${model.id} v${v} -> v${v + 1} (${step.why}) failed: ${String((e as Error).message ?? e).split('\n')[0]}` } };
        }
        if (!r.ok) return { ok: false, error: rewriteRefused(model.id, v, step.why, r.error) };
        parts = r.parts;
        if (step.replay) needsReplay = true;
        break;
      }
      case 'replay':
        needsReplay = true;
        break;
      default: {
        const never: never = step;
        return { ok: false, error: { kind: 'staleModel', field: 'design.modelVersion', message: `unknown migration step ${JSON.stringify(never)}` } };
      }
    }
    steps.push({ from: step.from, kind: step.kind, why: step.why });
  }
  const out: Record<string, unknown> = {
    ...doc,
    design: { ...design, modelVersion: model.version, options: parts.options, bugs: parts.bugs },
    config: parts.config, events: parts.events,
  };
  return { ok: true, doc: out, record: { model: model.id, from: mv, to: model.version, steps, replayed: needsReplay } };
}

function rewriteRefused(id: string, v: number, why: string, e: FieldError): ModelMigrationError {
  return { kind: 'staleModel', field: e.field || 'design.modelVersion', message: `cannot migrate ${id} v${v} -> v${v + 1} (${why}): ${e.message}` };
}

/** The expect block, as `parseTrace` returns it. */
type ExpectBlock = { readonly status: 'ok' } | { readonly status: 'violated'; readonly eventIndex: number; readonly invariant: string }
  | { readonly status: 'rejected'; readonly eventIndex: number };

/**
 * The replay rule, applied after the chain when a step asked for it: the migrated (and validated) trace must
 * replay under the current model to exactly its expect block. Returns the refusal (field `expect`) or null.
 */
export function checkReplaysToExpect(
  model: AnyModel, record: ModelMigrationRecord,
  trace: { readonly design: Parameters<AnyModel['init']>[0]; readonly config: unknown; readonly events: readonly EventBase[]; readonly expect: ExpectBlock },
): ModelMigrationError | null {
  if (!record.replayed) return null;
  const o = replay(model, trace.design, trace.config, trace.events, { path: 'fast' });
  const ex = trace.expect;
  const matches = o.status === ex.status && (ex.status === 'ok' || (o.eventIndex === ex.eventIndex && (ex.status !== 'violated' || o.invariant === ex.invariant)));
  if (matches) return null;
  const got = o.status === 'violated' ? `${o.invariant} after event ${o.eventIndex}` : o.status === 'rejected' ? `event ${o.eventIndex} rejected (not enabled)` : 'ok';
  const want = ex.status === 'violated' ? `${ex.invariant} after event ${ex.eventIndex}` : ex.status === 'rejected' ? `event ${ex.eventIndex} rejected (not enabled)` : 'ok';
  return { kind: 'staleModel', field: 'expect',
    message: `trace made with ${record.model} v${record.from} no longer replays to its expect block under v${record.to} (expected ${want}, got ${got}): `
      + `not migrated; re-make it with this dtsim, or read it with one that has ${record.model} v${record.from}` };
}

/** One line for the CLI: `migrated from v1 (replays to its expect block under v2)`. */
export function describeModelMigration(r: ModelMigrationRecord): string {
  const rewrites = r.steps.filter((s) => s.kind === 'rewrite').map((s) => `v${s.from}->v${s.from + 1}: ${s.why}`);
  const parts = [...(rewrites.length ? [`rewritten ${rewrites.join('; ')}`] : []), ...(r.replayed ? [`replays to its expect block under v${r.to}`] : [])];
  return `migrated from v${r.from} (${parts.join('; ')})`;
}
