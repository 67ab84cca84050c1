/**
 * `dtsim check` splits a design's runs into chunks across workers (jobs.ts `splitCheckJobs`) and puts each
 * design back together (`mergeCheckChunks`): the chunks cover the design's run numbers exactly once, and the
 * merged result is the one a single job running every run gives (runs, events, violations, metrics, coverage,
 * violations by invariant, the first failure with the lowest run index, and the exact distinct-state count),
 * whatever the number of chunks, with and without shards. In-process (runJob is what each worker runs).
 */
import { describe, expect, it } from 'vitest';
import type { ResultJson } from '../check/campaign.ts';
import { mergeCheckChunks, runJob, splitCheckJobs, type CheckJob } from './jobs.ts';

function job(over: Partial<CheckJob> = {}): CheckJob {
  return { kind: 'check', model: 'dirty-bitmap', options: {}, bugs: ['wp-before-snapshot'], label: 'dirty-bitmap+wp-before-snapshot',
    runs: 32, seed: 'mix-e', maxEvents: 120, timeBudgetMs: 0, shard: 0, shards: 1, ...over };
}

/** A result without its timing (the only field that may depend on the worker count). */
function untimed(r: ResultJson): Omit<ResultJson, 'timeMs'> {
  const { timeMs: _t, ...rest } = r;
  return rest;
}

function runChunked(j: CheckJob, workers: number): { chunks: CheckJob[]; results: ResultJson[] } {
  const chunks = splitCheckJobs([j], workers);
  const parts = chunks.map((c) => {
    const r = runJob(c);
    if (r.kind !== 'check') throw new Error('not a check result');
    return r;
  });
  return { chunks, results: mergeCheckChunks(parts) };
}

describe('check: a design split into chunks of runs', () => {
  it('one design is cut into contiguous chunks covering every run number once; one worker or many designs stay whole', () => {
    const one = splitCheckJobs([job({ runs: 250 })], 2);
    expect(one.length).toBeGreaterThanOrEqual(2);
    let next = 0;
    for (const c of one) {
      expect(c.firstRun).toBe(next);
      expect(c.runs).toBeGreaterThanOrEqual(8);
      expect(c.exportStates).toBe(true);
      expect(c.seed).toBe('mix-e');
      next += c.runs;
    }
    expect(next).toBe(250);
    expect(splitCheckJobs([job({ runs: 250 })], 1)).toEqual([job({ runs: 250 })]);
    const many = Array.from({ length: 8 }, (_, i) => job({ label: `d${i}` }));
    expect(splitCheckJobs(many, 2)).toEqual(many);
    // Too few runs to be worth a chunk each: at most runs / 8 chunks.
    expect(splitCheckJobs([job({ runs: 10 })], 4)).toEqual([job({ runs: 10 })]);
    expect(splitCheckJobs([job({ runs: 20 })], 4).map((c) => c.runs)).toEqual([10, 10]);
  });

  it('the merged chunks equal the whole design run as one job (distinct states exact, first failure lowest index)', () => {
    const j = job();
    const whole = runJob(j);
    if (whole.kind !== 'check') throw new Error('not a check result');
    expect(whole.states).toBeNull();
    expect(whole.result.violations).toBeGreaterThan(0);
    expect(whole.result.violations).toBeLessThan(whole.result.runs);
    for (const workers of [2, 3]) {
      const { chunks, results } = runChunked(j, workers);
      expect(chunks.length).toBeGreaterThan(1);
      expect(results).toHaveLength(1);
      expect(untimed(results[0] as ResultJson)).toEqual(untimed(whole.result));
      // Sum of the chunks' own distinct counts overcounts (states shared by chunks): the union is what is exact.
      const summed = chunks.reduce((a, c) => { const r = runJob(c); return a + (r.kind === 'check' ? r.result.distinctStates : 0); }, 0);
      expect(summed).toBeGreaterThan(whole.result.distinctStates);
    }
  });

  it('a shard of a design, chunked, equals the shard run as one job (run numbers map to the shard\'s run indices)', () => {
    const j = job({ runs: 16, shard: 1, shards: 2, seed: 'mix-d' });
    const whole = runJob(j);
    if (whole.kind !== 'check') throw new Error('not a check result');
    const { results } = runChunked(j, 2);
    expect(untimed(results[0] as ResultJson)).toEqual(untimed(whole.result));
    if (whole.result.firstFailure) expect(whole.result.firstFailure.runIndex % 2).toBe(1);
  });
});
