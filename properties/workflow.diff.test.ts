/**
 * State differences: the generic JSON diff (paths, absent values, limits, deterministic order) and the machine
 * view's domain rendering of real reducer steps (descriptor bits, TLB entries, bitmap bits, oracle versions).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { diffStates, describeDiff, pathString } from '../src/workflow/diff.ts';
import { machineView, descBits, tlbEntry } from '../models/machine/view.ts';
import { replayFrom } from '../src/core/engine.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';
import { tlbPack, T_PREARM, T_W } from '../models/machine/tlb.ts';
import type { MachineState } from '../models/machine/state.ts';
import type { MachineEvent } from '../models/machine/model-events.ts';
import { simulate } from '../src/core/engine.ts';
import { SEED } from './support/seed.ts';
import { canonicalJson } from '../src/core/fingerprint.ts';
import { knobTraces, regressionTraces } from './support/failing-traces.ts';

const json = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 3 }),
    fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('v'), { maxKeys: 3 })),
})).v;

/** Applies a diff's changes to `a` (paths resolved by segments): must give `b`. */
function patch(a: unknown, changes: ReturnType<typeof diffStates>): unknown {
  let root: unknown = structuredClone(a);
  for (const c of changes) {
    if (c.segments.length === 0) { root = structuredClone(c.after); continue; }
    let o = root as Record<string | number, unknown>;
    for (const s of c.segments.slice(0, -1)) o = o[s] as Record<string | number, unknown>;
    const last = c.segments[c.segments.length - 1] as string | number;
    if (c.after === undefined) {
      if (Array.isArray(o)) o.length = Math.min(o.length, Number(last)); else delete o[last];
    } else o[last] = structuredClone(c.after);
  }
  return root;
}

describe(`diffStates (seed ${SEED})`, () => {
  it('is empty exactly for equal documents, and its changes turn a into b', () => {
    fc.assert(fc.property(json, json, (a, b) => {
      const d = diffStates(a, b, 100_000);
      expect(d.length === 0).toBe(JSON.stringify(a) === JSON.stringify(b));
      expect(canonicalJson(patch(a, d))).toBe(canonicalJson(b));
    }), { numRuns: 500 });
  });

  it('names paths, absent values and collapses short plain arrays that changed length', () => {
    const d = diffStates({ vmm: { phase: 'idle', list: [1] }, x: [0, 1, 2] }, { vmm: { phase: 'done', list: [1, 2] }, x: [0, 5, 2], y: 1 });
    expect(d.map((c) => c.path)).toEqual(['vmm.list', 'vmm.phase', 'x[1]', 'y']);
    expect(d.find((c) => c.path === 'y')?.before).toBeUndefined();
    expect(pathString(['ext', 'ring', 'rings', 0, 'entries', 3])).toBe('ext.ring.rings[0].entries[3]');
    expect(diffStates({ a: [1, 2, 3, 4] }, { a: [5, 6, 7, 8] }, 2).map((c) => c.path)).toEqual(['a[0]', 'a[1]', '...']);
  });
});

