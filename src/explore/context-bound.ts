/**
 * Context-bounded exploration (`dtsim explore --context-bound K`, off by default): the explorer searches the
 * schedules with at most K context switches, where a context switch is a change of lane (`Model.laneOf`: the
 * vCPU, PE, VMM or host agent an event belongs to) between two consecutive events. The bound is the one of
 * context-bounded model checking (Qadeer and Rehof, TACAS 2005; Musuvathi and Qadeer's CHESS, PLDI 2007): a
 * run in which the agents take turns only a few times can still be deep, and many concurrency bugs need only a
 * few turns, so a complete search of the few-switch schedules reaches depths a full search cannot.
 *
 * Mechanism: `contextBounded(model, K)` is the product of the model with a switch counter, itself a `Model`, so
 * `explore` (bfs.ts) searches it unchanged. A product state is (s, lane of the last event, switches so far k);
 * event e is enabled in it iff e is enabled in s and (no event yet, or laneOf(e) is the last lane, or k < K);
 * applying e applies it to s and counts a switch when its lane differs from the last one. Invariants, `isFinal`
 * and the pack of s are the model's; the pack appends the lane and k.
 *
 * What a result means (the soundness argument):
 * - No false alarm: every product path is a path of the model (the enabled events are a subset of the model's,
 *   applied by the model's own `apply`, checked by its own invariants), so a counterexample is a run of the
 *   model; its events replay on the unwrapped model (`modelChoices` gives their indices in the model's own
 *   `enabled`, as a plain explore records them).
 * - Complete for what it covers: by induction on the length, k after a sequence of events is exactly its
 *   number of lane changes, so every schedule with at most K switches is a product path and every product path
 *   is such a schedule. Deduplication is exact on the product: two product states with the same key have the
 *   same s up to the model's pack contract (same enabled events, successors and invariant results), the same
 *   last lane and the same k, hence the same product future. So a violation is a shortest counterexample among
 *   the schedules with at most K switches (BFS on the product, depth = events), and `exhausted` means: every
 *   state reachable by such a schedule satisfies every invariant. It says NOTHING about schedules with more
 *   switches: this is an under-approximation of the model, which is why it is opt-in and printed.
 * - With K >= depth - 1 every schedule of at most `depth` events is covered: the verdict and the shortest length
 *   are those of the plain search (with more distinct states: the lane and k are in the key).
 * - A state where the model has enabled events but the bound excludes all of them ends the schedule; it is
 *   counted as final (`isFinal`), not as a deadlock: only states where the model itself has nothing enabled and
 *   is not final are deadlocks, as in the plain search.
 * Symmetry is not offered on the product (lanes are named by agent index; relabelling them is not implemented).
 */
import type { EventBase, Model } from '../core/model.ts';

/** A product state: the model's state, the lane of the last event (-1: none yet) and the switches so far. */
export interface Bounded<S> {
  s: S;
  lane: number;
  k: number;
}

