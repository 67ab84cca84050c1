/**
 * The plug-in contract (models/mechanisms.ts): mechanisms and their events are declared, not registered by side
 * effect; everything the machine derives from the declarations (the event schema, lanes, weights, the selected
 * mechanisms of a design) and the hooks that keep src/ free of mechanism knowledge (`Model.view`,
 * `configCandidates`, `relabelings`, `Mechanism.view`) are in place for every model.
 */
import { describe, expect, it } from 'vitest';
import { mutableCopy } from '../src/core/engine.ts';
import { describeDiff, summarizeState } from '../src/workflow/diff.ts';
import { declaredMechanisms, mechanismEventDecls, mechanismFolders } from './mechanisms.ts';
import { eventFields, lane } from './machine/events.ts';
import * as parts from './machine/parts.ts';
import { declaredParts } from './mechanisms.ts';
import { mechanismsOf } from './machine/selected.ts';
import { MODELS, dirtyRing, hdbss } from './index.ts';
import type { MachineState } from './machine/state.ts';
import { hdbssEntry } from './hdbss/state.ts';

describe('mechanisms by declaration', () => {
  it('the declared list holds every mechanism once, and no module registers one by side effect', () => {
    const ids = declaredMechanisms().map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(['dbm', 'hdbss', 'pta', 'ring']);
    expect(mechanismFolders().map((f) => f.folder)).toEqual(['dirty-ring', 'hw-dirty', 'hdbss', 'pta']);
    // State parts are declared by the folders too: one per s.ext key, and the machine resolves exactly those.
    expect([...declaredParts().keys()].sort()).toEqual(['hdbss', 'hw', 'pta', 'ring']);
    for (const [k, p] of declaredParts()) expect(parts.partOf(k)).toBe(p);
    expect(Object.keys(parts)).not.toContain('registerMechanism');
  });
  it('a design\'s mechanisms come from the declared list, cached per design key', () => {
    const s = dirtyRing.init(dirtyRing.design({}, []), dirtyRing.defaultConfig);
    const ms = mechanismsOf(s);
    expect(ms.map((m) => m.id)).toEqual(['ring']);
    expect(ms[0]).toBe(declaredMechanisms().find((m) => m.id === 'ring'));
    expect(mechanismsOf(s)).toBe(ms);
    const h = hdbss.init(hdbss.design({ consumer: 'ring' }, []), hdbss.defaultConfig);
    expect(mechanismsOf(h).map((m) => m.id)).toEqual(['hdbss', 'ring']);
  });
  it('every declared event is in the event schema with its fields, described, and parsed by every model', () => {
    const fields = eventFields();
    const decls = mechanismEventDecls();
    expect(decls.length).toBeGreaterThanOrEqual(22);
    for (const d of decls) {
      expect(fields[d.type], d.type).toEqual(d.fields);
      expect(d.description.length, d.type).toBeGreaterThan(20);
      // A well-formed instance (every field 0 or [], in range for the default configuration) parses in every model.
      const raw: { [k: string]: unknown } = { type: d.type };
      for (const [f, kind] of Object.entries(d.fields)) raw[f] = kind === 'offsets' ? [] : 0;
      for (const m of MODELS) expect(m.parseEvent(raw, m.defaultConfig).ok, `${m.id} ${d.type}`).toBe(true);
    }
  });
  it('lanes and scheduler weights come from the declarations', () => {
    // The ring's userspace events name a vCPU but are VMM work (declared lane), others derive theirs from fields.
    expect(lane({ type: 'ring/entryHarvested', vcpu: 1, index: 0 })).toBe('vmm');
    expect(lane({ type: 'kvm/softFullRequestCleared', vcpu: 1 })).toBe('vmm');
    expect(lane({ type: 'vcpu/ringFullExited', vcpu: 1 })).toBe('vcpu1');
    expect(lane({ type: 'pta/cpuLogRead', vcpu: 0, pe: 1 })).toBe('vcpu0');
    for (const m of MODELS) {
      const s = m.init(m.design({}, []), m.defaultConfig);
      for (const d of mechanismEventDecls()) {
        expect(m.weightOf(s, { type: d.type } as never), `${m.id} ${d.type}`).toBe(d.weight ?? 5);
      }
    }
  });
});

describe('src/ sees mechanisms only through the Model hooks', () => {
  it('every model has a view and config-shrinking hooks', () => {
    for (const m of MODELS) {
      expect(m.view?.summarize, m.id).toBeTypeOf('function');
      expect(m.view?.describeChanges, m.id).toBeTypeOf('function');
      const c = m.configCandidates?.({ ...m.defaultConfig, vcpus: 2, pes: 2 }) ?? [];
      expect(c.length, m.id).toBeGreaterThan(0);
      for (const x of c) expect(m.parseConfig(x).ok, m.id).toBe(true);
      const r = m.relabelings?.({ ...m.defaultConfig, vcpus: 2, pes: 2 }) ?? [];
      // vCPU 0 dropped (vCPU 1 renamed 0), PE 0 dropped.
      expect(r.length, m.id).toBe(2);
      expect(r[0]?.mapEvent({ type: 'vcpu/entered', vcpu: 0 })).toBeNull();
      expect(r[0]?.mapEvent({ type: 'vcpu/entered', vcpu: 1 })).toEqual({ type: 'vcpu/entered', vcpu: 0 });
    }
  });
  it('the ring and HDBSS render their own state through Mechanism.view, in declaration order', () => {
    const s = mutableCopy(hdbss.init(hdbss.design({ consumer: 'ring' }, []), hdbss.defaultConfig)) as MachineState;
    const titles = summarizeState(hdbss.view, s).map((x) => x.title);
    expect(titles.indexOf('Dirty rings')).toBeGreaterThan(titles.indexOf('VMM'));
    expect(titles.indexOf('HDBSS buffers')).toBeGreaterThan(titles.indexOf('Dirty rings'));
    expect(declaredMechanisms().filter((m) => m.view).map((m) => m.id)).toEqual(['ring', 'hdbss']);
    // A changed ring index and HDBSS entry, described by their mechanisms' views.
    const after = structuredClone(s);
    const ring = (after.ext['ring'] as { rings: { dirtyIndex: number }[] }).rings[0]!;
    ring.dirtyIndex += 1;
    (after.ext['hdbss'] as { buf: number[][] }).buf[0]![0] = hdbssEntry(3, 3);
    const lines = describeDiff(hdbss.view, s, after);
    expect(lines).toContain('ring of vcpu0 dirty_index: 0 -> 1 (used 0 -> 1)');
    expect(lines).toContain('HDBSS buffer of vcpu0 entry 0: empty -> gfn 3 level 3');
  });
});
