/**
 * Which mechanisms a design uses, from its options (`consumer`, `producer`). Cached per design object (designs
 * are immutable and shared by every state of a run), so the hot path pays one WeakMap lookup.
 */
import type { Design } from '../../src/core/model.ts';
import type { ExtCodec, Mechanism } from './mechanisms.ts';
import type { MachineState } from './state.ts';
import { designOption } from './options.ts';

/** Mechanism factories by id; each mechanism folder registers itself in `models/index.ts`. */
const factories = new Map<string, Mechanism>();

export function registerMechanism(m: Mechanism): void {
  factories.set(m.id, m);
}

const cache = new Map<string, readonly Mechanism[]>();
const NONE: readonly Mechanism[] = [];

/** Mechanism ids a design selects: its consumer (if not the built-in bitmap) and its producer (if not wp faults). */
export function mechanismIds(d: Design): string[] {
  const ids: string[] = [];
  const c = designOption(d.options, 'consumer');
  const p = designOption(d.options, 'producer');
  if (typeof p === 'string' && p !== 'wp') ids.push(p);
  if (typeof c === 'string' && c !== 'bitmap') ids.push(c);
  return ids;
}

/**
 * The mechanisms of the state's design. Keyed by `s.mechKey` (a string fixed at init): reading a string from
 * an immer draft is free, whereas the design object would come back as a fresh draft proxy each time.
 */
export function mechanismsOf(s: MachineState): readonly Mechanism[] {
  const hit = cache.get(s.mechKey);
  if (hit) return hit;
  const ids = mechanismIds(s.design);
  const ms = ids.length === 0 ? NONE : ids.map((id) => {
    const m = factories.get(id);
    if (!m) throw new Error(`[dtsim] design selects mechanism '${id}', which is not registered`);
    return m;
  });
  cache.set(s.mechKey, ms);
  return ms;
}

const codecs = new Map<string, ExtCodec>();
let codecsVersion = 0;

/** Bumped by every `registerExtCodec`: caches of codec lookups (pack.ts) compare it. */
export function extCodecsVersion(): number {
  return codecsVersion;
}

/** Registers (or, with undefined, removes) the explore codec of `s.ext[key]` (see `ExtCodec`); returns the previous one. */
export function registerExtCodec(key: string, codec: ExtCodec | undefined): ExtCodec | undefined {
  codecsVersion++;
  const prev = codecs.get(key);
  if (codec) codecs.set(key, codec);
  else codecs.delete(key);
  return prev;
}

/** The codec of `s.ext[key]`, or undefined (packed and copied generically). */
export function extCodec(key: string): ExtCodec | undefined {
  return codecs.get(key);
}
