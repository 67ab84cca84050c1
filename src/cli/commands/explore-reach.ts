/**
 * `dtsim explore`'s reachability queries (--reach EXPR, --reach-module FILE) and their report, and the trace
 * writer both they and explore.ts use for a counterexample; split from explore.ts to keep it readable.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Counterexample, ExploreResult } from '../../explore/bfs.ts';
import { parseReach, ReachExprError } from '../../explore/reach-expr.ts';
import { makeTrace, serializeTrace, type Trace } from '../../trace/format.ts';
import type { Design, EventBase } from '../../core/model.ts';
import { UsageError } from '../errors.ts';
import { writeFresh, writeOutput, type OutputRules } from '../io.ts';
import type { Parsed } from '../main.ts';
import { boundedLine, notExhaustedLine, reachExit, searchVerdict } from '../verdict.ts';

export function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Saves a counterexample as a trace whose expect block is its violation: to `out` (--out, under `rules`: never
 * over an existing file without --force), or a fresh file in out/explore (never overwrites anything).
 */
export function saveCounterexample(model: string, design: Design, config: unknown, cx: Pick<Counterexample<EventBase>, 'events' | 'eventIndex' | 'invariant'>, choices: readonly number[],
  note: string, out?: { file: string; rules: OutputRules }): string {
  const trace = makeTrace({ design, config: config as Trace['config'], seed: null, choices, events: cx.events, note,
    expect: { status: 'violated', eventIndex: cx.eventIndex, invariant: cx.invariant } });
  if (out) {
    writeOutput({ flag: '--out', file: out.file }, serializeTrace(trace), out.rules);
    return out.file;
  }
  return writeFresh('out/explore', `${model}${design.bugs.map((b) => `-${b}`).join('')}-${cx.invariant}`, serializeTrace(trace));
}

/** A reachability query of `explore --reach EXPR` or `--reach-module FILE`: the predicate and how to name it. */
export interface ReachQuery {
  readonly test: (state: unknown) => boolean;
  /** `vmm.phase == "done"`, or the module's path. */
  readonly label: string;
  /** The flag that asks it again (in the command lines printed). */
  readonly flag: string;
}

/**
 * The --reach expression (src/explore/reach-expr.ts), checked against the initial state so a misspelled field is
 * refused (exit 2) rather than never reached; or the --reach-module predicate (an ES module whose default export,
 * or export `reach`, is a function of the state returning a boolean). Null when neither flag is given.
 */
export async function reachQuery(v: Parsed['values'], init: unknown): Promise<ReachQuery | null> {
  const expr = v['reach'] as string | undefined;
  const mod = v['reach-module'] as string | undefined;
  if (expr !== undefined && mod !== undefined) throw new UsageError('--reach and --reach-module: give one');
  if (expr !== undefined) {
    try {
      const p = parseReach(expr);
      p.check(init);
      return { test: p.test, label: expr, flag: `--reach '${expr.replace(/'/g, "'\\''")}'` };
    } catch (e) {
      if (e instanceof ReachExprError) throw new UsageError(`--reach: column ${e.column}: ${e.message}`);
      throw e;
    }
  }
  if (mod === undefined) return null;
  let m: { [k: string]: unknown };
  try { m = await import(pathToFileURL(resolve(mod)).href) as { [k: string]: unknown }; } catch (e) {
    throw new UsageError(`--reach-module: ${mod}: cannot load it (${(e as Error).message.split('\n')[0]})`);
  }
  const f = typeof m['default'] === 'function' ? m['default'] : m['reach'];
  if (typeof f !== 'function') throw new UsageError(`--reach-module: ${mod}: exports no predicate (a default export or 'reach': (state) => boolean)`);
  const test = (state: unknown): boolean => {
    let out: unknown;
    try { out = (f as (s: unknown) => unknown)(state); } catch (e) {
      throw new UsageError(`--reach-module: ${mod}: the predicate threw: ${(e as Error).message?.split('\n')[0] ?? String(e)}`);
    }
    if (typeof out !== 'boolean') throw new UsageError(`--reach-module: ${mod}: the predicate returned ${typeof out}, not a boolean`);
    return out;
  };
  test(init);
  return { test, label: mod, flag: `--reach-module ${mod}` };
}

