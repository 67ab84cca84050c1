/** `dtsim shrink FILE --out FILE2`: minimise a failing trace (events, choices, machine size), saved atomically. */
import { shrink } from '../../workflow/shrink.ts';
import { makeTrace, serializeTrace, type Trace } from '../../trace/format.ts';
import { BadInputError, UsageError } from '../errors.ts';
import { checkOutputs, writeOutput } from '../io.ts';
import { intFlag } from '../registry.ts';
import { loadTrace, migrationLine } from './run.ts';
import type { Parsed } from '../main.ts';
import type { EventBase, JsonValue } from '../../core/model.ts';
import type { MachineConfig } from '../../../models/index.ts';

function sizeOf(config: unknown): string {
  const c = config as MachineConfig;
  const pages = c.slots.reduce((n, s) => n + s.npages, 0);
  return `${c.vcpus} vCPUs, ${c.pes} PEs, ${pages} pages`;
}

export async function cmdShrink(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length !== 1) throw new UsageError('shrink: expected exactly one trace file (dtsim shrink FILE --out FILE2)');
  const file = p.positionals[0] as string;
  const out = v['out'] as string | undefined;
  if (!out) throw new UsageError('shrink: --out FILE2 is required (the shrunk trace is a new file)');
  const maxTests = intFlag('max-tests', v['max-tests'], 20_000, 1, 10_000_000);
  const json = v['json'] === true;
  // The input is evidence too: never the output, even with --force (compared as files: ./T.json, symlinks).
  const rules = { force: v['force'] === true, inputs: [file] };
  checkOutputs([{ flag: '--out', file: out }], rules);
  const loaded = loadTrace(file);
  const { trace, model } = loaded;
  if (!json) process.stdout.write(`dtsim shrink: ${file} model=${trace.design.model} v${trace.design.modelVersion} bugs=${JSON.stringify(trace.design.bugs)} seed=${trace.seed ?? '-'} events=${trace.events.length} (${sizeOf(trace.config)}) max-tests=${maxTests}\n${migrationLine(loaded)}`);
  const r = shrink(model, trace.design, trace.config, trace.events as EventBase[], trace.choices, {
    drivable: true, maxTests, configCandidates: (c) => model.configCandidates?.(c) ?? [],
    relabelings: (c) => model.relabelings?.(c) ?? [],
  });
  if (!r.ok) throw new BadInputError(file, null, 'events', r.message);
  const s = r.result;
  const shrunk: Trace = makeTrace({
    design: trace.design, config: s.config as JsonValue, seed: null, choices: s.choices, events: s.events,
    note: `shrunk by dtsim shrink from ${file} (${trace.events.length} events, ${sizeOf(trace.config)}, seed ${trace.seed ?? '-'})`,
    expect: { status: 'violated', eventIndex: s.eventIndex, invariant: s.violation.invariant },
  });
  writeOutput({ flag: '--out', file: out }, serializeTrace(shrunk), rules);
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'shrink', file, out, invariant: s.violation.invariant, eventsBefore: trace.events.length,
      eventsAfter: s.events.length, configBefore: trace.config, configAfter: s.config, eventIndex: s.eventIndex, message: s.violation.message,
      pages: s.violation.pages, tests: s.tests, steps: s.log, migration: loaded.migration })}\n`);
  } else {
    for (const l of s.log) process.stdout.write(`  ${l}\n`);
    process.stdout.write(`shrunk: ${trace.events.length} -> ${s.events.length} events, ${sizeOf(trace.config)} -> ${sizeOf(s.config)}; still ${s.violation.invariant} after event ${s.eventIndex} (${s.tests} replays)\n`);
    process.stdout.write(`  ${s.violation.message}\n`);
    process.stdout.write(`trace saved: ${out}\nreplay with: npx dtsim replay ${out}\n`);
  }
  return 0;
}
