/**
 * Timelines of a trace: one lane per vCPU, per PE, for the VMM and the host, with the outcome of the replay
 * (the violating or rejected event marked). The text rendering is for the terminal; html.ts and perfetto.ts
 * render the same `Timeline`.
 *
 * Pure: no I/O, no clock.
 */
import { replayFrom } from '../core/engine.ts';
import type { EventBase, Model } from '../core/model.ts';

export interface TimelineEvent {
  readonly index: number;
  readonly lane: string;
  readonly type: string;
  readonly text: string;
  /** The trace's label for this event (v2 `labels`), or null. */
  readonly label: string | null;
}

export interface Timeline {
  readonly lanes: readonly string[];
  readonly events: readonly TimelineEvent[];
  readonly outcome:
    | { readonly status: 'ok' }
    | { readonly status: 'violated'; readonly eventIndex: number; readonly invariant: string; readonly message: string; readonly pages: readonly number[] }
    | { readonly status: 'rejected'; readonly eventIndex: number; readonly message: string };
}

/** Lane order: vcpu0.., pe0.., vmm, host, then any other lane a model uses, by name. */
export function sortLanes(lanes: Iterable<string>): string[] {
  const rank = (l: string): [number, number, string] => {
    const m = /^(vcpu|pe)(\d+)$/.exec(l);
    if (m) return [m[1] === 'vcpu' ? 0 : 1, Number(m[2]), l];
    if (l === 'vmm') return [2, 0, l];
    if (l === 'host') return [3, 0, l];
    return [4, 0, l];
  };
  return [...new Set(lanes)].sort((a, b) => {
    const x = rank(a);
    const y = rank(b);
    return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
  });
}

/**
 * Replays `events` (fast path, invariants after every event) and lays them out by lane. `laneCounts` adds the
 * lanes of idle vCPUs and PEs so the machine's shape is visible even when one never acts.
 */
export function buildTimeline<S, E extends EventBase, C>(
  model: Model<S, E, C>, start: S, events: readonly E[], laneCounts: { vcpus?: number; pes?: number } = {},
  labels: { readonly [eventIndex: string]: string } = {},
): Timeline {
  const o = replayFrom(model, start, events, { checkEvery: 1, path: 'fast' });
  const lanes = new Set<string>();
  for (let i = 0; i < (laneCounts.vcpus ?? 0); i++) lanes.add(`vcpu${i}`);
  for (let i = 0; i < (laneCounts.pes ?? 0); i++) lanes.add(`pe${i}`);
  lanes.add('vmm');
  lanes.add('host');
  const evs: TimelineEvent[] = events.map((e, index) => {
    const lane = model.laneOf(e);
    lanes.add(lane);
    return { index, lane, type: e.type, text: model.describeEvent(e), label: labels[String(index)] ?? null };
  });
  const outcome: Timeline['outcome'] = o.status === 'ok' ? { status: 'ok' }
    : o.status === 'violated' ? { status: 'violated', eventIndex: o.eventIndex, invariant: o.invariant, message: o.message, pages: o.violation.pages }
      : { status: 'rejected', eventIndex: o.eventIndex, message: o.message };
  return { lanes: sortLanes(lanes), events: evs, outcome };
}

function fit(s: string, w: number): string {
  return s.length > w ? `${s.slice(0, Math.max(0, w - 1))}~` : s.padEnd(w);
}

/** The description without the field its lane already names (`vcpu=1` in lane vcpu1). */
function withoutLane(text: string, lane: string): string {
  const m = /^([a-z]+)(\d+)$/.exec(lane);
  return m ? text.replace(` ${m[1]}=${m[2]}`, '') : text;
}

export interface TextOptions {
  /** First and last event index to show (inclusive). */
  readonly from?: number;
  readonly to?: number;
  /** Total width in columns (the terminal's). */
  readonly width?: number;
}

/**
 * Text timeline: a header of lanes, one row per event with its description in its lane's column and `|` in the
 * others; the violating (`X`) or rejected (`!`) event is marked and followed by the reason.
 */
export function renderTimelineText(tl: Timeline, opts: TextOptions = {}): string {
  const n = tl.events.length;
  const from = Math.max(0, opts.from ?? 0);
  const to = Math.min(n - 1, opts.to ?? n - 1);
  const iw = Math.max(3, String(Math.max(0, n - 1)).length);
  const width = Math.max(40, opts.width ?? 160);
  const lw = Math.max(8, Math.min(40, Math.floor((width - iw - 4) / Math.max(1, tl.lanes.length)) - 1));
  const laneIdx = new Map(tl.lanes.map((l, i) => [l, i]));
  const out: string[] = [];
  out.push(`${' '.repeat(iw + 2)}${tl.lanes.map((l) => fit(l, lw)).join(' ')}`);
  out.push(`${' '.repeat(iw + 2)}${tl.lanes.map(() => '-'.repeat(lw)).join(' ')}`);
  const bad = tl.outcome.status === 'ok' ? -2 : tl.outcome.eventIndex;
  for (let i = from; i <= to; i++) {
    const e = tl.events[i] as TimelineEvent;
    const col = laneIdx.get(e.lane) ?? 0;
    const mark = i === bad ? (tl.outcome.status === 'violated' ? 'X' : '!') : ' ';
    const cells = tl.lanes.map((_, c) => (c === col ? fit(withoutLane(e.text, e.lane), lw) : fit('|', lw)));
    out.push(`${String(i).padStart(iw)}${mark} ${cells.join(' ')}`.trimEnd());
    if (e.label !== null) out.push(`${' '.repeat(iw + 2)}# ${e.label}`);
    if (i === bad) {
      const o = tl.outcome;
      if (o.status === 'violated') out.push(`${' '.repeat(iw + 2)}^ ${o.invariant}: ${o.message}`);
      else if (o.status === 'rejected') out.push(`${' '.repeat(iw + 2)}^ rejected: ${o.message}`);
    }
  }
  const o = tl.outcome;
  if (o.status === 'violated' && o.eventIndex < 0) out.push(`initial state violates ${o.invariant}: ${o.message}`);
  out.push(o.status === 'ok' ? `ok: ${n} events, no invariant violated`
    : o.status === 'violated' ? `violated: ${o.invariant} after event ${o.eventIndex}${o.pages.length ? ` (pages ${o.pages.join(', ')})` : ''}`
      : `rejected: event ${o.eventIndex} was not enabled`);
  return `${out.join('\n')}\n`;
}
