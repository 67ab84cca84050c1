/**
 * Explore throughput: distinct states per second of `explore` (BFS, packed 64-bit fingerprints) for every model
 * at a fixed small configuration, as a ratio to two baselines measured in the same process:
 * - `toy`: a hand-written BFS over a toy dirty-tracking model whose whole state is one packed integer (pages x
 *   {writable, TLB copy, bitmap bit, to-copy, stale}), with the same visited set and hash: the ceiling of a JS
 *   explicit-state checker with packed state (DESIGN.md section 8 quotes ~0.44M/s for such a checker);
 * - `generic`: the same model explored through the generic JSON encoding instead of its `pack` hook (it keeps
 *   counters and version numbers, so it distinguishes more states: compare rates, not counts);
 * - `objects`: the same exploration with the frontier kept as object graphs instead of saved as words
 *   (store.ts); also the peak of heap + buffers of each (sampled at progress), where the two differ most. Both
 *   run twice, in the order words, objects, objects, words, each after a full collection.
 * Prints figures; asserts nothing. Options: --states N (distinct-state cap per model, default 150000).
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { explore } from '../src/explore/bfs.ts';
import { HashSet64, Packer } from '../src/explore/pack.ts';
import { MODELS } from '../models/index.ts';
// explore's default configuration (1 vCPU, 1 PE, a 3-page memslot, TLB 1, 1 round, stolen time on).
import { SMALL_CONFIG } from '../src/cli/commands/explore.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : dflt;
}
const CAP = Number(arg('states', '150000'));


/**
 * The toy: P pages, 5 bits each (W writable, T TLB copy writable, D bitmap, C to copy, S stale), plus a GET-in-
 * flight bit. Events: store p (through W|T: S=1; else fault: W=1, D=1, S=1), TLB fill p (T=W), evict p (T=0),
 * GET (D -> C, W=0 for those, in flight), GET returns (flush every T), copy p (C -> S=0). Invariant: a stale
 * page is in D or C (or writable: a fault will not happen, but the next GET... kept simple: S -> D|C|W|T).
 */
function toyBfs(P: number, cap: number): { distinct: number; ms: number; cpuMs: number } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const seen = new HashSet64(16);
  const pk = new Packer(4);
  const key = (s: number): boolean => { pk.reset(); pk.num(s); pk.hash(); return seen.add(pk.h1, pk.h2); };
  const bit = (p: number, k: number): number => 1 << (p * 5 + k);
  const INFLIGHT = 1 << (P * 5);
  let frontier = [0];
  key(0);
  let violations = 0;
  while (frontier.length && seen.size < cap) {
    const next: number[] = [];
    const push = (s: number): void => {
      if (!key(s)) return;
      for (let p = 0; p < P; p++) {
        if ((s & bit(p, 4)) && !(s & (bit(p, 2) | bit(p, 3) | bit(p, 0) | bit(p, 1)))) violations++;
      }
      next.push(s);
    };
    for (const s of frontier) {
      for (let p = 0; p < P; p++) {
        const W = s & bit(p, 0); const T = s & bit(p, 1);
        push(W || T ? s | bit(p, 4) : s | bit(p, 0) | bit(p, 2) | bit(p, 4));
        push(W ? s | bit(p, 1) : s & ~bit(p, 1));
        if (T) push(s & ~bit(p, 1));
        if (s & bit(p, 3)) push(s & ~(bit(p, 3) | bit(p, 4)));
      }
      if (!(s & INFLIGHT)) {
        let t = s | INFLIGHT;
        for (let p = 0; p < P; p++) if (s & bit(p, 2)) t = (t & ~(bit(p, 2) | bit(p, 0))) | bit(p, 3);
        push(t);
      } else {
        let t = s & ~INFLIGHT;
        for (let p = 0; p < P; p++) t &= ~bit(p, 1);
        push(t);
      }
    }
    frontier = next;
  }
  if (violations < 0) throw new Error('unreachable');
  return { distinct: seen.size, ms: performance.now() - t0, cpuMs: cpuMsSince(c0) };
}

