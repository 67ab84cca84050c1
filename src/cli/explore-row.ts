/**
 * One exploration as a campaign job (`dtsim explore --matrix/--proof` rows): plain JSON in, plain JSON out, so a
 * row runs the same in the main thread or in a worker thread (src/cli/pool.ts) and the rows never depend on the
 * worker count. Also the memory limit every exploration of the CLI runs under.
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { explore, type ExploreStatus } from '../explore/bfs.ts';
import { CoverageProbe, type ExploreCoverage } from '../explore/coverage.ts';
import type { Situation } from '../check/campaign.ts';
import type { EventBase, JsonValue } from '../core/model.ts';
import { MODELS } from './registry.ts';

/**
 * A full garbage collection on demand (the memory limit must not count a previous exploration's garbage: a
 * `--matrix` run explores design after design in one thread). `--expose-gc` set at run time: `gc` is then a
 * global of new contexts.
 */
let fullGc: (() => void) | null = null;
export function collect(): void {
  if (fullGc === null) {
    setFlagsFromString('--expose-gc');
    fullGc = runInNewContext('gc') as () => void;
  }
  fullGc();
}

/**
 * Are the heap and the typed-array buffers (the word-encoded frontier, the visited set: outside node's heap, so
 * its own limit does not stop them) together above `limit` bytes, even after a full collection?
 */
function overHeap(limit: number): boolean {
  const used = (): number => { const u = process.memoryUsage(); return u.heapUsed + u.arrayBuffers; };
  if (used() <= limit) return false;
  collect();
  return used() > limit;
}

/** The memory limit of one exploration when `share` explorations run at once: 85% of node's heap limit, shared. */
export function memoryLimitBytes(share = 1): number {
  return (0.85 * getHeapStatistics().heap_size_limit) / Math.max(1, share);
}

/** explore's `shouldStop`: heap + buffers above `limit` bytes (this thread's heap; see `memoryLimitBytes`). */
export function memoryLimit(limit = memoryLimitBytes()): () => string | null {
  // In a worker thread the heap is the worker's own: never let the limit exceed what this heap can hold.
  const cap = Math.min(limit, 0.85 * getHeapStatistics().heap_size_limit);
  return () => (overHeap(cap)
    ? `memory limit (${(cap / 1048576).toFixed(0)} MB of heap + buffers, 85% of node's heap limit${limit < memoryLimitBytes() ? ' shared by the workers' : ''}; `
      + 'raise it with NODE_OPTIONS=--max-old-space-size=MB)' : null);
}

export interface ExploreJob {
  readonly kind: 'explore';
  readonly model: string;
  /** The design's options as explored (a matrix row, narrowed by --proof where the row says so). */
  readonly options: { readonly [k: string]: JsonValue };
  readonly config: JsonValue;
  readonly depth: number;
  readonly maxStates: number;
  readonly timeLimitMs: number;
  readonly symmetry: boolean;
  readonly encoding: 'auto' | 'generic';
  /** Heap + buffers this exploration may use (its share of the process's limit). */
  readonly memoryLimitBytes: number;
  /** `dtsim check`'s situations that apply to the design (its matrix row): the coverage the row reports. */
  readonly situations: readonly Situation[];
}

export interface ExploreRowResult {
  readonly status: ExploreStatus;
  readonly distinct: number;
  readonly generated: number;
  readonly depth: number;
  readonly seconds: number;
  readonly deadlocked: number;
  readonly message: string;
  readonly violation: null | { readonly invariant: string; readonly events: readonly EventBase[]; readonly choices: readonly number[];
    readonly eventIndex: number };
  /** Each situation of the job: the least depth at which the exploration reached it, or null (src/explore/coverage.ts). */
  readonly coverage: ExploreCoverage;
}

export function runExploreJob(j: ExploreJob): ExploreRowResult {
  const m = MODELS.find((x) => x.id === j.model);
  if (!m) throw new Error(`[dtsim] unknown model '${j.model}'`);
  const design = m.design(j.options);
  collect();
  const probe = new CoverageProbe<unknown>((s) => m.metrics(s as never), j.situations);
  const t0 = performance.now();
  const r = explore(m as never, design, j.config as never, {
    maxDepth: j.depth, maxStates: j.maxStates, timeLimitMs: j.timeLimitMs, symmetry: j.symmetry, encoding: j.encoding, now: () => performance.now(), progressEvery: 16_384,
    shouldStop: memoryLimit(j.memoryLimitBytes), observe: probe.observe,
  });
  const cx = r.violation;
  return {
    status: r.status, distinct: r.distinct, generated: r.generated, depth: r.depth, seconds: (performance.now() - t0) / 1000,
    deadlocked: r.deadlocked, message: r.message,
    violation: cx ? { invariant: cx.invariant, events: cx.events as readonly EventBase[], choices: cx.choices, eventIndex: cx.eventIndex } : null,
    coverage: probe.result(),
  };
}
