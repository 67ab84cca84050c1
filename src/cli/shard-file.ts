/**
 * The files `dtsim check --merge DIR` reads: untrusted input, checked field by field before anything is merged,
 * printed or saved (follow-up of issue 20).
 *
 * A merge folder holds the shards' `check --json` results, and may hold saved traces beside them: a shard's
 * `--out-dir` pointing into the shared folder is a natural setup on schedulers (docs/schedulers/), and a merge of
 * older shards (no `failures` list) saves their failing runs into its own `--out-dir`, which may be the folder.
 * So a file is one of three things (`classifyShardFile`):
 * - a saved trace (its top-level `format` is the trace format): skipped and counted, never read as a result;
 * - a check result (`command: "check"`): every field the merge uses is checked (`parseShardDoc`), and the result
 *   is rebuilt from the checked fields only, so nothing unchecked reaches the table, the JSON or a saved trace;
 * - anything else: an error naming the file (exit 2, one line).
 *
 * What is checked, and why: the text first with the trace reader's scanner (`scanJson`: a key repeated in one
 * object, which JSON.parse would resolve silently to the last, and numbers not written as JSON.stringify writes
 * them); counts are non-negative safe integers (a sum of shards stays exact); metrics are finite non-negative
 * numbers; the model is a known one, its options, bugs, configuration and the failing run's events parse as the
 * model's own (they become a trace when the merge saves an older shard's failure); a design is listed once per
 * file; `violations > 0` exactly when a first failure is given (a violation without its run would be evidence
 * lost, a run without a violation a verdict that misleads); a listed saved failure names a design of the same file
 * that failed. Every lookup by a key from the file is an own-property lookup (`own`), and records keyed by input
 * (metrics, coverage, violations by invariant) are rebuilt with `Object.fromEntries`, so `__proto__` or
 * `constructor` keys are plain data, never the prototype.
 */
import type { ResultJson } from '../check/campaign.ts';
import type { Design, EventBase, JsonValue } from '../core/model.ts';
import { isRecord, keyName, own, quote } from '../core/untrusted.ts';
import { scanJson } from '../trace/json-text.ts';
import { TRACE_FORMAT } from '../trace/format.ts';
import { MODELS } from './registry.ts';

/**
 * A failing run a campaign saved: which design and run, the trace file and the commands that replay it and
 * re-run it, and the shrunk trace when shrinking worked. `check --json` lists these (`failures`), and a merge of
 * sharded results lists the failures of every shard (each shard saves its own into its --out-dir; the paths are
 * as that shard wrote them, relative to its working folder).
 */
export interface SavedFailure {
  readonly label: string;
  readonly model: string;
  readonly invariant: string;
  readonly seed: string;
  readonly runIndex: number;
  readonly eventIndex: number;
  readonly message: string;
  readonly trace: string;
  readonly replay: string;
  readonly rerun: string;
  readonly shrunk: null | { readonly trace: string; readonly events: number; readonly replay: string };
}

/** One checked shard result file. */
export interface ShardDoc {
  readonly seed: string;
  readonly results: readonly ResultJson[];
  /** Null: the file predates the `failures` list (its failing designs are saved at the merge). */
  readonly failures: readonly SavedFailure[] | null;
  /** Null: the file predates the field. */
  readonly maxEvents: number | null;
  /**
   * Which shard of how many this result is (`--shard i/n`; an unsharded run is 0 of 1), so a merge can refuse a
   * shard given twice and say which are missing. Null: the file predates the field (its index cannot be checked).
   */
  readonly shard: { readonly index: number; readonly count: number } | null;
}

/** What a problem in a shard file is reported as: the caller turns it into `BadInputError(file, line, field, message)`. */
export interface ShardIssue {
  readonly line: number | null;
  readonly field: string;
  readonly message: string;
}

export type ShardFile =
  | { readonly kind: 'shard'; readonly doc: ShardDoc }
  | { readonly kind: 'trace' }
  | { readonly kind: 'bad'; readonly issue: ShardIssue };

/** Thrown inside the checks below and caught by `classifyShardFile` (never escapes it). */
class Bad extends Error {
  constructor(readonly issue: ShardIssue) { super(issue.message); }
}

function bad(field: string, message: string, line: number | null = null): never {
  throw new Bad({ line, field, message });
}

const nat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const metric = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

/** A record of numbers keyed by input, rebuilt as own data (a `__proto__` key stays a key). */
function numbers(v: unknown, field: string, ok: (x: unknown) => boolean, what: string): { [k: string]: number } {
  if (!isRecord(v)) bad(field, 'must be an object');
  const out: [string, number][] = [];
  for (const [k, x] of Object.entries(v)) {
    if (!ok(x)) bad(`${field}.${keyName(k)}`, `must be ${what}, got ${quote(x)}`);
    out.push([k, x as number]);
  }
  return Object.fromEntries(out);
}

function str(o: { readonly [k: string]: unknown }, k: string, where: string): string {
  const v = own(o, k);
  return typeof v === 'string' ? v : bad(`${where}.${k}`, `must be a string, got ${quote(v)}`);
}

