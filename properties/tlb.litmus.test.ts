/**
 * Goal: translation and the TLB behave as the Arm ARM has them (arm reference 1.3-1.5, 7.1), and KVM survives
 * what the architecture allows.
 * - Litmus: every herdtools7 aarch64-VMSA shape of the arm reference section 7.1 that the model can express is a
 *   trace in traces/litmus/ whose expect block is the architecture's answer: `ok` for an Allowed or Required
 *   outcome (the events are enabled, no invariant breaks), `rejected` at the event a Forbidden outcome needs
 *   (docs/litmus.md). Both replay paths agree.
 * - The Allowed spurious fault (DBchange-UP-STR-DSB-ISB): a store through a stale read-only TLB copy after KVM
 *   made the descriptor writable on another PE faults; KVM's fault path finds the descriptor already writable,
 *   changes nothing, drops the copy, and the store retires.
 * - The same question as an explore reachability query (`dtsim explore --reach 'vcpus[0].staleFault ||
 *   vcpus[1].staleFault'`): reached with the fault path's local TLBI (relaxTlbi=local), unreachable (the space
 *   exhausted) with a broadcast one (relaxTlbi=broadcast: the TLBI follows the change, the Forbidden shape); and
 *   the local design, explored to exhaustion, violates nothing.
 * - The seeded scheduler meets spurious faults with guest loads (read-only TLB entries) and stand-alone TLBIs in
 *   the workload. The campaigns of every model's matrix with them (the fast path equal to immer after every event
 *   of such runs) are properties/models.loads-hold.test.ts, which the mutation gate runs.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { replay, simulate } from '../src/core/engine.ts';
import { fingerprint } from '../src/core/fingerprint.ts';
import { explore } from '../src/explore/bfs.ts';
import { parseReach } from '../src/explore/reach-expr.ts';
import { parseTrace, type Trace } from '../src/trace/format.ts';
import type { AnyModel, EventBase } from '../src/core/model.ts';
import { dirtyBitmap, modelById } from '../models/index.ts';
import type { MachineState } from '../models/machine/state.ts';
import { isWritable, leafOf } from '../models/machine/pagetable.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { choicesArb } from './support/models.ts';
import { assertDesignHolds } from './support/failures.ts';

const lookup = (id: string): AnyModel | undefined => modelById(id) as unknown as AnyModel | undefined;

/** Arm reference 7.1, the shapes the model expresses: herd test, its kind, the trace, and the event a Forbidden outcome needs. */
const SHAPES: readonly { herd: string; kind: 'Allowed' | 'Required' | 'Forbidden'; file: string; rejects?: string }[] = [
  { herd: 'DBchange-UP-STR-DSB-ISB', kind: 'Allowed', file: 'dbchange-up-str-dsb-isb' },
  { herd: 'DBchange-UP-STR-DSB-TLBI-DSB-ISB', kind: 'Forbidden', file: 'dbchange-up-str-dsb-tlbi-dsb-isb', rejects: 'guest/storeFaulted' },
  { herd: 'DBchange-UP-STR-DSB-TLBI-DSB-ISB', kind: 'Forbidden', file: 'dbchange-up-relax-broadcast', rejects: 'guest/storeFaulted' },
  { herd: 'STRaf1db0dbm0', kind: 'Required', file: 'straf1db0dbm0', rejects: 'guest/storeRetired' },
  { herd: 'STR-db0+dbm1-HD', kind: 'Required', file: 'str-db0-dbm1-hd' },
  { herd: 'STRaf1db0dbm1', kind: 'Forbidden', file: 'straf1db0dbm1', rejects: 'guest/storeFaulted' },
  { herd: 'STR-db0-noHD', kind: 'Forbidden', file: 'str-db0-nohd', rejects: 'hw/dirtyStateUpdated' },
  { herd: 'STR-db0-noHD', kind: 'Forbidden', file: 'str-db0-nohd-retire', rejects: 'guest/storeRetired' },
];

