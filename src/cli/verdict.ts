/**
 * Verdicts: what a command's result lets a user conclude, and the exit code that says it. A model checker that
 * says "ok" on a search a limit cut short misleads, so "inconclusive" is an outcome of its own (exit 4), next to
 * ok (0) and violated (1). Precedence when a command has several results (a matrix, a campaign, a catalogue):
 * a violation wins over inconclusive, which wins over ok (bad input, 2, and internal errors, 3, end a command
 * before any verdict).
 *
 * `explore`: a search is *complete* when it found a violation or exhausted the whole reachable space; otherwise
 * `incompleteReason` says what ended it:
 * - `stateLimit` / `timeLimit` / `memoryLimit`: a limit stopped the search before it was exhausted. The answer
 *   is partial whatever the user asked: inconclusive (exit 4).
 * - `depthBound`: states remain beyond `--depth D`. The user asked for that bound, so "no invariant breaks
 *   within D events" is a complete answer to the question asked, and `explore` and `explore --matrix` exit 0;
 *   it is NOT a proof for deeper runs (`exhaustive: false`, and the output says so in those words).
 * - `contextBound`: the schedules with at most K lane switches are exhausted (the bound asked for): exit 0, not
 *   the whole space (`exhaustive: false`).
 * `explore --proof` asks the stronger question "no reachable state violates an invariant", which only an
 * exhausted search answers: there a `depthBound` row is inconclusive too (exit 4), like a limit.
 *
 * The exit codes are those of `EXIT` in src/cli/main.ts (kept in step by src/cli/verdict.test.ts; this module
 * does not import main.ts, which imports every command).
 */
import type { ExploreStatus } from '../explore/bfs.ts';
import { knobFoundAs, type KnobExpectation } from '../core/model.ts';

export type Verdict = 'ok' | 'violated' | 'inconclusive';

/** The exit code of a verdict (EXIT.ok, EXIT.violation, EXIT.inconclusive of src/cli/main.ts). */
export function verdictExit(v: Verdict): 0 | 1 | 4 {
  switch (v) {
    case 'ok': return 0;
    case 'violated': return 1;
    case 'inconclusive': return 4;
    default: { const never: never = v; throw new Error(`[dtsim] unknown verdict ${String(never)}`); }
  }
}

/** The verdict of several results: violated if any is, else inconclusive if any is, else ok (none: ok). */
export function worstVerdict(vs: Iterable<Verdict>): Verdict {
  let out: Verdict = 'ok';
  for (const v of vs) {
    if (v === 'violated') return 'violated';
    if (v === 'inconclusive') out = 'inconclusive';
  }
  return out;
}

/** Why a search is not complete: a limit (inconclusive) or a bound the user asked for. */
export type IncompleteReason = 'stateLimit' | 'timeLimit' | 'memoryLimit' | 'depthBound' | 'contextBound';

export interface SearchVerdict {
  readonly verdict: Verdict;
  /** A violation was found, or the whole reachable space was exhausted. */
  readonly complete: boolean;
  /** The whole reachable space was explored (no bound, no limit) and no invariant broke. */
  readonly exhaustive: boolean;
  readonly incompleteReason: IncompleteReason | null;
}

/**
 * The verdict of one exploration: its status, whether a context bound restricted the schedules, and whether
 * the question is a proof (`--proof`: only exhaustion answers it). `stopped` is the memory limit (the only
 * `shouldStop` the CLI installs).
 */
export function searchVerdict(status: ExploreStatus, o: { readonly contextBound: boolean; readonly proof: boolean }): SearchVerdict {
  const incomplete = (incompleteReason: IncompleteReason, inconclusive: boolean): SearchVerdict =>
    ({ verdict: inconclusive ? 'inconclusive' : 'ok', complete: false, exhaustive: false, incompleteReason });
  switch (status) {
    case 'violated': return { verdict: 'violated', complete: true, exhaustive: false, incompleteReason: null };
    // A reachability query answered: no invariant broke on the way (the query's own exit: `reachExit`).
    case 'reached': return { verdict: 'ok', complete: true, exhaustive: false, incompleteReason: null };
    case 'exhausted': return o.contextBound ? incomplete('contextBound', o.proof)
      : { verdict: 'ok', complete: true, exhaustive: true, incompleteReason: null };
    case 'depthBound': return incomplete('depthBound', o.proof);
    case 'stateLimit': return incomplete('stateLimit', true);
    case 'timeLimit': return incomplete('timeLimit', true);
    case 'stopped': return incomplete('memoryLimit', true);
    default: { const never: never = status; throw new Error(`[dtsim] unknown explore status ${String(never)}`); }
  }
}

