/**
 * The JSON Schemas (draft 2020-12) dtsim ships in `schemas/`: one for each trace format version the reader
 * accepts (`trace-v<N>.schema.json`, plus `trace.schema.json`, any of them), and one for the `--json` output of each
 * command (`output-<command>.schema.json`). Other tools (CI dashboards, a VMM's own tests that emit traces) validate
 * what they produce or read against them with any draft 2020-12 validator.
 *
 * Generated, never written by hand: `npm run schemas` writes the files from `buildSchemas()`, and a test
 * (src/cli/schemas.test.ts) fails when the checked-in files differ from what this module generates, so they cannot
 * drift. The trace schemas come from the models' own declarations: the model ids, versions, option domains, bug
 * knobs and invariant ids of every model in the registry (models/index.ts), the event field tables
 * (`eventFields()`: models/machine/events.ts, the core events and every mechanism's declared events) and the configuration
 * bounds (`LIMITS`, `DEFAULT_CONFIG`). The command schemas are declared here, next to the enums of
 * src/cli/verdict.ts they use (checked complete by tsc below).
 *
 * What a schema can and cannot say. A schema is never stricter than the reader (`parseTrace`): whatever the reader
 * accepts, the schema of its version accepts (properties/trace.schema.test.ts samples hostile traces to show that a
 * trace the schema rejects is also rejected by the reader). The reader checks more than a schema can express, so
 * a trace that validates can still be refused: a duplicated key or a number not written as JSON.stringify writes it
 * (JSON.parse hides both), an id out of the configuration's range (a vCPU >= config.vcpus, a page outside every
 * memslot: the schema bounds them by `LIMITS`), memslots out of order, an expect.eventIndex past the last event, a
 * label for an event that does not exist. Event types are the machine's whole table for every model, as the reader
 * has them (a type no design of the model enables is refused by replay, not by the reader).
 *
 * `$id`s are identifiers (`https://dtsim.dev/schemas/...`), not addresses anything fetches.
 */
import { DEFAULT_CONFIG, eventFields, LIMITS, MODELS, type FieldKind, type MachineModel } from '../../models/index.ts';
import type { JsonValue } from '../core/model.ts';
import type { ExploreStatus } from '../explore/bfs.ts';
import { TRACE_FORMAT, TRACE_VERSION, traceSchemaId } from '../trace/format.ts';
import type { BugOutcome, IncompleteReason, ReachResult, Verdict } from './verdict.ts';

/** A JSON Schema document or subschema (plain JSON). */
export type Schema = { readonly [k: string]: JsonValue };

export const SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';
export const SCHEMA_BASE = 'https://dtsim.dev/schemas/';

/** The commands with a `--json` output, each with its schema `output-<command>.schema.json`. */
export const JSON_COMMANDS = ['check', 'bugs', 'explore', 'compare', 'run', 'replay', 'bisect', 'shrink'] as const;
export type JsonCommand = typeof JSON_COMMANDS[number];

/** The `$id` of the schema of a command's `--json` output. */
export function outputSchemaId(command: JsonCommand): string {
  return `${SCHEMA_BASE}output-${command}.schema.json`;
}

/** The `$id` of the schema that accepts a trace of any format version the reader accepts. */
export const ANY_TRACE_SCHEMA_ID = `${SCHEMA_BASE}trace.schema.json`;

// Enums of the CLI's types, listed once here; the `Exact` checks fail tsc when a type gains or loses a member.
type Exact<T, L extends readonly T[]> = [T] extends [L[number]] ? L : never;
const VERDICTS: Exact<Verdict, ['ok', 'violated', 'inconclusive']> = ['ok', 'violated', 'inconclusive'];
const INCOMPLETE: Exact<IncompleteReason, ['stateLimit', 'timeLimit', 'memoryLimit', 'depthBound', 'contextBound']> = ['stateLimit', 'timeLimit', 'memoryLimit', 'depthBound', 'contextBound'];
const STATUSES: Exact<ExploreStatus, ['exhausted', 'depthBound', 'violated', 'stateLimit', 'timeLimit', 'stopped', 'reached']> = ['exhausted', 'depthBound', 'violated', 'stateLimit', 'timeLimit', 'stopped', 'reached'];
const REACH_RESULTS: Exact<ReachResult, ['reached', 'violated', 'inconclusive', 'unreachable']> = ['reached', 'violated', 'inconclusive', 'unreachable'];
const OUTCOMES: Exact<BugOutcome, ['found', 'wrongInvariant', 'flagged', 'notFound', 'clean']> = ['found', 'wrongInvariant', 'flagged', 'notFound', 'clean'];