/** The model restricted to schedules with at most `bound` lane switches (see the header). */
export function contextBounded<S, E extends EventBase, C>(model: Model<S, E, C>, bound: number): Model<Bounded<S>, E, C> {
  if (!Number.isInteger(bound) || bound < 0) throw new Error(`[dtsim] context bound must be a non-negative integer, got ${bound}`);
  // Lanes as small integers, in order of first appearance (stable within one search, which is all a key needs).
  const ids = new Map<string, number>();
  const laneId = (e: E): number => {
    const l = model.laneOf(e);
    let i = ids.get(l);
    if (i === undefined) { i = ids.size; ids.set(l, i); }
    return i;
  };
  const allowed = (w: Bounded<S>, e: E): boolean => w.k < bound || w.lane < 0 || laneId(e) === w.lane;
  const pack = model.pack;
  const clone = model.clone;
  const copyInto = model.copyInto;
  const m: Model<Bounded<S>, E, C> = {
    id: model.id,
    version: model.version,
    description: `${model.description} (schedules with at most ${bound} lane switches)`,
    bugs: model.bugs,
    defaultOptions: model.defaultOptions,
    defaultConfig: model.defaultConfig,
    parseConfig: (raw) => model.parseConfig(raw),
    parseOptions: (raw) => model.parseOptions(raw),
    init: (design, config) => ({ s: model.init(design, config), lane: -1, k: 0 }),
    enabled(w) {
      const en = model.enabled(w.s);
      if (w.k < bound || w.lane < 0) return en;
      return en.filter((e) => laneId(e) === w.lane);
    },
    isEnabled: (w, e) => allowed(w, e) && model.isEnabled(w.s, e),
    apply(w, e) {
      const l = laneId(e);
      if (w.lane >= 0 && l !== w.lane) w.k++;
      w.lane = l;
      model.apply(w.s, e);
    },
    invariants: model.invariants.map((inv) => ({ id: inv.id, description: inv.description, check: (w: Bounded<S>) => inv.check(w.s) })),
    parseEvent: (raw, config) => model.parseEvent(raw, config),
    metrics: (w) => model.metrics(w.s),
    // Only asked when nothing is enabled in the product: final if the model says so, or if the bound (not the
    // model) stopped the schedule.
    isFinal: (w) => model.isFinal(w.s) || model.enabled(w.s).length > 0,
    describeEvent: (e) => model.describeEvent(e),
    laneOf: (e) => model.laneOf(e),
    weightOf: (w, e) => model.weightOf(w.s, e),
  };
  if (pack) {
    m.pack = (w, out) => {
      pack.call(model, w.s, out, null);
      out.num(w.lane);
      out.num(w.k);
    };
  }
  if (clone) m.clone = (w) => ({ s: clone.call(model, w.s), lane: w.lane, k: w.k });
  const save = model.save;
  const load = model.load;
  if (save && load) {
    m.save = (w, out) => {
      save.call(model, w.s, out);
      out.int(w.lane);
      out.int(w.k);
    };
    m.load = (src, like) => {
      const s = load.call(model, src, like.s);
      const lane = src.int();
      return { s, lane, k: src.int() };
    };
  }
  const image = model.image;
  if (image) {
    // The model's image, then the lane and the bound (two more words).
    m.image = (like) => {
      const img = image.call(model, like.s);
      if (img === null) return null;
      const n = img.words;
      return {
        words: n + 2,
        write(w, out): void {
          img.write(w.s, out);
          out[n] = w.lane;
          out[n + 1] = w.k;
        },
        read: (src, l) => ({ s: img.read(src, l.s), lane: src[n] as number, k: src[n + 1] as number }),
      };
    };
  }
  if (copyInto) {
    m.copyInto = (d, w) => {
      d.s = copyInto.call(model, d.s, w.s);
      d.lane = w.lane;
      d.k = w.k;
      return d;
    };
  }
  return m;
}

/**
 * The index of each event in the model's own `enabled` of the state it is taken from (what a plain explore
 * records as a trace's `choices`), replaying `events` from the initial state. Throws if one is not enabled.
 */
export function modelChoices<S, E extends EventBase, C>(model: Model<S, E, C>, init: S, events: readonly E[]): number[] {
  const s = model.clone ? model.clone(init) : structuredClone(init);
  const out: number[] = [];
  const same = (a: E, b: E): boolean => JSON.stringify(a) === JSON.stringify(b);
  for (const e of events) {
    const i = model.enabled(s).findIndex((x) => same(x, e));
    if (i < 0) throw new Error(`[dtsim] event ${out.length} (${model.describeEvent(e)}) is not enabled where it stands`);
    out.push(i);
    model.apply(s, e);
  }
  return out;
}

/** The number of lane switches of a sequence of events (what the context bound counts). */
export function laneSwitches<E extends EventBase>(model: { laneOf(e: E): string }, events: readonly E[]): number {
  let n = 0;
  for (let i = 1; i < events.length; i++) if (model.laneOf(events[i] as E) !== model.laneOf(events[i - 1] as E)) n++;
  return n;
}
