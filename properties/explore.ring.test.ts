/**
 * Goal: the dirty ring's canonical encoding (models/dirty-ring/schema.ts: the generic encoding compiled from the
 * ring's schema plus its three hand-written hooks, ring rotation / consumed entries, `entryUsed` outside the
 * guest, the reset audit outside a reset) is sound, and with it `explore` exhausts the correct dirty-ring designs
 * at small configurations.
 * Method:
 * - bisimulation on sampled pairs: seeded random runs (the engine's `simulate`) of several ring designs, the
 *   u32 wrap (`ringStart` near 2^32) and the adversary included; every state reached is keyed by the machine's
 *   packed encoding (which packs `ext.ring` through the ring's state part); for every two states with equal
 *   keys (each of the schema's hooks must have merged some: ring rotation and consumed entries, `entryUsed` out
 *   of the guest, the reset audit with no reset in flight), the enabled
 *   events must be equal (up to the absolute ring counter `ring/*` events name, compared relative to the ring's
 *   reset_index), the invariant verdicts equal, and the successors by every enabled index equal keys;
 * - the same check fails with a deliberately wrong encoding (a variant of the ring's part that forgets
 *   dirty_index: the entries pushed and not yet harvested), so it has teeth;
 * - translation: the same choices on ringStart 0 and 2^32 - 8 give equal keys at every step;
 * - explore exhausts the correct designs at the configurations below, with exact distinct-state counts (a
 *   change of the encoding or of the model shows up here: update the count and docs/explore-and-compare.md).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { explore } from '../src/explore/bfs.ts';
import { Packer } from '../src/explore/pack.ts';
import { runChoices, simulate } from '../src/core/engine.ts';
import type { Design, JsonValue, PackSink } from '../src/core/model.ts';
import type { Compiled, PackCtx } from '../src/core/schema.ts';
import { StateStore } from '../src/explore/store.ts';
import { ringExt, type RingExt } from '../models/dirty-ring/mechanism.ts';
import { RING_PART } from '../models/dirty-ring/schema.ts';
import { dirtyRing, hdbss, pta, type MachineModel } from '../models/index.ts';
import { cloneMachine, vmidRel } from '../models/machine/schema.ts';
import type { MachineEvent } from '../models/machine/model-events.ts';
import { partOf, registerPart } from '../models/machine/parts.ts';
import type { MachineConfig, MachineState } from '../models/machine/state.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';

/** explore's SMALL configuration (properties/explore.bfs.test.ts, bench/explore.ts) with `pages` pages. */
function small(m: MachineModel, pages: number, extra: Partial<MachineConfig> = {}): MachineConfig {
  const r = m.parseConfig({ ...m.defaultConfig, vcpus: 1, pes: 1, slots: [{ base: 0, npages: pages }], blocks: false, tlbEntries: 1,
    stolenTime: true, itsPages: [pages - 1], rounds: 1, storePages: [], ...extra });
  if (!r.ok) throw new Error(`${r.error.field}: ${r.error.message}`);
  return r.config;
}

function keyOf(m: MachineModel, s: MachineState): string {
  const p = new Packer();
  m.pack!(s, p, null);
  return Array.from(p.words.subarray(0, p.len)).join(',');
}

/** An enabled event as text, the absolute ring counter of `ring/*` events made relative to that ring's reset_index. */
function eventText(s: MachineState, e: MachineEvent): string {
  if (e.type === 'ring/entryHarvested' || e.type === 'ring/entryRewritten' || e.type === 'ring/entrySlotRewritten') {
    const r = ringExt(s).rings[e.vcpu]!;
    return JSON.stringify({ ...e, index: `reset+${(e.index - r.resetIndex) >>> 0}` });
  }
  // With every ext key coded, the machine packs VMIDs relative to the VM's (vmidRel): so are events' VMIDs.
  if ('vmid' in e && typeof e.vmid === 'number') return JSON.stringify({ ...e, vmid: `rel${vmidRel(s, e.vmid)}` });
  return JSON.stringify(e);
}

