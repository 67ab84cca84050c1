/**
 * Failing traces for the workflow tests (bisect, shrink, show): every saved regression trace under
 * traces/regressions (globbed, so new ones are picked up), and one freshly simulated trace per bug knob of every
 * registered model (seeds derived from a fixed label, so the set is the same on every run).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { simulate } from '../../src/core/engine.ts';
import { makeTrace, parseTrace, type Trace } from '../../src/trace/format.ts';
import { lookupModel } from '../../src/cli/registry.ts';
import { MODELS, type MachineModel } from '../../models/index.ts';
import type { AnyModel, EventBase } from '../../src/core/model.ts';

export interface FailingTrace {
  readonly label: string;
  readonly file: string | null;
  readonly trace: Trace;
  readonly model: AnyModel;
}

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Every `*.json` under traces/regressions (recursively) that parses. One that does not (e.g. saved before its
 * knob landed) is left out with a warning: the self-checking traces test owns "every saved trace replays".
 */
export function regressionTraces(): FailingTrace[] {
  const dir = join(ROOT, 'traces', 'regressions');
  if (!existsSync(dir)) return [];
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort();
  const out: FailingTrace[] = [];
  for (const f of files) {
    const file = join(dir, f);
    const r = parseTrace(readFileSync(file, 'utf8'), lookupModel);
    if (!r.ok) { console.warn(`[failing-traces] skipping ${file}: ${r.error.field}: ${r.error.message}`); continue; }
    out.push({ label: `traces/regressions/${f}`, file, trace: r.trace, model: r.model });
  }
  return out;
}

let cache: FailingTrace[] | null = null;

/**
 * One trace per knob that must be found (expect !== null), simulated with the knob's config as `dtsim run` does,
 * from seeds `knob-<id>-<n>` until the run breaks the knob's expected invariant (at most `maxSeeds` seeds). A
 * knob this small search misses is left out (finding every knob is the catalogue test's claim, not this one's).
 */
export function knobTraces(maxSeeds = 60, maxEvents = 300): FailingTrace[] {
  if (cache) return cache;
  const out: FailingTrace[] = [];
  for (const m of MODELS) {
    for (const k of m.preset.bugs) {
      if (k.expect === null) continue;
      const t = knobTrace(m, k.id, k.expect, maxSeeds, maxEvents);
      if (t) out.push(t);
    }
  }
  cache = out;
  return out;
}

function knobTrace(m: MachineModel, bug: string, expect: string, maxSeeds: number, maxEvents: number): FailingTrace | null {
  const design = m.design({}, [bug]);
  const knob = m.preset.bugs.find((b) => b.id === bug);
  const pc = m.parseConfig({ ...m.defaultConfig, ...(knob?.config ?? {}) });
  if (!pc.ok) throw new Error(`knob ${bug}: ${pc.error.message}`);
  for (let n = 0; n < maxSeeds; n++) {
    const seed = `knob-${bug}-${n}`;
    const run = simulate(m, design, pc.config, seed, { maxEvents });
    const o = run.outcome;
    if (o.status !== 'violated' || o.invariant !== expect) continue;
    const trace = makeTrace({ design, config: pc.config as unknown as Trace['config'], seed, choices: run.choices,
      events: run.events as EventBase[], note: `knob ${bug}`, expect: { status: 'violated', eventIndex: o.eventIndex, invariant: o.invariant } });
    return { label: `${m.id}/${bug} (seed ${seed})`, file: null, trace, model: lookupModel(m.id) as AnyModel };
  }
  return null;
}

/** Knobs that must be found, as `model/id`. */
export function expectedKnobs(): string[] {
  return MODELS.flatMap((m) => m.preset.bugs.filter((b) => b.expect !== null).map((b) => `${m.id}/${b.id}`));
}
