/**
 * The plug-in contract between the engine and a dirty-tracking model.
 *
 * The engine knows no mechanism: it drives any `Model` through `enabled` (the Next relation), `apply` (an immer
 * recipe that also runs on a private mutable copy in the fast replay path) and `invariants`. Models live in
 * `models/`, one folder per mechanism; the CLI and the tests pass them in through the registry.
 */

/** JSON values: model state and events must be plain, serialisable data (no classes, Map, Set, typed arrays). */
import type { WordImage } from './schema-image.ts';

export type { WordImage } from './schema-image.ts';
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** Every event is a plain object tagged with `type` in `domain/pastTense` form, e.g. `guest/storeRetired`. */
export interface EventBase {
  readonly type: string;
}

/** A named fault-injection knob (a bug) of a model; `expect` is the invariant it must break. */
export interface BugKnob {
  /** Stable id, used on the CLI (`--bug ID`) and in traces. Never rename. */
  readonly id: string;
  /** Scenario in the references: `F3` (arm reference section 6) or `B10` (kvm reference section 6). */
  readonly ref: string;
  readonly description: string;
  /** Invariant id the knob must violate, or null for a negative control that must never be flagged. */
  readonly expect: string | null;
  /**
   * Other invariants the same bug may break first, each with why (rare: a knob whose loss is delayed, so that
   * whether the page is still writable when the loss happens depends on the interleaving; e.g. F11, where an MMU
   * notifier unmap between the store and the drain leaves the lost page protected, so the loss shows as
   * INV-NOLOSS instead of INV-ARMED). A search that finds one of these counts as found, and says which;
   * `expect` stays the invariant the knob's regression trace replays to.
   */
  readonly alsoExpect?: AlsoExpect;
}

/** A knob's declared alternative invariants, each with why (`BugKnob.alsoExpect`). */
export type AlsoExpect = { readonly [invariant: string]: string };

/** What `knobFoundAs` reads of a knob (or of a `dtsim bugs` result). */
export interface KnobExpectation {
  readonly expect: string | null;
  readonly alsoExpect?: AlsoExpect | null;
}

/** Is `found` the knob's expected invariant or one of its declared alternatives? */
export function knobFoundAs(b: KnobExpectation, found: string | null): boolean {
  if (found === null || b.expect === null) return false;
  return found === b.expect || (b.alsoExpect != null && Object.prototype.hasOwnProperty.call(b.alsoExpect, found));
}

/** A design: which model, with which options and which bugs injected. Recorded in every trace. */
export interface Design {
  readonly model: string;
  readonly modelVersion: number;
  readonly options: { readonly [k: string]: JsonValue };
  readonly bugs: readonly string[];
}

/** A broken invariant, with a stable id and the pages (or other objects) involved. */
export interface Violation {
  readonly invariant: string;
  readonly message: string;
  readonly pages: readonly number[];
}

export interface Invariant<S> {
  /** Stable id such as `INV-NOLOSS`. Never rename: traces and bug knobs refer to it. */
  readonly id: string;
  readonly description: string;
  check(state: S): Violation | null;
}

/** Where a problem with an untrusted event was found: a key path inside the event and a message. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/**
 * The parts of a trace a model owns, as a migration step sees them: untrusted plain JSON straight from the file
 * (not yet validated by any version of the model; a field may be missing or of any type).
 */
export interface ModelTraceParts {
  /** `design.options`. */
  readonly options: unknown;
  /** `design.bugs`. */
  readonly bugs: unknown;
  readonly config: unknown;
  readonly events: unknown;
}

/**
 * One step of a model's migration chain: how a trace made with version `from` is read by version `from + 1`.
 * - `rewrite`: a pure function on plain JSON (no clock, no I/O) that returns the parts as version `from + 1`
 *   writes them (e.g. an option or an event field renamed), or the first thing it cannot migrate, as a trace
 *   key path (`design.options.x`, `config.vcpus`, `events[3].gfn`) and a message. `replay: true` also applies the
 *   replay rule after the whole chain (use it whenever the rewrite alone does not prove the meaning is kept).
 * - `replay`: nothing to rewrite (the trace's shape is unchanged); the migrated trace is accepted only when it
 *   replays, under the current version, to exactly its own expect block. The default for a bump of `apply`
 *   semantics: the expect block is the trace's own claim, so a trace that still meets it is still the same
 *   evidence, and one that no longer does is refused rather than silently re-interpreted.
 * Never edit a released step: a later bump adds a step.
 */
export type ModelMigration =
  | {
      readonly kind: 'rewrite';
      readonly from: number;
      /** One line: what changed, printed when a trace is migrated (`option consumer renamed sink`). */
      readonly why: string;
      /** Also require the migrated trace to replay to its expect block under the current version. */
      readonly replay: boolean;
      rewrite(parts: ModelTraceParts): { ok: true; parts: ModelTraceParts } | { ok: false; error: FieldError };
    }
  | {
      readonly kind: 'replay';
      readonly from: number;
      /** One line: what changed in `apply`, printed when a trace is migrated. */
      readonly why: string;
    };

