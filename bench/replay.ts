/**
 * Replay throughput (npm run bench): a generated 1M-event dirty-bitmap trace on a 4 GiB guest (1M pages),
 * replayed on the immer path (one produce per event, and one produce per 10k-event batch) and on the fast
 * path (the same recipes on a private mutable copy), each as a ratio to a hand-written mutable baseline that
 * applies the same events to typed arrays, measured in the same process. Invariant checks are off: this
 * measures the reducer (checks are measured separately at a stride). Prints figures; asserts nothing.
 *
 * Options: --events N (default 1000000), --pages N (default 1048576), --seed S.
 */
import { performance } from 'node:perf_hooks';
import { setAutoFreeze } from 'immer';
import { replay } from '../src/core/engine.ts';
import { fingerprint } from '../src/core/fingerprint.ts';
import { stream } from '../src/random/streams.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';
import type { MachineEvent } from '../models/machine/model-events.ts';
import type { MachineConfig } from '../models/machine/state.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : dflt;
}
const N = Number(arg('events', '1000000'));
const PAGES = Number(arg('pages', String(1 << 20)));
const SEED = arg('seed', 'bench-replay-1');

const config: MachineConfig = {
  vcpus: 2, pes: 2, slots: [{ base: 0, npages: PAGES }], blocks: false, tlbEntries: 8, stolenTime: false, itsPages: [], rounds: 1,
  storePages: [0],
};

/**
 * A valid event sequence built without the scheduler (enabled() over a million pages per step would measure
 * the generator, not the reducer): two vCPUs store to random pages (80% to a hot set of 4096 pages), each
 * first store after re-arm takes a write fault; the VMM copies pages in order between stores.
 */
function generate(): MachineEvent[] {
  const rng = stream(SEED, 'workload');
  const ev: MachineEvent[] = [
    { type: 'vcpu/loaded', vcpu: 0, pe: 0 }, { type: 'vcpu/entered', vcpu: 0 },
    { type: 'vcpu/loaded', vcpu: 1, pe: 1 }, { type: 'vcpu/entered', vcpu: 1 },
    { type: 'kvm/loggingEnabled', slot: 0 },
  ];
  const writable = new Uint8Array(PAGES);
  let copyCursor = 0;
  const tlb: number[][] = [[], []];
  while (ev.length < N) {
    const v = rng.int(2);
    const g = rng.next() < 0.8 ? rng.int(4096) : rng.int(PAGES);
    ev.push({ type: 'guest/storeIssued', vcpu: v, gfn: g });
    if (!writable[g]) {
      ev.push({ type: 'guest/storeFaulted', vcpu: v, gfn: g }, { type: 'kvm/faultMapped', vcpu: v, gfn: g },
        { type: 'kvm/faultMarked', vcpu: v, gfn: g }, { type: 'vcpu/entered', vcpu: v });
      writable[g] = 1;
      const t = tlb[v] as number[];
      const i = t.indexOf(g);
      if (i >= 0) t.splice(i, 1);
    }
    ev.push({ type: 'guest/storeRetired', vcpu: v, gfn: g });
    const t = tlb[v] as number[];
    if (!t.includes(g)) { if (t.length >= config.tlbEntries) t.shift(); t.push(g); }
    if (rng.next() < 0.3 && copyCursor < PAGES) ev.push({ type: 'vmm/pageCopied', gfn: copyCursor++ });
  }
  return ev.slice(0, N);
}

/** The hand-written baseline: the same events on flat typed arrays, no validation beyond the essentials. */
function baseline(events: readonly MachineEvent[]): number {
  const mem = new Int32Array(PAGES);
  const copied = new Int32Array(PAGES).fill(-1);
  const pte = new Uint8Array(PAGES);
  const bitmap = new Uint32Array(PAGES >>> 5);
  const toCopy = new Uint8Array(PAGES);
  const store = new Int32Array(2).fill(-1);
  let sum = 0;
  for (const e of events) {
    switch (e.type) {
      case 'guest/storeIssued': store[e.vcpu] = e.gfn; break;
      case 'guest/storeRetired': mem[e.gfn]! += 1; store[e.vcpu] = -1; break;
      case 'kvm/faultMapped': pte[e.gfn] = 3; break;
      case 'kvm/faultMarked': bitmap[e.gfn >>> 5]! |= 1 << (e.gfn & 31); break;
      case 'vmm/pageCopied': copied[e.gfn] = mem[e.gfn]!; toCopy[e.gfn] = 0; break;
      case 'kvm/loggingEnabled': pte.fill(1); toCopy.fill(1); break;
      default: break;
    }
    sum++;
  }
  return sum + (mem[0] ?? 0) + (copied[0] ?? 0);
}

function time(label: string, f: () => unknown): number {
  const t0 = performance.now();
  f();
  const ms = performance.now() - t0;
  process.stdout.write(`  ${label.padEnd(34)} ${ms.toFixed(0).padStart(7)} ms  ${((N / ms) * 1000 / 1e6).toFixed(3)} M events/s\n`);
  return ms;
}

setAutoFreeze(false);
process.stdout.write(`bench/replay: seed=${SEED} events=${N} pages=${PAGES} (4 KiB pages: ${(PAGES * 4 / 1024 / 1024).toFixed(1)} GiB guest) node=${process.version}\n`);
const tg = performance.now();
const events = generate();
process.stdout.write(`  generated ${events.length} events in ${(performance.now() - tg).toFixed(0)} ms\n`);
const design = dirtyBitmap.design();
const base = time('baseline (hand-written, mutable)', () => baseline(events));
let fpFast = '';
let fpBatch = '';
const fast = time('fast path (recipes on a copy)', () => {
  const o = replay(dirtyBitmap, design, config, events, { path: 'fast', noChecks: true });
  if (o.status !== 'ok') throw new Error(`fast path: ${o.status} ${o.message}`);
  fpFast = fingerprint(o.state.stats);
});
const batch = time('immer path (produce per 10k batch)', () => {
  const o = replay(dirtyBitmap, design, config, events, { path: 'immer', noChecks: true, checkEvery: 10_000 });
  if (o.status !== 'ok') throw new Error(`immer path: ${o.status} ${o.message}`);
  fpBatch = fingerprint(o.state.stats);
});
const perEventN = Math.min(N, 200_000);
const t0 = performance.now();
const o1 = replay(dirtyBitmap, design, config, events.slice(0, perEventN), { path: 'immer', noChecks: true, checkEvery: 1 });
const perEventMs = (performance.now() - t0) * (N / perEventN);
if (o1.status !== 'ok') throw new Error(`immer per-event: ${o1.status} ${o1.message}`);
process.stdout.write(`  ${'immer path (produce per event)'.padEnd(34)} ${perEventMs.toFixed(0).padStart(7)} ms  ${((N / perEventMs) * 1000 / 1e6).toFixed(3)} M events/s (first ${perEventN} events, scaled)\n`);
if (fpFast !== fpBatch) throw new Error('fast path and immer path disagree');
process.stdout.write(`ratios to baseline (higher is slower): fast ${(fast / base).toFixed(1)}x, immer batched ${(batch / base).toFixed(1)}x, immer per event ${(perEventMs / base).toFixed(1)}x\n`);
process.stdout.write(`fast path vs immer batched: ${(batch / fast).toFixed(2)}x faster; same final stats fingerprint ${fpFast}\n`);