/** Each invariant's verdict: its id and violated pages, or null (messages may name absolute ring counters). */
function verdicts(m: MachineModel, s: MachineState): string {
  return JSON.stringify(m.invariants.map((inv) => {
    const v = inv.check(s);
    return v === null ? null : [v.invariant, [...v.pages].sort((a, b) => a - b)];
  }));
}

interface BisimReport {
  /** States reached (steps of all runs). */
  states: number;
  /** Pairs of states with equal keys that were checked. */
  pairs: number;
  /** ... whose ring states differ (raw JSON). */
  ringDiffers: number;
  /** ... whose ring indices differ (the same relative ring at another absolute position). */
  shifted: number;
  /** ... one before and one after the u32 wrap of some ring's reset_index. */
  acrossWrap: number;
  /** ... with equal indices but different ring states (consumed entries' stale contents, `justified`, dead fields). */
  blanked: number;
  /** ... whose `entryUsed` differs (merged by its hook: a vCPU out of the guest). */
  entryUsedMerged: number;
  /** ... whose reset audit `last` differs (merged by its dead condition: no reset in flight). */
  auditMerged: number;
  failures: string[];
}

function ringJson(s: MachineState): string {
  return JSON.stringify(ringExt(s));
}

/**
 * Runs `runs` seeded simulations and checks the bisimulation conditions on every pair (representative, later
 * state) with equal keys, up to `perKey` checks per key (the most different pairs are found early anyway).
 */
function bisim(m: MachineModel, design: Design, config: MachineConfig, label: string, runs: number, events: number, perKey = 3): BisimReport {
  const reps = new Map<string, { s: MachineState; n: number }>();
  const rep: BisimReport = { states: 0, pairs: 0, ringDiffers: 0, shifted: 0, acrossWrap: 0, blanked: 0, entryUsedMerged: 0, auditMerged: 0,
    failures: [] };
  const check = (a: MachineState, b: MachineState, where: string): void => {
    const fail = (why: string): void => { if (rep.failures.length < 5) rep.failures.push(`${where}: ${why}`); };
    const ea = m.enabled(a);
    const eb = m.enabled(b);
    const ta = ea.map((e) => eventText(a, e)).join('\n');
    const tb = eb.map((e) => eventText(b, e)).join('\n');
    if (ta !== tb) { fail(`enabled events differ:\n${ta}\n---\n${tb}`); return; }
    const va = verdicts(m, a);
    const vb = verdicts(m, b);
    if (va !== vb) { fail(`invariant verdicts differ: ${va} vs ${vb}`); return; }
    for (let i = 0; i < ea.length; i++) {
      const sa = cloneMachine(a);
      const sb = cloneMachine(b);
      m.apply(sa, ea[i]!);
      m.apply(sb, eb[i]!);
      if (keyOf(m, sa) !== keyOf(m, sb)) { fail(`successors by ${eventText(a, ea[i]!)} have different keys`); return; }
    }
  };
  for (let run = 0; run < runs; run++) {
    simulate(m, design, config, `${SEED}/${label}/${run}`, {
      maxEvents: events,
      onStep: (st) => {
        const s = st as MachineState;
        rep.states++;
        const k = keyOf(m, s);
        const r = reps.get(k);
        if (r === undefined) { reps.set(k, { s: cloneMachine(s), n: 0 }); return; }
        if (r.n >= perKey) return;
        r.n++;
        rep.pairs++;
        const ra = ringExt(r.s).rings;
        const rb = ringExt(s).rings;
        const differ = ringJson(r.s) !== ringJson(s);
        if (differ) rep.ringDiffers++;
        if (ra.some((x, v) => x.resetIndex !== rb[v]!.resetIndex)) rep.shifted++;
        if (ra.some((x, v) => (x.resetIndex < 2 ** 31) !== (rb[v]!.resetIndex < 2 ** 31))) rep.acrossWrap++;
        if (differ && ra.every((x, v) => x.resetIndex === rb[v]!.resetIndex && x.dirtyIndex === rb[v]!.dirtyIndex && x.fetchIndex === rb[v]!.fetchIndex)) rep.blanked++;
        if (JSON.stringify(ringExt(r.s).entryUsed) !== JSON.stringify(ringExt(s).entryUsed)) rep.entryUsedMerged++;
        if (JSON.stringify(ringExt(r.s).last) !== JSON.stringify(ringExt(s).last)) rep.auditMerged++;
        check(r.s, s, `${label} run ${run} step ${rep.states}`);
      },
    });
  }
  return rep;
}

