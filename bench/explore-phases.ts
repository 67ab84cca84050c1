/**
 * Where an explored state's time goes, phase by phase, for every model at explore's SMALL configuration; and so
 * how fast `explore` could be if everything but the model's own semantics were free.
 *
 * It collects the first N distinct states of a BFS (the model's packed fingerprint), picks `--sample` of them
 * evenly spaced (shallow and deep states alike) and expands that sample `--reps` times per measurement, in
 * `--rounds` rounds (CPU time of this process; the median round is reported):
 * - `enabled`: the model's `enabled` (the Next relation) per expanded state;
 * - `copy`: `copyInto` one recycled state, once per successor (explore copies per successor but the last);
 * - `apply`: the model's `apply` on that copy (copy + apply, minus copy, in the same round);
 * - `pack+hash`: the model's `pack` and the 64-bit hash of the successor (likewise);
 * - `invariants`: every invariant, once per state;
 * - `save`, `load`: the state through a `StateStore` as explore's frontier keeps it (the model's word image where
 *   the configuration has one, else its own save/load layout), once each; a load reads into one recycled state,
 *   as explore's do (`WordImage.readInto`; a fresh state where the layout has no image).
 * The sample (200 states) stays in cache, as explore's states do: explore expands each state in one recycled
 * object loaded from its saved words and copies successors from it. The figures depend on that: with 2,000
 * states spread over the heap every phase measured 1.5-3x slower than explore itself runs (cache misses), so a
 * larger `--sample` measures the heap, not explore.
 *
 * The semantics are enabled + apply + invariants; the rest is the representation (copying, fingerprinting and
 * storing an object graph). "ceiling" = 1 / semantics: the rate if the representation cost nothing, the bound a
 * flat-state rewrite of the representation alone could approach. Baselines measured in the same process: the
 * model's own `explore` rate (same configuration, 150k-state cap) and the sum of the phases (which should be
 * near it: the rest is the BFS loop and the visited set). The target line is the 0.4M/s/core.
 * Run it as `node --single-threaded-gc bin/run-ts.js bench/explore-phases.ts`: CPU time counts every thread of
 * the process, and with concurrent GC threads one phase's garbage is collected (and counted) in a later one.
 * Prints figures; asserts nothing. Options: --states N (default 60000), --sample K (200), --reps R (25), --rounds K (7).
 */
import { explore } from '../src/explore/bfs.ts';
import { HashSet64, Packer } from '../src/explore/pack.ts';
import { StateStore } from '../src/explore/store.ts';
import { checkInvariants } from '../src/core/engine.ts';
import type { EventBase, Model } from '../src/core/model.ts';
import { MODELS } from '../models/index.ts';
// explore's default configuration (1 vCPU, 1 PE, a 3-page memslot, TLB 1, 1 round, stolen time on).
import { SMALL_CONFIG } from '../src/cli/commands/explore.ts';

function arg(name: string, dflt: string): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = Number(i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt);
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`bench/explore-phases: --${name} must be a positive integer, got ${JSON.stringify(process.argv[i + 1])}\n`);
    process.exit(2);
  }
  return v;
}
const N = arg('states', '60000');
const SAMPLE = Math.min(arg('sample', '200'), N);
const REPS = arg('reps', '25');
const ROUNDS = arg('rounds', '7');
const TARGET = 400_000;

interface Phases { enabled: number; copy: number; apply: number; pack: number; invariants: number; save: number; load: number }