// ---- small builders ----
const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const num: Schema = { type: 'number' };
const int: Schema = { type: 'integer' };
const nat: Schema = { type: 'integer', minimum: 0 };
const intIn = (lo: number, hi: number): Schema => ({ type: 'integer', minimum: lo, maximum: hi });
const orNull = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
const arr = (items: Schema, extra: Schema = {}): Schema => ({ type: 'array', items, ...extra });
const numbers: Schema = { type: 'object', additionalProperties: num };
const counts: Schema = { type: 'object', additionalProperties: nat };
const anyObject: Schema = { type: 'object' };
/** A closed object: every listed property, required unless named in `optional`. */
function obj(props: { readonly [k: string]: Schema }, optional: readonly string[] = [], extra: Schema = {}): Schema {
  return { type: 'object', required: Object.keys(props).filter((k) => !optional.includes(k)), additionalProperties: false, properties: props, ...extra };
}
function doc(id: string, title: string, description: string, body: Schema): Schema {
  return { $schema: SCHEMA_DIALECT, $id: id, title, description, ...body };
}

// ---- traces ----

/** One event field kind as a schema: bounded by the configuration limits (the reader bounds it by the trace's own configuration). */
function fieldSchema(kind: FieldKind): Schema {
  switch (kind) {
    case 'vcpu': return intIn(0, LIMITS.vcpus - 1);
    case 'pe': return intIn(0, LIMITS.pes - 1);
    case 'gfn': return intIn(0, LIMITS.pages - 1);
    case 'slot': return intIn(0, LIMITS.slots - 1);
    case 'u32': return intIn(0, 2 ** 32 - 1);
    case 'u64': return intIn(0, Number.MAX_SAFE_INTEGER);
    case 'int': return int;
    case 'offsets': return arr(intIn(0, Number.MAX_SAFE_INTEGER), { maxItems: 1 << 20 });
    default: { const never: never = kind; throw new Error(`[dtsim] schemas: unknown field kind ${String(never)}`); }
  }
}

/** Every event type of the machine (`eventFields()`), one closed object per type, told apart by `type`. */
function eventSchema(): Schema {
  const fieldsOf = eventFields();
  const types = Object.keys(fieldsOf).sort();
  return {
    description: 'One event: a plain object tagged with its exact type and carrying exactly the fields of that type.',
    type: 'object', required: ['type'], properties: { type: { enum: types } },
    oneOf: types.map((t) => {
      const fields = fieldsOf[t] as { readonly [f: string]: FieldKind };
      const props: { [k: string]: Schema } = { type: { const: t } };
      for (const [f, kind] of Object.entries(fields)) props[f] = fieldSchema(kind);
      return obj(props);
    }),
  };
}

/** The machine configuration (`parseMachineConfig`): every field optional (it takes its default). */
function configSchema(): Schema {
  const gfn = intIn(0, LIMITS.pages - 1);
  const props: { [k: string]: Schema } = {
    vcpus: intIn(1, LIMITS.vcpus), pes: intIn(1, LIMITS.pes),
    slots: arr(obj({ base: gfn, npages: intIn(1, LIMITS.pages) }), { minItems: 1, maxItems: LIMITS.slots,
      description: 'Memslots, ordered and disjoint (base >= the previous slot\'s end; base + npages <= 2^22): the order is checked by the reader.' }),
    blocks: bool, tlbEntries: intIn(1, LIMITS.tlbEntries), stolenTime: bool,
    itsPages: arr(gfn, { description: 'gfns inside a memslot (checked by the reader)' }), rounds: intIn(0, LIMITS.rounds),
    storePages: arr(gfn, { description: 'gfns inside a memslot (checked by the reader); empty: every page' }),
    loadPages: arr(gfn, { description: 'gfns guest loads may target, inside a memslot (checked by the reader); empty: no loads' }),
    kernelTlbi: bool,
  };
  const missing = Object.keys(DEFAULT_CONFIG).filter((k) => !Object.hasOwn(props, k));
  const stray = Object.keys(props).filter((k) => !Object.hasOwn(DEFAULT_CONFIG, k));
  if (missing.length || stray.length) throw new Error(`[dtsim] schemas: config fields out of date (missing ${missing.join(', ')}; unknown ${stray.join(', ')})`);
  return obj(props, Object.keys(props), { description: 'The machine configuration; a missing field takes its default.' });
}

