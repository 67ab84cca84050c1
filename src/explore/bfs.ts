/**
 * Bounded exhaustive exploration: breadth-first search over every enabled event from the initial state,
 * deduplicating states by a canonical 64-bit fingerprint of their packed encoding, checking every invariant in
 * every new state, stopping at the first violation (a shortest counterexample: BFS reaches it at the least
 * depth) or when the bounded state space is exhausted.
 *
 * Generic over `Model`: it uses only the model's own `init`/`enabled`/`apply`/`invariants` (the same definition
 * the simulator and the property tests drive), on private mutable copies. Pure: the caller passes the clock and
 * receives progress through a callback.
 */
import type { Design, EventBase, Model, SymmetryGroup, Violation, WordImage } from '../core/model.ts';
import { checkInvariants } from '../core/engine.ts';
import { cloneJson, collisionBound, HashSet64, IntColumn, packJson, Packer } from './pack.ts';
import { orbitBound, packCanonical, relabellings } from './symmetry.ts';
import { StateStore, type StoreCodec } from './store.ts';

export type { Counterexample, ExploreOptions, ExploreProgress, ExploreResult, ExploreStatus, ReachPath } from './bfs-types.ts';
import type { Counterexample, ExploreOptions, ExploreResult, ExploreStatus, ReachPath } from './bfs-types.ts';

/**
 * The states of one BFS level. `take(i, spare)` gives state i as a private mutable copy the caller may apply
 * events to (and recycle), loaded into `spare` (a recycled state) where the level can; `add(s)` appends `s` and
 * says whether the level keeps `s` itself (then the caller must not reuse it) or saved a copy.
 */
interface Level<S> {
  readonly length: number;
  /** Bytes of the saved states (0 for object levels: counted by the caller's peak memory). */
  bytes(): number;
  take(i: number, spare: S | undefined): S;
  add(s: S): boolean;
  clear(): void;
}

class ObjectLevel<S> implements Level<S> {
  private a: (S | undefined)[] = [];
  get length(): number { return this.a.length; }
  take(i: number, _spare: S | undefined): S {
    const s = this.a[i] as S;
    // Released as it is expanded: the frontier is the memory peak.
    this.a[i] = undefined;
    return s;
  }
  add(s: S): boolean { this.a.push(s); return true; }
  clear(): void { this.a = []; }
  bytes(): number { return 0; }
}

class StoredLevel<S> implements Level<S> {
  constructor(private readonly store: StateStore<S>) {}
  get length(): number { return this.store.size; }
  take(i: number, spare: S | undefined): S { return this.store.load(i, spare); }
  add(s: S): boolean { this.store.save(s); return false; }
  clear(): void { this.store.clear(); }
  bytes(): number { return this.store.bytes(); }
}

/** Does the model's state survive a save and load through a StateStore (its image, its own layout, or the generic walk) exactly? */
function roundTrips<S>(init: S, twin: S, clone: (s: S) => S, codec: StoreCodec<S> | null, image: WordImage<S> | null): boolean {
  try {
    const c = clone(init);
    const st = new StateStore(init, twin, undefined, codec, image);
    st.save(c);
    const a = new Packer();
    const b = new Packer();
    packJson(a, c);
    packJson(b, st.load(0));
    return a.compare(b) === 0;
  } catch {
    return false;
  }
}

/** Recycled states kept at most (a stored frontier allocates one state per expansion: the rest is garbage). */
const POOL_MAX = 256;