function count(o: { readonly [k: string]: unknown }, k: string, where: string): number {
  const v = own(o, k);
  return nat(v) ? v : bad(`${where}.${k}`, `must be a non-negative integer (at most 2^53 - 1), got ${quote(v)}`);
}

/** A shard's `failures` entry, checked field by field; `where` names it in errors. */
function parseSavedFailure(x: unknown, where: string): SavedFailure {
  if (!isRecord(x)) bad(where, 'not a saved failure (see: dtsim check --json)');
  const ei = own(x, 'eventIndex');
  if (typeof ei !== 'number' || !Number.isSafeInteger(ei) || ei < -1) bad(`${where}.eventIndex`, `must be an integer >= -1, got ${quote(ei)}`);
  if (!Object.hasOwn(x, 'shrunk')) bad(`${where}.shrunk`, 'missing (null when the run could not be shrunk)');
  const s = own(x, 'shrunk');
  let shrunk: SavedFailure['shrunk'] = null;
  if (s !== null) {
    if (!isRecord(s)) bad(`${where}.shrunk`, 'must be null or an object');
    shrunk = { trace: str(s, 'trace', `${where}.shrunk`), events: count(s, 'events', `${where}.shrunk`), replay: str(s, 'replay', `${where}.shrunk`) };
  }
  return { label: str(x, 'label', where), model: str(x, 'model', where), invariant: str(x, 'invariant', where), seed: str(x, 'seed', where),
    runIndex: count(x, 'runIndex', where), eventIndex: ei, message: str(x, 'message', where), trace: str(x, 'trace', where),
    replay: str(x, 'replay', where), rerun: str(x, 'rerun', where), shrunk };
}

/** One `results[i]` entry, rebuilt from its checked fields. */
function parseResult(x: unknown, where: string): ResultJson {
  if (!isRecord(x)) bad(where, 'not a campaign result');
  const label = str(x, 'label', where);
  const modelId = str(x, 'model', where);
  const m = MODELS.find((k) => k.id === modelId);
  if (!m) bad(`${where}.model`, `unknown model ${quote(modelId)} (one of: ${MODELS.map((k) => k.id).join(', ')})`);
  const d = own(x, 'design');
  if (!isRecord(d)) bad(`${where}.design`, 'must be an object');
  if (own(d, 'model') !== modelId) bad(`${where}.design.model`, `must be the result's model ${quote(modelId)}, got ${quote(own(d, 'model'))}`);
  if (own(d, 'modelVersion') !== m.version) bad(`${where}.design.modelVersion`, `must be ${m.version} (this dtsim's ${m.id}): shards and merge run the same dtsim`);
  const po = m.parseOptions(own(d, 'options'));
  if (!po.ok) bad(`${where}.design.options${po.error.field ? `.${po.error.field}` : ''}`, po.error.message);
  const bugs = own(d, 'bugs');
  if (!Array.isArray(bugs)) bad(`${where}.design.bugs`, 'must be an array of bug ids');
  bugs.forEach((b: unknown, i) => {
    if (typeof b !== 'string' || !m.bugs.some((k) => k.id === b)) bad(`${where}.design.bugs[${i}]`, `unknown bug ${quote(b)} for model '${m.id}'`);
    if (bugs.indexOf(b) !== i) bad(`${where}.design.bugs[${i}]`, `bug ${quote(b)} listed twice`);
  });
  const design: Design = { model: m.id, modelVersion: m.version, options: po.options, bugs: bugs as string[] };
  const pc = m.parseConfig(own(x, 'config'));
  if (!pc.ok) bad(`${where}.config${pc.error.field ? `.${pc.error.field}` : ''}`, pc.error.message);
  const runs = count(x, 'runs', where);
  // A result written before `runsRequested` existed asked for the runs it did (no budget is known).
  const runsRequested = Object.hasOwn(x, 'runsRequested') ? count(x, 'runsRequested', where) : runs;
  if (runs > runsRequested) bad(`${where}.runs`, `${runs} runs done of ${runsRequested} requested`);
  const violations = count(x, 'violations', where);
  if (violations > runs) bad(`${where}.violations`, `${violations} violations in ${runs} runs`);
  const tm = own(x, 'timeMs');
  if (!metric(tm)) bad(`${where}.timeMs`, `must be a non-negative number, got ${quote(tm)}`);
  const ff = own(x, 'firstFailure');
  let firstFailure: ResultJson['firstFailure'] = null;
  if (ff !== null) {
    const fw = `${where}.firstFailure`;
    if (!isRecord(ff)) bad(fw, 'must be null or an object');
    const evs = own(ff, 'events');
    if (!Array.isArray(evs)) bad(`${fw}.events`, 'must be an array of events');
    const events: EventBase[] = evs.map((e: unknown, i) => {
      const r = m.parseEvent(e, pc.config);
      return r.ok ? r.event : bad(`${fw}.events[${i}]${r.error.field ? `.${r.error.field}` : ''}`, r.error.message);
    });
    const ei = own(ff, 'eventIndex');
    if (typeof ei !== 'number' || !Number.isSafeInteger(ei) || ei < -1 || ei >= events.length) bad(`${fw}.eventIndex`, `must be an integer in [-1, ${events.length})`);
    const invariant = str(ff, 'invariant', fw);
    if (invariant !== 'rejected' && !m.invariants.some((k) => k.id === invariant)) bad(`${fw}.invariant`, `unknown invariant ${quote(invariant)} for model '${m.id}'`);
    const ch = own(ff, 'choices');
    if (!Array.isArray(ch) || !ch.every(nat)) bad(`${fw}.choices`, 'must be an array of non-negative integers');
    firstFailure = { seed: str(ff, 'seed', fw), runIndex: count(ff, 'runIndex', fw), invariant, eventIndex: ei, message: str(ff, 'message', fw),
      events, choices: ch as number[] };
  }
  if ((violations > 0) !== (firstFailure !== null)) {
    bad(`${where}.firstFailure`, violations > 0 ? `missing: ${violations} violation(s) and no failing run` : 'a failing run although violations is 0');
  }
  return { label, model: m.id, design, config: pc.config as unknown as JsonValue, runsRequested, runs, events: count(x, 'events', where), violations,
    distinctStates: count(x, 'distinctStates', where), metrics: numbers(own(x, 'metrics'), `${where}.metrics`, metric, 'a finite non-negative number'),
    coverage: numbers(own(x, 'coverage'), `${where}.coverage`, nat, 'a non-negative integer'), timeMs: tm,
    byInvariant: numbers(own(x, 'byInvariant'), `${where}.byInvariant`, nat, 'a non-negative integer'), firstFailure };
}

