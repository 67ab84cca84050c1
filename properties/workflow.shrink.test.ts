/**
 * shrink keeps the failure and never grows the trace: for every regression trace of a knob (and a fresh failing
 * trace of every knob), the result is a valid trace no longer than the input that replays to the same invariant
 * at its last event, and survives a save/parse round trip. ddmin is 1-minimal on a known failure set.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ddmin, shrink } from '../src/workflow/shrink.ts';
import { bisect } from '../src/workflow/bisect.ts';
import { replay, replayFrom } from '../src/core/engine.ts';
import { makeTrace, parseTrace, serializeTrace, type Trace } from '../src/trace/format.ts';
import { lookupModel } from '../src/cli/registry.ts';
import { machineConfigCandidates, machineRelabelings } from '../models/machine/shrink.ts';
import type { EventBase, JsonValue, Model } from '../src/core/model.ts';
import type { MachineConfig } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { knobTraces, regressionTraces, type FailingTrace } from './support/failing-traces.ts';

function checkShrinks(t: FailingTrace, maxTests: number): void {
  const ex = t.trace.expect;
  if (ex.status !== 'violated') return;
  const m = t.model;
  const r = shrink(m, t.trace.design, t.trace.config, t.trace.events, t.trace.choices, {
    drivable: true, maxTests, configCandidates: (c) => machineConfigCandidates(c as MachineConfig),
    relabelings: (c) => machineRelabelings(c as MachineConfig),
  });
  expect(r.ok, t.label).toBe(true);
  if (!r.ok) return;
  const s = r.result;
  expect(s.events.length, t.label).toBeLessThanOrEqual(t.trace.events.length);
  expect(s.violation.invariant, t.label).toBe(ex.invariant);
  expect(s.eventIndex, t.label).toBe(s.events.length - 1);
  // The saved form parses (config and every event valid), replays to the same violation, and bisects to it.
  const text = serializeTrace(makeTrace({ design: t.trace.design, config: s.config as JsonValue, seed: null, choices: s.choices,
    events: s.events, note: 'shrunk', expect: { status: 'violated', eventIndex: s.eventIndex, invariant: s.violation.invariant } }));
  const p = parseTrace(text, lookupModel);
  expect(p.ok, t.label).toBe(true);
  if (!p.ok) return;
  const tr: Trace = p.trace;
  const o = replay(p.model, tr.design, tr.config, tr.events as EventBase[], { checkEvery: 1, path: 'fast' });
  expect([o.status, o.eventIndex, o.invariant], t.label).toEqual(['violated', s.eventIndex, ex.invariant]);
  const b = bisect(p.model, p.model.init(tr.design, tr.config), tr.events);
  expect(b.status === 'violated' ? [b.eventIndex, b.invariant] : null, t.label).toEqual([s.eventIndex, ex.invariant]);
  // The machine never grows.
  const a = t.trace.config as unknown as MachineConfig;
  const c = s.config as unknown as MachineConfig;
  expect(c.vcpus).toBeLessThanOrEqual(a.vcpus);
  expect(c.pes).toBeLessThanOrEqual(a.pes);
  expect(c.slots.reduce((n, x) => n + x.npages, 0)).toBeLessThanOrEqual(a.slots.reduce((n, x) => n + x.npages, 0));
}

describe(`shrink (seed ${SEED})`, () => {
  it('every failing regression trace shrinks to a valid trace, no longer, failing the same way', () => {
    const ts = regressionTraces().filter((t) => t.trace.expect.status === 'violated');
    for (const t of ts) checkShrinks(t, 5000);
  });

  it('a fresh failing trace of every knob without a regression trace shrinks the same way (small replay budget)', () => {
    const covered = new Set(regressionTraces().map((t) => `${t.trace.design.model}/${t.trace.design.bugs.join('+')}`));
    for (const t of knobTraces()) {
      if (!covered.has(`${t.trace.design.model}/${t.trace.design.bugs.join('+')}`)) checkShrinks(t, 400);
    }
  });

  it('reports a trace that does not fail instead of inventing a failure', () => {
    const ok = regressionTraces().find((t) => t.trace.expect.status === 'ok');
    const t = ok ?? knobTraces()[0];
    if (!t) throw new Error('no trace');
    const events = ok ? t.trace.events : t.trace.events.slice(0, 3);
    const r = shrink(t.model, t.trace.design, t.trace.config, events, null);
    expect(r.ok).toBe(false);
  });
});

describe(`ddmin (seed ${SEED})`, () => {
  it('returns exactly the required elements when failure means "contains all of them"', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.nat(200), { maxLength: 60 }), fc.array(fc.boolean(), { maxLength: 60 }), (items, pick) => {
      const required = new Set(items.filter((_, i) => pick[i] === true));
      if (required.size === 0) return;
      const test = (c: number[]): number[] | null => ([...required].every((x) => c.includes(x)) ? c : null);
      const r = ddmin(items, test, { left: 1_000_000 });
      expect([...r].sort((x, y) => x - y)).toEqual([...required].sort((x, y) => x - y));
    }), { numRuns: 200 });
  });
});

// A toy model: a counter moved by +1/-1 (and a no-op); the invariant breaks when it reaches `goal`.
interface Toy { x: number }
type ToyEvent = { readonly type: 'toy/up' } | { readonly type: 'toy/down' } | { readonly type: 'toy/nop' };
function toy(goal: number): Model<Toy, ToyEvent, null> {
  return {
    id: 'toy', version: 1, description: 'toy', bugs: [], defaultOptions: {}, defaultConfig: null,
    parseConfig: () => ({ ok: true, config: null }), parseOptions: () => ({ ok: true, options: {} }),
    init: () => ({ x: 0 }), enabled: () => [{ type: 'toy/up' }, { type: 'toy/down' }, { type: 'toy/nop' }],
    isEnabled: (s, e) => e.type !== 'toy/down' || s.x > 0,
    apply: (d, e) => { d.x += e.type === 'toy/up' ? 1 : e.type === 'toy/down' ? -1 : 0; },
    invariants: [{ id: 'TOY-GOAL', description: '', check: (s) => (s.x >= goal ? { invariant: 'TOY-GOAL', message: 'goal', pages: [] } : null) }],
    parseEvent: (raw) => ({ ok: true, event: raw as ToyEvent }), metrics: () => ({}), isFinal: () => false,
    describeEvent: (e) => e.type, laneOf: () => 'host', weightOf: () => 1,
  };
}

describe(`shrink on a toy model (seed ${SEED})`, () => {
  it('finds the minimal failing trace (goal x up-steps) from any failing sequence', () => {
    const ev = fc.constantFrom<ToyEvent>({ type: 'toy/up' }, { type: 'toy/down' }, { type: 'toy/nop' });
    fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.array(ev, { maxLength: 120 }), (goal, events) => {
      const m = toy(goal);
      const design = { model: 'toy', modelVersion: 1, options: {}, bugs: [] };
      const lin = replayFrom(m, m.init(design, null), events, { checkEvery: 1 });
      const r = shrink(m, design, null, events, null);
      if (lin.status !== 'violated') { expect(r.ok).toBe(false); return; }
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.result.events).toEqual(new Array(goal).fill({ type: 'toy/up' }));
      expect(r.result.eventIndex).toBe(goal - 1);
    }), { numRuns: 200 });
  });
});
