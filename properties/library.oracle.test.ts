/**
 * Goal: a user can write their own oracle on the public library API (dtsim/testing, dtsim/models), as the
 * kernel selftest's content oracle does: the destination's copy of every page equals guest memory at the end.
 * The oracle below keeps its own guest memory versions and destination copies from the events alone (through
 * `runDesign`'s `onStep` observer), and uses the observer's `received` pages and `roundEnded` marker (derived
 * from the VMM's copy set and round counter, no trace field) for the selftest's other check: a page written
 * since it was last copied is received by a collection before the final copy. It holds on every correct
 * design; with the model's own invariants off (`invariants: []`), it finds the lost page of a knob by itself.
 * Also: the exported choice decoding (`decodeChoice`, `decodeChoices`) gives the events `runChoices` runs;
 * `runDesign` checks a chosen invariant set, and records and continues past `continueOn` invariants.
 */
import { test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { choices, decodeChoice, decodeChoices, designs, encodeChoice, runDesign, workloads, type StepObservation } from '../src/testing/index.ts';
import { runChoices, type EventBase } from '../src/index.ts';
import { dirtyBitmap, dirtyRing, hdbss, pta, type MachineModel } from '../models/index.ts';

/** The selftest's content oracle, built only from events and the observer's collection view. */
class ContentOracle {
  readonly mem = new Map<number, number>();
  readonly dest = new Map<number, number>();
  /** Pages the VMM received and has not copied yet (its copy set, as the observer shows it). */
  readonly pending = new Set<number>();
  /** Pages written since they were last copied while not pending (what a correct design must still report). */
  readonly owed = new Set<number>();
  readonly problems: string[] = [];
  rounds = 0;
  receivedTotal = 0;

  step(o: StepObservation<unknown, EventBase>): void {
    const e = o.event as EventBase & { gfn?: number };
    if (o.received === null || o.roundEnded === null) throw new Error('the model has no collection view');
    for (const g of o.received) { this.owed.delete(g); this.pending.add(g); }
    this.receivedTotal += o.received.length;
    if (o.roundEnded) this.rounds++;
    switch (e.type) {
      case 'guest/storeRetired': case 'host/stolenTimeWritten': case 'host/itsTableSaved':
        this.mem.set(e.gfn!, (this.mem.get(e.gfn!) ?? 0) + 1);
        // A write to a page the VMM is still to copy is carried by that copy; otherwise it is owed a report.
        if (!this.pending.has(e.gfn!)) this.owed.add(e.gfn!);
        return;
      case 'vmm/pageCopied':
        // The VMM copies only pages it received: a page it copies was received (and so is not owed).
        if (!this.pending.has(e.gfn!) || this.owed.has(e.gfn!)) this.problems.push(`event ${o.index}: page ${e.gfn} copied but never received`);
        this.pending.delete(e.gfn!);
        this.dest.set(e.gfn!, this.mem.get(e.gfn!) ?? 0);
        return;
      default:
    }
  }

  /** At the end: the destination holds every page's last version (pages never written: their initial copy, 0). */
  final(): string[] {
    const out = [...this.problems];
    for (const [g, v] of this.mem) if ((this.dest.get(g) ?? -1) !== v) out.push(`page ${g}: destination has version ${this.dest.get(g) ?? 'none'}, memory ${v}`);
    return out;
  }
}

function fromTrace(file: string): { model: MachineModel; design: ReturnType<MachineModel['design']>; config: unknown; choices: number[]; expect: { eventIndex: number; invariant: string } } {
  const t = JSON.parse(readFileSync(file, 'utf8'));
  const model = [dirtyBitmap, dirtyRing, hdbss, pta].find((m) => m.id === t.design.model)!;
  const c = model.parseConfig(t.config);
  if (!c.ok) throw new Error('bad config');
  return { model, design: model.design(t.design.options, t.design.bugs), config: c.config, choices: t.choices, expect: t.expect };
}

describe('a user-written content oracle through the observer API', () => {
  for (const model of [dirtyBitmap, dirtyRing, hdbss, pta]) {
    test.prop([designs(model), workloads(model), choices({ maxLength: 150 })], { numRuns: 15 })(
      `${model.id}: every correct design: the destination equals memory at the end, every written page received before its copy`,
      (design, config, choiceSeq) => {
        const oracle = new ContentOracle();
        const r = runDesign(model, design, config, choiceSeq, { onStep: (o) => oracle.step(o) });
        expect(r.violation).toBeNull();
        expect(r.finished).toBe(true);
        expect(oracle.final()).toEqual([]);
        // Every run ends with at least the final collection, and the bulk copy hands every slot page over.
        expect(oracle.rounds).toBeGreaterThanOrEqual(1);
        expect(oracle.receivedTotal).toBeGreaterThan(0);
      },
    );
  }

  it('finds the lost page of a knob by itself, with the model\'s invariants off (invariants: [])', () => {
    const t = fromTrace('traces/regressions/dirty-bitmap-host-write-unmarked.json');
    expect(t.expect.invariant).toBe('INV-NOLOSS');
    const oracle = new ContentOracle();
    const r = runDesign(t.model, t.design, t.config as never, t.choices, { invariants: [], onStep: (o) => oracle.step(o) });
    expect(r.status).toBe('ok'); // no invariant checked: the run went on to the end of the migration
    expect(r.finished).toBe(true);
    expect(r.violations).toEqual([]);
    const found = oracle.final();
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(/page \d+: destination has version/);
  });

  it('received pages and roundEnded: the bulk copy hands over every slot page; rounds end as the VMM counts them', () => {
    const model = dirtyBitmap;
    const design = model.design();
    const config = model.defaultConfig;
    const steps: { type: string; received: readonly number[]; roundEnded: boolean; round: number }[] = [];
    const r = runDesign(model, design, config, [], { onStep: (o) => steps.push({ type: o.event.type, received: o.received!, roundEnded: o.roundEnded!, round: o.round! }) });
    expect(r.finished).toBe(true);
    const slotPages = config.slots.flatMap((s) => [...Array(s.npages).keys()].map((i) => s.base + i));
    const bulk = steps.filter((s) => s.type === 'kvm/loggingEnabled').flatMap((s) => s.received);
    expect(bulk.sort((a, b) => a - b)).toEqual(slotPages);
    const ends = steps.filter((s) => s.roundEnded);
    expect(ends.map((s) => s.round)).toEqual(ends.map((_s, i) => i + 1));
    expect(ends.length).toBe(model.metrics(runChoices(model, design, config, []).outcome.state)['collections']);
    // Only the events that end a collection step hand pages over after the bulk copy.
    const kinds = new Set(steps.filter((s) => s.received.length > 0 && s.type !== 'kvm/loggingEnabled').map((s) => s.type));
    for (const k of kinds) expect(['kvm/ioctlReturned', 'kvm/dirtyLogHarvested', 'kvm/dirtyLogFetched', 'kvm/dirtyLogCleared']).toContain(k);
  });
});

describe('the choice decoding, exported', () => {
  test.prop([designs(dirtyRing), workloads(dirtyRing), choices({ maxLength: 120 })], { numRuns: 30 })(
    'decodeChoices gives the events runChoices runs (up to its violation), and decodeChoice inverts encodeChoice',
    (design, config, choiceSeq) => {
      const steps = decodeChoices(dirtyRing, design, config, choiceSeq);
      const run = runChoices(dirtyRing, design, config, choiceSeq);
      expect(steps.slice(0, run.events.length).map((s) => s.event)).toEqual(run.events);
      const chosen = steps.filter((s) => s.choice !== null);
      expect(chosen.map((s) => s.choice)).toEqual(choiceSeq.slice(0, chosen.length));
      // Re-decode each step by hand from the state it was taken in.
      const s = dirtyRing.init(design, config);
      for (const st of chosen) {
        const en = dirtyRing.enabled(s);
        expect(en.length).toBe(st.enabledCount);
        const i = decodeChoice(dirtyRing, s, en, st.choice!);
        expect(i).toBe(st.index);
        expect(en[i]).toEqual(st.event);
        expect(decodeChoice(dirtyRing, s, en, encodeChoice(dirtyRing, en, s, i))).toBe(i);
        dirtyRing.apply(s, en[i]!);
      }
    },
  );
});

describe('runDesign: a chosen invariant set, and continuing past a hazard', () => {
  const t = fromTrace('traces/regressions/dirty-bitmap-missing-tlbi.json');
  it('by default the run stops at the hazard (INV-FLUSH), the one violation seen', () => {
    expect(t.expect.invariant).toBe('INV-FLUSH');
    const r = runDesign(t.model, t.design, t.config as never, t.choices);
    expect(r.status).toBe('violated');
    expect(r.invariant).toBe('INV-FLUSH');
    expect(r.eventIndex).toBe(t.expect.eventIndex);
    expect(r.violations).toEqual([{ eventIndex: t.expect.eventIndex, invariant: 'INV-FLUSH', message: r.violation!.message, pages: r.violation!.pages, stopped: true }]);
  });
  it('continueOn: [INV-FLUSH] records it and checks on: INV-ARMED, broken by the same stale entry, stops the run', () => {
    const r = runDesign(t.model, t.design, t.config as never, t.choices, { continueOn: ['INV-FLUSH'] });
    expect(r.violations.map((v) => [v.eventIndex, v.invariant, v.stopped])).toEqual([
      [t.expect.eventIndex, 'INV-FLUSH', false], [t.expect.eventIndex, 'INV-ARMED', true]]);
    expect(r.invariant).toBe('INV-ARMED');
  });
  it('continueOn: [INV-FLUSH, INV-ARMED] goes on past the hazard, to the end of the migration or to a stopping violation', () => {
    const r = runDesign(t.model, t.design, t.config as never, t.choices, { continueOn: ['INV-FLUSH', 'INV-ARMED'] });
    expect(r.violations[0]).toMatchObject({ eventIndex: t.expect.eventIndex, invariant: 'INV-FLUSH', stopped: false });
    expect(r.events.length).toBeGreaterThan(t.expect.eventIndex + 1);
    const stops = r.violations.filter((v) => v.stopped);
    if (r.status === 'violated') {
      expect(['INV-FLUSH', 'INV-ARMED']).not.toContain(r.invariant);
      expect(stops).toEqual([r.violations.at(-1)]);
      expect(r.violations.at(-1)).toMatchObject({ invariant: r.invariant, eventIndex: r.eventIndex });
    } else {
      expect(stops).toEqual([]);
      expect(r.finished).toBe(true);
    }
  });
  it('invariants: [INV-NOLOSS, INV-FINAL] checks only those: the hazard is not a stop', () => {
    const r = runDesign(t.model, t.design, t.config as never, t.choices, { invariants: ['INV-NOLOSS', 'INV-FINAL'] });
    expect(r.violations.every((v) => v.invariant === 'INV-NOLOSS' || v.invariant === 'INV-FINAL')).toBe(true);
    expect(r.events.length).toBeGreaterThan(t.expect.eventIndex + 1);
  });
  it('an unknown invariant id throws, naming the known ones', () => {
    expect(() => runDesign(t.model, t.design, t.config as never, t.choices, { continueOn: ['INV-NOPE'] })).toThrow(/unknown invariant 'INV-NOPE'.*INV-NOLOSS/);
  });
});