/** CPU time (user + system) this process used since `c0`, in ms: the per-core figure on a shared machine. */
function cpuMsSince(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
}

/**
 * A full collection before each measured run (outside its CPU time), so no run pays for the garbage of the one
 * before it; the peak is then this run's own. (`--expose-gc` set at run time: the bench is run as a plain file.)
 */
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

function rate(d: number, ms: number): number {
  return d / (ms / 1000);
}
const k = (x: number): string => `${(x / 1000).toFixed(1)}k/s`;

// Warm up the JIT on each path once.
toyBfs(5, 50_000);
const toy = toyBfs(5, CAP * 4);
const toyRate = rate(toy.distinct, toy.cpuMs);
process.stdout.write(`explore bench (distinct states/s; node ${process.version}; cap ${CAP} distinct states per model)\n`);
process.stdout.write('rates are distinct states per CPU-second of this process (per core, whatever the machine load)\n');
process.stdout.write(`baseline toy packed BFS (5 pages, one-integer state): ${toy.distinct} distinct in ${toy.cpuMs.toFixed(0)} CPU-ms (${toy.ms.toFixed(0)} ms wall) = ${k(toyRate)}\n`);
process.stdout.write(`${'model'.padEnd(14)} ${'status'.padEnd(11)} ${'distinct'.padStart(9)} ${'generated'.padStart(10)} ${'packed'.padStart(10)} ${'generic'.padStart(10)} ${'objects'.padStart(10)}  packed/toy  packed/generic  words/objects  peak MB words/objects\n`);
for (const m of MODELS) {
  const pc = m.parseConfig({ ...(m.defaultConfig as object), ...SMALL_CONFIG });
  if (!pc.ok) throw new Error(pc.error.message);
  const d = m.design();
  const run = (encoding: 'auto' | 'generic', cap: number, frontier: 'auto' | 'objects' = 'auto'): { r: ReturnType<typeof explore>; ms: number; peak: number } => {
    let peak = 0;
    const sample = (): void => { const u = process.memoryUsage(); peak = Math.max(peak, u.heapUsed + u.arrayBuffers); };
    fullGc();
    const c0 = process.cpuUsage();
    const r = explore(m, d, pc.config, { maxDepth: 10_000, maxStates: cap, encoding, frontier, onProgress: sample, progressEvery: 16_384 });
    const ms = cpuMsSince(c0);
    sample();
    return { r, ms, peak: peak / 1e6 };
  };
  run('auto', 20_000);
  run('auto', 20_000, 'objects');
  // Words and objects in the order A B B A, each rate from its two runs' total (with a full collection before
  // each): before both, a fixed order made single runs differ by up to ~30% (a run paid for the garbage the run
  // before it left, and the first run for the JIT's last work).
  const a = run('auto', CAP);
  const o = run('auto', CAP, 'objects');
  const o2 = run('auto', CAP, 'objects');
  const a2 = run('auto', CAP);
  const g = run('generic', CAP);
  const ra = rate(a.r.distinct + a2.r.distinct, a.ms + a2.ms);
  const ro = rate(o.r.distinct + o2.r.distinct, o.ms + o2.ms);
  const rg = rate(g.r.distinct, g.ms);
  process.stdout.write(`${m.id.padEnd(14)} ${a.r.status.padEnd(11)} ${String(a.r.distinct).padStart(9)} ${String(a.r.generated).padStart(10)} `
    + `${k(ra).padStart(10)} ${k(rg).padStart(10)} ${k(ro).padStart(10)}  ${(ra / toyRate).toFixed(3).padStart(10)}  ${(ra / rg).toFixed(2).padStart(14)}`
    + `  ${(ra / ro).toFixed(2).padStart(13)}  ${`${Math.max(a.peak, a2.peak).toFixed(0)}/${Math.max(o.peak, o2.peak).toFixed(0)}`.padStart(21)}\n`);
}
