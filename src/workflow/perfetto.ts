/**
 * Export of a timeline as Chrome trace-event JSON (the "JSON Array/Object format" that Perfetto and
 * chrome://tracing open): one thread per lane, one complete event ("X") per trace event at a logical time of
 * one microsecond per event index, and a global instant event ("i") at the violation.
 *
 * Pure: no I/O, no clock.
 */
import type { Timeline } from './timeline.ts';

export interface TraceEventJson {
  readonly name: string;
  readonly ph: 'X' | 'i' | 'M';
  readonly pid: number;
  readonly tid: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly s?: 'g' | 'p' | 't';
  readonly args?: { readonly [k: string]: unknown };
}

export function toPerfetto(tl: Timeline, title: string): { traceEvents: TraceEventJson[]; displayTimeUnit: 'ns'; otherData: { [k: string]: string } } {
  const pid = 1;
  const tid = new Map(tl.lanes.map((l, i) => [l, i + 1]));
  const ev: TraceEventJson[] = [];
  ev.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: title } });
  tl.lanes.forEach((l, i) => {
    ev.push({ name: 'thread_name', ph: 'M', pid, tid: i + 1, args: { name: l } });
    ev.push({ name: 'thread_sort_index', ph: 'M', pid, tid: i + 1, args: { sort_index: i } });
  });
  for (const e of tl.events) {
    ev.push({ name: e.type, cat: e.type.split('/')[0] ?? 'event', ph: 'X', pid, tid: tid.get(e.lane) ?? 0, ts: e.index, dur: 1,
      args: e.label !== null ? { index: e.index, event: e.text, label: e.label } : { index: e.index, event: e.text } });
  }
  const o = tl.outcome;
  if (o.status !== 'ok') {
    const lane = o.eventIndex >= 0 ? tl.events[o.eventIndex]?.lane : undefined;
    ev.push({ name: o.status === 'violated' ? o.invariant : 'rejected', cat: 'outcome', ph: 'i', s: 'g', pid,
      tid: lane ? (tid.get(lane) ?? 0) : 0, ts: Math.max(0, o.eventIndex) + 1,
      args: o.status === 'violated' ? { eventIndex: o.eventIndex, message: o.message, pages: o.pages } : { eventIndex: o.eventIndex, message: o.message } });
  }
  return { traceEvents: ev, displayTimeUnit: 'ns', otherData: { generator: 'dtsim show --perfetto', title } };
}