function load(file: string): { trace: Trace; model: AnyModel } {
  const r = parseTrace(readFileSync(`traces/litmus/${file}.json`, 'utf8'), lookup);
  if (!r.ok) throw new Error(`${file}:${r.error.line}: ${r.error.field}: ${r.error.message}`);
  return { trace: r.trace, model: r.model };
}

describe('herdtools7 VMSA shapes as litmus traces (traces/litmus)', () => {
  it('every trace in traces/litmus is a listed shape, and every listed shape has its trace', () => {
    const files = readdirSync('traces/litmus').filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
    expect(files).toEqual([...new Set(SHAPES.map((x) => x.file))].sort());
  });
  for (const sh of SHAPES) {
    it(`${sh.herd} (${sh.kind}): ${sh.file}`, () => {
      const { trace, model } = load(sh.file);
      expect(trace.note).toContain(sh.herd);
      const fast = replay(model, trace.design, trace.config, trace.events as EventBase[], { path: 'fast' });
      const slow = replay(model, trace.design, trace.config, trace.events as EventBase[], { path: 'immer' });
      expect(fingerprint(fast.state)).toBe(fingerprint(slow.state));
      if (sh.rejects === undefined) {
        // Allowed / Required: the outcome's events are all enabled and nothing breaks.
        expect(trace.expect).toEqual({ status: 'ok' });
        expect([fast.status, slow.status]).toEqual(['ok', 'ok']);
      } else {
        // Forbidden (or the negation of a Required one): the event the outcome needs is the trace's last, refused.
        const k = trace.events.length - 1;
        expect(trace.expect).toEqual({ status: 'rejected', eventIndex: k });
        expect(trace.events[k]!.type).toBe(sh.rejects);
        for (const o of [fast, slow]) expect([o.status, o.eventIndex]).toEqual(['rejected', k]);
      }
    });
  }

  it('DBchange-UP-STR-DSB-ISB: the spurious fault happens, KVM finds the descriptor writable, and the store retires', () => {
    const { trace, model } = load('dbchange-up-str-dsb-isb');
    const events = trace.events as EventBase[];
    const at = events.findIndex((e, i) => i > 15 && e.type === 'guest/storeFaulted');
    const before = replay(model, trace.design, trace.config, events.slice(0, at)).state as MachineState;
    // The descriptor is writable, yet PE 1 holds a read-only copy, so the store can only fault.
    expect(isWritable(leafOf(before.s2, 1))).toBe(true);
    expect(model.isEnabled(before, { type: 'guest/storeRetired', vcpu: 1, gfn: 1 } as EventBase)).toBe(false);
    const faulted = replay(model, trace.design, trace.config, events.slice(0, at + 1)).state as MachineState;
    expect(faulted.vcpus[1]!.staleFault).toBe(true);
    const end = replay(model, trace.design, trace.config, events).state as MachineState;
    expect(end.stats['spuriousFaults']).toBe(1);
    expect(end.stats['faultsAlreadyWritable']).toBe(1);
    expect(end.vcpus[1]!.staleFault).toBe(false);
    expect([end.vcpus[1]!.run, end.vcpus[1]!.store]).toEqual(['guest', -1]);
    // The fault marked the page (an over-report at worst): it is in the dirty bitmap.
    expect(end.slots[0]!.bitmap).not.toBeNull();
  });
});