/** `shifted` / `wrap`: the sampled pairs must include pairs at different ring indices / across the u32 wrap. */
interface Case { readonly name: string; readonly m: MachineModel; readonly options: { [k: string]: JsonValue }; readonly config: MachineConfig;
  readonly shifted: boolean; readonly wrap?: boolean }

const CASES: readonly Case[] = [
  { name: 'dirty-ring defaults, 3 pages', m: dirtyRing, options: {}, config: small(dirtyRing, 3), shifted: true },
  { name: 'dirty-ring, 4-entry ring, 2 vCPUs, 2 PEs', m: dirtyRing, options: { ringEntries: 4 },
    config: small(dirtyRing, 3, { vcpus: 2, pes: 2 }), shifted: true },
  { name: 'dirty-ring, 4-entry ring, ringStart 2^32 - 8 (u32 wrap)', m: dirtyRing, options: { ringEntries: 4, ringStart: 4294967288 },
    config: small(dirtyRing, 3), shifted: true, wrap: true },
  { name: 'dirty-ring, 4-entry ring without the backup bitmap', m: dirtyRing, options: { ringEntries: 4, ringWithBitmap: false },
    config: small(dirtyRing, 3), shifted: true },
  { name: 'dirty-ring, adversary, 4-entry ring, ringStart 2^32 - 8', m: dirtyRing, options: { ringEntries: 4, adversary: true, ringStart: 4294967288 },
    config: small(dirtyRing, 3), shifted: true },
  { name: 'dirty-ring, weak memory (buffered flag stores), 4-entry ring, 2 vCPUs, 2 PEs', m: dirtyRing, options: { ringEntries: 4, weakMemory: true },
    config: small(dirtyRing, 3, { vcpus: 2, pes: 2 }), shifted: true },
  { name: 'dirty-ring, weak memory, 4-entry ring, ringStart 2^32 - 8 (u32 wrap)', m: dirtyRing, options: { ringEntries: 4, ringStart: 4294967288, weakMemory: true },
    config: small(dirtyRing, 3), shifted: true, wrap: true },
  { name: 'hdbss feeding 16-entry rings', m: hdbss, options: { consumer: 'ring', ringEntries: 16 }, config: small(hdbss, 3), shifted: false },
  { name: 'pta feeding 16-entry rings', m: pta, options: { consumer: 'ring', ringEntries: 16 }, config: small(pta, 3), shifted: false },
];