/**
 * A dirty-tracking model: a pure state machine over events.
 *
 * `S` is the whole machine state (JSON), `E` the model's event union, `C` its configuration (JSON).
 */
export interface Model<S, E extends EventBase, C> {
  /** Stable identifier (`dirty-bitmap`, ...). Never rename: traces name it. */
  readonly id: string;
  /**
   * Bump when `apply` semantics change; every trace records it. A bump comes with one step in `migrations`
   * (from the old version to the new one) saying what an older trace means now: a rewrite of its design, config
   * or events, or the replay rule (accepted only when it still replays to its expect block). Test the step
   * against the frozen trace of the old version kept in `traces/fixtures/model.<id>.v<N>.json` (freeze one of
   * the new version there too, for the next bump); `properties/trace.model-migrations.test.ts` shows how.
   */
  readonly version: number;
  /**
   * Optional: how traces made by older versions of this model are read, `migrations[i]` taking version `i + 1`
   * to `i + 2` (so exactly `version - 1` steps, checked at startup by `assertModelMigrations`). Absent or empty
   * for a model still at version 1. See `ModelMigration`.
   */
  readonly migrations?: readonly ModelMigration[];
  readonly description: string;
  /** The bug knobs this model understands. */
  readonly bugs: readonly BugKnob[];
  /** Option names with their defaults, and the documented values of each. */
  readonly defaultOptions: { readonly [k: string]: JsonValue };
  readonly defaultConfig: C;
  /** Validates an untrusted configuration (from a trace or the CLI). */
  parseConfig(raw: unknown): { ok: true; config: C } | { ok: false; error: FieldError };
  /** Validates untrusted options against this model. */
  parseOptions(raw: unknown): { ok: true; options: { [k: string]: JsonValue } } | { ok: false; error: FieldError };
  /** Initial state for a design and configuration. Pure. */
  init(design: Design, config: C): S;
  /** Every event that may happen next, in a deterministic order (the Next relation). */
  enabled(state: S): E[];
  /** The precondition of one event: is it in `enabled(state)`? (Cheaper than building the whole set.) */
  isEnabled(state: S, event: E): boolean;
  /**
   * Immer recipe: update `draft` for an enabled `event`. Must depend only on (draft, event): no clock, no
   * randomness, no I/O. Works the same on an immer draft and on a private mutable copy (fast replay path).
   */
  apply(draft: S, event: E): void;
  /** Checked after every event, in this order; the first broken one is reported. */
  readonly invariants: readonly Invariant<S>[];
  /** Structural validation of an untrusted event against a state's configuration. */
  parseEvent(raw: unknown, config: C): { ok: true; event: E } | { ok: false; error: FieldError };
  /** Counters worth reporting (reports, unjustified reports, exits, ...). */
  metrics(state: S): { readonly [k: string]: number };
  /** Is the run finished (nothing more the workload wants to do)? Simulation stops there. */
  isFinal(state: S): boolean;
  /** One line describing an event, for timelines and error messages. */
  describeEvent(event: E): string;
  /** Lane of an event for timelines: `vcpu0`, `pe1`, `vmm`, `host`. */
  laneOf(event: E): string;
  /** Relative weight of an event's kind for the seeded scheduler (workload shape). */
  weightOf(state: S, event: E): number;
  /**
   * Optional: relative weight of one event among the enabled events of its kind (default 1: uniform), e.g.
   * locality of guest stores. Used by the seeded scheduler only; choice sequences pick members uniformly.
   */
  memberWeightOf?(state: S, event: E): number;
  /**
   * Optional (explore): a canonical packed encoding of the behaviour-relevant part of `state`. Two states with
   * the same encoding must have the same enabled events, successors (up to encoding) and invariant results;
   * static parts (design, config) and pure counters may be left out. `relabel[k][i]` is the new index of member
   * `i` of the `k`-th group returned by `symmetry` (null: identity). Without it explore packs the whole JSON.
   */
  pack?(state: S, out: PackSink, relabel: readonly (readonly number[])[] | null): void;
  /** Optional (explore --symmetry): the groups of interchangeable agents of this state's design, or none. */
  symmetry?(state: S): readonly SymmetryGroup[];
  /**
   * Optional (library observers: `runDesign`'s `onStep` in `dtsim/testing`): the VMM's side of collection, read
   * from a state, so an observer can derive from consecutive states which pages a step handed to the VMM (those
   * added to its copy set) and when a collection round ended (its round counter increased), with no event or
   * trace field for it. Without it those observations are null.
   */
  readonly collection?: CollectionView<S>;
  /**
   * Optional (`dtsim compare` at scale, src/compare/scale.ts): how a workload described as users think of it
   * (guest size, vCPUs, dirty rate, collection interval, link bandwidth) maps onto this model's configuration and
   * events, the design variants worth comparing (ring sizes, buffer sizes, device capacities: mechanism knowledge
   * stays in the model) and the model's metrics under the comparison's common names. See `WorkloadHook`.
   */
  readonly workload?: WorkloadHook<S, E, C>;
  /** Optional: a faster deep copy than structuredClone (static parts may be shared: they are never written). */
  clone?(state: S): S;
  /**
   * Optional (explore): makes `dst` (a state no longer used) a deep copy of `src`, reusing its objects and
   * arrays where the shapes match, and returns it. Saves the allocation (and the garbage) of `clone`.
   */
  copyInto?(dst: S, src: S): S;
  /**
   * Optional (explore), together with `load`: writes `state` exactly (every field the state has; static parts
   * shared with `like` may be left out) in the model's own layout, where the explorer saves a BFS level. Parts
   * without a hand-written layout go through `out.value` (the generic encoding). Without these hooks the
   * explorer walks the state generically.
   */
  save?(state: S, out: SaveSink): void;
  /**
   * Optional (explore): reads back what `save` wrote, in the same order, as a fresh private copy; `like` is the
   * initial state, whose static parts (design, config) the copy shares.
   */
  load?(src: LoadSource, like: S): S;
  /**
   * Optional (explore), preferred to `save`/`load` where it gives one: the exploration's states as fixed-size word
   * images (src/core/schema-image.ts, compiled from the state's schema and sized from `init`, the initial state of
   * the design and configuration explored), or null where this configuration has none (a list with no bound).
   * The explorer's frontier then saves a state as `words` words at fixed offsets (a positional delta) and loads
   * it back with straight-line code.
   */
  image?(init: S): WordImage<S> | null;
  /**
   * Optional (bisect, show, diff): the domain rendering of a state and of the changes an event makes. The engine
   * and the CLI know no mechanism: everything they print about a state beyond JSON paths comes from here.
   */
  readonly view?: StateView<S>;
  /**
   * Optional (shrink): smaller configurations to try from `config`, most aggressive first; each is validated with
   * `parseConfig` before use. Without it the shrinker keeps the configuration.
   */
  configCandidates?(config: C): unknown[];
  /** Optional (shrink): smaller configurations that renumber ids (drop one vCPU or PE), with the event mapping. */
  relabelings?(config: C): Relabeling<E>[];
  /**
   * Optional (`dtsim help state`): the state's fields, one line each (path, kind and role, metric/fixed marks,
   * label), as its schema declares them, for every part any design of the model can have. These are the paths
   * `explore --reach` queries and the state views name.
   */
  stateFields?(): readonly string[];
}

