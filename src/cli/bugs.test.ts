/**
 * `dtsim bugs` verdicts at the CLI: a knob not found within its budget is inconclusive (exit 4, said so with
 * its runs and seconds, `--json` complete: false), not a failure; a negative control clean over its budget is
 * ok. (A knob found with the wrong invariant, exit 1, is checked on the classification in verdict.test.ts: no
 * knob of the catalogue does that.)
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function dtsim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8', env: { ...process.env, DTSIM_SEED: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('dtsim bugs verdicts', () => {
  it('a knob not found within --runs 1 is inconclusive (exit 4); a clean negative control is ok', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-bugs-'));
    try {
      // One run of at most one choice does not reach missing-tlbi's violation (a re-arm and a stale store).
      const args = ['bugs', '--bug', 'missing-tlbi', '--bug', 'eager-split-off-by-one', '--runs', '1', '--events', '1', '--seed', 'budget',
        '--workers', '1', '--out-dir', dir];
      const j = dtsim([...args, '--json']);
      expect(j.code, j.err).toBe(4);
      const doc = JSON.parse(j.out) as { verdict: string; knobs: { id: string; outcome: string; complete: boolean; incompleteReason: string | null;
        runs: number; runsRequested: number; stoppedBy: string | null }[] };
      expect(doc.verdict).toBe('inconclusive');
      expect(doc.knobs.map((k) => [k.id, k.outcome, k.complete, k.incompleteReason, k.runs, k.runsRequested, k.stoppedBy])).toEqual([
        ['missing-tlbi', 'notFound', false, 'notFoundWithinBudget', 1, 1, 'runs'],
        ['eager-split-off-by-one', 'clean', true, null, 1, 1, 'runs'],
      ]);
      const t = dtsim(args);
      expect(t.code, t.err).toBe(4);
      expect(t.out).toMatch(/missing-tlbi: not found within the budget \(1 of 1 runs, [\d.]+ s\): inconclusive/);
      expect(t.out).toMatch(/^inconclusive: 1 knob\(s\) not found within the budget/m);
      // Found with its expected invariant: ok.
      const found = dtsim(['bugs', '--bug', 'missing-tlbi', '--runs', '1', '--seed', 'a', '--workers', '1', '--out-dir', dir, '--json']);
      expect(found.code, found.err).toBe(0);
      expect(JSON.parse(found.out)).toMatchObject({ verdict: 'ok', knobs: [{ outcome: 'found', complete: true }] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dtsim bugs --list (issue 16 item 5)', () => {
  it('prints the knobs, then every reference id with its knobs or why none; --json gives both', () => {
    const t = dtsim(['bugs', '--list']);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/^B7 +kvm §6 .* x86-only: /m);
    expect(t.out).toMatch(/^F9 +arm §6 .* hdbss\/hdbss-no-save-at-put$/m);
    expect(t.out).toMatch(/^U4 +kvm §8 .* dirty-bitmap\/vmm-no-final-sync$/m);
    // dtsim's own findings (F-B1, F-B2: models/references.ts) are listed like the references' ids.
    expect(t.out).toMatch(/^F-B1 +dtsim .* hdbss\/hdbss-ring-block-dbm$/m);
    expect(t.out).toMatch(/^F-B2 +dtsim .* pta\/pta-ring-read-all-cpus$/m);
    const j = dtsim(['bugs', '--list', '--json', '--model', 'pta']);
    expect(j.code, j.err).toBe(0);
    const doc = JSON.parse(j.out) as { knobs: { id: string }[]; references: { id: string; knobs: string[]; none: { kind: string } | null }[] };
    expect(doc.knobs.map((k) => k.id)).toContain('pta-vmid-stale');
    expect(doc.references).toHaveLength(42);
    expect(doc.references.find((r) => r.id === 'F7')!.knobs).toEqual(['pta/pta-vmid-stale']);
    expect(doc.references.find((r) => r.id === 'F-B2')!.knobs).toEqual(['pta/pta-ring-read-all-cpus']);
    expect(doc.references.find((r) => r.id === 'B14')!.none!.kind).toBe('test-bug');
  });
});
