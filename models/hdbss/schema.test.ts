/**
 * The HDBSS state schema (schema.ts): every field is labelled, the compiled part is what the machine uses for
 * `s.ext['hdbss']`, its copy and save/load are exact on reachable states, and its one hand-written hook (the dead
 * registers of an idle PE) merges exactly what it says. Soundness of the hook on sampled reachable states, and a
 * wrong variant being caught, are properties/explore.hw.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hdbss } from './index.ts';
import { HDBSS_PART, HDBSS_STATE, type HdbssExt } from './schema.ts';
import { describe as describeSchema, type PackCtx } from '../../src/core/schema.ts';
import { Packer } from '../../src/explore/pack.ts';
import { StateStore } from '../../src/explore/store.ts';
import { runChoices } from '../../src/core/engine.ts';
import { partCtx, partOf } from '../machine/parts.ts';
import { cloneMachine } from '../machine/schema.ts';
import type { MachineEvent } from '../machine/model-events.ts';
import type { MachineConfig, MachineState } from '../machine/state.ts';
import { choicesArb } from '../../properties/support/models.ts';

const CONFIG: MachineConfig = {
  vcpus: 2, pes: 2, slots: [{ base: 0, npages: 3 }], blocks: false, tlbEntries: 2, stolenTime: false,
  itsPages: [2], rounds: 2, storePages: [0, 1],
};

function hd(s: MachineState): HdbssExt {
  return s.ext['hdbss'] as unknown as HdbssExt;
}

function words(s: MachineState, h: HdbssExt, ctx: PackCtx = partCtx(s)): number[] {
  const p = new Packer();
  HDBSS_PART.pack(h, ctx, p);
  return Array.from(p.words.subarray(0, p.len));
}

/** Reachable states of random runs (fast-check choice sequences), every state of every run. */
function reachable(bugs: string[] = [], options: { [k: string]: number | boolean | string } = {}): MachineState[] {
  const design = hdbss.design(options, bugs);
  const out: MachineState[] = [];
  for (const ch of fc.sample(choicesArb(80), { seed: 7, numRuns: 12 })) {
    const s = cloneMachine(hdbss.init(design, CONFIG));
    out.push(cloneMachine(s));
    for (const e of runChoices(hdbss, design, CONFIG, ch).events) { hdbss.apply(s, e as MachineEvent); out.push(cloneMachine(s)); }
  }
  return out;
}

describe('the HDBSS state schema', () => {
  it('labels every field, with the Arm names of the registers', () => {
    const lines = describeSchema(HDBSS_STATE);
    for (const l of lines.slice(1)) expect(l, l).toMatch(/ {2}\S.* {2}\S/);
    const doc = lines.join('\n');
    expect(doc).toMatch(/^brBaddr {2}nums:vcpu {2}per PE: HDBSSBR_EL2\.BADDR/m);
    expect(doc).toMatch(/^prodIndex {2}nums:index {2}per PE: HDBSSPROD_EL2\.INDEX/m);
    expect(doc).toMatch(/^savedProdIndex {2}nums:index {2}per vCPU: KVM's saved HDBSSPROD_EL2\.INDEX/m);
  });

  it('is the part the machine uses for s.ext.hdbss, and its shape check accepts the initial state', () => {
    expect(partOf('hdbss')).toBe(HDBSS_PART);
    const s = hdbss.init(hdbss.design(), CONFIG);
    expect(HDBSS_PART.check(s.ext['hdbss'])).toBeNull();
    expect(Object.keys(HDBSS_PART.view(hd(s)) as object)).toEqual(Object.keys(HDBSS_STATE.fields));
  });

  it('copy, copy-into and save/load are exact on reachable states (1-entry buffers, aborts, ring consumer)', () => {
    const states = [...reachable([], { hdbssEntries: 1, hdbssAborts: true }), ...reachable([], { consumer: 'ring', ringEntries: 8 })];
    const like = hd(states[0]!);
    const store = new StateStore<HdbssExt>(like, undefined, 1, { save: (v, out) => HDBSS_PART.save(v, out), load: (src, l) => HDBSS_PART.load(src, l) });
    let spare = HDBSS_PART.clone(like);
    const seen = new Set<string>();
    for (const s of states) {
      const h = hd(s);
      seen.add(JSON.stringify(h));
      expect(HDBSS_PART.clone(h)).toEqual(h);
      spare = HDBSS_PART.copyInto(spare, h);
      expect(spare).toEqual(h);
      expect(store.load(store.save(h))).toEqual(h);
      expect(HDBSS_PART.check(h)).toBeNull();
    }
    // Not vacuous: the runs reach many different HDBSS states.
    expect(seen.size).toBeGreaterThan(20);
  });

  it('packs the registers of a PE with no vCPU loaded as fixed values, and every other field as it is', () => {
    const s = cloneMachine(hdbss.init(hdbss.design(), CONFIG));
    const base = words(s, hd(s));
    // PE 1 runs nothing: its HDBSSBR/HDBSSPROD are dead.
    expect(s.pes[1]!.loaded).toBe(-1);
    const stale = { ...hd(s), brBaddr: [-1, 1], prodIndex: [0, 1], prodFsc: [0, 0b010000] };
    expect(words(s, stale)).toEqual(base);
    // A loaded PE's registers, and any per-vCPU field, are packed.
    s.pes[1] = { ...s.pes[1]!, loaded: 1 };
    expect(words(s, stale)).not.toEqual(words(s, hd(s)));
    s.pes[1] = { ...s.pes[1]!, loaded: -1 };
    for (const k of ['savedProdIndex', 'savedProdFsc', 'hdbssf', 'resumed'] as const) {
      expect(words(s, { ...hd(s), [k]: [1, hd(s)[k][1]!] }), k).not.toEqual(base);
    }
    // F12 (`hdbss-vtcr-before-regs`): vcpu_load may leave them unprogrammed, so they are packed as they are.
    const f12 = cloneMachine(hdbss.init(hdbss.design({}, ['hdbss-vtcr-before-regs']), CONFIG));
    expect(words(f12, { ...hd(f12), brBaddr: [-1, 1] })).not.toEqual(words(f12, hd(f12)));
  });
});
