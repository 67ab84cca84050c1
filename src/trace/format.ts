/**
 * Trace format v2: a versioned JSON document, one event per line so it reads in a diff.
 *
 * History: v1 (frozen sample traces/fixtures/trace.v1.sample.json); v2 added `labels`, notes on events keyed by
 * event index (shown by `dtsim show`), which v1 documents get empty.
 *
 * Traces are untrusted input: `parseTrace` validates everything (format magic, version, model and its
 * version, options, bugs, config, every event, the expect block) and reports the first problem with its
 * line and field, never throwing. Old format versions are upgraded one step at a time by `MIGRATIONS`; a trace
 * made by an older version of its model goes through that model's own chain (src/trace/model-migrations.ts).
 */
import type { AnyModel, Design, EventBase, JsonValue } from '../core/model.ts';
import { checkReplaysToExpect, migrateModelTrace, type ModelMigrationRecord } from './model-migrations.ts';

export const TRACE_FORMAT = 'dtsim/trace';
export const TRACE_VERSION = 2;
export const TOOL_VERSION = '0.1.0';

export type Expect =
  | { readonly status: 'ok' }
  | { readonly status: 'violated'; readonly eventIndex: number; readonly invariant: string };

export interface Trace {
  readonly format: typeof TRACE_FORMAT;
  readonly formatVersion: number;
  readonly tool: { readonly name: 'dtsim'; readonly version: string };
  readonly design: Design;
  readonly config: JsonValue;
  /** Provenance: the seed and choices that generated the events (null for hand-written traces). */
  readonly seed: string | null;
  readonly choices: readonly number[] | null;
  readonly note: string;
  readonly events: readonly EventBase[];
  /** Notes on events, keyed by event index (v2): what a reader should see there. */
  readonly labels: { readonly [eventIndex: string]: string };
  readonly expect: Expect;
}

export interface TraceError {
  readonly kind: 'notJson' | 'unknownFormat' | 'versionTooNew' | 'invalid' | 'staleModel' | 'modelTooNew' | 'unknownModel';
  /** 1-based line in the file, when known. */
  readonly line: number | null;
  /** Key path of the offending field, e.g. `events[12].gfn`. */
  readonly field: string;
  readonly message: string;
}

export type ParseResult =
  /** `migration`: the trace was made by an older version of its model and read through its migrations (src/trace/model-migrations.ts). */
  | { readonly ok: true; readonly trace: Trace; readonly model: AnyModel; readonly migration: ModelMigrationRecord | null }
  | { readonly ok: false; readonly error: TraceError };

/**
 * One migration per format version: MIGRATIONS[n] upgrades a version-n document to version n+1. Migrations
 * only add or rename fields; validation happens after the last one. Never edit a released step: add one.
 */
export const MIGRATIONS: { readonly [from: number]: (doc: Record<string, unknown>) => Record<string, unknown> } = {
  // v1 -> v2: per-event labels (none in a v1 document).
  1: (doc) => ({ ...doc, formatVersion: 2, labels: {} }),
};

/** Startup assertion: one migration for every version below `current`, none at or above it. */
export function assertMigrationsContiguous(migrations: { readonly [from: number]: unknown }, current: number): void {
  for (let v = 1; v < current; v++) {
    if (typeof migrations[v] !== 'function') throw new Error(`[dtsim] trace MIGRATIONS: no step from version ${v} (current ${current})`);
  }
  for (const k of Object.keys(migrations)) {
    const v = Number(k);
    if (!Number.isInteger(v) || v < 1 || v >= current) throw new Error(`[dtsim] trace MIGRATIONS: step from version ${k} is outside [1, ${current})`);
  }
}
assertMigrationsContiguous(MIGRATIONS, TRACE_VERSION);