const defName = (id: string): string => `model-${id}`;

/** What a trace of model `m` may say in its design and expect block (and, from the version where its shape is current, config and events). */
function modelSchema(m: MachineModel): Schema {
  const options: { [k: string]: Schema } = {};
  for (const [k, dom] of Object.entries(m.preset.options)) options[k] = { enum: [...dom] as JsonValue[] };
  const current: Schema = {
    type: 'object',
    properties: {
      design: {
        type: 'object',
        properties: {
          options: obj(options, Object.keys(options), { description: 'Each option is one of its documented values; a missing one takes its default (the first).' }),
          bugs: arr({ enum: m.bugs.map((b) => b.id) }, { uniqueItems: true }),
        },
      },
      config: { $ref: '#/$defs/config' },
      events: arr({ $ref: '#/$defs/event' }),
      expect: {
        oneOf: [
          obj({ status: { const: 'ok' } }),
          obj({ status: { const: 'violated' }, eventIndex: { type: 'integer', minimum: -1, description: '-1: the initial state; else < the number of events (checked by the reader)' },
            invariant: { enum: m.invariants.map((x) => x.id) } }),
          obj({ status: { const: 'rejected' }, eventIndex: { type: 'integer', minimum: 0, description: 'the event the machine must refuse (not enabled there): < the number of events (checked by the reader)' } }),
        ],
      },
    },
  };
  // A trace of an older model version is rewritten by the model's migration chain before it is read: before the
  // last `rewrite` step its options, config and events may have had another shape, so only the frame is checked.
  const rewrites = (m.migrations ?? []).filter((s) => s.kind === 'rewrite').map((s) => s.from);
  const shapeFrom = rewrites.length ? Math.max(...rewrites) + 1 : 1;
  const versions = intIn(1, m.version);
  const body: Schema = shapeFrom === 1 ? current
    : { type: 'object', if: { type: 'object', properties: { design: { type: 'object', properties: { modelVersion: { type: 'integer', minimum: shapeFrom } } } } }, then: current };
  return {
    description: `${m.id} v${m.version}: ${m.description}`,
    type: 'object',
    allOf: [{ type: 'object', properties: { design: { type: 'object', properties: { modelVersion: m.version === 1 ? { const: 1 } : versions } } } }, body],
  };
}

