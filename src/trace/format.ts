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
 *
 * Hostile input (issue 20): what `JSON.parse` hides is checked on the text first (`scanJson`, json-text.ts): a key repeated in
 * one object (JSON.parse keeps the last silently, so a reviewer reading the first would see another trace) and a
 * number not written as dtsim writes it (`-0`, `1.0`, `1e0`, `1e400`, an integer beyond 2^53 that reads as another
 * one). Every object has a closed set of fields (an unknown one, e.g. a lookalike `expеct` with a Cyrillic e, is an
 * error: ignoring it could change the meaning); every lookup by a key from the input is an own-property lookup
 * (`own`, `Object.hasOwn`), never `in` or plain indexing (which answer for `__proto__`, `constructor`...); an event
 * type must be exactly a known one. Every message quotes input escaped and cut (`quote`), so it stays one line.
 */
import type { AnyModel, Design, EventBase, JsonValue } from '../core/model.ts';
import { asciiOnly, isRecord, keyName, own, quote } from '../core/untrusted.ts';
import { checkReplaysToExpect, migrateModelTrace, type ModelMigrationRecord } from './model-migrations.ts';
import { eventLines, lineOf, scanJson } from './json-text.ts';

export { eventLines, scanJson, type JsonTextIssue } from './json-text.ts';

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

