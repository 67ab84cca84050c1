/** `dtsim bisect FILE`: the first event after which an invariant is violated, its neighbours and the state change. */
import { bisect, type BisectResult } from '../../workflow/bisect.ts';
import { describeDiff } from '../../workflow/diff.ts';
import { UsageError } from '../errors.ts';
import { intFlag } from '../registry.ts';
import { loadTrace, migrationLine } from './run.ts';
import type { Parsed } from '../main.ts';
import type { AnyModel, EventBase } from '../../core/model.ts';
import type { Trace } from '../../trace/format.ts';
import type { MachineModel } from '../registry-types.ts';
import type { StateView } from '../../workflow/diff.ts';

/** The domain view for a model's state: the model's own (`Model.view`), or none (generic JSON paths). */
export function viewFor(model: AnyModel): StateView<unknown> | undefined {
  return model.view;
}

/** Lines for events `i - context .. i + context`, the event `i` marked. */
export function neighbourLines(model: AnyModel, events: readonly EventBase[], i: number, context: number): string[] {
  const out: string[] = [];
  const from = Math.max(0, i - context);
  const to = Math.min(events.length - 1, i + context);
  const w = String(to).length;
  for (let k = from; k <= to; k++) {
    const e = events[k] as EventBase;
    out.push(`${k === i ? '  >' : '   '} ${String(k).padStart(w)}  ${model.laneOf(e).padEnd(6)} ${model.describeEvent(e)}`);
  }
  return out;
}

export async function cmdBisect(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length !== 1) throw new UsageError('bisect: expected exactly one trace file (dtsim bisect FILE)');
  const file = p.positionals[0] as string;
  const context = intFlag('context', v['context'], 3, 0, 1000);
  const stride = v['stride'] === undefined ? undefined : intFlag('stride', v['stride'], 1, 1);
  const stepwise = v['stepwise'] === true;
  const json = v['json'] === true;
  const loaded = loadTrace(file);
  const { trace, model } = loaded;
  const mm = model as unknown as MachineModel;
  const events = trace.events as EventBase[];
  if (!json) process.stdout.write(`dtsim bisect: ${file} model=${trace.design.model} v${trace.design.modelVersion} bugs=${JSON.stringify(trace.design.bugs)} seed=${trace.seed ?? '-'} events=${events.length}${stepwise ? ' stepwise' : ''}\n${migrationLine(loaded)}`);
  const start = model.init(trace.design, trace.config);
  const r = bisect(model, start, events, {
    stepwise, ...(stride !== undefined ? { stride } : {}),
    finish: (s: unknown) => mm.finish(s as never) as EventBase | null,
  });
  const view = viewFor(model);
  const ex = trace.expect;
  const matches = r.status === 'violated' ? ex.status === 'violated' && ex.eventIndex === r.eventIndex && ex.invariant === r.invariant
    : r.status === 'ok' ? ex.status === 'ok' : ex.status === 'rejected' && ex.eventIndex === r.eventIndex;
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...(jsonResult(file, trace, model, r, view, matches) as object), migration: loaded.migration })}\n`);
    return r.status === 'ok' ? 0 : 1;
  }
  if (r.status === 'ok') {
    process.stdout.write(`no violation in ${r.eventCount} events (${r.method})\n`);
  } else if (r.status === 'rejected') {
    process.stdout.write(`rejected: ${r.message}\n`);
  } else {
    const e = events[r.eventIndex];
    process.stdout.write(`first violation: ${r.invariant} after event ${r.eventIndex}${e ? ` (${model.describeEvent(e)})` : ' (initial state)'}`
      + (r.method === 'binary' ? ` [binary search, ${r.probes} checks; assumes a violation persists: --stepwise checks every event]\n`
        : ` [stepwise scan, ${r.probes} checks]\n`));
    process.stdout.write(`  ${r.violation.message}\n`);
    if (r.violation.pages.length) process.stdout.write(`  pages involved: ${r.violation.pages.join(', ')}\n`);
    if (r.eventIndex >= 0) {
      process.stdout.write('events around it:\n');
      for (const l of neighbourLines(model, events, r.eventIndex, context)) process.stdout.write(`${l}\n`);
      process.stdout.write(`state change made by event ${r.eventIndex}:\n`);
      for (const l of describeDiff(view, r.before, r.after)) process.stdout.write(`  ${l}\n`);
    }
    if (r.cause && r.cause.kind === 'completion') {
      process.stdout.write(`cause: completing the run loses a page even from the initial state (${r.cause.violation.message}); `
        + `the fault is in the completion path itself, so the decisive event is event ${r.eventIndex}\n`);
    } else if (r.cause) {
      const c = r.cause;
      const ce = events[c.eventIndex];
      process.stdout.write(`cause (point of no return): event ${c.eventIndex}${ce ? ` (${model.describeEvent(ce)})` : ''}: driving the run to completion `
        + `from just before it recovers every page, from just after it loses page${c.violation.pages.length ? ` ${c.violation.pages.join(', ')}` : 's'} `
        + `(${c.probes} completion runs; assumes a lost page stays lost)\n`);
      process.stdout.write(`  ${c.violation.message}\n`);
      process.stdout.write('events around the cause:\n');
      for (const l of neighbourLines(model, events, c.eventIndex, context)) process.stdout.write(`${l}\n`);
      process.stdout.write(`state change made by event ${c.eventIndex}:\n`);
      for (const l of describeDiff(view, c.before, c.after)) process.stdout.write(`  ${l}\n`);
    }
  }
  process.stdout.write(matches ? 'matches the expect block\n' : `DIFFERS from the expect block ${JSON.stringify(ex)}\n`);
  return r.status === 'ok' ? 0 : 1;
}

function jsonResult(file: string, trace: Trace, model: AnyModel, r: BisectResult<unknown>, view: StateView<unknown> | undefined, matches: boolean): unknown {
  const base = { command: 'bisect', file, status: r.status, expect: trace.expect, matchesExpect: matches };
  if (r.status === 'ok') return { ...base, eventIndex: null, method: r.method };
  if (r.status === 'rejected') return { ...base, eventIndex: r.eventIndex, message: r.message };
  const ev = (i: number): unknown => (i >= 0 ? { index: i, lane: model.laneOf(trace.events[i] as EventBase), event: trace.events[i] } : null);
  return {
    ...base, eventIndex: r.eventIndex, invariant: r.invariant, message: r.violation.message, pages: r.violation.pages,
    method: r.method, probes: r.probes, event: ev(r.eventIndex), changes: describeDiff(view, r.before, r.after),
    cause: r.cause ? { kind: r.cause.kind, eventIndex: r.cause.eventIndex, invariant: r.cause.invariant, message: r.cause.violation.message,
      pages: r.cause.violation.pages, event: ev(r.cause.eventIndex), changes: describeDiff(view, r.cause.before, r.cause.after) } : null,
  };
}