/** The schema of trace format version `v` (1..TRACE_VERSION). */
export function traceSchema(v: number, models: readonly MachineModel[] = MODELS): Schema {
  if (!Number.isInteger(v) || v < 1 || v > TRACE_VERSION) throw new Error(`[dtsim] schemas: no trace format version ${v}`);
  const $defs: { [k: string]: Schema } = { config: configSchema(), event: eventSchema() };
  for (const m of models) $defs[defName(m.id)] = modelSchema(m);
  // Version 1 did not define labels but its reader ignored unknown fields: the v1 -> v2 migration keeps a v1
  // document's labels and the reader checks them as v2 labels, so both schemas say the same.
  const labels: Schema = { type: 'object', description: v >= 2 ? 'Notes on events, keyed by event index (< the number of events: checked by the reader).'
      : 'Not defined by version 1, whose reader ignored it: kept by the v1 -> v2 migration and checked as version 2 labels (keys: event indexes < the number of events).',
    propertyNames: { pattern: '^(0|[1-9][0-9]{0,8})$' }, additionalProperties: { type: 'string', maxLength: 1000 } };
  const props: { [k: string]: Schema } = {
    $schema: { const: traceSchemaId(v), description: 'This schema\'s $id (optional; when present, exactly this).' },
    format: { const: TRACE_FORMAT },
    formatVersion: { const: v },
    tool: obj({ name: { const: 'dtsim' }, version: str }),
    design: obj({ model: { enum: models.map((m) => m.id) }, modelVersion: { type: 'integer', minimum: 1 }, options: anyObject, bugs: arr(str) }, ['options'],
      { description: 'The model, the model version the trace was made with (older ones are migrated), the options (missing ones take their defaults) and the bug knobs injected.' }),
    config: anyObject,
    seed: { type: ['string', 'null'], description: 'Provenance: the seed that generated the events (null: hand-written).' },
    choices: { anyOf: [arr(nat), { type: 'null' }], description: 'Provenance: the choice sequence that generated the events.' },
    note: str,
    labels,
    events: arr({ type: 'object', required: ['type'], properties: { type: str } }),
    expect: { type: 'object', required: ['status'], properties: { status: { enum: ['ok', 'violated', 'rejected'] } } },
  };
  return doc(traceSchemaId(v), `dtsim trace, format version ${v}`,
    `A dtsim trace (format "${TRACE_FORMAT}", formatVersion ${v}): a design, a configuration, provenance, the events and the expect block the trace replays to. `
    + 'Generated from the models\' declarations by `npm run schemas` (src/cli/schemas.ts); never stricter than dtsim\'s reader, which also checks what a schema cannot (see there). '
    + 'The $id is an identifier, not a URL that is fetched.',
    {
      type: 'object', required: ['format', 'formatVersion', 'design', 'config', 'events', 'expect'], additionalProperties: false, properties: props,
      allOf: models.map((m) => ({
        if: { type: 'object', required: ['design'], properties: { design: { type: 'object', required: ['model'], properties: { model: { const: m.id } } } } },
        then: { $ref: `#/$defs/${defName(m.id)}` },
      })),
      $defs,
    });
}

/** A trace of any format version the reader accepts, by its formatVersion. */
function anyTraceSchema(): Schema {
  const versions = Array.from({ length: TRACE_VERSION }, (_, i) => i + 1);
  return doc(ANY_TRACE_SCHEMA_ID, 'dtsim trace, any format version',
    `A dtsim trace of any format version dtsim reads (${versions.join(', ')}; older ones are migrated when read), validated by the schema of its formatVersion.`,
    { type: 'object', required: ['formatVersion'], properties: { formatVersion: { enum: versions } },
      oneOf: versions.map((v) => ({ $ref: traceSchemaId(v) })) });
}

// ---- --json outputs ----

const design: Schema = obj({ model: str, modelVersion: nat, options: anyObject, bugs: arr(str) });
const expectBlock: Schema = { oneOf: [obj({ status: { const: 'ok' } }), obj({ status: { const: 'violated' }, eventIndex: { type: 'integer', minimum: -1 }, invariant: str }),
  obj({ status: { const: 'rejected' }, eventIndex: { type: 'integer', minimum: 0 } })] };
const migration: Schema = orNull(obj({ model: str, from: nat, to: nat, steps: arr(obj({ from: nat, kind: { enum: ['rewrite', 'replay'] }, why: str })), replayed: bool },
  [], { description: 'Set when the trace was made by an older version of its model and read through its migrations.' }));
const eventObj: Schema = { type: 'object', required: ['type'], properties: { type: str } };
const searchVerdict = { verdict: { enum: VERDICTS }, complete: bool, exhaustive: bool, incompleteReason: orNull({ enum: INCOMPLETE }) };

