/**
 * The seed of this test run. CI derives it from the commit (DTSIM_SEED, else GITHUB_SHA/CI_COMMIT_SHA, else
 * `git rev-parse HEAD` done by .ci/run and exported); locally it is DTSIM_SEED or a fixed default. It is printed
 * in every top-level describe title, so any failure is reproducible with DTSIM_SEED=<seed> npm test.
 */
function fromEnv(): string {
  const e = process.env;
  const s = e['DTSIM_SEED'] ?? e['GITHUB_SHA'] ?? e['CI_COMMIT_SHA'];
  if (s) return s.slice(0, 12);
  if (e['CI']) throw new Error('CI run without DTSIM_SEED: .ci/run must export the commit as the seed');
  return 'dtsim-local-1';
}

export const SEED: string = fromEnv();

/** fast-check wants a 32-bit integer seed: a stable hash of the string seed. */
export function fcSeed(label = ''): number {
  let h = 0x811c9dc5;
  const s = `${SEED}/${label}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}
