/**
 * Goal: every saved trace checks itself. Each `traces/**\/*.json` parses (after migrations), replays on both
 * paths to exactly its expect block (status, event index, invariant), and every knob of every model has a
 * regression trace that violates the knob's expected invariant (negative controls: a trace that passes), and one
 * for each alternative invariant the knob declares (BugKnob.alsoExpect).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { replay } from '../src/core/engine.ts';
import { fingerprint } from '../src/core/fingerprint.ts';
import { parseTrace } from '../src/trace/format.ts';
import type { AnyModel, EventBase } from '../src/core/model.ts';
import { MODELS, modelById } from '../models/index.ts';
import { SEED } from './support/seed.ts';
import { readSavedTrace, savedTraceFiles } from './support/saved-traces.ts';
import { lockstepFastEqualsImmer } from './support/conformance.ts';


const lookup = (id: string): AnyModel | undefined => modelById(id) as unknown as AnyModel | undefined;
const files = savedTraceFiles();

describe(`saved traces replay to their expect blocks (seed: ${SEED})`, () => {
  for (const f of files) {
    it(f, () => {
      const r = readSavedTrace(f);
      const t = r.trace;
      const fast = replay(r.model, t.design, t.config, t.events as EventBase[], { path: 'fast' });
      const slow = replay(r.model, t.design, t.config, t.events as EventBase[], { path: 'immer' });
      expect(fingerprint(slow.state)).toBe(fingerprint(fast.state));
      // And after every event of the trace, not only at its end.
      expect(lockstepFastEqualsImmer(r.model, t.design, t.config, t.events as EventBase[])).toBeGreaterThan(0);
      for (const o of [fast, slow]) {
        expect(o.status).toBe(t.expect.status);
        if (t.expect.status === 'violated') {
          expect(o.eventIndex).toBe(t.expect.eventIndex);
          expect(o.invariant).toBe(t.expect.invariant);
        }
        if (t.expect.status === 'rejected') expect(o.eventIndex).toBe(t.expect.eventIndex);
      }
    });
  }

  it('every knob of every model has a regression trace that replays to its expected invariant', () => {
    const byKnob = new Map<string, string[]>();
    for (const f of files) {
      const r = parseTrace(readFileSync(f, 'utf8'), lookup);
      if (!r.ok || r.trace.design.bugs.length !== 1) continue;
      const k = `${r.trace.design.model}/${r.trace.design.bugs[0]}`;
      const ex = r.trace.expect.status === 'violated' ? r.trace.expect.invariant : 'ok';
      byKnob.set(k, [...(byKnob.get(k) ?? []), ex]);
    }
    const missing: string[] = [];
    for (const m of MODELS) {
      for (const b of m.preset.bugs) {
        const got = byKnob.get(`${m.id}/${b.id}`) ?? [];
        // The expected invariant, and each alternative the knob declares (BugKnob.alsoExpect) shown by a trace too.
        for (const want of [b.expect ?? 'ok', ...Object.keys(b.alsoExpect ?? {})]) {
          if (!got.includes(want)) missing.push(`${m.id}/${b.id} (wants ${want}, traces: ${got.join(',') || 'none'})`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