describe('the spurious fault as an explore reachability query', () => {
  const SMALL = { vcpus: 2, pes: 2, slots: [{ base: 0, npages: 2 }], tlbEntries: 1, stolenTime: false, itsPages: [1], rounds: 1,
    storePages: [1], loadPages: [1] };
  const pc = dirtyBitmap.parseConfig(SMALL);
  if (!pc.ok) throw new Error('config');
  const query = parseReach('vcpus[0].staleFault || vcpus[1].staleFault');
  it('relaxTlbi=local (the fault path\'s TLBI reaches its own PE only): reached, a shortest path of 15 events', () => {
    const r = explore(dirtyBitmap, dirtyBitmap.design({ relaxTlbi: 'local' }), pc.config, { maxDepth: 60, reach: (s) => query.test(s) });
    expect(r.status).toBe('reached');
    expect(r.reached!.events.length).toBe(15);
    expect(r.reached!.events.map((e) => e.type)).toContain('guest/loadPerformed');
  });
  it('relaxTlbi=broadcast (a TLBI after the change): unreachable, the whole space explored', () => {
    const r = explore(dirtyBitmap, dirtyBitmap.design({ relaxTlbi: 'broadcast' }), pc.config, { maxDepth: 200, reach: (s) => query.test(s) });
    expect([r.status, r.reached, r.violation]).toEqual(['exhausted', null, null]);
    expect(r.distinct).toBe(26_262);
  });
  it('relaxTlbi=local explored to exhaustion: KVM survives every spurious fault (no invariant violated)', () => {
    const r = explore(dirtyBitmap, dirtyBitmap.design({ relaxTlbi: 'local' }), pc.config, { maxDepth: 200 });
    expect([r.status, r.violation]).toEqual(['exhausted', null]);
  });
});

describe(`correct designs hold with guest loads and stand-alone TLBIs (seed: ${SEED})`, () => {
  const RUNS = Number(process.env['DTSIM_PROPERTY_RUNS'] ?? 40);
  it('the seeded scheduler meets spurious faults on the wp and the hardware designs (the campaigns below are not vacuous)', () => {
    for (const [m, opts] of [[dirtyBitmap, {}], [modelById('hdbss')!, {}], [modelById('hdbss')!, { producer: 'dbm' }]] as const) {
      const design = m.design(opts, []);
      const config = { ...m.defaultConfig, loadPages: [1, 2, 3], kernelTlbi: true };
      let spurious = 0;
      let tlbis = 0;
      // Up to 1,000 runs, stopping at the first spurious fault: hdbss's default design meets one in about 2% of
      // 400-event runs (measured: 4 of 200; its dbm scan 7 of 200), so 30 runs missed it for about half the seeds;
      // 1,000 miss it with probability ~2e-9 and cost ~50 runs on average.
      for (let i = 0; i < 1000 && spurious === 0; i++) {
        const run = simulate(m, design, config, `${SEED}/tlb/${i}`, { maxEvents: 400 });
        expect(run.outcome.status, `${m.id} ${JSON.stringify(opts)} seed ${i}`).toBe('ok');
        spurious += (run.outcome.state as MachineState).stats['spuriousFaults'] ?? 0;
        tlbis += run.events.filter((e) => e.type.startsWith('kvm/tlbi')).length;
      }
      expect(spurious, `${m.id} ${JSON.stringify(opts)}`).toBeGreaterThan(0);
      expect(tlbis, `${m.id} ${JSON.stringify(opts)}`).toBeGreaterThan(0);
    }
  });
  it('VTCR_EL2.HD clear (hdbss hd=false) is the DBM scan\'s only: refused for HDBSS, and the scan design holds with it', () => {
    const hd = modelById('hdbss')!;
    expect(() => hd.design({ hd: false }, [])).toThrow('hd=false (VTCR_EL2.HD clear) needs producer=dbm: FEAT_HDBSS requires VTCR_EL2.{HDBSS,HA,HD}');
    const design = hd.design({ producer: 'dbm', hd: false }, []);
    const config = { ...hd.defaultConfig, loadPages: [1, 2, 3], kernelTlbi: true };
    assertDesignHolds({ label: 'hdbss {"producer":"dbm","hd":false}', model: hd, design, config }, choicesArb(240),
      { seed: fcSeed('tlb/hd-off'), numRuns: RUNS });
    // DBM is ignored: no hardware dirty-state update ever happens, every first write faults to KVM.
    const run = simulate(hd, design, config, `${SEED}/tlb/hd-off`, { maxEvents: 400 });
    expect(run.events.some((e) => e.type === 'hw/dirtyStateUpdated')).toBe(false);
    expect(run.events.some((e) => e.type === 'guest/storeFaulted')).toBe(true);
  });
});
