/**
 * Goal: the situations of `dtsim check`'s coverage table are counted by the models (issue 18). A situation's
 * count is a metric (`stats`, read through `Model.metrics` and the mechanisms' `metrics` hooks), so no invariant
 * reads it; but check reports a design that never reaches one of its situations as a GAP, which is a finding.
 * A change to the model that stops counting a situation (a counter not bumped, a metrics hook that drops it)
 * is therefore a change to check's verdict, and the mutation gate must see it (docs/mutation.md, G1): before
 * this file, such mutants were classed as "metrics only" and survived.
 * Method: check's own campaign (`runItem`, src/check/campaign.ts, with check's situations and its 300 events a
 * run) over every design of every model's matrix, RUNS runs a design; each situation that applies to some design
 * must be reached by the model's designs together. The rarest, measured at 10 runs a design (seed d4):
 * hdbss-full-fault 4, hdbss-reload-kicked 8, hdbss-drain-in-flight 9, hdbss-disabled 10, clear-unset-bits and
 * clear-ignored-bits 12 (whole model); at 20 runs (the gate) a miss is about e^-8, at 30 (npm test) e^-12.
 */
import { describe, expect, it } from 'vitest';
import { MODELS } from '../models/index.ts';
import { runItem, situationApplies, type CampaignItem } from '../src/check/campaign.ts';
import { situationsOf } from '../src/cli/jobs.ts';
import type { EventBase } from '../src/core/model.ts';
import { SEED } from './support/seed.ts';

const RUNS = Number(process.env['DTSIM_SITUATION_RUNS'] ?? 30);
/** check's default events a run (`dtsim check --events`). */
const EVENTS = 300;

describe(`check's situations are counted: every model's designs together reach each situation (seed: ${SEED}, ${RUNS} runs a design)`, () => {
  for (const m of MODELS) {
    it(m.id, () => {
      const all = situationsOf(m.id);
      const reached: { [id: string]: number } = {};
      const applies = new Set<string>();
      for (const opts of m.preset.matrix) {
        const design = m.design(opts, []);
        const label = `${m.id} ${JSON.stringify(opts)}`;
        const item: CampaignItem<unknown, EventBase, unknown> = { label, model: m as never, design, config: m.defaultConfig, situations: all };
        const r = runItem(item, { runs: RUNS, seed: `${SEED}/situations`, maxEvents: EVENTS, timeBudgetMs: 0, stopAtFirst: false, distinct: false, now: () => 0 });
        expect(r.violations, `${label}: ${r.firstFailure?.invariant}: ${r.firstFailure?.message}`).toBe(0);
        for (const s of all) {
          if (!situationApplies(s, design.options)) continue;
          applies.add(s.id);
          reached[s.id] = (reached[s.id] ?? 0) + (r.coverage[s.id] ?? 0);
        }
      }
      console.log(`${m.id}: ${JSON.stringify(reached)}`);
      const missed = [...applies].filter((id) => !((reached[id] ?? 0) > 0)); // check: reached when the sum is > 0
      expect(missed, `situations no design of ${m.id} reached in ${RUNS} runs a design`).toEqual([]);
    });
  }
});