describe(`dirty-ring state part: a sound canonical encoding (seed: ${SEED})`, () => {
  for (const c of CASES) {
    it(`equal keys behave alike on sampled pairs: ${c.name}`, () => {
      // Batches of 60 seeded runs until the non-vacuity conditions below hold (at most 4 batches): a seed whose
      // first batch happens to draw no shifted/wrapped/blanked pair gets more runs instead of a false failure.
      const enough = (x: BisimReport): boolean => x.pairs > 100 && x.ringDiffers > 5 && x.blanked > 0
        && x.entryUsedMerged > 0 && x.auditMerged > 0 && (!c.shifted || x.shifted > 0) && (!c.wrap || x.acrossWrap > 0);
      let r = bisim(c.m, c.m.design(c.options), c.config, `ring-bisim/${c.name}`, 60, 200, 4);
      for (let b = 1; b < 4 && r.failures.length === 0 && !enough(r); b++) {
        const x = bisim(c.m, c.m.design(c.options), c.config, `ring-bisim/${c.name}#${b}`, 60, 200, 4);
        r = { states: r.states + x.states, pairs: r.pairs + x.pairs, ringDiffers: r.ringDiffers + x.ringDiffers, shifted: r.shifted + x.shifted,
          acrossWrap: r.acrossWrap + x.acrossWrap, blanked: r.blanked + x.blanked, entryUsedMerged: r.entryUsedMerged + x.entryUsedMerged,
          auditMerged: r.auditMerged + x.auditMerged, failures: [...r.failures, ...x.failures] };
      }
      expect(r.failures).toEqual([]);
      // Non-vacuity: pairs were checked, some with different raw ring states (and at shifted indices), and each
      // hand-written hook of the ring's schema merged some of them: the rings hook (shifted, blanked), the
      // entryUsed hook and the audit's dead condition.
      expect(r.pairs).toBeGreaterThan(100);
      expect(r.ringDiffers).toBeGreaterThan(5);
      expect(r.blanked).toBeGreaterThan(0);
      expect(r.entryUsedMerged).toBeGreaterThan(0);
      expect(r.auditMerged).toBeGreaterThan(0);
      if (c.shifted) expect(r.shifted).toBeGreaterThan(0);
      if (c.wrap) expect(r.acrossWrap).toBeGreaterThan(0);
    });
  }

  it('the check has teeth: a ring part whose encoding forgets dirty_index (the entries not yet harvested) is caught', () => {
    // The wrong part packs a copy of the ring state whose un-harvested entries are gone (dirty_index = fetch).
    const wrong = {
      ...RING_PART,
      pack(v: RingExt, ctx: PackCtx, out: PackSink): void {
        const R = RING_PART.clone(v);
        for (const r of R.rings) {
          for (let c = r.fetchIndex; c !== r.dirtyIndex; c = (c + 1) >>> 0) r.flags[c & (r.flags.length - 1)] = 0;
          r.dirtyIndex = r.fetchIndex;
        }
        RING_PART.pack(R, ctx, out);
      },
    };
    const saved = registerPart('ring', wrong as Compiled<unknown>);
    try {
      const r = bisim(dirtyRing, dirtyRing.design({ ringEntries: 4 }), small(dirtyRing, 3), 'ring-bisim/wrong', 30, 160);
      expect(r.failures.length).toBeGreaterThan(0);
    } finally {
      registerPart('ring', saved);
    }
  });

  it('the u32 wrap is invisible: the same choices on ringStart 0 and 2^32 - 8 give equal keys at every step', () => {
    const config = small(dirtyRing, 3, { vcpus: 2, pes: 2 });
    const d0 = dirtyRing.design({ ringEntries: 4 });
    const dw = dirtyRing.design({ ringEntries: 4, ringStart: 4294967288 });
    let wrapped = 0;
    for (const ch of fc.sample(choicesArb(200), { seed: fcSeed('ring-codec-wrap'), numRuns: 60 })) {
      const keys0: string[] = [];
      const keysW: string[] = [];
      const a = runChoices(dirtyRing, d0, config, ch);
      const b = runChoices(dirtyRing, dw, config, ch);
      expect(b.events.length).toBe(a.events.length);
      // Replay both event lists step by step (the ring events' absolute counters differ by the start).
      const sa = cloneMachine(dirtyRing.init(d0, config));
      const sb = cloneMachine(dirtyRing.init(dw, config));
      for (let i = 0; i < a.events.length; i++) {
        dirtyRing.apply(sa, a.events[i]!);
        dirtyRing.apply(sb, b.events[i]!);
        keys0.push(keyOf(dirtyRing, sa));
        keysW.push(keyOf(dirtyRing, sb));
      }
      expect(keysW).toEqual(keys0);
      if (ringExt(sb).rings.some((r) => r.resetIndex < 4294967288)) wrapped++;
    }
    expect(wrapped).toBeGreaterThan(0);
  });

  it('copy is a faithful deep copy, into a fresh object or a recycled one; save/load gives it back; the shape check names unknown fields', () => {
    const design = dirtyRing.design({ ringEntries: 4, adversary: true });
    const config = small(dirtyRing, 3, { vcpus: 2, pes: 2 });
    const a = runChoices(dirtyRing, design, config, fc.sample(choicesArb(120), { seed: fcSeed('ring-codec-copy'), numRuns: 1 })[0]!);
    const src = ringExt(a.outcome.state);
    const fresh = RING_PART.clone(src);
    expect(fresh).toEqual(src);
    const other = ringExt(dirtyRing.init(design, config));
    const recycled = RING_PART.copyInto(other, src);
    expect(recycled).toBe(other);
    expect(recycled).toEqual(src);
    // No array shared with the source.
    const R = recycled;
    R.rings[0]!.flags[0] = 99;
    R.harvested[0]!.push(99);
    R.justified[0]![0] = 99;
    expect(src.rings[0]!.flags[0]).not.toBe(99);
    expect(src.harvested[0]).not.toContain(99);
    expect(src.justified[0]![0]).not.toBe(99);
    // The explorer's saved layout gives back an equal state.
    const st = new StateStore<RingExt>(src, undefined, 1, { save: (v, out) => RING_PART.save(v, out), load: (l) => RING_PART.load(l, undefined as never) });
    expect(st.load(st.save(src))).toEqual(src);
    // The schema describes the state the reducers build (and is the part the machine uses), and names a field
    // it does not declare.
    expect(partOf('ring')).toBe(RING_PART);
    const s = dirtyRing.init(design, config);
    expect(RING_PART.check(ringExt(s))).toBeNull();
    expect(RING_PART.check(src)).toBeNull();
    (ringExt(s) as unknown as { [k: string]: JsonValue })['surprise'] = 1;
    expect(RING_PART.check(ringExt(s))).toMatch(/^surprise: not in the schema/);
    const t = dirtyRing.init(design, config);
    (ringExt(t).rings[1] as unknown as { [k: string]: JsonValue })['surprise'] = 1;
    expect(RING_PART.check(ringExt(t))).toMatch(/^rings\[1\]\.surprise: not in the schema/);
  });
});