function err(kind: TraceError['kind'], line: number | null, field: string, message: string): ParseResult {
  // One short printable line whatever the input: escaped (asciiOnly) and cut.
  const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}...` : s);
  return { ok: false, error: { kind, line, field: cut(asciiOnly(field), 160), message: cut(asciiOnly(message), 300) } };
}

/** The fields a trace document may have (after migration); any other is an error, never ignored. */
const TOP_FIELDS: ReadonlySet<string> = new Set(['format', 'formatVersion', 'tool', 'design', 'config', 'seed', 'choices', 'note', 'labels', 'expect', 'events']);
const DESIGN_FIELDS: ReadonlySet<string> = new Set(['model', 'modelVersion', 'options', 'bugs']);
const TOOL_FIELDS: ReadonlySet<string> = new Set(['name', 'version']);
const EXPECT_OK_FIELDS: ReadonlySet<string> = new Set(['status']);
const EXPECT_VIOLATED_FIELDS: ReadonlySet<string> = new Set(['status', 'eventIndex', 'invariant']);

/** The first key of `obj` outside `known`, or null. */
function unknownKey(obj: object, known: ReadonlySet<string>): string | null {
  for (const k of Object.keys(obj)) if (!known.has(k)) return k;
  return null;
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

/**
 * Line of a top-level key in the text, as found by `scanJson` (so a `"design"` inside a note or a label does not
 * fool it); line 1 (the document's opening brace) for a key that is missing.
 */
function keyLine(lines: ReadonlyMap<string, number>, key: string): number {
  return lines.get(key) ?? 1;
}

/** Line of the first `"key"` in the text (for a document too deep to scan), or 1. */
function lineOfKey(text: string, key: string): number {
  const i = text.indexOf(JSON.stringify(key));
  return i < 0 ? 1 : lineOf(text, i);
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
    const why = asciiOnly(String((e as Error).message).replace(/^.*?: /, '').replace(/\s+/g, ' ')).slice(0, 160);
    return err('notJson', line, '', `not valid JSON (${why})`);
  }
  const deepAt = tooDeep(doc, MAX_DEPTH);
  const scan = deepAt === null ? scanJson(text) : { issue: null, topLines: new Map<string, number>() };
  const kl = scan.topLines;
  if (deepAt !== null) return err('invalid', lineOfKey(text, String(deepAt[0] ?? '')), fieldPath(deepAt.map((k) => (typeof k === 'string' ? keyName(k) : k))), `nested more than ${MAX_DEPTH} levels deep`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return err('unknownFormat', 1, '', 'a trace must be a JSON object');
  if (scan.issue) return err('invalid', scan.issue.line, scan.issue.field, scan.issue.message);
  let d = doc as Record<string, unknown>;
  if (own(d, 'format') !== TRACE_FORMAT) return err('unknownFormat', keyLine(kl, 'format'), 'format', `expected "${TRACE_FORMAT}", got ${quote(own(d, 'format'))}`);
  const fv = own(d, 'formatVersion');
  if (typeof fv !== 'number' || !Number.isInteger(fv) || fv < 1) return err('invalid', keyLine(kl, 'formatVersion'), 'formatVersion', 'must be a positive integer');
  if (fv > TRACE_VERSION) return err('versionTooNew', keyLine(kl, 'formatVersion'), 'formatVersion', `version ${fv} is newer than this dtsim understands (${TRACE_VERSION}); upgrade dtsim`);
  for (let v = fv; v < TRACE_VERSION; v++) {
    const mig = MIGRATIONS[v];
    if (!mig) return err('invalid', keyLine(kl, 'formatVersion'), 'formatVersion', `no migration from version ${v}`);
    d = mig(d);
  }
  const extra = unknownKey(d, TOP_FIELDS);
  if (extra !== null) return err('invalid', keyLine(kl, extra), keyName(extra), `unknown field (a trace has only: ${[...TOP_FIELDS].join(', ')})`);
  const tool = own(d, 'tool');
  if (tool !== undefined) {
    const tk = isRecord(tool) ? unknownKey(tool, TOOL_FIELDS) : null;
    if (!isRecord(tool) || tk !== null || own(tool, 'name') !== 'dtsim' || typeof own(tool, 'version') !== 'string') {
      return err('invalid', keyLine(kl, 'tool'), tk !== null ? `tool.${keyName(tk)}` : 'tool', 'must be {"name": "dtsim", "version": "..."}');
    }
  }
  let design = own(d, 'design') as Record<string, unknown> | undefined;
  if (!isRecord(design)) return err('invalid', keyLine(kl, 'design'), 'design', 'missing or not an object');
  const dl = keyLine(kl, 'design');
  const dk = unknownKey(design, DESIGN_FIELDS);
  if (dk !== null) return err('invalid', dl, `design.${keyName(dk)}`, `unknown field (a design has only: ${[...DESIGN_FIELDS].join(', ')})`);
  if (typeof design['model'] !== 'string') return err('invalid', dl, 'design.model', 'must be a string');
  const model = lookup(design['model']);
  if (!model) return err('unknownModel', dl, 'design.model', `unknown model ${quote(design['model'])}`);
  // An older model version is read through the model's migration chain; a newer one is refused.
  let migration: ModelMigrationRecord | null = null;
  if (own(design, 'modelVersion') !== model.version) {
    const m = migrateModelTrace(d, model);
    if (!m.ok) return err(m.error.kind, (kl.get(m.error.field.replace(/[.[].*$/, '')) ?? dl), m.error.field, m.error.message);
    d = m.doc; design = d['design'] as Record<string, unknown>; migration = m.record;
  }
  const po = model.parseOptions(design['options'] ?? {});
  if (!po.ok) return err('invalid', dl, `design.${po.error.field}`, po.error.message);
  const bugs = design['bugs'];
  if (!Array.isArray(bugs)) return err('invalid', dl, 'design.bugs', 'must be an array of bug ids');
  for (let i = 0; i < bugs.length; i++) {
    if (typeof bugs[i] !== 'string' || !model.bugs.some((b) => b.id === bugs[i])) {
      return err('invalid', dl, `design.bugs[${i}]`, `unknown bug ${quote(bugs[i])} for model '${model.id}'`);
    }
    if (bugs.indexOf(bugs[i]) !== i) return err('invalid', dl, `design.bugs[${i}]`, `bug ${quote(bugs[i])} listed twice`);
  }
  const pc = model.parseConfig(own(d, 'config'));
  if (!pc.ok) return err('invalid', keyLine(kl, 'config'), pc.error.field, pc.error.message);
  // A missing option or config field takes its default on purpose: that is how a trace saved before the option
  // existed reads (the default is the behaviour from before), and replay still checks it against its expect block.
  const seed = own(d, 'seed');
  if (seed !== null && seed !== undefined && typeof seed !== 'string') return err('invalid', keyLine(kl, 'seed'), 'seed', 'must be a string or null');
  const choices = own(d, 'choices');
  if (choices !== null && choices !== undefined && (!Array.isArray(choices) || !choices.every((c) => Number.isInteger(c) && c >= 0))) {
    return err('invalid', keyLine(kl, 'choices'), 'choices', 'must be null or an array of non-negative integers');
  }
  const events = own(d, 'events');
  if (!Array.isArray(events)) return err('invalid', keyLine(kl, 'events'), 'events', 'missing or not an array');
  const lines = eventLines(text);
  const parsed: EventBase[] = [];
  for (let i = 0; i < events.length; i++) {
    const r = model.parseEvent(events[i], pc.config);
    if (!r.ok) return err('invalid', lines[i] ?? keyLine(kl, 'events'), `events[${i}]${r.error.field ? `.${r.error.field}` : ''}`, r.error.message);
    parsed.push(r.event);
  }
  const ex = own(d, 'expect') as Record<string, unknown> | undefined;
  const el = keyLine(kl, 'expect');
  if (!isRecord(ex)) return err('invalid', el, 'expect', 'missing or not an object');
  let expect: Expect;
  const exk = unknownKey(ex, ex['status'] === 'violated' ? EXPECT_VIOLATED_FIELDS : EXPECT_OK_FIELDS);
  if (exk !== null) return err('invalid', el, `expect.${keyName(exk)}`, `unknown field for status ${quote(ex['status'])}`);
  if (ex['status'] === 'ok') expect = { status: 'ok' };
  else if (ex['status'] === 'violated') {
    const ei = ex['eventIndex'];
    if (typeof ei !== 'number' || !Number.isInteger(ei) || ei < -1 || ei >= events.length) {
      return err('invalid', el, 'expect.eventIndex', `must be an integer in [-1, ${events.length})`);
    }
    if (typeof ex['invariant'] !== 'string') return err('invalid', el, 'expect.invariant', 'must be an invariant id');
    const inv = ex['invariant'];
    if (!model.invariants.some((x) => x.id === inv)) {
      return err('invalid', el, 'expect.invariant', `unknown invariant ${quote(inv)} for model '${model.id}' (known: ${model.invariants.map((x) => x.id).join(', ')})`);
    }
    expect = { status: 'violated', eventIndex: ei, invariant: ex['invariant'] };
  } else return err('invalid', el, 'expect.status', 'must be "ok" or "violated"');
  if (own(d, 'note') !== undefined && typeof own(d, 'note') !== 'string') return err('invalid', keyLine(kl, 'note'), 'note', 'must be a string');
  const rawNote = own(d, 'note');
  const note = typeof rawNote === 'string' ? rawNote : '';
  const rawLabels = own(d, 'labels') ?? {};
  const ll = keyLine(kl, 'labels');
  if (typeof rawLabels !== 'object' || rawLabels === null || Array.isArray(rawLabels)) return err('invalid', ll, 'labels', 'must be an object of event index -> text');
  const labels: { [eventIndex: string]: string } = {};
  for (const [k, lv] of Object.entries(rawLabels as Record<string, unknown>)) {
    if (!/^(0|[1-9][0-9]{0,8})$/.test(k) || Number(k) >= events.length) return err('invalid', ll, `labels.${keyName(k)}`, `key must be an event index in [0, ${events.length})`);
    if (typeof lv !== 'string' || lv.length > 1000) return err('invalid', ll, `labels.${k}`, 'must be a string of at most 1000 characters');
    labels[k] = lv;
  }
  const trace: Trace = {
    format: TRACE_FORMAT, formatVersion: TRACE_VERSION,
    tool: { name: 'dtsim', version: typeof own(tool, 'version') === 'string' ? String(own(tool, 'version')) : 'unknown' },
    design: { model: model.id, modelVersion: model.version, options: po.options, bugs: [...bugs] as string[] },
    config: pc.config as JsonValue, seed: typeof seed === 'string' ? seed : null,
    choices: Array.isArray(choices) ? choices as number[] : null, note, events: parsed, labels, expect,
  };
  const stale = migration ? checkReplaysToExpect(model, migration, trace) : null;
  if (stale) return err(stale.kind, el, stale.field, stale.message);
  return { ok: true, trace, model, migration };
}