function outputs(): { readonly [c in JsonCommand]: Schema } {
  const failure = obj({ label: str, model: str, invariant: str, seed: str, runIndex: nat, eventIndex: int, message: str, trace: str, replay: str, rerun: str,
    shrunk: orNull(obj({ trace: str, events: nat, replay: str })) });
  const result = obj({
    label: str, model: str, design, config: anyObject, runsRequested: nat, runs: nat, events: nat, violations: nat, distinctStates: nat,
    metrics: numbers, coverage: counts, timeMs: nat, byInvariant: counts,
    firstFailure: orNull(obj({ seed: str, runIndex: nat, invariant: str, eventIndex: int, message: str, events: arr(eventObj), choices: arr(nat) })),
    complete: bool,
  });
  const knob = obj({
    id: str, ref: str, model: str, expect: orNull(str),
    alsoExpect: { ...orNull({ type: 'object', additionalProperties: str }), description: 'other invariants the same bug may break first (invariant -> why), or null' },
    found: orNull(str), ok: bool, runs: nat, seconds: num, runIndex: orNull(nat),
    eventsFound: orNull(nat), eventsShrunk: orNull(nat), trace: orNull(str), outcome: { enum: OUTCOMES }, runsRequested: nat, complete: bool,
    incompleteReason: orNull({ const: 'notFoundWithinBudget' }), stoppedBy: orNull({ enum: ['timeBudget', 'runs'] }),
  });
  const single = obj({
    command: { const: 'explore' }, model: str, design, config: anyObject, depthBound: nat, status: { enum: STATUSES }, ...searchVerdict,
    generated: nat, distinct: nat, depth: nat, frontier: nat, terminal: nat, deadlocked: nat, contextBound: orNull(nat), target: arr(str), otherViolations: nat,
    seconds: num, distinctPerSecond: num, peakMemoryMb: num, collisionProbability: num, encoding: { enum: ['model', 'generic'] },
    symmetry: arr(obj({ name: str, size: nat, why: str })), storage: { enum: ['words', 'objects'] }, storageMb: num, message: str,
    violation: orNull(obj({ invariant: str, message: str, pages: arr(nat), events: nat, eventIndex: int })), trace: orNull(str),
  }, [], { description: 'dtsim explore (one design)' });
  const reach = obj({
    command: { const: 'explore' }, model: str, design, config: anyObject, depthBound: nat, status: { enum: STATUSES }, ...searchVerdict,
    generated: nat, distinct: nat, depth: nat, frontier: nat, seconds: num, distinctPerSecond: num, message: str,
    violation: orNull(obj({ invariant: str, message: str, pages: arr(nat), events: nat, eventIndex: int })),
    reach: obj({ query: str, result: { enum: REACH_RESULTS }, bounded: bool, events: orNull(nat) }), trace: orNull(str),
  }, [], { description: 'dtsim explore --reach / --reach-module (a reachability query)' });
  const row = obj({
    model: str, pes: nat, options: anyObject, explored: anyObject, config: anyObject, why: orNull(str), status: { enum: STATUSES }, distinct: nat, generated: nat,
    depth: nat, seconds: num, deadlocked: nat, violation: orNull(str), trace: orNull(str), message: str, ...searchVerdict,
    expectedOpen: { ...orNull(str), description: '--proof: the row is NOT exhausted as its tier documents (models/proofs.ts `open`): what was measured and why; else null' },
    coverage: { type: 'object', additionalProperties: orNull(nat), description: 'dtsim check\'s situations that apply to the row\'s design: the least number of events after which each happens in the explored space, or null (never reached)' },
  });
  const matrix = obj({
    command: { const: 'explore' }, matrix: { const: true }, proof: bool, tier: { enum: [1, 2], description: '--proof only: the proof tier explored' },
    depthBound: nat, workers: nat, verdict: { enum: VERDICTS }, complete: bool,
    rows: arr(row), exhausted: nat, violations: nat, notExhausted: nat, expectedNotExhausted: nat, stoppedByLimit: nat, bounded: nat,
  }, ['tier'], { description: 'dtsim explore --matrix and --proof (proof: true)' });
  const eventAt = orNull(obj({ index: nat, lane: str, event: eventObj }));
  const bisectBase = { command: { const: 'bisect' }, file: str, expect: expectBlock, matchesExpect: bool, migration };
  return {
    check: obj({ command: { const: 'check' }, seed: str, maxEvents: orNull(nat), wallSeconds: num, complete: bool,
      shard: obj({ index: nat, count: nat }, [], { description: 'A campaign only (not --merge): which shard of --shard i/n this result is (an unsharded run: index 0 of count 1).' }),
      shards: obj({ count: orNull(nat), present: arr(nat), missing: arr(nat), unchecked: nat }, [], { description: '--merge only: the shard count the files record (null: none does), '
        + 'the indices present and missing of 0..count-1, and how many files predate the shard field (their index could not be checked). '
        + 'Missing shards (more than unchecked files) make the merge incomplete (complete: false, exit 4 unless a violation: 1).' }),
      skippedTraces: { ...nat, description: '--merge only: saved traces (format dtsim/trace) found among the shard results and skipped' }, results: arr(result), failures: arr(failure) },
    ['shard', 'shards', 'skippedTraces']),
    bugs: obj({ command: { const: 'bugs' }, seed: str, verdict: { enum: VERDICTS }, knobs: arr(knob) }),
    explore: { oneOf: [single, matrix, reach] },
    compare: { oneOf: [obj({
      command: { const: 'compare' }, seed: str, runs: nat, maxEvents: nat, pages: nat, maxVcpus: nat,
      rows: arr(obj({ design: str, model: str, workload: str, storePages: nat, runs: nat, violations: nat, totals: numbers, perRun: numbers })),
      curves: arr(obj({ name: str, points: arr(obj({ x: num, y: num, workload: str })) })), html: orNull(str),
    }), obj({
      command: { const: 'compare' }, preset: str, seed: str, checkEvery: nat, workers: nat, wallSeconds: num, events: nat,
      results: arr(obj({
        point: obj({ model: str, variant: str, options: anyObject, workload: str, spec: anyObject, seed: str, bugs: arr(str) }, ['bugs']),
        status: { enum: ['ok', 'violated', 'stuck'] },
        violation: orNull(obj({ invariant: str, message: str, detectedAtEvent: nat })),
        events: nat, checks: nat, checkEvery: nat, measures: numbers, figures: numbers,
        rounds: arr(obj({ round: nat, atMs: num, reports: nat, harvestWork: nat })),
        perVcpu: { type: 'object', additionalProperties: numbers }, wallMs: num,
      })),
      html: orNull(str), csv: orNull(str),
    }, [], { description: 'dtsim compare --preset (docs/compare.md): one result per grid point; a violated run has empty measures and figures' })] },
    run: obj({
      command: { const: 'run' }, model: str, seed: str, design, events: nat, status: { enum: ['ok', 'violated', 'rejected'] }, eventIndex: orNull(int),
      invariant: orNull(str), message: orNull(str), fingerprint: str, trace: orNull(str), metrics: numbers,
    }),
    replay: obj({
      command: { const: 'replay' }, file: str, status: { enum: ['ok', 'violated', 'rejected'] }, eventIndex: orNull(int), invariant: orNull(str), message: orNull(str),
      pages: arr(nat), fingerprint: str, expect: expectBlock, matchesExpect: bool, migration,
    }),
    bisect: {
      oneOf: [
        obj({ ...bisectBase, status: { const: 'ok' }, eventIndex: { type: 'null' }, method: { enum: ['binary', 'stepwise'] } }),
        obj({ ...bisectBase, status: { const: 'rejected' }, eventIndex: int, message: str }),
        obj({
          ...bisectBase, status: { const: 'violated' }, eventIndex: int, invariant: str, message: str, pages: arr(nat), method: { enum: ['binary', 'stepwise'] }, probes: nat,
          event: eventAt, changes: arr(str),
          cause: orNull(obj({ kind: { enum: ['event', 'completion'] }, eventIndex: int, invariant: str, message: str, pages: arr(nat), event: eventAt, changes: arr(str) })),
        }),
      ],
    },
    shrink: obj({
      command: { const: 'shrink' }, file: str, out: str, invariant: str, eventsBefore: nat, eventsAfter: nat, configBefore: anyObject, configAfter: anyObject,
      eventIndex: int, message: str, pages: arr(nat), tests: nat, steps: arr(str), migration,
    }),
  };
}

/** Every schema file dtsim ships, by file name under `schemas/`. */
export function buildSchemas(models: readonly MachineModel[] = MODELS): { readonly file: string; readonly schema: Schema }[] {
  const out: { file: string; schema: Schema }[] = [];
  for (let v = 1; v <= TRACE_VERSION; v++) out.push({ file: `trace-v${v}.schema.json`, schema: traceSchema(v, models) });
  out.push({ file: 'trace.schema.json', schema: anyTraceSchema() });
  const o = outputs();
  for (const c of JSON_COMMANDS) {
    out.push({ file: `output-${c}.schema.json`, schema: doc(outputSchemaId(c), `dtsim ${c} --json`,
      `The one JSON document \`dtsim ${c} --json\` prints on stdout. Declared in src/cli/schemas.ts; the $id is an identifier, not a URL that is fetched.`, o[c]) });
  }
  return out;
}

/** A schema file's text: two-space indented JSON and a final newline (what `npm run schemas` writes). */
export function renderSchema(s: Schema): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}
