/**
 * CLI start-up, compiled vs tsx (node bin/run-ts.js bench/startup.ts). The same launcher, bin/dtsim.js, runs one
 * short command as a fresh process, once on the compiled build (DTSIM_ENTRY=dist: what an installed package
 * runs) and once on the TypeScript sources through tsx (DTSIM_ENTRY=src: what a checkout runs), alternating so
 * that both see the same machine load, N times each. Prints the median and minimum wall time of each and their
 * ratio (tsx / compiled); asserts nothing.
 *
 * Builds dist/ first (`npm run build`) unless --no-build: the compiled side must be the code of this checkout.
 * Options: --runs N (default 20), --no-build, and the command after `--` (default: `help`; e.g. `-- bugs --list`).
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash >= 0 ? argv.slice(0, dash) : argv;
const command = dash >= 0 ? argv.slice(dash + 1) : ['help'];
const ri = own.indexOf('--runs');
const RUNS = ri >= 0 ? Number(own[ri + 1]) : 20;
if (!Number.isInteger(RUNS) || RUNS < 1) { console.error('--runs: expected a positive integer'); process.exit(2); }

if (!own.includes('--no-build')) {
  const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (b.status !== 0) { console.error('npm run build failed'); process.exit(1); }
}

type Side = 'dist' | 'src';
function once(side: Side): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...command], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DTSIM_ENTRY: side } });
  const ms = performance.now() - t0;
  if (r.status !== 0) { console.error(`dtsim ${command.join(' ')} (${side}) exited ${r.status}:\n${r.stderr}`); process.exit(1); }
  return ms;
}

const times: { [k in Side]: number[] } = { dist: [], src: [] };
once('dist'); once('src'); // warm the file cache for both, not counted
for (let i = 0; i < RUNS; i++) {
  const order: Side[] = i % 2 === 0 ? ['dist', 'src'] : ['src', 'dist'];
  for (const s of order) times[s].push(once(s));
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const min = (xs: number[]): number => Math.min(...xs);
const fmt = (x: number): string => `${x.toFixed(0).padStart(6)} ms`;
console.log(`dtsim ${command.join(' ')}: ${RUNS} runs each, alternating, node ${process.version}`);
console.log(`  compiled (dist/, plain node)  median ${fmt(median(times.dist))}  min ${fmt(min(times.dist))}`);
console.log(`  sources  (tsx loader)         median ${fmt(median(times.src))}  min ${fmt(min(times.src))}`);
console.log(`  tsx / compiled: ${(median(times.src) / median(times.dist)).toFixed(2)}x (median), ${(min(times.src) / min(times.dist)).toFixed(2)}x (min)`);