/**
 * The answer to a reachability query (exit codes: src/cli/main.ts EXIT, README "Exit codes"):
 * - `reached` (exit 0): a shortest path to a state satisfying the predicate, every invariant holding on the way;
 *   saved as a trace whose expect block is ok (it replays clean) with a note naming the query;
 * - a violation on the way (exit 1: a violation wins, as everywhere; its counterexample is saved as usual);
 * - `unreachable` (exit 5, EXIT.notReached): the search was complete and no state satisfies it: the whole
 *   reachable space exhausted, or, with states left beyond --depth D, "not reached within D events" (bounded,
 *   NOT a proof for deeper runs), the depth bound being the question asked, as for invariants;
 * - a state, time or memory limit stopped the search first: inconclusive (exit 4).
 * --json: the explore fields plus `reach` { query, result: reached | unreachable | violated | inconclusive,
 * bounded, events, trace }.
 */
export function reachReport(r: ExploreResult<EventBase>, q: ReachQuery, o: { model: string; design: Design; config: unknown; depth: number; json: boolean; cmd: string;
  secs: number; rate: number; outFlag: string | undefined; outRules: OutputRules }): number {
  let file: string | null = null;
  const cx = r.violation;
  if (cx) {
    file = saveCounterexample(o.model, o.design, o.config, cx, cx.choices, `shortest counterexample found by: ${o.cmd}`,
      o.outFlag ? { file: o.outFlag, rules: o.outRules } : undefined);
  }
  const path = r.reached;
  if (path) {
    const trace = makeTrace({ design: o.design, config: o.config as Trace['config'], seed: null, choices: path.choices, events: path.events,
      note: `reach: a shortest path (${path.events.length} events) to a state satisfying ${q.label}, found by: ${o.cmd}`, expect: { status: 'ok' } });
    file = o.outFlag ? (writeOutput({ flag: '--out', file: o.outFlag }, serializeTrace(trace), o.outRules), o.outFlag)
      : writeFresh('out/explore', `${o.model}${o.design.bugs.map((b) => `-${b}`).join('')}-reach`, serializeTrace(trace));
  }
  const stopped = notExhaustedLine(r.status, r.distinct, r.depth);
  const result = cx ? 'violated' : path ? 'reached' : stopped !== null ? 'inconclusive' : 'unreachable';
  const bounded = result === 'unreachable' && r.status === 'depthBound';
  const sv = searchVerdict(r.status, { contextBound: false, proof: false });
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ command: 'explore', model: o.model, design: o.design, config: o.config, depthBound: o.depth, status: r.status,
      verdict: sv.verdict, complete: sv.complete, exhaustive: sv.exhaustive, incompleteReason: sv.incompleteReason, generated: r.generated, distinct: r.distinct,
      depth: r.depth, frontier: r.frontier, seconds: o.secs, distinctPerSecond: o.rate, message: r.message,
      violation: cx ? { invariant: cx.invariant, message: cx.message, pages: cx.pages, events: cx.events.length, eventIndex: cx.eventIndex } : null,
      reach: { query: q.label, result, bounded, events: path ? path.events.length : null }, trace: file })}\n`);
  } else {
    const w = (s: string): void => { process.stdout.write(`${s}\n`); };
    w(`${result}: ${r.message}`);
    w(`  query              ${q.label}`);
    w(`  distinct states    ${fmt(r.distinct)} (${fmt(r.generated)} generated); depth reached ${r.depth}; ${fmt(o.rate)} states/s (${o.secs.toFixed(2)} s)`);
    if (path) w(`path saved: ${file} (expect ok)\nreplay with: npx dtsim replay ${file}; see it: npx dtsim show ${file}`);
    if (cx) {
      w(`violation on the way: ${cx.invariant} after ${cx.events.length} events: ${cx.message}`);
      w(`counterexample saved: ${file}\nreplay with: npx dtsim replay ${file}`);
    }
    if (stopped !== null) w(`${stopped}: inconclusive`);
    else if (bounded) w(`not reached within ${o.depth} events; ${boundedLine(o.depth)}`);
    else if (result === 'unreachable') w('unreachable: no reachable state satisfies the query (the whole reachable space was explored)');
  }
  return reachExit(result);
}