/**
 * Where a model's optional `save` hook writes a state: numbers (any; int32 ones cost one word) and, for parts
 * without a hand-written layout, any JSON value. `site` (1..63) names where in the state a value sits, the same
 * for every state (the store keys its guesses of object shapes and static objects on it).
 */
export interface SaveSink {
  int(n: number): void;
  value(v: unknown, site: number): void;
}

/** What a model's optional `load` hook reads back: the same calls, in the order `save` made them. */
export interface LoadSource {
  int(): number;
  value(): unknown;
}

/**
 * Where a model's optional `pack` hook writes a state's packed encoding (explore): plain numbers, number
 * arrays (length-prefixed) and, for parts without a hand-written layout, any JSON value walked generically.
 */
export interface PackSink {
  num(n: number): void;
  nums(a: readonly number[]): void;
  json(v: unknown): void;
}

/** How a model exposes the VMM's side of collection (`Model.collection`). */
export interface CollectionView<S> {
  /** Collection rounds the VMM has completed; it increases by one when a collection ends. */
  round(state: S): number;
  /** The pages in the VMM's copy set (reported, or the bulk copy's, and not copied yet), ascending. */
  pending(state: S): readonly number[];
}

/** One changed leaf of a state (or a whole subtree that appeared, disappeared or changed type): src/workflow/diff.ts. */
export interface Change {
  /** Path in JS accessor form: `pes[1].tlb[0]`, `vmm.phase`. */
  readonly path: string;
  /** Parsed path segments (strings for keys, numbers for array indices). */
  readonly segments: readonly (string | number)[];
  /** `undefined` when the path did not exist before (or after). */
  readonly before: JsonValue | undefined;
  readonly after: JsonValue | undefined;
}

/** A titled block of lines describing part of a state (page table, TLBs, rings, ...). */
export interface Section {
  readonly title: string;
  readonly lines: readonly string[];
}

