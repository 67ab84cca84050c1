/**
 * Goal: the BFS core on a toy model whose space is known by hand: exact distinct-state count and depth (the
 * deepest level holding a new state, not one more), the same result whether the frontier is saved as words or
 * kept as objects, a fallback to objects for a state that is not JSON, and an initial state that already
 * violates an invariant (a counterexample of no events).
 */
import { describe, expect, it } from 'vitest';
import { explore } from './bfs.ts';
import type { Design, Model } from '../core/model.ts';

interface S { n: number; done: boolean; tag?: Map<string, number> }
type E = { type: 'toy/incremented'; by: number } | { type: 'toy/finished' };

/** n goes 0..limit by +1 or +2 (not past limit), then `finished`; TOY-BOUND breaks at n >= badAt. */
function toy(limit: number, badAt: number, withMap = false): Model<S, E, null> {
  const can = (s: S, by: number): boolean => !s.done && s.n + by <= limit;
  return {
    id: 'toy', version: 1, description: 'a bounded counter', bugs: [], defaultOptions: {}, defaultConfig: null,
    parseConfig: () => ({ ok: true, config: null }),
    parseOptions: () => ({ ok: true, options: {} }),
    init: () => (withMap ? { n: 0, done: false, tag: new Map() } : { n: 0, done: false }),
    enabled: (s) => (s.done ? [] : [...[1, 2].filter((by) => can(s, by)).map((by): E => ({ type: 'toy/incremented', by })), { type: 'toy/finished' }]),
    isEnabled: (s, e) => (e.type === 'toy/finished' ? !s.done : can(s, e.by)),
    apply: (s, e) => { if (e.type === 'toy/finished') s.done = true; else s.n += e.by; },
    invariants: [{ id: 'TOY-BOUND', description: 'n stays below badAt', check: (s) => (s.n >= badAt ? { invariant: 'TOY-BOUND', message: `n=${s.n}`, pages: [] } : null) }],
    parseEvent: (raw) => ({ ok: true, event: raw as E }),
    metrics: (s) => ({ n: s.n }),
    isFinal: (s) => s.done,
    describeEvent: (e) => e.type,
    laneOf: () => 'toy',
    weightOf: () => 1,
    // A Map does not survive JSON cloning: copy the fields by hand.
    clone: (s) => (s.tag ? { n: s.n, done: s.done, tag: new Map(s.tag) } : { n: s.n, done: s.done }),
  };
}

const design: Design = { model: 'toy', modelVersion: 1, options: {}, bugs: [] };

describe('explore (BFS core) on a toy with a known space', () => {
  it('counts every (n, done) state once and reports the depth of the deepest new state', () => {
    // 2 x 11 states; (10, done) is first reached after 5 steps of +2 and a finish: depth 6.
    for (const frontier of ['words', 'objects', 'auto'] as const) {
      const r = explore(toy(10, 99), design, null, { maxDepth: 100, frontier });
      // auto saves words, as 'words' does (the toy's state is plain JSON).
      expect([r.status, r.distinct, r.depth, r.frontier, r.terminal, r.deadlocked, r.storage])
        .toEqual(['exhausted', 22, 6, 0, 11, 0, frontier === 'objects' ? 'objects' : 'words']);
      expect(r.storageBytes > 0).toBe(frontier !== 'objects');
    }
  });

  it('a depth bound below the space leaves the last level unexpanded', () => {
    const r = explore(toy(10, 99), design, null, { maxDepth: 3 });
    expect(r.status).toBe('depthBound');
    expect(r.depth).toBe(3);
    expect(r.frontier).toBeGreaterThan(0);
  });

  it('finds the shortest path to a violation, choice by choice', () => {
    const r = explore(toy(10, 5), design, null, { maxDepth: 100 });
    expect(r.status).toBe('violated');
    // No path of two steps reaches 5 (at most 2 + 2); three do.
    const ev = r.violation?.events ?? [];
    expect(ev.length).toBe(3);
    expect(ev.reduce((n, e) => n + (e.type === 'toy/incremented' ? e.by : 0), 0)).toBe(5);
    expect(r.violation?.eventIndex).toBe(2);
    const objects = explore(toy(10, 5), design, null, { maxDepth: 100, frontier: 'words' });
    expect(objects.violation?.choices).toEqual(r.violation?.choices);
  });

  it('a state that is not JSON (a Map) keeps the frontier as objects, with the same result', () => {
    const a = explore(toy(10, 99, true), design, null, { maxDepth: 100, frontier: 'words' });
    const b = explore(toy(10, 99), design, null, { maxDepth: 100 });
    expect(a.storage).toBe('objects');
    expect([a.status, a.distinct, a.depth]).toEqual([b.status, b.distinct, b.depth]);
  });

  it('an initial state that already violates an invariant is a counterexample of no events', () => {
    const r = explore(toy(10, 0), design, null, { maxDepth: 100 });
    expect([r.status, r.distinct, r.violation?.invariant, r.violation?.events.length, r.violation?.eventIndex])
      .toEqual(['violated', 1, 'TOY-BOUND', 0, -1]);
  });
});
