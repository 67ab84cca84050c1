/**
 * Seeded, named random streams. This is the ONLY file that imports seedrandom.
 *
 * Every consumer asks for its own stream by name (`scheduler`, `workload`, `choices`...), so adding a consumer
 * never shifts another one's draws. The derivation string is versioned: changing it changes every generated
 * trace, which is a trace-format event (bump it and regenerate).
 */
import seedrandom from 'seedrandom';

const STREAM_DERIVATION = 'dtsim-stream-v1';

export interface Prng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
}

export function stream(seed: string, name: string): Prng {
  const rng = seedrandom.alea(`${STREAM_DERIVATION}\u0000${seed.length}:${seed}\u0000${name.length}:${name}`);
  return {
    next: () => rng(),
    int: (n: number) => Math.floor(rng() * n),
    u32: () => rng.int32() >>> 0,
  };
}

/** Derives a child seed deterministically (run `i` of a campaign, shard `k`...). */
export function childSeed(seed: string, label: string): string {
  const s = stream(seed, `child:${label}`);
  return (s.u32().toString(16).padStart(8, '0') + s.u32().toString(16).padStart(8, '0')).slice(0, 12);
}
