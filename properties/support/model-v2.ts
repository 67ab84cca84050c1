/**
 * Test-only copies of the registered models one version above their current one ("version 2" below: the next
 * version, N + 1 for a model at version N, its real chain kept and one test step from N appended), to prove
 * that a trace made by version N (the frozen fixtures traces/fixtures/model.<id>.v<N>.json) is read through
 * the model's migration chain. The real models are not bumped by these copies (hdbss's real v1 -> v2 step is
 * tested on its own in properties/trace.model-migrations.test.ts). Three kinds of "version 2", each a real copy
 * built by `makeMachineModel` (so the startup chain assertion runs on it):
 * - `rewrite`: the option `consumer` is called `sink` in v2; the step renames it in the trace's options (and
 *   refuses a trace whose options are not an object, or already have a `sink`). Semantics unchanged.
 * - `replay`: v2 changed `apply` in a way the fixtures never exercise (here: nothing, semantically), declared with
 *   the default rule: a v1 trace is accepted when it still replays to its expect block.
 * - `changed`: v2 really changed `apply` (the VMM's page copies are no longer recorded), declared with the
 *   default rule: a v1 trace whose outcome changed no longer replays to its expect block and must be refused.
 */
import { MODELS, type MachineModel } from '../../models/index.ts';
import { makeMachineModel } from '../../models/machine/model.ts';
import type { AnyModel, Design, JsonValue, ModelMigration, ModelTraceParts } from '../../src/core/model.ts';

export type V2Kind = 'rewrite' | 'replay' | 'changed';

/** The rewrite step vN -> vN+1 of the `rewrite` copy: option `consumer` renamed `sink`. Pure, plain JSON. */
export function renameConsumer(from: number): ModelMigration {
  return { ...RENAME_CONSUMER, from };
}

/** The rewrite step v1 -> v2 of the `rewrite` copy (see `renameConsumer`). */
export const RENAME_CONSUMER: ModelMigration = {
  kind: 'rewrite', from: 1, why: 'option consumer renamed sink', replay: false,
  rewrite(parts: ModelTraceParts) {
    const o = parts.options;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, error: { field: 'design.options', message: 'must be an object' } };
    const opts = o as { readonly [k: string]: unknown };
    if (Object.hasOwn(opts, 'sink')) return { ok: false, error: { field: 'design.options.sink', message: 'a v1 trace has no option sink (it was called consumer)' } };
    const out: { [k: string]: unknown } = {};
    for (const [k, v] of Object.entries(opts)) out[k === 'consumer' ? 'sink' : k] = v;
    return { ok: true, parts: { ...parts, options: out } };
  },
};

function renameOption(options: { readonly [k: string]: JsonValue }, from: string, to: string): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(options)) out[k === from ? to : k] = v;
  return out;
}

/** A test-only copy of `base` at its next version (version + 1, its own chain kept), of the given kind. */
export function modelV2(base: MachineModel, kind: V2Kind): AnyModel {
  const p = base.preset;
  const version = base.version + 1;
  const chain = (step: ModelMigration): readonly ModelMigration[] => [...(base.migrations ?? []), step];
  switch (kind) {
    case 'rewrite': {
      const opts: { [k: string]: readonly JsonValue[] } = {};
      for (const [k, v] of Object.entries(p.options)) opts[k === 'consumer' ? 'sink' : k] = v;
      const m = makeMachineModel({ ...p, version, options: opts, migrations: chain(renameConsumer(base.version)) });
      // The machine underneath still reads `consumer`: v2's design says `sink`.
      const init = (design: Design, config: Parameters<MachineModel['init']>[1]) => m.init({ ...design, options: renameOption(design.options, 'sink', 'consumer') }, config);
      return { ...m, init } as unknown as AnyModel;
    }
    case 'replay':
      return makeMachineModel({ ...p, version, migrations: chain({ kind: 'replay', from: base.version, why: 'test-only v2: apply unchanged on what v1 traces do' }) }) as unknown as AnyModel;
    case 'changed': {
      const m = makeMachineModel({ ...p, version, migrations: chain({ kind: 'replay', from: base.version, why: 'test-only v2: the VMM copies no longer recorded' }) });
      const apply: MachineModel['apply'] = (d, e) => { if (e.type !== 'vmm/pageCopied') m.apply(d, e); };
      return { ...m, apply } as unknown as AnyModel;
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

/**
 * Which kind the CLI test's mocked registry serves (properties/trace.model-migrations.cli.test.ts sets it before
 * each command; the mock reads it on each lookup).
 */
export const CLI_V2: { kind: V2Kind } = { kind: 'replay' };

/** A registry lookup in which every model is its test-only v2 copy of `kind`. */
export function lookupV2(kind: V2Kind): (id: string) => AnyModel | undefined {
  const byId = new Map(MODELS.map((m) => [m.id, modelV2(m, kind)] as const));
  return (id) => byId.get(id);
}
