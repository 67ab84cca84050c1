/**
 * The long tests of properties/explore.bfs.test.ts (npm run test:deep: over 150 s of npm test's time at hdbss model
 * v2): the pta bounded device's exhaustion, the word-image and delta frontier equivalences over every model, and
 * the --invariant dead-end search. Same helpers and configuration as that file.
 *
 * Goal: `explore` proves the correct dirty-bitmap design at a small configuration (state space exhausted, no
 * violation), finds every knob of the catalogue with its expected invariant and a replayable shortest
 * counterexample, never flags the negative control, and its fingerprints are canonical.
 * Method: BFS through the model's own enabled/apply/invariants (src/explore/bfs.ts); the saved trace goes
 * through serializeTrace/parseTrace/replay exactly as `dtsim replay` does; lengths are compared with what the
 * seeded simulator finds at the same configuration.
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../src/explore/bfs.ts';
import { StateStore } from '../src/explore/store.ts';
import { replay } from '../src/core/engine.ts';
import type { AnyModel, EventBase, JsonValue } from '../src/core/model.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';
import { MODELS, modelById, type MachineModel } from '../models/index.ts';
import type { MachineState } from '../models/machine/state.ts';
import { SEED } from './support/seed.ts';
import { configFor, configOf, SMALL } from './support/explore-small.ts';
import { stream } from '../src/random/streams.ts';

/** JSON with every object's keys sorted: equal for equal values whatever the key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

describe(`explore (BFS), the long equivalence and search tests (seed: ${SEED})`, () => {
  it('pta with a bounded device (deviceRecords 2: back-pressure) is exhausted at SMALL with 2 pages; unbounded storage is not finite', () => {
    const m = modelById('pta') as MachineModel;
    const config = configOf(m, '', { slots: [{ base: 0, npages: 2 }], itsPages: [1] });
    const r = explore(m, m.design({ deviceRecords: 2 }), config, { maxDepth: 1000 });
    expect([r.status, r.violation, r.deadlocked]).toEqual(['exhausted', null, 0]);
    expect([r.distinct, r.depth]).toEqual([600_385, 49]);
  });

  it('the word-encoded frontier explores exactly the same space as object states, for every model', () => {
    for (const m of MODELS) {
      const pc = m.parseConfig({ ...(m.defaultConfig as object), ...SMALL, slots: [{ base: 0, npages: 2 }], itsPages: [1] });
      if (!pc.ok) throw new Error(pc.error.message);
      // 30k states a run (four runs a model: the budget three runs of 40k had).
      const opts = { maxDepth: 200, maxStates: 30_000 };
      const a = explore(m as AnyModel, m.design(), pc.config, { ...opts, frontier: 'words' });
      const b = explore(m as AnyModel, m.design(), pc.config, { ...opts, frontier: 'objects' });
      // The default (auto) saves words too; here through the generic walk (the model without its image and
      // save/load hooks), and through the model's save/load without its word image.
      const generic = Object.assign(Object.create(m) as AnyModel, { image: undefined, save: undefined, load: undefined });
      const c = explore(generic, m.design(), pc.config, opts);
      const noImage = Object.assign(Object.create(m) as AnyModel, { image: undefined });
      const d = explore(noImage, m.design(), pc.config, opts);
      // Loads into recycled states (the image's readInto, which `a` uses) against a fresh state per load.
      const freshLoads = Object.assign(Object.create(m) as AnyModel, {
        image: (init: unknown) => { const img = m.image?.(init as never) ?? null; return img && { ...img, readInto: undefined }; },
      });
      const e = explore(freshLoads, m.design(), pc.config, opts);
      expect([m.id, a.storage, b.storage, c.storage, d.storage, e.storage]).toEqual([m.id, 'words', 'objects', 'words', 'words', 'words']);
      for (const r of [a, c, d, e]) {
        expect([m.id, r.status, r.distinct, r.generated, r.depth, r.frontier, r.terminal, r.deadlocked])
          .toEqual([m.id, b.status, b.distinct, b.generated, b.depth, b.frontier, b.terminal, b.deadlocked]);
      }
      // The model's own layouts are smaller than the generic walk's.
      expect(a.storageBytes).toBeLessThan(c.storageBytes);
      expect(d.storageBytes).toBeLessThan(c.storageBytes);
    }
    // And a counterexample: the same shortest path, choice for choice.
    const ring = modelById('dirty-ring') as MachineModel;
    const pc = ring.parseConfig({ ...(ring.defaultConfig as object), ...SMALL });
    if (!pc.ok) throw new Error(pc.error.message);
    const d = ring.design({}, ['reset-no-tlb-flush']);
    const a = explore(ring, d, pc.config, { maxDepth: 30, frontier: 'words' });
    const b = explore(ring, d, pc.config, { maxDepth: 30, frontier: 'objects' });
    expect(a.violation?.invariant).toBe('INV-FLUSH');
    expect(a.violation?.choices).toEqual(b.violation?.choices);
  });

  it('the frontier kept as deltas takes at most 45% of the words of whole states, for every model, and loads back exactly', () => {
    // BFS order (levels, children in enabled order), as explore saves a level; states deduplicated by their JSON.
    for (const mm of MODELS) {
      const m = mm as AnyModel;
      const pc = m.parseConfig({ ...(m.defaultConfig as object), ...SMALL });
      if (!pc.ok) throw new Error(pc.error.message);
      const init = m.init(mm.design(), pc.config);
      const clone = (x: unknown): unknown => (m.clone ? m.clone(x) : structuredClone(x));
      const seen = new Set<string>([JSON.stringify(init)]);
      const order: unknown[] = [];
      let level: unknown[] = [init];
      while (level.length > 0 && order.length < 3000) {
        const next: unknown[] = [];
        for (const st of level) {
          for (const e of m.enabled(st)) {
            const c = clone(st);
            m.apply(c, e);
            const k = JSON.stringify(c);
            if (!seen.has(k)) { seen.add(k); next.push(c); }
          }
        }
        order.push(...next);
        level = next;
      }
      const twin = clone(init);
      const delta = new StateStore(init, twin);
      const whole = new StateStore(init, twin, 1);
      for (const st of order) { delta.save(st); whole.save(st); }
      expect([m.id, delta.bytes() / whole.bytes() <= 0.45]).toEqual([m.id, true]);
      for (let i = 0; i < order.length; i += 7) expect(JSON.stringify(delta.load(i))).toBe(JSON.stringify(order[i]));
      // The model's own layout (Model.save/load), as explore uses it: every state back equal, every field (key
      // order aside), the static parts shared with the initial state, and fresh copies otherwise. The BFS states
      // above are shallow (a few thousand): seeded random walks add deep ones (mechanism state in use).
      if (!m.save || !m.load) throw new Error(`${m.id}: the machine models have save/load hooks`);
      const codec = new StateStore(init, twin, undefined, { save: m.save.bind(m), load: m.load.bind(m) });
      for (const st of order) codec.save(st);
      expect(codec.bytes()).toBeLessThan(delta.bytes());
      const rng = stream(SEED, `explore.bfs/save-load/${m.id}`);
      for (let walk = 0; walk < 40; walk++) {
        let st = clone(init);
        for (let step = 0; step < 400; step++) {
          const en = m.enabled(st);
          if (en.length === 0) break;
          const c = clone(st);
          m.apply(c, en[rng.int(en.length)] as EventBase);
          st = c;
          if (step % 10 === 9) { order.push(st); codec.save(st); }
        }
      }
      for (let i = 0; i < order.length; i++) {
        const back = codec.load(i) as MachineState;
        expect(canonical(back)).toBe(canonical(order[i]));
        const src = order[i] as MachineState;
        expect([back.design, back.config, back.bug]).toEqual([src.design, src.config, src.bug]);
        expect(back.design).toBe((init as MachineState).design);
        expect(back.vmm === src.vmm || back.oracle.mem === src.oracle.mem || back.ext === src.ext).toBe(false);
      }
      // The word image (Model.image, schema-image.ts), as explore uses it where the configuration has one (all but
      // the unbounded PTA device): every state back as the model's clone gives it (the stage-2 tables trimmed to
      // the guest), in BFS order and out of order, in fewer bytes than the save/load layout (a positional delta).
      const img = m.image ? m.image(init) : null;
      expect([m.id, img === null]).toEqual([m.id, 'pta' in (init as MachineState).ext]);
      if (img !== null) {
        const images = new StateStore(init, twin, undefined, null, img);
        for (const st of order) images.save(st);
        expect([m.id, images.bytes() < codec.bytes()]).toEqual([m.id, true]);
        for (let i = 0; i < order.length; i++) expect(canonical(images.load(i))).toBe(canonical(clone(order[i])));
        for (let i = order.length - 1; i >= 0; i -= 13) expect(canonical(images.load(i))).toBe(canonical(clone(order[i])));
        const back = images.load(0) as MachineState;
        expect(back.design).toBe((init as MachineState).design);
        expect(back.vmm === (order[0] as MachineState).vmm).toBe(false);
      }
    }
  });

  it('--invariant: a state where another invariant breaks first is a dead end; the target is found with a trace that replays to it', () => {
    const m = modelById('hdbss') as MachineModel;
    const design = m.design({}, ['hdbss-block-one-page']);
    const config = configOf(m, 'hdbss-block-one-page', {});
    const plain = explore(m, design, config, { maxDepth: 30 });
    expect([plain.violation?.invariant, plain.violation?.events.length]).toEqual(['INV-ARMED', 9]);
    const t = explore(m, design, config, { maxDepth: 30, target: ['INV-BLOCK'] });
    expect([t.violation?.invariant, t.violation?.events.length]).toEqual(['INV-BLOCK', 11]);
    expect(t.otherViolations).toBeGreaterThan(0);
    expect(t.firstOther).toEqual({ invariant: 'INV-ARMED', depth: 9 });
    const o = replay(m as unknown as AnyModel, design, config as unknown as JsonValue, t.violation!.events as EventBase[], { path: 'fast' });
    expect([o.invariant, o.eventIndex]).toEqual(['INV-BLOCK', 10]);
    // A target no reachable state breaks first: the whole space is searched, other violations are counted.
    const none = explore(dirtyBitmap, dirtyBitmap.design({}, ['host-write-unmarked']), configFor('host-write-unmarked'),
      { maxDepth: 200, target: ['INV-CLEAR-EXACT'] });
    expect(none.status).toBe('exhausted');
    expect(none.otherViolations).toBeGreaterThan(0);
    expect(none.message).toMatch(/no reachable state violates INV-CLEAR-EXACT first \(\d+ states violated another invariant first, e\.g\. INV-NOLOSS at depth 6/);
    expect(() => explore(dirtyBitmap, dirtyBitmap.design(), configFor(null), { maxDepth: 5, target: ['INV-NOPE'] })).toThrow(/unknown invariant 'INV-NOPE'/);
  });
});
