/**
 * How dirty-ring traces made by older versions of this model are read (`Model.migrations`): `[i]` takes a trace
 * from version i + 1 to i + 2. The model is at version 1, so the chain is empty.
 *
 * When `apply` semantics change: bump `version` in ./index.ts and append one step here (a startup assertion
 * refuses a bump without it). Prefer `{ kind: 'replay', from, why }` (an old trace is accepted only when it
 * still replays to its expect block under the new version); add a `rewrite` when an option, a config field or
 * an event field was renamed or reshaped. Test the step against the frozen trace of the old version,
 * traces/fixtures/model.dirty-ring.v<N>.json (never edited), and freeze one of the new version next to it;
 * properties/trace.model-migrations.test.ts shows both kinds on a test-only copy of this model at version 2.
 */
import type { ModelMigration } from '../../src/core/model.ts';

export const DIRTY_RING_MIGRATIONS: readonly ModelMigration[] = [];
