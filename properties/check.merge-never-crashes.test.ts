/**
 * Shard result files are untrusted input to `dtsim check --merge` (follow-up of issue 20). Hundreds of corrupted
 * shard files (prototype-named keys, duplicated keys, wrong types, huge numbers, missing fields, hostile `failures`
 * entries: properties/support/fuzz.ts `shardFuzzCase`) go through the reader in-process: each ends as a checked
 * shard (which then merges without throwing, every record still own data) or as one issue naming the field in one
 * short printable line; never a throw. A small CLI sample: exit 0/1, or exit 2 with one line naming the file and
 * no stack; never exit 3.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { classifyShardFile } from '../src/cli/shard-file.ts';
import { mergeResults } from '../src/check/campaign.ts';
import { SEED } from './support/seed.ts';
import { SHARD_FAMILIES, shardFuzzCase } from './support/fuzz.ts';

function dtsim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8', env: { ...process.env, DTSIM_SEED: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const printable = (s: string, max: number): boolean => /^[\x20-\x7e]*$/.test(s) && s.length <= max;

describe(`check --merge never crashes on hostile shard files (seed ${SEED})`, () => {
  // Two real shard files: one with a failing design (failures, firstFailure with events), one clean.
  const shards: string[] = [];
  beforeAll(() => {
    const out = mkdtempSync(join(tmpdir(), 'dtsim-merge-fuzz-seed-'));
    const failing = dtsim(['check', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--seed', 'merge-fuzz', '--events', '60', '--runs', '2',
      '--workers', '1', '--json', '--out-dir', out]);
    expect(failing.code, failing.err).toBe(1);
    const clean = dtsim(['check', '--model', 'dirty-ring', '--seed', 'merge-fuzz', '--events', '40', '--runs', '1', '--workers', '1', '--json', '--out-dir', out]);
    expect(clean.code, clean.err).toBe(0);
    shards.push(failing.out.trim(), clean.out.trim());
  }, 120_000);

  it('the unmutated shard files read as shards', () => {
    for (const s of shards) expect(classifyShardFile(s).kind).toBe('shard');
  });

  it('400 corrupted shard files: a checked shard that merges, or one issue with a field in one printable line; never a throw', () => {
    const classes = new Map<string, number>();
    const families = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const c = shardFuzzCase(shards[i % shards.length]!, SEED, `case-${i}`);
      for (const m of c.mutations) { const f = m.split(' ')[0]!; families.set(f, (families.get(f) ?? 0) + 1); }
      let cls: string;
      try {
        const r = classifyShardFile(c.text);
        cls = r.kind;
        if (r.kind === 'bad') {
          expect(r.issue.message.length, c.mutations.join('; ')).toBeGreaterThan(0);
          expect(printable(r.issue.message, 400), `${c.mutations.join('; ')}: ${r.issue.message}`).toBe(true);
          expect(printable(r.issue.field, 200), `${c.mutations.join('; ')}: ${r.issue.field}`).toBe(true);
          // Only a document that is not a JSON object (or not JSON) has no field to name.
          if (r.issue.field === '') expect(r.issue.message, c.mutations.join('; ')).toMatch(/not valid JSON|not a JSON object/);
        } else if (r.kind === 'shard') {
          // What passed is what the merge and the output use: numbers exact, records own data.
          const merged = mergeResults([...r.doc.results, ...r.doc.results]);
          for (const m of merged) {
            for (const rec of [m.metrics, m.coverage, m.byInvariant]) {
              expect(Object.getPrototypeOf(rec), c.mutations.join('; ')).toBe(Object.prototype);
              for (const v of Object.values(rec)) expect(Number.isFinite(v), c.mutations.join('; ')).toBe(true);
            }
            expect(Number.isSafeInteger(m.runs) && m.violations <= m.runs && (m.violations > 0) === (m.firstFailure !== null), c.mutations.join('; ')).toBe(true);
          }
          expect(() => JSON.stringify(merged)).not.toThrow();
        }
      } catch (e) {
        cls = 'crash';
        expect.fail(`${c.mutations.join('; ')}: ${String((e as Error).stack ?? e).split('\n').slice(0, 3).join(' | ')}`);
      }
      classes.set(cls, (classes.get(cls) ?? 0) + 1);
    }
    // Every family was drawn, and the corruption was mostly caught (some edits are harmless, e.g. a duplicated
    // key is caught, a deleted `failures` list reads as an older shard).
    for (const f of SHARD_FAMILIES) expect(families.get(f) ?? 0, `family ${f} never drawn`).toBeGreaterThan(0);
    expect(classes.get('bad') ?? 0).toBeGreaterThan(200);
  });

  it('at the CLI: exit 0/1, or exit 2 with one line naming the file and no stack; never 3', () => {
    for (let i = 0; i < 6; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'dtsim-merge-fuzz-'));
      const c = shardFuzzCase(shards[i % shards.length]!, SEED, `cli-${i}`);
      writeFileSync(join(dir, 'shard-0.json'), c.text);
      const r = dtsim(['check', '--merge', dir, '--json', '--out-dir', join(dir, 'saved')]);
      expect([0, 1, 2], `${c.mutations.join('; ')}: ${r.err}`).toContain(r.code);
      expect(r.err, c.mutations.join('; ')).not.toMatch(/\n\s+at |internal error/);
      if (r.code === 2) {
        expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
        expect(r.err).toContain(join(dir, 'shard-0.json'));
      } else expect(() => JSON.parse(r.out)).not.toThrow();
    }
  });
});
