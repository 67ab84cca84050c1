/**
 * Per-event cost of `dtsim compare --preset` across its grid (issue 19): runs the smallest and the largest grid
 * point of a preset (fewest and most guest pages x vCPUs, both at the lowest dirty rate, one design variant) in
 * this process, and prints the events per second of each and their ratio (largest / smallest; the goal is
 * >= 0.8: the cost of an event does not grow with the guest). Both runs check invariants as the preset does.
 * The rate is events per CPU second of this process (process.cpuUsage), so other load on the machine does not
 * skew it; wall seconds are printed too. The smallest point runs once untimed first, so that neither timed run
 * pays for compiling the code (the first run measured would otherwise look slower). Prints figures; asserts
 * nothing.
 *
 *   node bin/run-ts.js bench/compare-scale.ts [--preset realistic] [--variant bitmap] [--rate R] [--seed S]
 */
import { performance } from 'node:perf_hooks';
import { arg, presetAndVariant } from './scale-args.ts';
import { runScalePoint, workloadOf, type GuestSize, type ScalePoint } from '../src/compare/scale.ts';
import { childSeed } from '../src/random/streams.ts';

const { preset, variant, model, options } = presetAndVariant();
const rate = Number(arg('rate', String(preset.rates[0])));
const seed = arg('seed', 'bench-compare-scale');

const bySize = [...preset.sizes].sort((a, b) => a.pages * a.vcpus - b.pages * b.vcpus);
function run(size: GuestSize): { events: number; cpuS: number; wallS: number; status: string } {
  const w = workloadOf(preset!, size, rate);
  const point: ScalePoint = { model: model!.id, variant, options, workload: w.name, spec: w.spec, seed: childSeed(seed, w.name) };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = runScalePoint(model as never, point, preset!.checkEvery);
  const c = process.cpuUsage(c0);
  return { events: r.events, cpuS: (c.user + c.system) / 1e6, wallS: (performance.now() - t0) / 1000, status: r.status };
}

const small = bySize[0]!;
const large = bySize[bySize.length - 1]!;
console.log(`compare-scale: preset ${preset.name}, design ${variant}, ${rate} stores/s/vCPU, check every ${preset.checkEvery} events (+ each collection, + the end)`);
run(small); // warm-up (untimed): the JIT compiles the driver and the reducers
const rows: { size: GuestSize; r: ReturnType<typeof run> }[] = [];
for (const size of [small, large]) {
  const r = run(size);
  rows.push({ size, r });
  console.log(`  ${size.name.padEnd(10)} ${String(size.pages).padStart(8)} pages ${String(size.vcpus).padStart(2)} vCPUs: ${r.status}, ${r.events} events, `
    + `${r.cpuS.toFixed(1)} CPU s (${r.wallS.toFixed(1)} wall s), ${Math.round(r.events / r.cpuS)} events per CPU second`);
}
const eps = rows.map((x) => x.r.events / x.r.cpuS);
console.log(`  ratio largest/smallest events per CPU second: ${(eps[1]! / eps[0]!).toFixed(2)} (goal >= 0.8)`);