/**
 * Reads the text of one file of a merge folder (see the module comment). Never throws: a problem is `bad` with the
 * field (and the line, for what the text scan finds).
 */
export function classifyShardFile(text: string): ShardFile {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch { return { kind: 'bad', issue: { line: null, field: '', message: 'not valid JSON' } }; }
  if (!isRecord(doc)) return { kind: 'bad', issue: { line: null, field: '', message: 'not a `dtsim check --json` result (not a JSON object)' } };
  // A saved trace (whatever its version or content: it is not read here; `dtsim replay` reads it).
  if (own(doc, 'format') === TRACE_FORMAT) return { kind: 'trace' };
  try {
    const scan = scanJson(text);
    if (scan.issue) bad(scan.issue.field, scan.issue.message, scan.issue.line);
    if (own(doc, 'command') !== 'check') bad('command', `not a \`dtsim check --json\` result (command ${quote(own(doc, 'command'))}) nor a saved trace (format ${quote(own(doc, 'format'))})`);
    const seed = own(doc, 'seed');
    if (typeof seed !== 'string') bad('seed', `must be a string, got ${quote(seed)}`);
    const rs = own(doc, 'results');
    if (!Array.isArray(rs)) bad('results', 'must be an array of campaign results');
    const results = rs.map((r: unknown, i) => parseResult(r, `results[${i}]`));
    results.forEach((r, i) => { if (results.findIndex((q) => q.label === r.label) !== i) bad(`results[${i}].label`, `design ${quote(r.label)} listed twice`); });
    let failures: SavedFailure[] | null = null;
    if (Object.hasOwn(doc, 'failures')) {
      const fs = own(doc, 'failures');
      if (!Array.isArray(fs)) bad('failures', 'not a list of saved failures');
      failures = fs.map((f: unknown, i) => parseSavedFailure(f, `failures[${i}]`));
      failures.forEach((f, i) => {
        if (!results.some((r) => r.label === f.label && r.violations > 0)) bad(`failures[${i}].label`, `names no failing design of this file: ${quote(f.label)}`);
      });
    }
    const me = own(doc, 'maxEvents');
    if (me !== undefined && me !== null && !(nat(me) && me >= 1)) bad('maxEvents', `must be a positive integer or null, got ${quote(me)}`);
    // `shard` is optional (files written before it existed are merged as before); when given, 0 <= index < count.
    let shard: ShardDoc['shard'] = null;
    if (Object.hasOwn(doc, 'shard')) {
      const sh = own(doc, 'shard');
      if (!isRecord(sh)) bad('shard', `must be an object { index, count }, got ${quote(sh)}`);
      const index = count(sh, 'index', 'shard');
      const n = count(sh, 'count', 'shard');
      if (n < 1) bad('shard.count', `must be at least 1, got ${n}`);
      if (index >= n) bad('shard.index', `must be below shard.count ${n}, got ${index}`);
      shard = { index, count: n };
    }
    return { kind: 'shard', doc: { seed, results, failures, maxEvents: typeof me === 'number' ? me : null, shard } };
  } catch (e) {
    if (e instanceof Bad) return { kind: 'bad', issue: e.issue };
    throw e;
  }
}
