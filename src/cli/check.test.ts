/**
 * `dtsim check` campaign properties at the CLI: the result does not depend on the worker count (a design's
 * runs are split into chunks across workers and merged back exactly, see jobs.test.ts); shards draw
 * disjoint seeds whose merge equals the unsharded campaign; bad flags exit 2 with one line and no stack.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function dtsim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8', env: { ...process.env, DTSIM_SEED: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

type Res = { label: string; runs: number; events: number; violations: number; distinctStates: number; metrics: Record<string, number> };
const strip = (rs: Res[]): unknown => rs.map((r) => ({ label: r.label, runs: r.runs, events: r.events, violations: r.violations, metrics: r.metrics }));

describe('dtsim check campaigns', () => {
  const base = ['check', '--model', 'dirty-bitmap', '--seed', 'shard-test', '--events', '120', '--json'];
  it('gives the same result with 1 worker and with 2', () => {
    const a = dtsim([...base, '--runs', '6', '--workers', '1']);
    const b = dtsim([...base, '--runs', '6', '--workers', '2']);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const ra = JSON.parse(a.out).results as Res[];
    const rb = JSON.parse(b.out).results as Res[];
    expect(strip(rb)).toEqual(strip(ra));
    expect(rb.map((r) => r.distinctStates)).toEqual(ra.map((r) => r.distinctStates));
  });
  it('a one-design campaign (split into chunks of runs at 2 workers) gives identical JSON at --workers 1 and 2, timings apart', () => {
    const one = ['check', '--model', 'dirty-bitmap', '--bug', 'wp-before-snapshot', '--seed', 'mix-e', '--events', '120', '--runs', '32', '--json'];
    const a = dtsim([...one, '--workers', '1']);
    const b = dtsim([...one, '--workers', '2']);
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    const untimed = (out: string): unknown => {
      const d = JSON.parse(out) as { wallSeconds?: number; results: { timeMs?: number }[] };
      delete d.wallSeconds;
      for (const r of d.results) delete r.timeMs;
      return d;
    };
    const ja = untimed(a.out) as { results: { runs: number; violations: number; distinctStates: number }[] };
    expect(untimed(b.out)).toEqual(ja);
    expect(ja.results).toHaveLength(1);
    expect(ja.results[0]?.runs).toBe(32);
    expect(ja.results[0]?.violations).toBeGreaterThan(0);
    expect(ja.results[0]?.distinctStates).toBeGreaterThan(0);
  });
  it('two shards merged equal the unsharded campaign', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-shards-'));
    for (const i of [0, 1]) {
      const r = dtsim([...base, '--runs', '3', '--shard', `${i}/2`]);
      expect(r.code).toBe(0);
      writeFileSync(join(dir, `shard-${i}.json`), r.out);
    }
    const merged = dtsim(['check', '--merge', dir, '--json']);
    expect(merged.code).toBe(0);
    const whole = dtsim([...base, '--runs', '6']);
    const rm = JSON.parse(merged.out).results as Res[];
    const rw = JSON.parse(whole.out).results as Res[];
    expect(strip(rm)).toEqual(strip(rw));
    const text = dtsim(['check', '--merge', dir]);
    expect(text.out).toContain('upper bound');
  });
  it('rejects bad flags with exit 2 and one line', () => {
    for (const args of [['check', '--runs', 'x'], ['check', '--shard', '3/2'], ['check', '--model', 'nope'], ['check', '--frobnicate'],
      ['check', '--merge', '/nonexistent-dtsim-dir']]) {
      const r = dtsim(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});
