/**
 * `dtsim compare --preset` at the CLI: the same results for a seed whatever `--workers`, the sampling printed,
 * `--html` into a folder and `--csv` written once (never overwritten without --force), `--json` valid against
 * its schema, bad flags exit 2 with one line.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateOutput } from '../../properties/support/schemas.ts';

function dtsim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

type Doc = { results: { wallMs: number; status: string; point: { workload: string; variant: string } }[]; checkEvery: number; workers: number };
const strip = (d: Doc): unknown => d.results.map((r) => ({ ...r, wallMs: 0 }));

describe('dtsim compare --preset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtsim-cmpscale-'));
  const base = ['compare', '--preset', 'small', '--model', 'dirty-bitmap,dirty-ring', '--seed', 'cs1'];

  it('gives the same grid results for a seed with 1 and 2 workers, valid against the output schema', () => {
    const one = dtsim([...base, '--workers', '1', '--json']);
    const two = dtsim([...base, '--workers', '2', '--json']);
    expect(one.code, one.err).toBe(0);
    expect(two.code, two.err).toBe(0);
    const a = JSON.parse(one.out) as Doc;
    const b = JSON.parse(two.out) as Doc;
    expect(validateOutput('compare', a)).toEqual([]);
    expect(a.workers).toBe(1);
    expect(b.workers).toBe(2);
    expect(a.results).toHaveLength(16);
    expect(a.results.every((r) => r.status === 'ok')).toBe(true);
    expect(strip(b)).toEqual(strip(a));
  });

  it('prints the invariant sampling, writes --html into a folder and --csv, and never overwrites them without --force', () => {
    const out = join(dir, 'out');
    const csv = join(dir, 'grid.csv');
    const r = dtsim([...base, '--model', 'dirty-bitmap', '--workers', '1', '--check-every', '500', '--html', `${out}/`, '--csv', csv]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('every 500 events, at each collection boundary and at the end of every run');
    const page = readFileSync(join(out, 'index.html'), 'utf8');
    for (const id of ['convergence', 'exits-per-vcpu', 'cost-16MiB-2v', 'exits-rate-32MiB-4v']) expect(page).toContain(`data-plot="${id}"`);
    expect(page).not.toMatch(/<script|(src|href)="?https?:/);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toContain('harvest work');
    writeFileSync(csv, 'precious');
    const again = dtsim([...base, '--model', 'dirty-bitmap', '--workers', '1', '--csv', csv]);
    expect(again.code).toBe(2);
    expect(again.err.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(csv, 'utf8')).toBe('precious');
  });

  it('rejects bad flags with exit 2 and one line', () => {
    const cases: [string[], RegExp][] = [
      [['compare', '--preset', 'huge'], /--preset: unknown preset 'huge'/],
      [['compare', '--preset', 'small', '--pages', '64'], /--pages: not with --preset/],
      [['compare', '--preset', 'small', '--check-every', '0'], /--check-every/],
      [['compare', '--preset', 'small', '--model', 'nope'], /unknown model 'nope'/],
      [['compare', '--workers', '2'], /--workers: only with --preset/],
      [['compare', '--csv', join(dir, 'x.csv')], /--csv: only with --preset/],
    ];
    for (const [args, msg] of cases) {
      const r = dtsim(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    }
    expect(existsSync(join(dir, 'x.csv'))).toBe(false);
  });
});