describe(`machine view of real steps (seed ${SEED})`, () => {
  it('renders descriptor, TLB, bitmap and oracle changes in domain words', () => {
    const m = dirtyBitmap;
    const design = m.design({}, []);
    const run = simulate(m, design, m.defaultConfig, 'diff-view', { maxEvents: 300 });
    const events = run.events as MachineEvent[];
    const start = m.init(design, m.defaultConfig);
    const stateAt = (k: number): MachineState => replayFrom(m, start, events.slice(0, k), { path: 'fast', noChecks: true }).state;
    const seen = { mapped: false, marked: false, retired: false };
    for (let k = 0; k < events.length; k++) {
      const e = events[k] as MachineEvent;
      const kind = e.type === 'kvm/faultMapped' ? 'mapped' : e.type === 'kvm/faultMarked' ? 'marked' : e.type === 'guest/storeRetired' ? 'retired' : null;
      if (!kind || seen[kind]) continue;
      const before = stateAt(k);
      const after = stateAt(k + 1);
      const lines = describeDiff(machineView, before, after).join('\n');
      if (kind === 'mapped' && 'gfn' in e) {
        expect(lines).toContain(`s2 descriptor gfn ${e.gfn}: `);
        expect(lines).toMatch(/valid\|W/);
        seen.mapped = true;
      }
      const bit = (st: MachineState, g: number): boolean => (((st.slots[0]?.bitmap?.[0]?.[0]?.[g >>> 5] ?? 0) >>> (g & 31)) & 1) === 1;
      if (kind === 'marked' && 'gfn' in e && after.slots[0]?.logging && !bit(before, e.gfn) && bit(after, e.gfn)) {
        expect(lines).toContain(`slot 0 dirty bitmap: set gfn ${e.gfn}`);
        seen.marked = true;
      }
      if (kind === 'retired' && 'gfn' in e) {
        expect(lines).toContain(`oracle memory version gfn ${e.gfn}: `);
        const pe = after.vcpus[(e as { vcpu: number }).vcpu]?.pe ?? 0;
        if ((before.pes[pe]?.tlb.length ?? 0) !== (after.pes[pe]?.tlb.length ?? 0)) expect(lines).toContain(`pe${pe} TLB: + gfn ${e.gfn}`);
        seen.retired = true;
      }
    }
    expect(seen).toEqual({ mapped: true, marked: true, retired: true });
    expect(descBits(0)).toBe('invalid');
    expect(descBits(1 | 2 | 4)).toBe('valid|W|AF');
    expect(tlbEntry(tlbPack(15, 1, T_W))).toBe('gfn 15 vmid 1 W');
    expect(tlbEntry(tlbPack(15, 1, T_W | T_PREARM))).toBe('gfn 15 vmid 1 W|pre-arm');
    const sections = machineView.summarize?.(stateAt(events.length)) ?? [];
    expect(sections.map((s) => s.title)).toEqual(expect.arrayContaining(['Stage-2 page table (valid leaves)', 'TLBs', 'vCPUs', 'Dirty bitmap', 'VMM']));
  });
});

describe(`machine view of mechanism state (seed ${SEED})`, () => {
  it('names ring entries pushed and HDBSS entries appended', () => {
    const seen = { ring: 0, hdbss: 0 };
    for (const t of [...regressionTraces(), ...knobTraces()]) {
      if (t.model.id !== 'dirty-ring' && t.model.id !== 'hdbss') continue;
      let s = t.model.init(t.trace.design, t.trace.config) as MachineState;
      for (const e of t.trace.events) {
        const before = structuredClone(s);
        const o = replayFrom(t.model, s, [e], { path: 'fast', noChecks: true });
        if (o.status !== 'ok') break;
        s = o.state as MachineState;
        const rb = (before.ext['ring'] as { rings?: { dirtyIndex: number }[] } | undefined)?.rings ?? [];
        const ra = (s.ext['ring'] as { rings?: { dirtyIndex: number }[] } | undefined)?.rings ?? [];
        const hb = (before.ext['hdbss'] as { buf?: number[][] } | undefined)?.buf ?? [];
        const ha = (s.ext['hdbss'] as { buf?: number[][] } | undefined)?.buf ?? [];
        const pushed = ra.findIndex((r, i) => r.dirtyIndex !== rb[i]?.dirtyIndex);
        const appended = ha.findIndex((b, v) => b.some((x, k) => x !== 0 && hb[v]?.[k] === 0));
        if (pushed < 0 && appended < 0) continue;
        const text = describeDiff(machineView, before, s).join('\n');
        if (pushed >= 0) { expect(text).toMatch(new RegExp(`ring of vcpu${pushed} (entry \\d+: .* -> DIRTY|dirty_index)`)); seen.ring++; }
        if (appended >= 0) { expect(text).toMatch(new RegExp(`HDBSS buffer of vcpu${appended} entry \\d+: empty -> gfn \\d+ level`)); seen.hdbss++; }
      }
    }
    expect(seen.ring).toBeGreaterThan(0);
    expect(seen.hdbss).toBeGreaterThan(0);
  });
});
