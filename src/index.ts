/**
 * dtsim as a library: the engine (replay, simulate, choice-sequence runs, invariant checks, fingerprints), the
 * trace format, and campaign helpers. Models are in `dtsim/models`; fast-check arbitraries in `dtsim/testing`.
 */
export type { AnyModel, BugKnob, CollectionView, Design, EventBase, FieldError, Invariant, JsonValue, Model, ModelMigration, ModelTraceParts, Violation } from './core/model.ts';
export {
  checkInvariants, decodeChoice, decodeChoices, encodeChoice, groupByType, initialState, mutableCopy, replay, replayFrom, runChoices, simulate, step,
  type ChoiceStep, type DriveHooks, type DriveOptions, type DrivenRun, type DrivableModel, type ReplayOptions, type RunOutcome,
} from './core/engine.ts';
export { canonicalJson, fingerprint, hash64 } from './core/fingerprint.ts';
export { childSeed, stream, type Prng } from './random/streams.ts';
export {
  makeTrace, parseTrace, serializeTrace, TRACE_FORMAT, TRACE_VERSION, traceSchemaId, type Expect, type ParseResult, type Trace, type TraceError,
} from './trace/format.ts';
export { runItem, runSeed, mergeResults, type CampaignItem, type CampaignOptions, type ItemResult, type Situation } from './check/campaign.ts';
// The failing-trace workflow (what `dtsim bisect`, `shrink` and `show` run), pure functions over a model.
export { bisect, Checkpoints, completionVerdict, defaultStride, type BisectCause, type BisectOptions, type BisectResult } from './workflow/bisect.ts';
export { ddmin, shrink, runIndexChoices, type ShrinkOptions, type ShrinkOutcome, type ShrinkResult } from './workflow/shrink.ts';
export { changeLine, describeDiff, diffStates, summarizeState, type Change, type Section, type StateView } from './workflow/diff.ts';
export { buildTimeline, renderTimelineText, sortLanes, type Timeline, type TimelineEvent } from './workflow/timeline.ts';
export { buildFrames, renderHtml, type Frame, type Frames } from './workflow/html.ts';
export { toPerfetto } from './workflow/perfetto.ts';
export { assertMigrationsContiguous, MIGRATIONS } from './trace/format.ts';
export { assertModelMigrations, describeModelMigration, type ModelMigrationError, type ModelMigrationRecord } from './trace/model-migrations.ts';
// Bounded exhaustive search, with a user predicate as a reachability query (`reach`), and the --reach language.
export { explore, type Counterexample, type ExploreOptions, type ExploreResult, type ExploreStatus, type ReachPath } from './explore/bfs.ts';
export { parseReach, ReachExprError, type ReachPredicate } from './explore/reach-expr.ts';