/** Serialises a trace with one event per line. */
export function serializeTrace(t: Trace): string {
  const head = {
    format: t.format, formatVersion: t.formatVersion, tool: t.tool, design: t.design, config: t.config,
    seed: t.seed, choices: t.choices, note: t.note, labels: t.labels, expect: t.expect,
  };
  const lines: string[] = ['{'];
  for (const [k, v] of Object.entries(head)) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
  lines.push('  "events": [');
  t.events.forEach((e, i) => lines.push(`    ${JSON.stringify(e)}${i + 1 < t.events.length ? ',' : ''}`));
  lines.push('  ]');
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export function makeTrace(fields: {
  design: Design; config: JsonValue; seed: string | null; choices: readonly number[] | null; note: string;
  events: readonly EventBase[]; expect: Expect; labels?: { readonly [eventIndex: string]: string };
}): Trace {
  return { format: TRACE_FORMAT, formatVersion: TRACE_VERSION, tool: { name: 'dtsim', version: TOOL_VERSION }, ...fields, labels: fields.labels ?? {} };
}

/** 1-based line of a character offset. */
function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Start lines of the elements of the top-level "events" array, found by a small scanner that tracks
 * strings and nesting (so hand-formatted traces get correct line numbers too).
 */
export function eventLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inStr = false;
  let line = 1;
  let pendingKey = '';
  let keyStart = -1;
  let eventsDepth = -1;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') { line++; continue; }
    if (inStr) {
      if (ch === '\\') { i++; continue; }
      if (ch === '"') { inStr = false; if (depth === 1) pendingKey = text.slice(keyStart + 1, i); }
      continue;
    }
    if (ch === '"') {
      if (expectElement) { out.push(line); expectElement = false; }
      inStr = true; keyStart = i; continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === ':') continue;
    if (ch === '[' || ch === '{') {
      if (expectElement) { out.push(line); expectElement = false; }
      depth++;
      if (ch === '[' && depth === 2 && pendingKey === 'events') { eventsDepth = depth; expectElement = true; }
      continue;
    }
    if (ch === ']' || ch === '}') {
      if (depth === eventsDepth && ch === ']') eventsDepth = -1;
      depth--; expectElement = false; continue;
    }
    if (ch === ',') { if (depth === eventsDepth) expectElement = true; continue; }
    if (expectElement) { out.push(line); expectElement = false; }
  }
  return out;
}

function err(kind: TraceError['kind'], line: number | null, field: string, message: string): ParseResult {
  return { ok: false, error: { kind, line, field, message } };
}

/** No valid trace nests deeper than this (events are flat objects); deeper input is refused before use. */
const MAX_DEPTH = 32;

/** Path of the first value nested deeper than `max` levels (iterative: deep input cannot overflow the stack). */
function tooDeep(root: unknown, max: number): (string | number)[] | null {
  if (root === null || typeof root !== 'object') return null;
  // Only objects and arrays are visited; each remembers its parent and key, so a path is built only when needed.
  const vals: unknown[] = [root];
  const depth: number[] = [0];
  const parent: number[] = [-1];
  const key: (string | number)[] = [''];
  const stack: number[] = [0];
  while (stack.length > 0) {
    const i = stack.pop() as number;
    const v = vals[i];
    const d = depth[i] as number;
    if (d >= max) {
      const path: (string | number)[] = [];
      for (let j = i; j > 0; j = parent[j] as number) path.push(key[j] as string | number);
      return path.reverse();
    }
    const visit = (x: unknown, k: string | number): void => {
      if (x === null || typeof x !== 'object') return;
      vals.push(x); depth.push(d + 1); parent.push(i); key.push(k); stack.push(vals.length - 1);
    };
    if (Array.isArray(v)) for (let k = 0; k < v.length; k++) visit(v[k], k);
    else for (const k of Object.keys(v as object)) visit((v as Record<string, unknown>)[k], k);
  }
  return null;
}

function fieldPath(p: readonly (string | number)[]): string {
  let out = '';
  for (const s of p.slice(0, 6)) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return p.length > 6 ? `${out}...` : out;
}

