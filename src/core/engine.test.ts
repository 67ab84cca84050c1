/**
 * The engine on a toy model (no mechanism): replay applies exactly the logged events and rejects one that was
 * not enabled with its index; violations carry the event index and invariant id (-1 for the initial state);
 * the fast path equals the immer path at any check stride; choices recorded by `simulate` re-generate the run
 * with `runChoices`; a model that never finishes is reported as INV-LIVE, not looped on.
 */
import { describe, expect, it } from 'vitest';
import { replay, runChoices, simulate, type DrivableModel } from './engine.ts';
import { fingerprint } from './fingerprint.ts';
import type { Design } from './model.ts';

interface S { n: number; done: boolean; limit: number }
type E = { type: 'toy/incremented'; by: number } | { type: 'toy/finished' };

function toy(opts: { finishes: boolean; badAt: number }): DrivableModel<S, E, { limit: number }> {
  return {
    id: 'toy', version: 1, description: 'a counter', bugs: [], defaultOptions: {}, defaultConfig: { limit: 10 },
    parseConfig: (raw) => ({ ok: true, config: raw as { limit: number } }),
    parseOptions: () => ({ ok: true, options: {} }),
    init: (_d, c) => ({ n: 0, done: false, limit: c.limit }),
    enabled: (s) => (s.done ? [] : [{ type: 'toy/incremented', by: 1 }, { type: 'toy/incremented', by: 2 }, ...(opts.finishes ? [{ type: 'toy/finished' } as E] : [])]),
    isEnabled: (s, e) => !s.done && (e.type === 'toy/finished' ? opts.finishes : e.by === 1 || e.by === 2),
    apply: (s, e) => { if (e.type === 'toy/finished') s.done = true; else s.n += e.by; },
    invariants: [{ id: 'TOY-BOUND', description: 'n stays below badAt', check: (s) => (s.n >= opts.badAt ? { invariant: 'TOY-BOUND', message: `n=${s.n}`, pages: [] } : null) }],
    parseEvent: (raw) => ({ ok: true, event: raw as E }),
    metrics: (s) => ({ n: s.n }),
    isFinal: (s) => s.done,
    describeEvent: (e) => e.type,
    laneOf: () => 'toy',
    weightOf: () => 1,
    finish: (s) => (s.done || !opts.finishes ? (opts.finishes ? null : { type: 'toy/incremented', by: 1 }) : { type: 'toy/finished' }),
  };
}

const design: Design = { model: 'toy', modelVersion: 1, options: {}, bugs: [] };
const inc = (by: number): E => ({ type: 'toy/incremented', by });

describe('engine', () => {
  it('rejects an event that was not enabled, naming its index', () => {
    const m = toy({ finishes: true, badAt: 1000 });
    const r = replay(m, design, { limit: 10 }, [inc(1), { type: 'toy/finished' }, inc(2)]);
    expect(r.status).toBe('rejected');
    expect(r.eventIndex).toBe(2);
    expect(r.message).toContain('event 2');
    expect(r.state.n).toBe(1);
  });
  it('reports the first violating event on both paths and every stride', () => {
    const m = toy({ finishes: true, badAt: 5 });
    const evs = [inc(1), inc(2), inc(1), inc(2), inc(1), inc(2)];
    for (const path of ['fast', 'immer'] as const) {
      for (const checkEvery of [1, 2, 4, 100]) {
        const r = replay(m, design, { limit: 10 }, evs, { path, checkEvery });
        expect([r.status, r.eventIndex, r.invariant], `${path}/${checkEvery}`).toEqual(['violated', 3, 'TOY-BOUND']);
        expect(r.state.n).toBe(6);
      }
    }
  });
  it('reports a violation of the initial state at index -1', () => {
    const r = replay(toy({ finishes: true, badAt: 0 }), design, { limit: 1 }, []);
    expect([r.status, r.eventIndex]).toEqual(['violated', -1]);
  });
  it('simulate records choices that re-generate the same run with runChoices', () => {
    const m = toy({ finishes: true, badAt: 1e9 });
    for (let i = 0; i < 20; i++) {
      const a = simulate(m, design, { limit: 10 }, `toy${i}`, { maxEvents: 30 });
      const b = runChoices(m, design, { limit: 10 }, a.choices);
      expect(b.events).toEqual(a.events);
      expect(fingerprint(b.outcome.state)).toBe(fingerprint(a.outcome.state));
    }
  });
  it('a run that cannot finish is reported as INV-LIVE within the budget', () => {
    const m = toy({ finishes: false, badAt: 1e12 });
    const r = runChoices(m, design, { limit: 10 }, [0, 1, 2], 500);
    expect(r.outcome.status).toBe('violated');
    expect(r.outcome.invariant).toBe('INV-LIVE');
    expect(r.events.length).toBeLessThanOrEqual(503);
  });
});
