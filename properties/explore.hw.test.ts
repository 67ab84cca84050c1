/**
 * Goal: the explore codecs of the hardware dirty-state mechanisms (models/hw-dirty/codec.ts, models/pta/codec.ts,
 * and the schema-compiled part of models/hdbss/schema.ts; keys `hw`, `pta`, `hdbss`) are sound and make the
 * designs explorable:
 * - soundness (a bisimulation): in many random runs (runChoices over fast-check choice sequences) of pta
 *   (bitmap and ring consumers, manual protect, the read-without-flush knob, two vCPUs on two PEs, VMID
 *   rollovers), hdbss (bitmap and ring consumers, 1-entry buffers with aborts, two PEs, F12) and the DBM scan
 *   (pages and 2 MiB blocks), every two states with the same full encoding (`model.pack` = packMachine) have the
 *   same enabled events (VMIDs mapped through `vmidRel`), the same verdict of every invariant, and the same
 *   encoding after each enabled event; the runs must contain merges the codecs make (mechanism state or VMIDs
 *   differing under one encoding), so the check is not vacuous;
 * - the check can fail: deliberately wrong codecs (dropping the PTA's pending count, dropping its VMID, an hdbss
 *   part that packs every PE's HDBSSBR_EL2 as dead) are caught;
 * - `copy` is a deep copy (also into a recycled state), a field the codec does not know stops explore, and a field
 *   not in the hdbss schema is named by its shape check;
 * - exhaustion: hdbss and the DBM scan at SMALL with 2 pages (exact distinct-state counts); pta cannot be
 *   exhausted as modelled (its device keeps one pending record per hardware update, and an unmap re-arms a page
 *   as often as it happens): a test pins that growth, so a model change that bounds it shows up here.
 * The knob rows of properties/explore.bfs.test.ts (same shortest lengths with the codecs) are that file's job.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runChoices } from '../src/core/engine.ts';
import { explore } from '../src/explore/bfs.ts';
import { Packer } from '../src/explore/pack.ts';
import type { Design, JsonValue, PackSink } from '../src/core/model.ts';
import { hdbss, pta, type MachineModel } from '../models/index.ts';
import { cloneMachine, copyMachineInto, packMachine, vmidRel } from '../models/machine/pack.ts';
import { extCodec, partOf, registerExtCodec, registerPart } from '../models/machine/registry.ts';
import type { Compiled, PackCtx } from '../src/core/schema.ts';
import type { HdbssExt } from '../models/hdbss/state.ts';
import { tlbBase, tlbFlags, tlbVmid } from '../models/machine/tlb.ts';
import type { MachineEvent } from '../models/machine/model-events.ts';
import type { MachineConfig, MachineState } from '../models/machine/state.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';

/** explore's SMALL configuration (src/cli/commands/explore.ts), here with 2 pages (the ITS page is page 1). */
const SMALL2: Partial<MachineConfig> = { vcpus: 1, pes: 1, slots: [{ base: 0, npages: 2 }], blocks: false, tlbEntries: 1,
  stolenTime: true, itsPages: [1], rounds: 1, storePages: [] };
const TWO: Partial<MachineConfig> = { ...SMALL2, vcpus: 2, pes: 2, slots: [{ base: 0, npages: 3 }], itsPages: [2], tlbEntries: 2, rounds: 2 };
const BLOCKS: Partial<MachineConfig> = { vcpus: 1, pes: 1, blocks: true, slots: [{ base: 0, npages: 515 }], storePages: [0, 1, 511, 512],
  itsPages: [513], tlbEntries: 2, stolenTime: false, rounds: 2 };

function cfg(m: MachineModel, c: Partial<MachineConfig>): MachineConfig {
  const r = m.parseConfig({ ...m.defaultConfig, ...c });
  if (!r.ok) throw new Error(`${r.error.field}: ${r.error.message}`);
  return r.config;
}

/** The exact full encoding (every word, no hash) of a state. */
function enc(s: MachineState): string {
  const p = new Packer();
  packMachine(s, p, null);
  return Array.from(p.words.subarray(0, p.len)).join(',');
}

