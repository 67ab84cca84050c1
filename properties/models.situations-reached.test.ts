/**
 * Goal: the situations of `dtsim check`'s coverage table are counted by the models (issue 18). A situation's
 * count is a metric (`stats`, read through `Model.metrics` and the mechanisms' `metrics` hooks), so no invariant
 * reads it; but check reports a design that never reaches one of its situations as a GAP, which is a finding.
 * A change to the model that stops counting a situation (a counter not bumped, a metrics hook that drops it)
 * is therefore a change to check's verdict, and the mutation gate must see it (docs/mutation.md, G1): before
 * this file, such mutants were classed as "metrics only" and survived.
 * Method: check's own campaign (`runItem`, src/check/campaign.ts, with check's situations and its 300 events a
 * run) over every design of every model's matrix, RUNS runs a design; each situation that applies to some design
 * must be reached by the model's designs together. The same campaigns must take every event kind (each model
 * its KINDS; the kinds no campaign takes are NOT_TAKEN, with a reason): a change that makes a kind unreachable (Stryker's pta.ts 137:9 as `false`: the
 * device never publishes a record by itself, only at a flush) removes behaviour the checker explores, and no
 * invariant of a correct design can see that. The rarest, measured at 10 runs a design (seed d4):
 * hdbss-full-fault 4, hdbss-reload-kicked 8, hdbss-drain-in-flight 9, hdbss-disabled 10, clear-unset-bits and
 * clear-ignored-bits 12 (whole model); at 20 runs (the gate) a miss is about e^-8, at 30 (npm test) e^-12.
 */
import { describe, expect, it } from 'vitest';
import { MODELS } from '../models/index.ts';
import { runItem, situationApplies, type CampaignItem } from '../src/check/campaign.ts';
import { situationsOf } from '../src/cli/jobs.ts';
import { eventFields } from '../models/machine/events.ts';
import type { EventBase } from '../src/core/model.ts';
import { SEED } from './support/seed.ts';

const RUNS = Number(process.env['DTSIM_SITUATION_RUNS'] ?? 30);
/** check's default events a run (`dtsim check --events`). */
const EVENTS = 300;

/**
 * Event kinds no design of the check matrix takes on check's configuration, and why (each is taken elsewhere:
 * a knob, an option row outside the matrix, another configuration). Every other kind must be taken by some
 * model's campaign here: a model change that makes a kind unreachable (its candidate never produced, its
 * precondition never true) removes behaviour the checker explores, which no invariant of a correct design sees.
 */
const NOT_TAKEN: { readonly [type: string]: string } = {
  'guest/loadPerformed': 'only with config.loadPages (litmus and trace configurations); check\'s has none',
  'kvm/tlbiIpa': 'only with config.kernelTlbi (the litmus tests\' kernel TLB maintenance)',
  'kvm/tlbiVmid': 'only with config.kernelTlbi',
  'kvm/tlbiAll': 'only with config.kernelTlbi',
  'kvm/faultTlbiIssued': 'a block split at a write fault under kvmTlbi \'events\': check\'s configuration maps no block (models.block-mappings-hold does)',
  'kvm/softFullRequestCleared': 'only under the knob softfull-cleared-by-reset (its regression trace)',
  'ring/payloadReadEarly': 'only under the knob ring-plain-flags (its regression trace)',
  'kvm/pteRead': 'only under the knob pte-update-not-atomic (F3: the non-atomic read-modify-write of a PTE)',
  'kvm/pteWritten': 'only under the knob pte-update-not-atomic (F3)',
};

/**
 * The event kinds each model's campaign takes here (measured at 20 runs a design, seeds dtsim-local-1 and
 * mutate-gate1: the same sets). Each model's test requires every kind of its list, so a change that makes one
 * unreachable fails that model's own test (Stryker runs only the tests that cover a mutant). A kind added to the
 * models must be added here (or to NOT_TAKEN): the last test checks that every kind is in one of them.
 */
/** Taken by every model's campaign. */
const CORE_KINDS: readonly string[] = [
  'guest/storeFaulted', 'guest/storeIssued', 'guest/storeRetired', 'host/itsTableSaved', 'host/stolenTimeWritten',
  'kvm/dirtyLogHarvested', 'kvm/faultMapped', 'kvm/faultMarked', 'kvm/ioctlReturned', 'kvm/ioctlTlbiIssued',
  'kvm/loggingEnabled', 'mmu/accessTracked', 'pe/tlbEvicted', 'vcpu/entered', 'vcpu/exited', 'vcpu/loaded',
  'vcpu/put', 'vmm/migrationCompleted', 'vmm/pageCopied', 'vmm/vmStopped',
];

