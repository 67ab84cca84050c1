/**
 * One grid point of `dtsim compare --preset` with the workload changed at will (docs/compare.md uses it for the
 * figures a preset does not cover: a small, hot working set that fills an HDBSS buffer). Runs the point as the
 * preset does (every invariant on the initial state, every `--check-every` events, at each collection and at
 * the end: `runScalePoint`) and prints its status, measures, run figures and how many events of each kind it
 * took. Prints figures; asserts nothing.
 *
 *   node bin/run-ts.js bench/compare-point.ts --variant hdbss-512 [--preset realistic] [--size 0] [--rate 20000]
 *        [--spec '{"workingSet":8192}'] [--seed S] [--check-every N]
 */
import { performance } from 'node:perf_hooks';
import { arg, presetAndVariant } from './scale-args.ts';
import { runScalePoint, workloadOf, type ScalePoint } from '../src/compare/scale.ts';
import type { WorkloadSpec } from '../src/core/model.ts';
import { childSeed } from '../src/random/streams.ts';

const { preset, variant, model, options } = presetAndVariant();
const size = preset.sizes[Number(arg('size', '0'))];
if (!size) throw new Error(`--size: 0..${preset.sizes.length - 1}`);
const w = workloadOf(preset, size, Number(arg('rate', String(preset.rates[0]))));
const spec: WorkloadSpec = { ...w.spec, ...(JSON.parse(arg('spec', '{}')) as Partial<WorkloadSpec>) };
const seed = arg('seed', 'bench-compare-point');
const point: ScalePoint = { model: model.id, variant, options, workload: w.name, spec, seed: childSeed(seed, w.name) };

// Count the kinds of event the run takes: wrap the driver the model's hook starts.
const kinds = new Map<string, number>();
const hook = model.workload!;
const counted = {
  ...model,
  workload: {
    ...hook,
    start: (s: never, sp: WorkloadSpec, sd: string) => {
      const d = hook.start(s, sp, sd);
      return { ...d, next: (st: never) => { const e = d.next(st); if (e) kinds.set(e.type, (kinds.get(e.type) ?? 0) + 1); return e; } };
    },
  },
};
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = runScalePoint(counted as never, point, Number(arg('check-every', String(preset.checkEvery))));
const c = process.cpuUsage(c0);
console.log(`${variant} on ${w.name} ${JSON.stringify(spec)}: ${r.status}${r.violation ? ` (${r.violation.invariant} at event ${r.violation.detectedAtEvent})` : ''}, `
  + `${r.events} events, ${r.checks} invariant checks, ${((c.user + c.system) / 1e6).toFixed(1)} CPU s (${((performance.now() - t0) / 1000).toFixed(1)} wall s)`);
console.log(`measures: ${JSON.stringify(r.measures)}`);
console.log(`figures: ${JSON.stringify(r.figures)}`);
console.log(`events: ${[...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(' ')}`);
