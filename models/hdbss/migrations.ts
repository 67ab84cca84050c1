/**
 * How hdbss traces made by older versions of this model are read (`Model.migrations`): `[i]` takes a trace
 * from version i + 1 to i + 2. The model is at version 2, so the chain has one step.
 *
 * When `apply` semantics change: bump `version` in ./index.ts and append one step here (a startup assertion
 * refuses a bump without it). Prefer `{ kind: 'replay', from, why }` (an old trace is accepted only when it
 * still replays to its expect block under the new version); add a `rewrite` when an option, a config field or
 * an event field was renamed or reshaped. Test the step against the frozen trace of the old version,
 * traces/fixtures/model.hdbss.v<N>.json (never edited), and freeze one of the new version next to it;
 * properties/trace.model-migrations.test.ts shows both kinds on a test-only copy of this model at version 2.
 *
 * v1 -> v2 (issue 16): the request paths became the default. Option `kicks` (kvm_arch_sync_dirty_log through
 * KVM_REQ_FLUSH_HDBSS and its completion) now defaults to true, and the new option `enableRequest` (the enable
 * as KVM_REQ_RELOAD_STAGE2, default true) replaces version 1's atomic VTCR_EL2 switch. A v1 trace meant the
 * version 1 defaults, so the step writes them out: `kicks: false` where the trace left it to its default (a v1
 * trace that says `kicks: true` keeps it) and `enableRequest: false` (version 1 had only the atomic switch). With
 * both false the version 2 reducer is version 1's, event for event; the replay rule is required on top (the
 * migrated trace must still replay to its own expect block), so a trace this reasoning misses is refused, not
 * re-interpreted.
 */
import type { ModelMigration, ModelTraceParts } from '../../src/core/model.ts';

/** v1 -> v2: the version 1 defaults of `kicks` and `enableRequest` made explicit (see above). */
export const V1_REQUESTS_EXPLICIT: ModelMigration = {
  kind: 'rewrite', from: 1, replay: true,
  why: 'the v1 defaults made explicit: kicks false unless given, enableRequest false (v1 had the atomic enable only)',
  rewrite(parts: ModelTraceParts) {
    const o = parts.options;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, error: { field: 'design.options', message: 'must be an object' } };
    const opts = o as { readonly [k: string]: unknown };
    if (Object.hasOwn(opts, 'enableRequest')) {
      return { ok: false, error: { field: 'design.options.enableRequest', message: 'a v1 trace has no option enableRequest (version 1 enabled HDBSS atomically)' } };
    }
    return { ok: true, parts: { ...parts, options: { ...opts, kicks: Object.hasOwn(opts, 'kicks') ? opts['kicks'] : false, enableRequest: false } } };
  },
};

export const HDBSS_MIGRATIONS: readonly ModelMigration[] = [V1_REQUESTS_EXPLICIT];