/**
 * An event as JSON with its VMID (pta/trackingEnabled) made relative to the state's VMID, and without the ring
 * index of ring events (free-running counters the ring's own codec may pack relatively; the successor check
 * still compares what each such event does).
 */
function relEvent(s: MachineState, e: MachineEvent): string {
  if ('vmid' in e) return JSON.stringify({ ...e, vmid: vmidRel(s, e.vmid) });
  if ('index' in e && e.type.startsWith('ring/')) return JSON.stringify({ ...e, index: null });
  return JSON.stringify(e);
}

function verdicts(m: MachineModel, s: MachineState): (string | null)[] {
  return m.invariants.map((inv) => inv.check(s)?.invariant ?? null);
}

interface Soundness {
  states: number;
  /** Distinct encodings seen. */
  keys: number;
  /** States whose encoding was seen before (each compared with the first state of that encoding). */
  pairs: number;
  /** ... of which the mechanism state (`ext`) differs as JSON, or the VM's VMID differs. */
  extMerges: number;
  vmidMerges: number;
  /** Merges of states whose PEs differ in a dead VMID: an idle PE's stale VMID, or a TLB entry's non-current tag. */
  deadVmidMerges: number;
  /** ... per mechanism-state field (`key.field`) that differs. */
  fields: { [f: string]: number };
  /** Distinct VMIDs the runs reached (rollovers). */
  vmids: number;
  mismatches: string[];
}

/**
 * Replays every run from the initial state and compares each state with the first state of the same encoding:
 * enabled events (VMIDs relative), invariant verdicts, and the encoding after every enabled event. Clones go
 * through `copyMachineInto` into recycled states (the codecs' `copy`), and every first state is checked at the
 * end to be unchanged (the copies are deep).
 */
function soundness(m: MachineModel, design: Design, config: MachineConfig, runs: readonly (readonly MachineEvent[])[]): Soundness {
  const out: Soundness = { states: 0, keys: 0, pairs: 0, extMerges: 0, vmidMerges: 0, deadVmidMerges: 0, fields: {}, vmids: 0, mismatches: [] };
  const reps = new Map<string, { s: MachineState; json: string }>();
  const vmids = new Set<number>();
  const pool: MachineState[] = [];
  const copy = (s: MachineState): MachineState => {
    const spare = pool.pop();
    return spare ? copyMachineInto(spare, s) : cloneMachine(s);
  };
  const compare = (a: MachineState, b: MachineState, where: string): void => {
    const ea = m.enabled(a);
    const eb = m.enabled(b);
    const ja = ea.map((e) => relEvent(a, e));
    const jb = eb.map((e) => relEvent(b, e));
    if (ja.join('|') !== jb.join('|')) { out.mismatches.push(`${where}: enabled events differ: ${ja.join(' ')} vs ${jb.join(' ')}`); return; }
    const va = verdicts(m, a);
    const vb = verdicts(m, b);
    if (va.join() !== vb.join()) { out.mismatches.push(`${where}: invariant verdicts differ: ${va.join()} vs ${vb.join()}`); return; }
    for (let i = 0; i < ea.length; i++) {
      const ca = copy(a);
      const cb = copy(b);
      m.apply(ca, ea[i]!);
      m.apply(cb, eb[i]!);
      if (enc(ca) !== enc(cb)) { out.mismatches.push(`${where}: successors by ${ja[i]} differ`); return; }
      pool.push(ca, cb);
    }
  };
  runs.forEach((run, r) => {
    const s = cloneMachine(m.init(design, config));
    for (let k = 0; k <= run.length; k++) {
      if (k > 0) m.apply(s, run[k - 1]!);
      out.states++;
      vmids.add(s.vmid);
      const key = enc(s);
      const rep = reps.get(key);
      if (!rep) {
        const c = copy(s);
        const json = JSON.stringify([c.ext, c.vmid]);
        if (json !== JSON.stringify([s.ext, s.vmid])) out.mismatches.push(`run ${r} event ${k}: a copy differs from its source`);
        reps.set(key, { s: c, json });
        continue;
      }
      out.pairs++;
      if (JSON.stringify(rep.s.ext) !== JSON.stringify(s.ext)) {
        out.extMerges++;
        for (const k of Object.keys(s.ext)) {
          const x = rep.s.ext[k] as { [f: string]: JsonValue };
          const y = s.ext[k] as { [f: string]: JsonValue };
          for (const f of Object.keys(y)) if (JSON.stringify(x[f]) !== JSON.stringify(y[f])) out.fields[`${k}.${f}`] = (out.fields[`${k}.${f}`] ?? 0) + 1;
        }
      }
      if (rep.s.vmid !== s.vmid) out.vmidMerges++;
      if (relPes(rep.s) !== relPes(s)) out.deadVmidMerges++;
      compare(rep.s, s, `run ${r} after event ${k} (${run[k - 1]?.type ?? 'init'})`);
      if (out.mismatches.length >= 5) return;
    }
  });
  for (const { s, json } of reps.values()) {
    if (JSON.stringify([s.ext, s.vmid]) !== json) { out.mismatches.push('a stored copy changed after its source moved on (shallow copy)'); break; }
  }
  out.keys = reps.size;
  out.vmids = vmids.size;
  return out;
}