const KINDS: { readonly [model: string]: readonly string[] } = {
  'dirty-bitmap': [...CORE_KINDS,
    'kvm/dirtyLogCleared', 'kvm/dirtyLogFetched'],
  'dirty-ring': [...CORE_KINDS,
    'kvm/dirtyRingsReset', 'ring/dirtyFlagVisible', 'ring/entryHarvested', 'ring/entryRewritten', 'ring/entrySlotRewritten',
    'ring/resetFlagVisible', 'vcpu/ringFullExited', 'vmm/ringCollectionCompleted', 'vmm/untrackedPagesQueued'],
  hdbss: [...CORE_KINDS,
    'hdbss/appendAborted', 'hdbss/bufferDrained', 'hdbss/disableRequested', 'hdbss/entryWriteCompleted',
    'hdbss/flushRequested', 'hdbss/fullFaulted', 'hdbss/trackingEnabled', 'hw/dirtyStateUpdated',
    'kvm/dirtyLogCleared', 'kvm/dirtyLogFetched', 'kvm/dirtyRingsReset', 'kvm/hdbssFaultHandled',
    'kvm/kickDelivered', 'kvm/pteAged', 'kvm/readFaultMapped', 'kvm/requestCompleted', 'kvm/requestNoticed',
    'kvm/switchTlbiIssued', 'mmu/rangeUnmapped', 'ring/entryHarvested', 'vcpu/ringFullExited'],
  pta: [...CORE_KINDS,
    'hw/dirtyStateUpdated', 'kvm/dirtyLogCleared', 'kvm/dirtyLogFetched', 'kvm/dirtyRingsReset', 'kvm/pteAged',
    'kvm/readFaultMapped', 'kvm/vmidRolledOver', 'mmu/rangeUnmapped', 'pta/cpuLogRead', 'pta/recordPublished',
    'pta/trackingEnabled', 'ring/entryHarvested'],
};

describe(`check's situations are counted: every model's designs together reach each situation (seed: ${SEED}, ${RUNS} runs a design)`, () => {
  for (const m of MODELS) {
    it(m.id, () => {
      const all = situationsOf(m.id);
      const reached: { [id: string]: number } = {};
      const applies = new Set<string>();
      const mine = new Set<string>();
      for (const opts of m.preset.matrix) {
        const design = m.design(opts, []);
        const label = `${m.id} ${JSON.stringify(opts)}`;
        const item: CampaignItem<unknown, EventBase, unknown> = { label, model: m as never, design, config: m.defaultConfig, situations: all };
        const r = runItem(item, { runs: RUNS, seed: `${SEED}/situations`, maxEvents: EVENTS, timeBudgetMs: 0, stopAtFirst: false, distinct: false, now: () => 0,
          onRunEnd: (run) => { for (const e of run.events) mine.add(e.type); } });
        expect(r.violations, `${label}: ${r.firstFailure?.invariant}: ${r.firstFailure?.message}`).toBe(0);
        for (const s of all) {
          if (!situationApplies(s, design.options)) continue;
          applies.add(s.id);
          reached[s.id] = (reached[s.id] ?? 0) + (r.coverage[s.id] ?? 0);
        }
      }
      console.log(`${m.id}: ${JSON.stringify(reached)}`);
      console.log(`${m.id} event kinds: ${JSON.stringify([...mine].sort())}`);
      const missed = [...applies].filter((id) => !((reached[id] ?? 0) > 0)); // check: reached when the sum is > 0
      expect(missed, `situations no design of ${m.id} reached in ${RUNS} runs a design`).toEqual([]);
      const notTaken = (KINDS[m.id] ?? []).filter((k) => !mine.has(k));
      expect(notTaken, `event kinds of ${m.id} (KINDS) its campaign did not take in ${RUNS} runs a design`).toEqual([]);
    });
  }
  it('every event kind is some model\'s (KINDS) or NOT_TAKEN names it with a reason', () => {
    const kinds = Object.keys(eventFields());
    const pinned = new Set(Object.values(KINDS).flat());
    for (const k of [...pinned, ...Object.keys(NOT_TAKEN)]) expect(kinds, `${k} is no event kind`).toContain(k);
    for (const k of Object.keys(NOT_TAKEN)) expect(pinned.has(k), `${k} is both in KINDS and NOT_TAKEN`).toBe(false);
    expect(kinds.filter((k) => !pinned.has(k) && !Object.hasOwn(NOT_TAKEN, k)), 'event kinds in neither KINDS nor NOT_TAKEN').toEqual([]);
    expect(Object.keys(KINDS).sort()).toEqual(MODELS.map((m) => m.id).sort());
  });
});