/**
 * Domain rendering of a model's state (`Model.view`), used by bisect, show, shrink and diff. Every method is
 * optional: the workflow falls back to generic JSON paths and top-level keys.
 */
export interface StateView<S> {
  /** Readable lines for the changes an event made (`before` -> `after`); changes it does not cover may be left out. */
  describeChanges?(changes: readonly Change[], before: S, after: S): string[];
  /** The state as titled sections (page table, TLBs, vCPUs, rings, buffers, bitmap, VMM). */
  summarize?(state: S): Section[];
}

/**
 * A smaller configuration that renumbers ids (`Model.relabelings`), with the mapping of each event to it (null:
 * the event is dropped, e.g. it named the removed vCPU).
 */
export interface Relabeling<E> {
  readonly config: unknown;
  // A method (checked bivariantly), so a model's relabelings of its own event union fit `AnyModel`.
  mapEvent(e: E): E | null;
}

/** A group of interchangeable agents (vCPUs, PEs, ...) of a state, for explore's optional symmetry reduction. */
export interface SymmetryGroup {
  readonly name: string;
  readonly size: number;
  /** Why permuting this group's members is sound for this design (printed by explore). */
  readonly why: string;
}

/** A model with its type parameters erased, as the registry and the CLI see it. */
// Method signatures above are checked bivariantly, so every concrete model is assignable to this.
export type AnyModel = Model<unknown, EventBase, unknown>;

/** How a workload's guest stores pick their pages (`WorkloadSpec.pattern`). */
export type StorePattern = 'uniform' | 'hot' | 'sequential';

/**
 * A migration workload as users describe one (plain JSON, recorded in `dtsim compare --json`): the guest, its
 * dirtying and the VMM's migration parameters. No mechanism appears here; ring, buffer and device sizes are
 * design variants (`WorkloadHook.variants`).
 */
export interface WorkloadSpec {
  /** Guest memory in 4 KiB pages (one memslot). */
  readonly pages: number;
  readonly vcpus: number;
  /** Pages the guest stores to (the first `workingSet` pages of the guest, spread by `pattern`). */
  readonly workingSet: number;
  /**
   * uniform: every store to a page of the working set drawn uniformly; hot: 90% of stores to the first tenth of
   * the working set, 10% uniformly over all of it; sequential: each vCPU walks its own share of the working set
   * in order, wrapping around.
   */
  readonly pattern: StorePattern;
  /** Guest stores per simulated second per vCPU (the dirty rate when they hit clean pages). */
  readonly storesPerSec: number;
  /** Minimum simulated time between the starts of two pre-copy collections, in ms. */
  readonly intervalMs: number;
  /** Migration link bandwidth in MB/s (10^6 bytes): one page copied costs 4096 bytes of it. */
  readonly bandwidthMBps: number;
  /** Pre-copy collections before the VMM stops the VM. */
  readonly rounds: number;
}

/** A design variant to compare under a workload: a label and the model's options. */
export interface WorkloadVariant {
  readonly label: string;
  readonly options: { readonly [k: string]: JsonValue };
}

/**
 * A seeded workload driving one run: picks every event itself (the seeded scheduler of `simulate` would build
 * the enabled set, one store per guest page, at every step) and keeps the simulated clock.
 */
export interface WorkloadDriver<S, E> {
  /** The next event to apply (enabled in `state`), or null when the run has nothing left to do. */
  next(state: S): E | null;
  /** Simulated time reached so far, in ns (advanced by `next` by the documented cost of each event). */
  clockNs(): number;
  /** Per-agent counters (e.g. exits of each vCPU by cause), for the per-vCPU plots. */
  perAgent(): { readonly [agent: string]: { readonly [k: string]: number } };
  /** Run-level figures the driver measured (simulated downtime, pages sent and re-sent...). */
  figures(): { readonly [k: string]: number };
}

/** The model side of `dtsim compare` at scale (`Model.workload`). */
export interface WorkloadHook<S, E, C> {
  /** The model's configuration for a workload (rejected by `parseConfig` like any other when out of bounds). */
  config(spec: WorkloadSpec): C;
  /** The design variants of this model worth comparing at scale (ring sizes, buffer sizes...). */
  readonly variants: readonly WorkloadVariant[];
  /** Starts a driver for a run from `state` (the model's initial state for the workload's config). */
  start(state: S, spec: WorkloadSpec, seed: string): WorkloadDriver<S, E>;
  /**
   * The model's metrics (`Model.metrics`) under the comparison's common names (`MEASURES` in
   * src/compare/scale.ts): harvestWork, reports, unjustified, duplicates, writeFaults, ringFullExits,
   * hdbssFullFaults, drains, tlbi, collections; a name the design has no use for is 0.
   */
  measures(metrics: { readonly [k: string]: number }): { readonly [k: string]: number };
}
