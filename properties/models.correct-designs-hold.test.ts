/**
 * Goal: a design with no bug knob never violates an invariant (INV-NOLOSS stepwise, INV-FINAL at the end,
 * INV-ARMED, INV-FLUSH and every mechanism invariant) and always completes its migration.
 * Method: fast-check choice sequences drive every design of every model's option matrix; the run is then
 * driven to completion (stop, final collection, final copy); invariants are checked after every event. Saved
 * traces of the same design that end `ok` run first, as examples. A failure is saved as a trace and reported
 * with the command that replays it.
 */
import { describe, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { parseTrace } from '../src/trace/format.ts';
import type { AnyModel } from '../src/core/model.ts';
import { modelById } from '../models/index.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb, matrixCases, type DesignCase } from './support/models.ts';
import { assertDesignHolds } from './support/failures.ts';

const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 200);
const lookup = (id: string): AnyModel | undefined => modelById(id) as unknown as AnyModel | undefined;

/** Choice sequences of saved `ok` traces of exactly this design and configuration. */
function examplesFor(c: DesignCase): [number[]][] {
  const out: [number[]][] = [];
  for (const n of readdirSync('traces/regressions')) {
    if (!n.endsWith('.json')) continue;
    const r = parseTrace(readFileSync(`traces/regressions/${n}`, 'utf8'), lookup);
    if (!r.ok || r.trace.expect.status !== 'ok' || !r.trace.choices) continue;
    if (JSON.stringify(r.trace.design) !== JSON.stringify(c.design) || JSON.stringify(r.trace.config) !== JSON.stringify(c.config)) continue;
    out.push([[...r.trace.choices]]);
  }
  return out;
}

describe(`correct designs hold every invariant (seed: ${SEED})`, () => {
  for (const c of matrixCases()) {
    it(c.label, () => {
      assertDesignHolds(c, choicesArb(240), { seed: fcSeed(`hold/${c.label}`), numRuns: RUNS, examples: examplesFor(c) });
    });
  }
});
