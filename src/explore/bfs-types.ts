/**
 * The types of explore's options and results (bfs.ts `explore`), split from bfs.ts to keep it readable;
 * bfs.ts re-exports them, so importers keep importing from bfs.ts.
 */
import type { SymmetryGroup } from '../core/model.ts';

export interface ExploreOptions<S = unknown> {
  /** Events from the initial state (BFS levels). */
  readonly maxDepth: number;
  /** Stop after this many distinct states (0: no limit). */
  readonly maxStates?: number;
  /** Stop after this many milliseconds of the `now` clock (0: no limit). */
  readonly timeLimitMs?: number;
  /** Merge states that differ by a relabelling of the model's interchangeable agents. */
  readonly symmetry?: boolean;
  /** `auto`: the model's `pack` hook when it has one; `generic`: always the generic JSON encoding. */
  readonly encoding?: 'auto' | 'generic';
  /** The clock (ms); only read when a time limit or progress is asked for. */
  readonly now?: () => number;
  /** Called about every `progressEvery` generated states. */
  readonly onProgress?: (p: ExploreProgress) => void;
  readonly progressEvery?: number;
  /** Polled with the progress callback: a reason to stop now (e.g. the caller's memory limit), or null. */
  readonly shouldStop?: () => string | null;
  /**
   * Search for a violation of these invariant ids only: a state whose first violation (in the model's order, as
   * replay checks them) is another invariant is a dead end, counted in `otherViolations` and not expanded. The
   * result is then a shortest path to a state whose first violation is a target, along which no other invariant
   * breaks, so its trace replays to exactly that violation. Unset: stop at the first violation of any invariant.
   */
  readonly target?: readonly string[];
  /**
   * How a BFS level holds its states: `auto` (default) and `words` save them as words (store.ts: less memory, far
   * less garbage collection; the model's own layout when it has `save`/`load`) when the model's state round-trips
   * through that encoding, else keep objects; `objects` always keeps the object graphs. The result is the same
   * either way. (`auto` kept objects while levels were small until the models' own save/load made words faster
   * or within ~10% everywhere measured, with a third of the memory: docs/explore-and-compare.md.)
   */
  readonly frontier?: 'auto' | 'words' | 'objects';
  /**
   * A reachability query: stop at the first state (BFS order: a shortest path) that satisfies this predicate and
   * report it as `reached` with its path. Invariants are checked as usual first (a violation wins: a state that
   * violates an invariant, or with `target` is a dead end, is never reported reached). The predicate is called on
   * every distinct state, read-only, and must be pure. States are deduplicated by their fingerprint: the model's
   * `pack` leaves out static parts and pure counters, and `symmetry` merges relabelled agents, so a predicate
   * that reads such fields needs `encoding: 'generic'` (every field counts) and no symmetry.
   */
  readonly reach?: (state: S) => boolean;
  /**
   * Called, read-only, with every state generated (each successor, before deduplication) and its depth (events
   * from the initial state; BFS order, so the first call that sees something sees it at the least depth), and
   * with the initial state at depth 0. Returns whether it wants more calls: false stops them (a coverage probe
   * that has seen everything it looks for costs nothing after). It sees successors before deduplication because
   * a state's key leaves out its pure counters (`pack`), so a duplicate may be the only state whose counters
   * record that something happened on its path (src/explore/coverage.ts). It never changes the search.
   */
  readonly observe?: (state: S, depth: number) => boolean;
}

export interface ExploreProgress {
  readonly generated: number;
  readonly distinct: number;
  readonly depth: number;
  readonly frontier: number;
  readonly elapsedMs: number;
}

/**
 * `exhausted`: no new state at the last level (the whole reachable space up to the depth bound was explored
 * and no state is deeper); `depthBound`: states remain beyond `maxDepth`; `violated`: an invariant broke;
 * `reached`: a state satisfying the `reach` predicate was found (a shortest path to it in `reached`);
 * `stateLimit`/`timeLimit`/`stopped` (by `shouldStop`): stopped early, the result covers only part of the space.
 */
export type ExploreStatus = 'exhausted' | 'depthBound' | 'violated' | 'reached' | 'stateLimit' | 'timeLimit' | 'stopped';

/** A path from the initial state to a state satisfying a `reach` predicate (a shortest one). */
export interface ReachPath<E> {
  /** The events from the initial state to the reached state (empty: the initial state satisfies it). */
  readonly events: readonly E[];
  /** Index of each event in `enabled` of the state it was taken from. */
  readonly choices: readonly number[];
}

export interface Counterexample<E> {
  readonly invariant: string;
  readonly message: string;
  readonly pages: readonly number[];
  /** The events from the initial state to the violating state (a shortest such path). */
  readonly events: readonly E[];
  /** Index of each event in `enabled` of the state it was taken from. */
  readonly choices: readonly number[];
  /** Index of the event after which the invariant broke (events.length - 1; -1 for the initial state). */
  readonly eventIndex: number;
}

export interface ExploreResult<E> {
  readonly status: ExploreStatus;
  /** Successor states computed (transitions taken), duplicates included. */
  readonly generated: number;
  /** Distinct states (by fingerprint), the initial state included. */
  readonly distinct: number;
  /** Deepest BFS level holding a distinct state. */
  readonly depth: number;
  /** States of the last level not expanded (0 when exhausted). */
  readonly frontier: number;
  /** Distinct states with no enabled event (the run is over there). */
  readonly terminal: number;
  /** Terminal states the model does not call final (`isFinal`): a deadlock of the design or of the model. */
  readonly deadlocked: number;
  /** With `target`: distinct states whose first violation was another invariant (not expanded). */
  readonly otherViolations: number;
  /** The first such state's violation (with `target`), for the report. */
  readonly firstOther: { readonly invariant: string; readonly depth: number } | null;
  /** Birthday bound on a fingerprint collision among the distinct states: n^2 / 2^65. */
  readonly collisionProbability: number;
  readonly encoding: 'model' | 'generic';
  readonly symmetry: readonly SymmetryGroup[];
  readonly elapsedMs: number;
  /** Bytes of the visited set (the frontier is counted by the caller's peak memory). */
  readonly visitedBytes: number;
  /** How the frontier held its states (`words`: some level was saved in a StateStore). */
  readonly storage: 'words' | 'objects';
  /** With `words`: the most bytes of saved states the two levels held at once (0 with `objects`). */
  readonly storageBytes: number;
  readonly violation: Counterexample<E> | null;
  /** With `reach`: the path to the first state found satisfying it (status `reached`), else null. */
  readonly reached: ReachPath<E> | null;
  /** Why the run stopped, one line. */
  readonly message: string;
}
