/**
 * Goal: the trace schema is never stricter than the reader. A trace that the shipped JSON Schema of its format
 * version rejects is also rejected by dtsim's reader (`parseTrace`), so a tool that validates with the schema never
 * refuses a trace dtsim would read. Sampled from the fuzz property's hostile mutators (properties/support/fuzz.ts:
 * prototype keys, duplicated keys, lookalikes, event type swaps, options, knobs, config, expect, labels, numbers,
 * structure, versions, text), a few hundred seeded cases over every trace in traces/. (The converse does not hold
 * and is not claimed: the reader also checks what a schema cannot express, see src/cli/schemas.ts.)
 */
import { describe, expect, it } from 'vitest';
import { parseTrace } from '../src/trace/format.ts';
import { lookupModel } from '../src/cli/registry.ts';
import { SEED } from './support/seed.ts';
import { fuzzCase, seedTraces } from './support/fuzz.ts';
import { validateTrace } from './support/schemas.ts';

const ROOT = new URL('../', import.meta.url).pathname;

describe(`trace schema vs reader (seed ${SEED})`, () => {
  it('every hostile trace the schema rejects, the reader rejects too', () => {
    const seeds = seedTraces(ROOT);
    let notJson = 0;
    let schemaRejects = 0;
    let bothAccept = 0;
    const bad: string[] = [];
    for (let i = 0; i < 400; i++) {
      const base = seeds[i % seeds.length] as { file: string; text: string };
      const c = fuzzCase(base.text, SEED, `schema/${i}`);
      let doc: unknown;
      try { doc = JSON.parse(c.text); } catch { notJson++; continue; } // not JSON: no schema applies (the reader refuses it)
      const errs = validateTrace(doc);
      const r = parseTrace(c.text, lookupModel);
      if (errs.length === 0) { if (r.ok) bothAccept++; continue; }
      schemaRejects++;
      if (r.ok) bad.push(`case schema/${i} of ${base.file} (${c.mutations.map((m) => `${m.family}: ${m.what}`).join('; ')}): schema says ${errs[0]}, the reader accepts it`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
    // Not vacuous: most cases are JSON, the schema rejects many of them, and some still validate and read.
    expect(schemaRejects).toBeGreaterThan(150);
    expect(bothAccept).toBeGreaterThan(10);
    expect(notJson).toBeLessThan(200);
  });
});