export function explore<S, E extends EventBase, C>(
  model: Model<S, E, C>, design: Design, config: C, opts: ExploreOptions<S>,
): ExploreResult<E> {
  const now = opts.now ?? ((): number => 0);
  const t0 = now();
  const maxStates = opts.maxStates ?? 0;
  const timeLimit = opts.timeLimitMs ?? 0;
  const progressEvery = opts.progressEvery ?? 65_536;
  const init = model.init(design, config);
  const clone: (s: S) => S = model.clone ? model.clone.bind(model) : cloneJson;
  const copyInto = model.copyInto ? model.copyInto.bind(model) : null;
  // States no longer needed (duplicates, expanded parents), recycled through `copyInto`.
  const pool: S[] = [];
  const recycle = (s: S): void => { if (copyInto !== null && pool.length < POOL_MAX) pool.push(s); };
  const useModelPack = (opts.encoding ?? 'auto') === 'auto' && typeof model.pack === 'function';
  const groups: readonly SymmetryGroup[] = opts.symmetry && useModelPack && model.symmetry
    ? model.symmetry(init) : [];
  if (orbitBound(groups) > 5040) throw new Error(`[dtsim] symmetry: ${orbitBound(groups)} relabellings per state is too many (at most 5040)`);
  const labels = relabellings(groups);
  const scratch = new Packer();
  const best = new Packer();
  const pk = useModelPack ? (model.pack as NonNullable<typeof model.pack>).bind(model) : null;
  const fastKey = pk !== null && labels.length === 1;
  const key = (s: S): Packer => {
    if (pk === null) { best.reset(); packJson(best, s); best.hash(); return best; }
    if (labels.length === 1) { best.reset(); pk(s, best, null); best.hash(); return best; }
    packCanonical((out, relabel) => pk(s, out, relabel), labels, scratch, best);
    return best;
  };

  const seen = new HashSet64(16);
  const parent = new IntColumn();
  const choice = new IntColumn();
  const target = opts.target && opts.target.length > 0 ? opts.target : null;
  if (target) {
    const known = new Set(model.invariants.map((x) => x.id));
    for (const t of target) {
      if (!known.has(t)) throw new Error(`[dtsim] unknown invariant '${t}' for model '${model.id}' (known: ${[...known].join(', ')})`);
    }
  }
  let otherViolations = 0;
  let firstOther: { invariant: string; depth: number } | null = null;
  let generated = 0;
  let terminal = 0;
  let deadlocked = 0;
  let depth = 0;

  const mode = opts.frontier ?? 'auto';
  // A clone of the initial state: the objects the two share are static (store.ts saves them as references).
  const twin = mode !== 'objects' ? clone(init) : init;
  // The model's own exact layout for saved states, if it has one (else the generic walk).
  const codec: StoreCodec<S> | null = model.save && model.load ? { save: model.save.bind(model), load: model.load.bind(model) } : null;
  // Its fixed-size word images, where it has them for this configuration (preferred: store.ts).
  const image: WordImage<S> | null = mode !== 'objects' && model.image ? model.image(init) : null;
  const canStore = mode !== 'objects' && roundTrips(init, twin, clone, codec, image);
  // Two stored levels, reused level after level (their buffers and compiled shapes stay).
  const storedA: Level<S> | null = canStore ? new StoredLevel(new StateStore(init, twin, undefined, codec, image)) : null;
  const storedB: Level<S> | null = canStore ? new StoredLevel(new StateStore(init, twin, undefined, codec, image)) : null;
  let usedStore = false;
  /** An empty level for the states found while expanding `cur`. */
  const levelAfter = (cur: Level<S>): Level<S> => {
    if (storedA === null || storedB === null) return new ObjectLevel<S>();
    const l = cur === storedA ? storedB : storedA;
    l.clear();
    usedStore = true;
    return l;
  };
  let frontier: Level<S> = new ObjectLevel<S>();
  let next: Level<S> = frontier;
  let storageBytes = 0;

  let reached: ReachPath<E> | null = null;
  const reach = opts.reach ?? null;
  const result = (status: ExploreStatus, unexpanded: number, violation: Counterexample<E> | null, message: string): ExploreResult<E> => ({ reached,
    status, generated, distinct: seen.size, depth, frontier: unexpanded, terminal, deadlocked, otherViolations, firstOther, collisionProbability: collisionBound(seen.size),
    encoding: useModelPack ? 'model' : 'generic', symmetry: groups.filter((g) => g.size > 1), elapsedMs: now() - t0, visitedBytes: seen.bytes(),
    storage: usedStore ? 'words' : 'objects', storageBytes: Math.max(storageBytes, frontier.bytes() + next.bytes()), violation, message,
  });

  /** The path to state `id`, rebuilt from the parent pointers and the choices. */
  const pathTo = (id: number): ReachPath<E> => {
    const cs: number[] = [];
    for (let i = id; i > 0; i = parent.a[i] as number) cs.push(choice.a[i] as number);
    cs.reverse();
    const s = clone(init);
    const events: E[] = [];
    for (const c of cs) {
      const e = model.enabled(s)[c] as E;
      model.apply(s, e);
      events.push(e);
    }
    return { events, choices: cs };
  };
  const counterexample = (id: number, v: Violation): Counterexample<E> => {
    const { events, choices: cs } = pathTo(id);
    return { invariant: v.invariant, message: v.message, pages: v.pages, events, choices: cs, eventIndex: events.length - 1 };
  };
  const reachedAt = (id: number, unexpanded: number): ExploreResult<E> => {
    reached = pathTo(id);
    return result('reached', unexpanded, null, `reached a state satisfying the predicate after ${reached.events.length} events (a shortest path)`);
  };

  const exhaustedMessage = (): string => (reach !== null
    ? `state space exhausted at depth ${depth}: no reachable state satisfies the predicate`
      + (otherViolations > 0 ? ` (${otherViolations} states violated another invariant first and were not expanded)` : '')
    : target === null
    ? `state space exhausted at depth ${depth}: every invariant holds in every reachable state`
    : `state space exhausted at depth ${depth}: no reachable state violates ${target.join('/')} first`
      + (otherViolations > 0 ? ` (${otherViolations} states violated another invariant first, e.g. ${firstOther?.invariant} at depth ${firstOther?.depth}, and were not expanded)` : ''));

  const k0 = key(init);
  seen.add(k0.h1, k0.h2);
  parent.push(-1);
  choice.push(-1);
  const v0 = checkInvariants(model.invariants, init);
  if (v0 && (!target || target.includes(v0.invariant))) {
    return result('violated', 0, counterexample(0, v0), `${v0.invariant} holds in no state: the initial state violates it`);
  }
  if (v0) {
    return result('exhausted', 0, null, `the initial state violates ${v0.invariant} (not a target): nothing to explore`);
  }
  if (reach !== null && reach(init)) return reachedAt(0, 0);
  let observe = opts.observe ?? null;
  if (observe !== null && !observe(init, 0)) observe = null;

  // The initial state is never handed out to be mutated (counterexamples are rebuilt from it): level 0 holds a copy.
  frontier.add(clone(init));
  next = levelAfter(frontier);
  let ids: number[] = [0];
  let nextProgress = progressEvery;
  while (frontier.length > 0) {
    if (depth >= opts.maxDepth) {
      let open = 0;
      for (let f = 0; f < frontier.length; f++) {
        const st = frontier.take(f, undefined);
        if (model.enabled(st).length > 0) open++;
        else if (!model.isFinal(st)) deadlocked++;
      }
      if (open === 0) {
        terminal += frontier.length;
        return result('exhausted', 0, null, exhaustedMessage());
      }
      return result('depthBound', frontier.length, null,
        `depth bound ${opts.maxDepth} reached with ${frontier.length} states left to expand (not exhausted; raise --depth)`);
    }
    const nextIds: number[] = [];
    for (let f = 0; f < frontier.length; f++) {
      // Loaded into a recycled state where the level can (a stored level with a model's word image: no state
      // allocated per load); an object level hands out its own and the spare goes back.
      const spare0 = copyInto !== null ? pool.pop() : undefined;
      const st = frontier.take(f, spare0);
      if (spare0 !== undefined && st !== spare0) pool.push(spare0);
      const id = ids[f] as number;
      const en = model.enabled(st);
      if (en.length === 0) { terminal++; if (!model.isFinal(st)) deadlocked++; }
      const last = en.length - 1;
      for (let i = 0; i < en.length; i++) {
        // The last successor is computed in the parent itself (a private copy, released after this loop anyway):
        // one copy fewer per expanded state.
        let c: S;
        if (i === last) c = st;
        else {
          const spare = copyInto !== null ? pool.pop() : undefined;
          c = spare === undefined ? clone(st) : copyInto!(spare, st);
        }
        model.apply(c, en[i] as E);
        generated++;
        if (observe !== null && !observe(c, depth + 1)) observe = null;
        let k: Packer;
        if (fastKey) { best.reset(); pk!(c, best, null); best.hash(); k = best; } else k = key(c);
        if (!seen.add(k.h1, k.h2)) { recycle(c); continue; }
        const nid = parent.n;
        parent.push(id);
        choice.push(i);
        const v = checkInvariants(model.invariants, c);
        if (v && target && !target.includes(v.invariant)) {
          // Another invariant breaks first here: a dead end for this search (the state stays in the visited set).
          otherViolations++;
          if (firstOther === null) firstOther = { invariant: v.invariant, depth: depth + 1 };
          recycle(c);
          continue;
        }
        if (v) {
          depth++;
          const cx = counterexample(nid, v);
          return result('violated', frontier.length - f, cx, `${v.invariant} violated after ${cx.events.length} events (a shortest counterexample)`);
        }
        if (reach !== null && reach(c)) {
          depth++;
          return reachedAt(nid, frontier.length - f);
        }
        if (!next.add(c)) recycle(c);
        nextIds.push(nid);
        if (maxStates > 0 && seen.size >= maxStates) {
          depth++;
          return result('stateLimit', next.length + frontier.length - f, null,
            `state limit ${maxStates} reached at depth ${depth}: the space was NOT exhausted (raise --max-states or lower --depth)`);
        }
      }
      // The expanded state became its last successor (kept in `next`, or recycled above) unless it had none.
      if (en.length === 0) recycle(st);
      if (generated >= nextProgress) {
        nextProgress = generated + progressEvery;
        const el = now() - t0;
        opts.onProgress?.({ generated, distinct: seen.size, depth, frontier: frontier.length - f + next.length, elapsedMs: el });
        if (timeLimit > 0 && el > timeLimit) {
          return result('timeLimit', frontier.length - f - 1 + next.length, null,
            `time limit ${(timeLimit / 1000).toFixed(0)} s reached at depth ${depth}: the space was NOT exhausted (raise --time-limit or lower --depth)`);
        }
        const why = opts.shouldStop?.() ?? null;
        if (why !== null) {
          return result('stopped', frontier.length - f - 1 + next.length, null, `${why} at depth ${depth}: the space was NOT exhausted`);
        }
      }
    }
    storageBytes = Math.max(storageBytes, frontier.bytes() + next.bytes());
    frontier = next;
    next = levelAfter(frontier);
    ids = nextIds;
    if (frontier.length > 0) depth++;
  }
  return result('exhausted', 0, null, exhaustedMessage());
}
