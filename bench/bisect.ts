/**
 * Bisect on a long failing trace (node bin/run-ts.js bench/bisect.ts). The trace is a seeded dirty-bitmap run of
 * a bug knob (default `missing-tlbi`, INV-FLUSH) stretched to about a million events by a guest hammering a hot
 * page: right after one of its stores retires, vCPU v issues and retires stores to the same page (writable in
 * its TLB, already reported) until the trace is long enough; the rest of the run follows unchanged, so the
 * violation stays at the very end. The trace is checked to replay to that violation before timing.
 * Measured in the same process: a plain full replay as `dtsim replay` does it (fast path, invariants after every
 * event), the reducer alone (no checks), `bisect` (checkpoint pass + binary search + stepwise interval) and
 * `bisect --stepwise`. Prints figures and ratios; asserts nothing.
 *
 * Options: --events N (default 1000000), --bug K (default missing-tlbi), --seed S, --out FILE (also save the trace,
 * to time the CLI end to end: `time node bin/dtsim.js bisect FILE`; written as dtsim writes files: an existing
 * FILE is refused unless --force).
 */
import { performance } from 'node:perf_hooks';
import { setAutoFreeze } from 'immer';
import { replay, replayFrom, simulate } from '../src/core/engine.ts';
import { bisect, defaultStride } from '../src/workflow/bisect.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';
import { checkOutputs, writeOutput } from '../src/cli/io.ts';
import { makeTrace, serializeTrace, type Trace } from '../src/trace/format.ts';
import type { MachineEvent } from '../models/machine/model-events.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : dflt;
}
const N = Number(arg('events', '1000000'));
const BUG = arg('bug', 'missing-tlbi');
const SEED = arg('seed', 'bench-bisect');
// --out is refused before the timings, not after them (an existing file without --force).
if (arg('out', '')) checkOutputs([{ flag: '--out', file: arg('out', '') }], { force: process.argv.includes('--force'), inputs: [] });

setAutoFreeze(false);
const m = dirtyBitmap;
const design = m.design({}, [BUG]);
const knob = m.preset.bugs.find((b) => b.id === BUG);
const pc = m.parseConfig({ ...m.defaultConfig, ...(knob?.config ?? {}) });
if (!pc.ok) throw new Error(pc.error.message);
const config = pc.config;

/** A failing run of the knob, then padded after a retired store; null if no insertion point keeps the failure. */
function stretched(): { events: MachineEvent[]; invariant: string } | null {
  for (let k = 0; k < 200; k++) {
    const run = simulate(m, design, config, `${SEED}-${k}`, { maxEvents: 400 });
    const o = run.outcome;
    if (o.status !== 'violated') continue;
    const base = run.events;
    for (let i = 0; i < base.length - 1; i++) {
      const e = base[i] as MachineEvent;
      if (e.type !== 'guest/storeRetired') continue;
      const pad: MachineEvent[] = [];
      while (pad.length + base.length < N) {
        pad.push({ type: 'guest/storeIssued', vcpu: e.vcpu, gfn: e.gfn }, { type: 'guest/storeRetired', vcpu: e.vcpu, gfn: e.gfn });
      }
      const events = [...base.slice(0, i + 1), ...pad, ...base.slice(i + 1)];
      const r = replayFrom(m, m.init(design, config), events, { path: 'fast', checkEvery: 1 });
      if (r.status === 'violated' && r.invariant === o.invariant && r.eventIndex === events.length - 1) return { events, invariant: o.invariant };
    }
  }
  return null;
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

const [st, tGen] = time(() => stretched());
if (!st) throw new Error(`no stretchable failing run of ${BUG} found`);
const events = st.events;
console.log(`bench/bisect: ${events.length} events, model dirty-bitmap, bug ${BUG}, violation ${st.invariant} at the last event `
  + `(built and checked in ${tGen.toFixed(1)} s); default stride ${defaultStride(events.length)}; node ${process.version}`);

const [full, tFull] = time(() => replay(m, design, config, events, { path: 'fast', checkEvery: 1 }));
const [, tReducer] = time(() => replay(m, design, config, events, { path: 'fast', noChecks: true }));
const start = m.init(design, config);
const [b, tBisect] = time(() => bisect(m, start, events));
const [bs, tStep] = time(() => bisect(m, start, events, { stepwise: true }));

const idx = (r: typeof b): string => (r.status === 'violated' ? `${r.invariant} at ${r.eventIndex}, ${r.method}, ${r.probes} checks` : r.status);
console.log(`full replay, checks after every event : ${tFull.toFixed(2)} s  (${full.status}${full.status === 'violated' ? ` at ${full.eventIndex}` : ''})`);
console.log(`reducer only (no checks)              : ${tReducer.toFixed(2)} s`);
console.log(`bisect (binary over checkpoints)      : ${tBisect.toFixed(2)} s  (${idx(b)})  ratio to full replay ${(tBisect / tFull).toFixed(3)}`);
console.log(`bisect --stepwise                     : ${tStep.toFixed(2)} s  (${idx(bs)})  ratio to full replay ${(tStep / tFull).toFixed(3)}`);
const out = arg('out', '');
if (out && full.status === 'violated') {
  writeOutput({ flag: '--out', file: out }, serializeTrace(makeTrace({ design, config: config as unknown as Trace['config'], seed: null, choices: null, events,
    note: `bench/bisect.ts --events ${N} --bug ${BUG} --seed ${SEED}`, expect: { status: 'violated', eventIndex: full.eventIndex, invariant: full.invariant } })),
    { force: process.argv.includes('--force'), inputs: [] });
  console.log(`trace saved: ${out}`);
}
if (b.status !== 'violated' || full.status !== 'violated' || b.eventIndex !== full.eventIndex || bs.status !== 'violated' || bs.eventIndex !== full.eventIndex) {
  console.log('MISMATCH between bisect and the full replay');
  process.exitCode = 1;
}