/** The PEs with every VMID (PE and TLB tags) relative to the current one: what differs in a dead-VMID merge. */
function relPes(st: MachineState): string {
  return JSON.stringify(st.pes.map((p) => [p.loaded, vmidRel(st, p.vmid), p.tlb.map((e) => [tlbBase(e), vmidRel(st, tlbVmid(e)), tlbFlags(e)])]));
}

/** Random runs: fast-check choice sequences (seeded by the run's seed and `label`) through runChoices. */
function randomRuns(m: MachineModel, design: Design, config: MachineConfig, label: string, n: number, len: number): MachineEvent[][] {
  const choices = fc.sample(choicesArb(len), { seed: fcSeed(`explore.hw/${label}`), numRuns: n });
  return choices.map((ch) => runChoices(m, design, config, ch).events);
}

interface Case {
  readonly name: string;
  readonly model: MachineModel;
  readonly options?: { readonly [k: string]: JsonValue };
  readonly bugs?: readonly string[];
  readonly config: Partial<MachineConfig>;
  readonly runs: number;
  readonly len: number;
  /** Compared pairs the runs must yield (default 100). */
  readonly minPairs?: number;
  /** Merges the runs must contain (the check is not vacuous): of states differing in these `key.field`s, ... */
  readonly expectFields?: readonly string[];
  /** ... and of states with different VMIDs (rollovers). */
  readonly expectVmid?: boolean;
}

const CASES: readonly Case[] = [
  { name: 'pta (bitmap)', model: pta, config: SMALL2, runs: 160, len: 120, expectFields: ['pta.pend', 'pta.ready', 'pta.vmid'], expectVmid: true },
  { name: 'pta (bitmap, manual protect)', model: pta, options: { manualProtect: true }, config: SMALL2, runs: 120, len: 120, expectFields: ['pta.pend', 'pta.ready', 'pta.vmid'], expectVmid: true },
  { name: 'pta (ring consumer)', model: pta, options: { consumer: 'ring', ringEntries: 16 }, config: SMALL2, runs: 120, len: 120, expectVmid: true },
  // pend is packed in order here (only the constant PE/vCPU words are left out): no pend merges.
  { name: 'pta (pta-read-no-flush)', model: pta, bugs: ['pta-read-no-flush'], config: SMALL2, runs: 120, len: 120, expectFields: ['pta.ready', 'pta.vmid'], expectVmid: true },
  { name: 'pta (2 vCPUs, 2 PEs, 3 pages)', model: pta, config: TWO, runs: 80, len: 160, expectFields: ['pta.vmid'], expectVmid: true },
  { name: 'pta (1 vCPU, 2 PEs, 1 page, 2-record device)', model: pta, options: { deviceRecords: 2 }, config: { ...SMALL2, pes: 2, stolenTime: false, slots: [{ base: 0, npages: 1 }], itsPages: [0] },
    runs: 80, len: 200, expectVmid: true },
  // With one PE the hdbss codec merges nothing (no dead registers); the 2-PE merges are checked on crafted runs below.
  { name: 'hdbss (bitmap)', model: hdbss, config: SMALL2, runs: 120, len: 120 },
  { name: 'hdbss (bitmap, 1-entry buffers, aborts)', model: hdbss, options: { hdbssEntries: 1, hdbssAborts: true }, config: SMALL2, runs: 120, len: 120 },
  { name: 'hdbss (ring consumer)', model: hdbss, options: { consumer: 'ring', ringEntries: 8 }, config: SMALL2, runs: 120, len: 120 },
  { name: 'hdbss (2 vCPUs, 2 PEs, 3 pages)', model: hdbss, config: TWO, runs: 80, len: 160 },
  { name: 'hdbss (hdbss-vtcr-before-regs)', model: hdbss, bugs: ['hdbss-vtcr-before-regs'], config: TWO, runs: 60, len: 120 },
  // The DBM scan's only merges are stale block audits (2 MiB blocks).
  { name: 'dbm scan', model: hdbss, options: { producer: 'dbm' }, config: SMALL2, runs: 120, len: 120 },
  { name: 'dbm scan (2 MiB blocks)', model: hdbss, options: { producer: 'dbm' }, config: BLOCKS, runs: 64, len: 100, minPairs: 20, expectFields: ['hw.blockAudit'] },
  { name: 'hdbss (2 MiB blocks)', model: hdbss, config: BLOCKS, runs: 16, len: 100, minPairs: 20 },
];