/**
 * The line that says a limit stopped a search: "NOT exhausted: stopped by the state limit after N states at
 * depth D (raise ...)"; null when no limit did (exhausted, violated, or a bound the user asked for).
 */
export function notExhaustedLine(status: ExploreStatus, distinct: number, depth: number): string | null {
  const at = `after ${distinct.toLocaleString('en-US')} states at depth ${depth}`;
  switch (status) {
    case 'stateLimit': return `NOT exhausted: stopped by the state limit ${at} (raise --max-states, or lower --depth)`;
    case 'timeLimit': return `NOT exhausted: stopped by the time limit ${at} (raise --time-limit, or lower --depth)`;
    case 'stopped': return `NOT exhausted: stopped by the memory limit ${at} (raise it with NODE_OPTIONS=--max-old-space-size=MB, or lower --depth)`;
    case 'exhausted': case 'violated': case 'depthBound': case 'reached': return null;
    default: { const never: never = status; throw new Error(`[dtsim] unknown explore status ${String(never)}`); }
  }
}

/**
 * The answer to a reachability query (`explore --reach`, `--reach-module`): `reached` a state satisfying it;
 * `violated`, an invariant broke on the way (a violation wins, as everywhere); `inconclusive`, a limit stopped the
 * search first; `unreachable`, the search was complete and no state satisfies it (the whole space exhausted, or
 * within the --depth asked: the depth bound is the question, as for invariants, and the output says it is
 * bounded). Neither outcome of a complete query is a failure in itself (a user may hope for either), so
 * unreachable has its own code, 5 (EXIT.notReached), rather than 1 (which stays "an invariant broke").
 */
export type ReachResult = 'reached' | 'violated' | 'inconclusive' | 'unreachable';

/** The exit code of a reachability query (EXIT.ok, violation, inconclusive, notReached of src/cli/main.ts). */
export function reachExit(r: ReachResult): 0 | 1 | 4 | 5 {
  switch (r) {
    case 'reached': return 0;
    case 'violated': return 1;
    case 'inconclusive': return 4;
    case 'unreachable': return 5;
    default: { const never: never = r; throw new Error(`[dtsim] unknown reach result ${String(never)}`); }
  }
}

/** The line that says a depth-bounded answer is bounded (explore, --matrix). */
export function boundedLine(depth: number): string {
  return `bounded: states remain beyond depth ${depth}; this is NOT a proof for deeper runs`;
}

/**
 * One knob of `dtsim bugs`:
 * - `found`: a knob found with its expected invariant, or one of the alternatives it declares with a reason
 *   (`BugKnob.alsoExpect`) (ok);
 * - `wrongInvariant`: found, but another invariant broke first (a real failure: the catalogue or the checker is
 *   wrong; violated, exit 1);
 * - `flagged`: a negative control (no expected invariant) broke one (violated, exit 1);
 * - `notFound`: a knob not found within its budget (runs or seconds): inconclusive (exit 4), not a failure of
 *   the checker shown (more runs may find it);
 * - `clean`: a negative control that ran its whole budget clean (ok).
 */
export type BugOutcome = 'found' | 'wrongInvariant' | 'flagged' | 'notFound' | 'clean';

export function bugOutcome(r: KnobExpectation & { readonly found: string | null }): BugOutcome {
  if (r.found === null) return r.expect === null ? 'clean' : 'notFound';
  if (r.expect === null) return 'flagged';
  return knobFoundAs(r, r.found) ? 'found' : 'wrongInvariant';
}

export function bugVerdict(o: BugOutcome): Verdict {
  switch (o) {
    case 'found': case 'clean': return 'ok';
    case 'wrongInvariant': case 'flagged': return 'violated';
    case 'notFound': return 'inconclusive';
    default: { const never: never = o; throw new Error(`[dtsim] unknown bug outcome ${String(never)}`); }
  }
}
