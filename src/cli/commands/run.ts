/** `dtsim run` (simulate one design and seed, save the trace) and `dtsim replay` (re-run a trace). */
import { replay, simulate } from '../../core/engine.ts';
import { fingerprint } from '../../core/fingerprint.ts';
import { expectMatches, makeTrace, parseTrace, serializeTrace, type Expect, type Trace } from '../../trace/format.ts';
import { describeModelMigration, type ModelMigrationRecord } from '../../trace/model-migrations.ts';
import { BadInputError, UsageError } from '../errors.ts';
import { checkOutputs, readText, writeOutput } from '../io.ts';
import { designFromFlags, intFlag, lookupModel, optionFlags, seedFlag, type DesignChoice } from '../registry.ts';
import type { MachineConfig } from '../../../models/index.ts';
import type { Parsed } from '../main.ts';
import type { AnyModel, EventBase } from '../../core/model.ts';
import type { MachineModel } from '../registry-types.ts';

function freshSeed(): string {
  // The one place a seed is invented: printed first, so the run can be repeated.
  return (Date.now() % 1e10).toString(36) + Math.floor(Math.random() * 1e6).toString(36);
}

/**
 * The run command line that repeats it: knobs, non-default options, seed, events, and `--config` when the
 * configuration differs from the one the knobs alone give.
 */
function runCommandLine(d: DesignChoice, seed: string, maxEvents: number): string {
  const plain = designFromFlags({ model: d.model.id, bug: [...d.bugs] }, {}).config;
  const config = JSON.stringify(d.config) === JSON.stringify(plain) ? '' : ` --config '${JSON.stringify(d.config)}'`;
  return `dtsim run --model ${d.model.id}${d.bugs.map((b) => ` --bug ${b}`).join('')}${optionFlags(d)} --seed ${seed} --events ${maxEvents}${config}`;
}

export async function cmdRun(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`run: unexpected argument '${p.positionals[0]}'`);
  const { model, design, config, bugs } = designFromFlags(v, {});
  const pc = { config: config as MachineConfig };
  const seed = seedFlag(v['seed'], freshSeed());
  const maxEvents = intFlag('events', v['events'], 400, 1, 10_000_000);
  const out = v['out'] as string | undefined;
  const rules = { force: v['force'] === true, inputs: [] };
  if (out) checkOutputs([{ flag: '--out', file: out }], rules);
  const json = v['json'] === true;
  if (!json) process.stdout.write(`dtsim run: model=${model.id} seed=${seed} events=${maxEvents} options=${JSON.stringify(design.options)} bugs=${JSON.stringify(design.bugs)}\n`);
  const run = simulate(model, design, pc.config, seed, { maxEvents });
  const o = run.outcome;
  const expect: Expect = o.status === 'violated' ? { status: 'violated', eventIndex: o.eventIndex, invariant: o.invariant } : { status: 'ok' };
  const trace = makeTrace({ design, config: pc.config as unknown as Trace['config'], seed, choices: run.choices, events: run.events,
    note: runCommandLine({ model, design, config, bugs }, seed, maxEvents), expect });
  if (out) writeOutput({ flag: '--out', file: out }, serializeTrace(trace), rules);
  const fp = fingerprint(o.state);
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'run', model: model.id, seed, design, events: run.events.length, status: o.status,
      eventIndex: o.eventIndex, invariant: o.invariant, message: o.message, fingerprint: fp, trace: out ?? null, metrics: model.metrics(o.state) })}\n`);
  } else {
    process.stdout.write(`${o.status}: ${run.events.length} events, fingerprint ${fp}\n`);
    if (o.status !== 'ok') process.stdout.write(`  ${o.invariant} after event ${o.eventIndex}: ${o.message}\n`);
    if (out) process.stdout.write(`trace saved: ${out}\nreplay with: npx dtsim replay ${out}\n`);
  }
  return o.status === 'ok' ? 0 : 1;
}

/** A trace read by a command; `migration` when it was made by an older version of its model (and migrated). */
export interface LoadedTrace { trace: Trace; model: AnyModel; migration: ModelMigrationRecord | null }

/**
 * Reads and validates a trace for `replay`, `show`, `bisect` and `shrink` (bad input: exit 2, one line). A trace
 * of an older model version comes back migrated to the current one; each command prints `migrationLine` in
 * its text output and carries `migration` in its JSON, so a reader always sees that it happened.
 */
export function loadTrace(file: string): LoadedTrace {
  const text = readText(file);
  const r = parseTrace(text, lookupModel);
  if (!r.ok) throw new BadInputError(file, r.error.line, r.error.field, r.error.message);
  return { trace: r.trace, model: r.model, migration: r.migration };
}

/** `  <model> trace migrated from v1 (replays to its expect block under v2)\n`, or nothing. */
export function migrationLine(l: LoadedTrace): string {
  return l.migration ? `  ${l.migration.model} trace ${describeModelMigration(l.migration)}\n` : '';
}

export async function cmdReplay(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length !== 1) throw new UsageError('replay: expected exactly one trace file (dtsim replay FILE)');
  const file = p.positionals[0] as string;
  const path = (v['path'] as string | undefined) ?? 'fast';
  if (path !== 'fast' && path !== 'immer') throw new UsageError(`--path: expected 'fast' or 'immer', got '${path}'`);
  const checkEvery = intFlag('check-every', v['check-every'], 1, 1);
  const loaded = loadTrace(file);
  const { trace, model, migration } = loaded;
  const json = v['json'] === true;
  if (!json) process.stdout.write(`dtsim replay: ${file} model=${trace.design.model} v${trace.design.modelVersion} bugs=${JSON.stringify(trace.design.bugs)} seed=${trace.seed ?? '-'} events=${trace.events.length} path=${path}\n${migrationLine(loaded)}`);
  const o = replay(model, trace.design, trace.config, trace.events as EventBase[], { path, checkEvery });
  const fp = fingerprint(o.state);
  const ex = trace.expect;
  const matches = expectMatches(o, ex);
  const mm = model as unknown as MachineModel;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'replay', file, status: o.status, eventIndex: o.eventIndex, invariant: o.invariant,
      message: o.message, pages: o.violation?.pages ?? [], fingerprint: fp, expect: ex, matchesExpect: matches, migration })}\n`);
  } else {
    process.stdout.write(`${o.status}: fingerprint ${fp}\n`);
    if (o.status === 'violated') {
      const e = trace.events[o.eventIndex];
      process.stdout.write(`  ${o.invariant} after event ${o.eventIndex}${e ? ` (${mm.describeEvent(e as never)})` : ''}: ${o.message}\n`);
      if (o.violation.pages.length) process.stdout.write(`  pages involved: ${o.violation.pages.join(', ')}\n`);
    } else if (o.status === 'rejected') process.stdout.write(`  ${o.message}\n`);
    process.stdout.write(matches ? 'matches the expect block\n'
      : `DIFFERS from the expect block ${JSON.stringify(ex)}\n`);
  }
  return matches ? 0 : 1;
}