function phasesOf<S, E extends EventBase, C>(m: Model<S, E, C>, init: S): { phases: Phases; succ: number } {
  const pack = m.pack?.bind(m);
  const clone = m.clone?.bind(m);
  const copyInto = m.copyInto?.bind(m);
  const save = m.save?.bind(m);
  const load = m.load?.bind(m);
  if (!pack || !clone || !copyInto || !save || !load) throw new Error(`${m.id}: needs pack, clone, copyInto, save and load`);
  // The first N distinct states of a BFS, in BFS order.
  const seen = new HashSet64(16);
  const pk = new Packer();
  const fresh = (s: S): boolean => { pk.reset(); pack(s, pk, null); pk.hash(); return seen.add(pk.h1, pk.h2); };
  fresh(init);
  const states: S[] = [init];
  for (let i = 0; i < states.length && states.length < N; i++) {
    for (const e of m.enabled(states[i] as S)) {
      const c = clone(states[i] as S);
      m.apply(c, e);
      if (fresh(c)) states.push(c);
      if (states.length >= N) break;
    }
  }
  const stride = Math.max(1, Math.floor(states.length / SAMPLE));
  const par: S[] = [];
  for (let i = 0; i < states.length && par.length < SAMPLE; i += stride) par.push(states[i] as S);
  const ens = par.map((s) => m.enabled(s));
  let succ = 0;
  for (const e of ens) succ += e.length;
  const spare = clone(init);
  const twin = clone(init);
  // As explore saves: the model's word image where this configuration has one, else its save/load.
  const st = new StateStore(init, twin, undefined, { save, load }, m.image ? m.image(init) : null);
  const P = par.length;
  // Explore's own order on one hot object: copy, apply, pack per successor. A phase inside that pipeline is the
  // difference of two pipelines (with and without it), run back to back in each round; the median over the
  // rounds is what is reported (a burst of load on the machine spoils a round, not the figure).
  const pipe = (stage: number): void => {
    for (let r = 0; r < REPS; r++) {
      for (let i = 0; i < P; i++) {
        const s = par[i] as S;
        if (stage === 0) { m.enabled(s); continue; }
        for (const e of ens[i] as E[]) {
          copyInto(spare, s);
          if (stage >= 2) m.apply(spare, e);
          if (stage >= 3) { pk.reset(); pack(spare, pk, null); pk.hash(); }
        }
      }
    }
  };
  const timed = (f: () => void): number => { const c0 = process.cpuUsage(); f(); const d = process.cpuUsage(c0); return d.user + d.system; };
  const rounds: number[][] = [[], [], [], [], [], [], []];
  for (let round = 0; round < ROUNDS; round++) {
    const t = [0, 1, 2, 3].map((k) => timed(() => pipe(k)));
    rounds[0]!.push(t[0]!);
    rounds[1]!.push(t[1]!);
    rounds[2]!.push(t[2]! - t[1]!);
    rounds[3]!.push(t[3]! - t[2]!);
    rounds[4]!.push(timed(() => { for (let r = 0; r < REPS; r++) for (let i = 0; i < P; i++) checkInvariants(m.invariants, par[i] as S); }));
    rounds[5]!.push(timed(() => { for (let r = 0; r < REPS; r++) { st.clear(); for (let i = 0; i < P; i++) st.save(par[i] as S); } }));
    rounds[6]!.push(timed(() => { let into = clone(init); for (let r = 0; r < REPS; r++) for (let i = 0; i < P; i++) into = st.load(i, into); }));
  }
  const median = (a: number[]): number => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1] as number; };
  const us = (k: number): number => median(rounds[k]!) / (P * REPS);
  return {
    phases: { enabled: us(0), copy: us(1), apply: us(2), pack: us(3), invariants: us(4), save: us(5), load: us(6) },
    succ: succ / P,
  };
}

const f = (x: number): string => x.toFixed(2).padStart(6);
const k = (x: number): string => `${(x / 1000).toFixed(0)}k/s`.padStart(8);
process.stdout.write(`explore phases (node ${process.version}; first ${N} distinct BFS states per model, ${SAMPLE} of them expanded ${REPS} times;\n`);
process.stdout.write('us per expanded state, CPU time of this process, median of the rounds)\n');
process.stdout.write(`${'model'.padEnd(13)} succ  enabled   copy  apply   pack inv'ts   save   load |  semantics repr'n    sum | ceiling     phases  explore  explore/ceiling ceiling/target\n`);
for (const m of MODELS) {
  const pc = m.parseConfig({ ...(m.defaultConfig as object), ...SMALL_CONFIG });
  if (!pc.ok) throw new Error(`${m.id}: ${pc.error.field}: ${pc.error.message}`);
  const design = m.design();
  const { phases: p, succ } = phasesOf(m, m.init(design, pc.config));
  const semantics = p.enabled + p.apply + p.invariants;
  const repr = p.copy + p.pack + p.save + p.load;
  const sum = semantics + repr;
  // The baseline: this model's own explore, in the same process (words frontier, the model's pack).
  const c0 = process.cpuUsage();
  const r = explore(m, design, pc.config, { maxDepth: 10_000, maxStates: 150_000 });
  const d = process.cpuUsage(c0);
  const exploreRate = r.distinct / ((d.user + d.system) / 1e6);
  const ceiling = 1e6 / semantics;
  process.stdout.write(`${m.id.padEnd(13)} ${succ.toFixed(1).padStart(4)} ${f(p.enabled)} ${f(p.copy)} ${f(p.apply)} ${f(p.pack)} ${f(p.invariants)} ${f(p.save)} ${f(p.load)} | ${f(semantics).padStart(10)} ${f(repr)} ${f(sum)} | ${k(ceiling)} ${k(1e6 / sum)} ${k(exploreRate)} ${(exploreRate / ceiling).toFixed(2).padStart(16)} ${(ceiling / TARGET).toFixed(2).padStart(14)}\n`);
}
process.stdout.write('semantics = enabled + apply + invariants; repr\'n = copy + pack + save + load; ceiling = 1/semantics (the rate if the\n');
process.stdout.write(`representation were free); phases = 1/sum; explore = the model's own explore (150k cap); target ${TARGET / 1000}k/s/core.\n`);