/** Line of a top-level key in the text (best effort). */
function keyLine(text: string, key: string): number | null {
  const i = text.indexOf(`"${key}"`);
  return i < 0 ? null : lineOf(text, i);
}

/**
 * Parses and validates a trace. `lookup` resolves a model id (the registry is passed in: the engine does not
 * import models).
 */
export function parseTrace(text: string, lookup: (id: string) => AnyModel | undefined): ParseResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(String((e as Error).message));
    const line = m ? lineOf(text, Number(m[1])) : (text.trim() === '' ? 1 : lineOf(text, text.length));
    // One line: V8 quotes a snippet of the text, newlines included.
    const why = String((e as Error).message).replace(/^.*?: /, '').replace(/\s+/g, ' ').slice(0, 160);
    return err('notJson', line, '', `not valid JSON (${why})`);
  }
  const deepAt = tooDeep(doc, MAX_DEPTH);
  if (deepAt !== null) return err('invalid', keyLine(text, String(deepAt[0] ?? '')) ?? 1, fieldPath(deepAt), `nested more than ${MAX_DEPTH} levels deep`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return err('unknownFormat', 1, '', 'a trace must be a JSON object');
  let d = doc as Record<string, unknown>;
  if (d['format'] !== TRACE_FORMAT) return err('unknownFormat', keyLine(text, 'format'), 'format', `expected "${TRACE_FORMAT}", got ${JSON.stringify(d['format'])}`);
  const fv = d['formatVersion'];
  if (typeof fv !== 'number' || !Number.isInteger(fv) || fv < 1) return err('invalid', keyLine(text, 'formatVersion'), 'formatVersion', 'must be a positive integer');
  if (fv > TRACE_VERSION) return err('versionTooNew', keyLine(text, 'formatVersion'), 'formatVersion', `version ${fv} is newer than this dtsim understands (${TRACE_VERSION}); upgrade dtsim`);
  for (let v = fv; v < TRACE_VERSION; v++) {
    const mig = MIGRATIONS[v];
    if (!mig) return err('invalid', keyLine(text, 'formatVersion'), 'formatVersion', `no migration from version ${v}`);
    d = mig(d);
  }
  let design = d['design'] as Record<string, unknown> | undefined;
  if (typeof design !== 'object' || design === null) return err('invalid', keyLine(text, 'design'), 'design', 'missing or not an object');
  const dl = keyLine(text, 'design');
  if (typeof design['model'] !== 'string') return err('invalid', dl, 'design.model', 'must be a string');
  const model = lookup(design['model']);
  if (!model) return err('unknownModel', dl, 'design.model', `unknown model ${JSON.stringify(design['model'])}`);
  // An older model version is read through the model's migration chain; a newer one is refused.
  let migration: ModelMigrationRecord | null = null;
  if (design['modelVersion'] !== model.version) {
    const m = migrateModelTrace(d, model);
    if (!m.ok) return err(m.error.kind, keyLine(text, m.error.field.replace(/[.[].*$/, '')) ?? dl, m.error.field, m.error.message);
    d = m.doc; design = d['design'] as Record<string, unknown>; migration = m.record;
  }
  const po = model.parseOptions(design['options'] ?? {});
  if (!po.ok) return err('invalid', dl, `design.${po.error.field}`, po.error.message);
  const bugs = design['bugs'];
  if (!Array.isArray(bugs)) return err('invalid', dl, 'design.bugs', 'must be an array of bug ids');
  for (let i = 0; i < bugs.length; i++) {
    if (typeof bugs[i] !== 'string' || !model.bugs.some((b) => b.id === bugs[i])) {
      return err('invalid', dl, `design.bugs[${i}]`, `unknown bug ${JSON.stringify(bugs[i])} for model '${model.id}'`);
    }
  }
  const pc = model.parseConfig(d['config']);
  if (!pc.ok) return err('invalid', keyLine(text, 'config'), pc.error.field, pc.error.message);
  const seed = d['seed'];
  if (seed !== null && seed !== undefined && typeof seed !== 'string') return err('invalid', keyLine(text, 'seed'), 'seed', 'must be a string or null');
  const choices = d['choices'];
  if (choices !== null && choices !== undefined && (!Array.isArray(choices) || !choices.every((c) => Number.isInteger(c) && c >= 0))) {
    return err('invalid', keyLine(text, 'choices'), 'choices', 'must be null or an array of non-negative integers');
  }
  const events = d['events'];
  if (!Array.isArray(events)) return err('invalid', keyLine(text, 'events'), 'events', 'missing or not an array');
  const lines = eventLines(text);
  const parsed: EventBase[] = [];
  for (let i = 0; i < events.length; i++) {
    const r = model.parseEvent(events[i], pc.config);
    if (!r.ok) return err('invalid', lines[i] ?? keyLine(text, 'events'), `events[${i}]${r.error.field ? `.${r.error.field}` : ''}`, r.error.message);
    parsed.push(r.event);
  }
  const ex = d['expect'] as Record<string, unknown> | undefined;
  const el = keyLine(text, 'expect');
  if (typeof ex !== 'object' || ex === null) return err('invalid', el, 'expect', 'missing or not an object');
  let expect: Expect;
  if (ex['status'] === 'ok') expect = { status: 'ok' };
  else if (ex['status'] === 'violated') {
    const ei = ex['eventIndex'];
    if (typeof ei !== 'number' || !Number.isInteger(ei) || ei < -1 || ei >= events.length) {
      return err('invalid', el, 'expect.eventIndex', `must be an integer in [-1, ${events.length})`);
    }
    if (typeof ex['invariant'] !== 'string') return err('invalid', el, 'expect.invariant', 'must be an invariant id');
    expect = { status: 'violated', eventIndex: ei, invariant: ex['invariant'] };
  } else return err('invalid', el, 'expect.status', 'must be "ok" or "violated"');
  if (d['note'] !== undefined && typeof d['note'] !== 'string') return err('invalid', keyLine(text, 'note'), 'note', 'must be a string');
  const note = typeof d['note'] === 'string' ? d['note'] : '';
  const rawLabels = d['labels'] ?? {};
  const ll = keyLine(text, 'labels');
  if (typeof rawLabels !== 'object' || rawLabels === null || Array.isArray(rawLabels)) return err('invalid', ll, 'labels', 'must be an object of event index -> text');
  const labels: { [eventIndex: string]: string } = {};
  for (const [k, lv] of Object.entries(rawLabels as Record<string, unknown>)) {
    if (!/^(0|[1-9][0-9]{0,8})$/.test(k) || Number(k) >= events.length) return err('invalid', ll, `labels.${k}`, `key must be an event index in [0, ${events.length})`);
    if (typeof lv !== 'string' || lv.length > 1000) return err('invalid', ll, `labels.${k}`, 'must be a string of at most 1000 characters');
    labels[k] = lv;
  }
  const trace: Trace = {
    format: TRACE_FORMAT, formatVersion: TRACE_VERSION,
    tool: { name: 'dtsim', version: typeof (d['tool'] as Record<string, unknown> | undefined)?.['version'] === 'string' ? String((d['tool'] as Record<string, unknown>)['version']) : 'unknown' },
    design: { model: model.id, modelVersion: model.version, options: po.options, bugs: [...bugs] as string[] },
    config: pc.config as JsonValue, seed: typeof seed === 'string' ? seed : null,
    choices: Array.isArray(choices) ? choices as number[] : null, note, events: parsed, labels, expect,
  };
  const stale = migration ? checkReplaysToExpect(model, migration, trace) : null;
  if (stale) return err(stale.kind, el, stale.field, stale.message);
  return { ok: true, trace, model, migration };
}
