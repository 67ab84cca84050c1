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

/** The description without the field its lane already names (`vcpu=1` in lane vcpu1, not `vcpu=12`). */
function withoutLane(text: string, lane: string): string {
  const m = /^([a-z]+)(\d+)$/.exec(lane);
  if (!m) return text;
  const field = ` ${m[1]}=${m[2]}`;
  let at = text.indexOf(field);
  while (at >= 0 && at + field.length < text.length && text[at + field.length] !== ' ') at = text.indexOf(field, at + 1);
  return at < 0 ? text : text.slice(0, at) + text.slice(at + field.length);
}

/**
 * Greedy word wrap of `text` at spaces into lines of at most `w` columns. A word is never split: the caller
 * makes `w` at least its longest word, so every `field=value` the description holds is printed whole.
 */
export function wrapWords(text: string, w: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (word === '') continue;
    if (cur === '') cur = word;
    else if (cur.length + 1 + word.length <= w) cur += ` ${word}`;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  lines.push(cur);
  return lines;
}

export interface TextOptions {
  /** First and last event index to show (inclusive). */
  readonly from?: number;
  readonly to?: number;
  /**
   * Preferred total width in columns (the terminal's). A preference only: a lane is widened to its longest
   * field (and its name) when the share this width gives it is narrower, so a row may be wider than this.
   */
  readonly width?: number;
}

/**
 * Text timeline: a header of lanes, one row per event with its description in its lane's column and `|` in the
 * others; the violating (`X`) or rejected (`!`) event is marked and followed by the reason.
 *
 * Nothing is cut: a lane with no event in the shown rows is only as wide as its name, the other lanes share the
 * rest of `width`; a description longer than its lane wraps at field boundaries onto continuation rows (no
 * index, `|` in the other lanes), and a lane whose longest `field=value` (or name) is wider than its share is
 * widened to it. Every field of every shown event is printed whole, however many lanes there are.
 */
export function renderTimelineText(tl: Timeline, opts: TextOptions = {}): string {
  const n = tl.events.length;
  const from = Math.max(0, opts.from ?? 0);
  const to = Math.min(n - 1, opts.to ?? n - 1);
  const iw = Math.max(3, String(Math.max(0, n - 1)).length);
  const width = Math.max(40, opts.width ?? 160);
  const laneIdx = new Map(tl.lanes.map((l, i) => [l, i]));
  // A lane with no shown event is as wide as its name; the others share the rest of the width, and each is
  // widened to its longest word (a `field=value` is never split) or name.
  const busy = tl.lanes.map(() => false);
  const longest = tl.lanes.map((l) => l.length);
  const texts: string[] = [];
  for (let i = from; i <= to; i++) {
    const e = tl.events[i] as TimelineEvent;
    const col = laneIdx.get(e.lane) ?? 0;
    const t = withoutLane(e.text, e.lane);
    texts.push(t);
    busy[col] = true;
    for (const word of t.split(' ')) if (word.length > (longest[col] as number)) longest[col] = word.length;
  }
  const idle = tl.lanes.reduce((sum, l, c) => (busy[c] ? sum : sum + l.length + 1), 0);
  const active = busy.filter(Boolean).length;
  const share = Math.max(8, Math.min(40, Math.floor((width - iw - 2 - idle) / Math.max(1, active)) - 1));
  const lw = tl.lanes.map((_, c) => (busy[c] ? Math.max(share, longest[c] as number) : longest[c] as number));
  const pad = (s: string, c: number): string => s.padEnd(lw[c] as number);
  const lead = ' '.repeat(iw + 2);
  const out: string[] = [];
  out.push(`${lead}${tl.lanes.map((l, c) => pad(l, c)).join(' ')}`);
  out.push(`${lead}${tl.lanes.map((_, c) => '-'.repeat(lw[c] as number)).join(' ')}`);
  const bad = tl.outcome.status === 'ok' ? -2 : tl.outcome.eventIndex;
  for (let i = from; i <= to; i++) {
    const e = tl.events[i] as TimelineEvent;
    const col = laneIdx.get(e.lane) ?? 0;
    const mark = i === bad ? (tl.outcome.status === 'violated' ? 'X' : '!') : ' ';
    const lines = wrapWords(texts[i - from] as string, lw[col] as number);
    lines.forEach((line, k) => {
      const cells = tl.lanes.map((_, c) => pad(c === col ? line : '|', c));
      out.push(`${k === 0 ? `${String(i).padStart(iw)}${mark} ` : lead}${cells.join(' ')}`.trimEnd());
    });
    if (e.label !== null) out.push(`${lead}# ${e.label}`);
    if (i === bad) {
      const o = tl.outcome;
      if (o.status === 'violated') out.push(`${lead}^ ${o.invariant}: ${o.message}`);
      else if (o.status === 'rejected') out.push(`${lead}^ rejected: ${o.message}`);
    }
  }
  const o = tl.outcome;
  if (o.status === 'violated' && o.eventIndex < 0) out.push(`initial state violates ${o.invariant}: ${o.message}`);
  out.push(o.status === 'ok' ? `ok: ${n} events, no invariant violated`
    : o.status === 'violated' ? `violated: ${o.invariant} after event ${o.eventIndex}${o.pages.length ? ` (pages ${o.pages.join(', ')})` : ''}`
      : `rejected: event ${o.eventIndex} was not enabled`);
  return `${out.join('\n')}\n`;
}