/**
 * Exhausted configurations (docs/explore-and-compare.md): SMALL with 2 pages; "no stolen time" = SMALL with
 * stolen time off (with it on, every vcpu_load pushes the stolen-time page, and the 16-entry ring's sequences of
 * duplicate entries are too many to exhaust: see the note). Counts are exact.
 */
const EXHAUSTED: readonly { readonly options: { [k: string]: JsonValue }; readonly pages: number; readonly stolenTime: boolean;
  readonly distinct: number; readonly depth: number }[] = [
  { options: {}, pages: 2, stolenTime: false, distinct: 58_750, depth: 64 },
  { options: { ringWithBitmap: false }, pages: 2, stolenTime: false, distinct: 58_691, depth: 64 },
  { options: { ringStart: 4294967288 }, pages: 2, stolenTime: false, distinct: 58_750, depth: 64 },
  { options: { ringEntries: 4 }, pages: 2, stolenTime: true, distinct: 100_760, depth: 49 },
  { options: { ringEntries: 4, ringWithBitmap: false }, pages: 2, stolenTime: true, distinct: 100_433, depth: 49 },
  { options: { ringEntries: 4, ringStart: 4294967288 }, pages: 2, stolenTime: true, distinct: 100_760, depth: 49 },
];

describe(`explore exhausts the correct dirty-ring designs with the ring's encoding (seed: ${SEED})`, () => {
  for (const x of EXHAUSTED) {
    it(`${JSON.stringify(x.options)}, SMALL with ${x.pages} pages${x.stolenTime ? '' : ', stolen time off'}: exhausted, ${x.distinct} states, depth ${x.depth}`, () => {
      const r = explore(dirtyRing, dirtyRing.design(x.options), small(dirtyRing, x.pages, { stolenTime: x.stolenTime }), { maxDepth: 1000 });
      expect(r.status).toBe('exhausted');
      expect(r.violation).toBeNull();
      expect(r.deadlocked).toBe(0);
      expect([r.distinct, r.depth]).toEqual([x.distinct, x.depth]);
    });
  }

  it('the hooks merge: the ring packed as JSON (every field) distinguishes more states at the same depth bound', () => {
    const design = dirtyRing.design({ ringEntries: 4 });
    const config = small(dirtyRing, 2);
    const a = explore(dirtyRing, design, config, { maxDepth: 20 });
    const saved = registerPart('ring', { ...RING_PART, pack: (v, _ctx, out) => out.json(v) } as Compiled<unknown>);
    try {
      const g = explore(dirtyRing, design, config, { maxDepth: 20, maxStates: 1_000_000 });
      expect([a.status, g.status]).toEqual(['depthBound', 'depthBound']);
      expect(g.depth).toBe(a.depth);
      expect(a.distinct).toBeLessThan(g.distinct);
    } finally {
      registerPart('ring', saved);
    }
  });
});