describe(`explore codecs of the hardware dirty-state mechanisms (seed: ${SEED})`, () => {
  it('every mechanism key of pta, hdbss and the DBM scan has a codec (so VMIDs are packed relatively)', () => {
    for (const [m, o] of [[pta, {}], [pta, { consumer: 'ring' }], [hdbss, {}], [hdbss, { producer: 'dbm' }]] as const) {
      const s = m.init(m.design(o), cfg(m, SMALL2));
      for (const k of Object.keys(s.ext)) if (k !== 'ring') expect(extCodec(k), `codec of ext.${k}`).toBeDefined();
    }
  });

  for (const c of CASES) {
    it(`soundness: ${c.name}: equal encodings have equal enabled events, verdicts and successor encodings`, () => {
      const design = c.model.design(c.options ?? {}, c.bugs ?? []);
      const config = cfg(c.model, c.config);
      const runs = randomRuns(c.model, design, config, c.name, c.runs, c.len);
      const r = soundness(c.model, design, config, runs);
      expect(r.mismatches).toEqual([]);
      expect(r.pairs).toBeGreaterThan(c.minPairs ?? 100);
      for (const f of c.expectFields ?? []) expect(r.fields[f] ?? 0, `merges of states differing in ext.${f}`).toBeGreaterThan(0);
      // VMIDs are packed relatively only when every ext key has a codec (the ring's is another file's).
      const relative = Object.keys(c.model.init(design, config).ext).every((k) => extCodec(k) !== undefined);
      if (c.expectVmid && relative) {
        expect(r.vmids, 'VMIDs reached (rollovers)').toBeGreaterThan(1);
        expect(r.vmidMerges, 'merges of states with different VMIDs').toBeGreaterThan(0);
      }

    });
  }

  it('pta: the stale VMID of an idle PE and non-current TLB tags are merged, soundly (crafted runs: rollovers while the vCPU moved PE)', () => {
    const config = cfg(pta, { ...SMALL2, pes: 2, stolenTime: false, slots: [{ base: 0, npages: 1 }], itsPages: [0] });
    const E = (e: object): MachineEvent => e as MachineEvent;
    const on = (pe: number): MachineEvent[] => [E({ type: 'vcpu/loaded', vcpu: 0, pe }), E({ type: 'vcpu/put', vcpu: 0 })];
    const roll = (pe: number): MachineEvent[] => [E({ type: 'kvm/vmidRolledOver' }), ...on(pe)];
    // PE 0 last ran VMID 1; then 1, 2 or 3 rollovers with the vCPU on PE 1: PE 0's VMID is 1, 2 or 3 behind.
    const runs = [[...on(0), ...roll(1)], [...on(0), ...roll(1), ...roll(1)], [...on(0), ...roll(1), ...roll(1), ...roll(1)]];
    for (const design of [pta.design({ deviceRecords: 2 }), pta.design()]) {
      for (const run of runs) {
        const s = pta.init(design, config);
        for (const e of run) { expect(pta.isEnabled(s, e), JSON.stringify(e)).toBe(true); pta.apply(s, e); }
        expect(s.pes[0]!.loaded).toBe(-1);
        expect(s.pes[0]!.vmid).not.toBe(s.vmid);
      }
      const r = soundness(pta, design, config, runs);
      expect(r.mismatches).toEqual([]);
      expect(r.deadVmidMerges, 'merges of states differing in a dead VMID').toBeGreaterThanOrEqual(2);
    }
  });

  it('hdbss: the registers a PE keeps while no vCPU is loaded on it are merged, soundly (crafted runs, 2 vCPUs, 1 PE)', () => {
    const design = hdbss.design();
    const config = cfg(hdbss, { ...TWO, pes: 1, stolenTime: false });
    const cycle = (v: number): MachineEvent[] => [{ type: 'vcpu/loaded', vcpu: v, pe: 0 }, { type: 'vcpu/put', vcpu: v }] as MachineEvent[];
    const en: MachineEvent[] = [{ type: 'hdbss/trackingEnabled' } as MachineEvent];
    // Last loaded vCPU 1 or 0: HDBSSBR_EL2 of the idle PE names a different buffer, nothing else differs.
    const runs = [[...cycle(0), ...cycle(1)], [...cycle(1), ...cycle(0)], [...en, ...cycle(0), ...cycle(1)], [...en, ...cycle(1), ...cycle(0)]];
    const r = soundness(hdbss, design, config, runs);
    expect(r.mismatches).toEqual([]);
    expect(r.fields['hdbss.brBaddr'] ?? 0).toBeGreaterThanOrEqual(2);
    // ... and not under F12, whose vcpu_load leaves them unprogrammed while HDBSS is off.
    const f12 = soundness(hdbss, hdbss.design({}, ['hdbss-vtcr-before-regs']), config, runs.slice(0, 2));
    expect([f12.mismatches, f12.extMerges]).toEqual([[], 0]);
  });

  it('the soundness check fails for a codec that drops the PTA\'s pending-record count (merges pending with readable)', () => {
    const design = pta.design();
    const config = cfg(pta, SMALL2);
    const runs = randomRuns(pta, design, config, 'wrong-pend', 160, 120);
    const good = extCodec('pta')!;
    registerExtCodec('pta', {
      copy: good.copy,
      pack: (s, v, out) => {
        const d = v as unknown as { enabled: boolean; pend: number[]; ready: number[] };
        out.num(d.enabled ? 1 : 0);
        const pages = new Set<number>();
        for (const r of [d.pend, d.ready]) for (let i = 0; i < r.length; i += 4) pages.add(r[i]!);
        out.nums([...pages].sort((a, b) => a - b));
        void s;
      },
    });
    try {
      const r = soundness(pta, design, config, runs);
      expect(r.mismatches.length).toBeGreaterThan(0);
      expect(r.mismatches.join('\n')).toMatch(/pta\/recordPublished|successors/);
    } finally {
      registerExtCodec('pta', good);
    }
    expect(soundness(pta, design, config, runs.slice(0, 40)).mismatches).toEqual([]);
  });

  it('the soundness check fails for a codec that drops the PTA\'s configured VMID (pta-vmid-stale)', () => {
    // Logging on, then two orders: tracker enabled before the rollover (it keeps VMID 1: INV-VMID once the vCPU
    // is loaded with VMID 2) or after (it tracks VMID 2). Dropping the tracker's VMID gives both one encoding.
    const design = pta.design({}, ['pta-vmid-stale']);
    const config = cfg(pta, { ...SMALL2, stolenTime: false });
    const pre: MachineEvent[] = [{ type: 'kvm/loggingEnabled', slot: 0 } as MachineEvent];
    const a: MachineEvent[] = [...pre, { type: 'pta/trackingEnabled', vmid: 1 }, { type: 'kvm/vmidRolledOver' }, { type: 'vcpu/loaded', vcpu: 0, pe: 0 } as MachineEvent];
    const b: MachineEvent[] = [...pre, { type: 'kvm/vmidRolledOver' }, { type: 'vcpu/loaded', vcpu: 0, pe: 0 } as MachineEvent, { type: 'pta/trackingEnabled', vmid: 2 }];
    // Both sequences are enabled step by step from the initial state.
    for (const run of [a, b]) {
      const s = cloneMachine(pta.init(design, config));
      for (const e of run) { expect(pta.isEnabled(s, e), JSON.stringify(e)).toBe(true); pta.apply(s, e); }
    }
    expect(soundness(pta, design, config, [a, b]).mismatches).toEqual([]);
    const good = extCodec('pta')!;
    registerExtCodec('pta', {
      copy: good.copy,
      pack: (s, v, out) => good.pack(s, { ...(v as { [k: string]: JsonValue }), vmid: s.vmid }, out),
    });
    try {
      const r = soundness(pta, design, config, [a, b]);
      expect(r.mismatches.join('\n')).toMatch(/invariant verdicts differ/);
    } finally {
      registerExtCodec('pta', good);
    }
  });

  it('the soundness check fails for an hdbss part that drops a loaded PE\'s HDBSSBR_EL2 (F12: programmed or UNKNOWN)', () => {
    // A plausible wrong canonicalisation ("a loaded PE's HDBSSBR_EL2 always points at its vCPU's buffer, by
    // INV-HDBSS-REGS, so pack every PE's as dead"): under F12 (`hdbss-vtcr-before-regs`) the vCPU loaded before
    // the enable keeps HDBSSBR_EL2 UNKNOWN while the one loaded after has it programmed, and only the first
    // violates INV-HDBSS-REGS. The right part tells the two states apart; the wrong one merges them.
    const design = hdbss.design({}, ['hdbss-vtcr-before-regs']);
    const config = cfg(hdbss, { ...SMALL2, stolenTime: false });
    const load: MachineEvent = { type: 'vcpu/loaded', vcpu: 0, pe: 0 } as MachineEvent;
    const en: MachineEvent = { type: 'hdbss/trackingEnabled' } as MachineEvent;
    const enter: MachineEvent = { type: 'vcpu/entered', vcpu: 0 } as MachineEvent;
    // (The entry makes the two states equal but for HDBSSBR_EL2: it clears the enable's audit record.)
    const runs = [[load, en, enter], [en, load, enter]];
    const finals = runs.map((run) => {
      const s = cloneMachine(hdbss.init(design, config));
      for (const e of run) { expect(hdbss.isEnabled(s, e), JSON.stringify(e)).toBe(true); hdbss.apply(s, e); }
      return s;
    });
    expect(finals.map((s) => (s.ext['hdbss'] as unknown as HdbssExt).brBaddr)).toEqual([[-1], [0]]);
    expect(finals.map((s) => verdicts(hdbss, s).includes('INV-HDBSS-REGS'))).toEqual([true, false]);
    expect(soundness(hdbss, design, config, runs).mismatches).toEqual([]);
    const good = partOf('hdbss') as Compiled<HdbssExt>;
    const wrong = (v: HdbssExt, ctx: PackCtx, out: PackSink): void => good.pack({ ...v, brBaddr: v.brBaddr.map(() => -1) }, ctx, out);
    registerPart('hdbss', { ...good, pack: wrong } as unknown as Compiled<unknown>);
    try {
      const r = soundness(hdbss, design, config, runs);
      expect(r.mismatches.join('\n')).toMatch(/invariant verdicts differ/);
    } finally {
      registerPart('hdbss', good as unknown as Compiled<unknown>);
    }
    expect(soundness(hdbss, design, config, runs).mismatches).toEqual([]);
  });

  it('hdbss: a field not in the schema is named by the part\'s shape check (HdbssExt is derived from the schema)', () => {
    const s = hdbss.init(hdbss.design(), cfg(hdbss, SMALL2));
    const part = partOf('hdbss')!;
    expect(part.check(s.ext['hdbss'])).toBeNull();
    expect(part.check({ ...(s.ext['hdbss'] as object), surprise: 1 })).toMatch(/^surprise: not in the schema/);
    const { prodFsc: _dropped, ...missing } = s.ext['hdbss'] as unknown as HdbssExt;
    expect(part.check(missing)).toMatch(/^prodFsc: missing/);
  });

  it('a mechanism-state field a codec does not know stops explore with a message', () => {
    for (const [m, key] of [[pta, 'pta'], [pta, 'hw']] as const) {
      const s = m.init(m.design(), cfg(m, SMALL2));
      const c = extCodec(key)!;
      // The guard runs on the first pack and every 1024th after: pack enough times to hit it.
      const bad = { ...s, ext: { ...s.ext, [key]: { ...(s.ext[key] as object), surprise: 1 } } } as MachineState;
      expect(() => { for (let i = 0; i < 1025; i++) c.pack(bad, bad.ext[key] as JsonValue, new Packer()); })
        .toThrow(new RegExp(`does not know the s\\.ext\\['${key}'\\] fields`));
    }
  });

  it('hdbss (SMALL, 2 pages) is exhausted: 189,993 distinct states, no violation', () => {
    const r = explore(hdbss, hdbss.design(), cfg(hdbss, SMALL2), { maxDepth: 1000 });
    expect([r.status, r.violation, r.deadlocked]).toEqual(['exhausted', null, 0]);
    expect([r.distinct, r.depth]).toEqual([189_993, 39]);
  });

  it('the DBM scan (SMALL, 2 pages) is exhausted: 46,787 distinct states, no violation', () => {
    const r = explore(hdbss, hdbss.design({ producer: 'dbm' }), cfg(hdbss, SMALL2), { maxDepth: 1000 });
    expect([r.status, r.violation, r.deadlocked]).toEqual(['exhausted', null, 0]);
    expect([r.distinct, r.depth]).toEqual([46_787, 36]);
  });

  it('pta is not finite as modelled: each unmap of a page and the refault of its store adds a pending record', () => {
    // Logging and tracking on; the store to page 0 faults (marked), its retry is a hardware update (a record);
    // an MMU-notifier unmap makes the same store fault again, and its retry makes another record, as often as
    // the unmap happens. The device publishes records only when it chooses to, so nothing bounds the count,
    // and no sound encoding may merge two counts (they allow different numbers of `pta/recordPublished`).
    const design = pta.design();
    const s = cloneMachine(pta.init(design, cfg(pta, SMALL2)));
    const run = (es: readonly MachineEvent[]): void => {
      for (const e of es) { expect(pta.isEnabled(s, e), JSON.stringify(e)).toBe(true); pta.apply(s, e); }
    };
    const retry: MachineEvent[] = [
      { type: 'kvm/faultMapped', vcpu: 0, gfn: 0 }, { type: 'kvm/faultMarked', vcpu: 0, gfn: 0 }, { type: 'vcpu/entered', vcpu: 0 },
      { type: 'hw/dirtyStateUpdated', vcpu: 0, gfn: 0 },
    ] as MachineEvent[];
    run([{ type: 'vcpu/loaded', vcpu: 0, pe: 0 }, { type: 'host/stolenTimeWritten', vcpu: 0, gfn: 1 }, { type: 'vcpu/entered', vcpu: 0 },
      { type: 'guest/storeIssued', vcpu: 0, gfn: 0 }, { type: 'guest/storeFaulted', vcpu: 0, gfn: 0 }, { type: 'kvm/loggingEnabled', slot: 0 },
      { type: 'pta/trackingEnabled', vmid: 1 }, ...retry] as MachineEvent[]);
    const keys = [enc(s)];
    for (let n = 2; n <= 4; n++) {
      run([{ type: 'mmu/rangeUnmapped', gfn: 0 }, { type: 'guest/storeFaulted', vcpu: 0, gfn: 0 }, ...retry] as MachineEvent[]);
      expect((s.ext['pta'] as { pend: number[] }).pend.length / 4).toBe(n);
      keys.push(enc(s));
    }
    expect(new Set(keys).size).toBe(keys.length);
  });
});
