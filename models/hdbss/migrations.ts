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
 * re-interpreted. The step reads untrusted plain JSON (no typed accessor applies to a trace not yet validated),
 * so the option names are data here, not reads.
 */
import type { JsonValue, ModelMigration, ModelTraceParts } from '../../src/core/model.ts';

/** Options version 1 had whose default version 2 changed, with the default version 1 gave them. */
const V1_DEFAULTS: { readonly [name: string]: JsonValue } = { kicks: false };
/** Options version 1 did not have, with the value that is version 1's behaviour. */
const V1_ABSENT: { readonly [name: string]: JsonValue } = { enableRequest: false };
/** Where the design's options are in a trace (a field path of the one-line error). */
const OPTIONS_FIELD = 'design.options';

/** v1 -> v2: the version 1 defaults of `kicks` and `enableRequest` made explicit (see above). */
export const V1_REQUESTS_EXPLICIT: ModelMigration = {
  kind: 'rewrite', from: 1, replay: true,
  why: 'the v1 defaults made explicit: kicks false unless given, enableRequest false (v1 had the atomic enable only)',
  rewrite(parts: ModelTraceParts) {
    const o = parts.options;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, error: { field: OPTIONS_FIELD, message: 'must be an object' } };
    const given = o as { readonly [k: string]: unknown };
    const out: { [k: string]: unknown } = { ...given };
    for (const [name, v1] of Object.entries(V1_DEFAULTS)) if (!Object.hasOwn(given, name)) out[name] = v1;
    for (const [name, v1] of Object.entries(V1_ABSENT)) {
      if (Object.hasOwn(given, name)) {
        return { ok: false, error: { field: `${OPTIONS_FIELD}.${name}`, message: `a v1 trace has no option ${name} (version 1 enabled HDBSS atomically)` } };
      }
      out[name] = v1;
    }
    return { ok: true, parts: { ...parts, options: out } };
  },
};

export const HDBSS_MIGRATIONS: readonly ModelMigration[] = [V1_REQUESTS_EXPLICIT];
