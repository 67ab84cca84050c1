/**
 * `dtsim check` campaign properties at the CLI: the result does not depend on the worker count (a design's
 * runs are split into chunks across workers and merged back exactly, see jobs.test.ts); shards draw
 * disjoint seeds whose merge equals the unsharded campaign; bad flags exit 2 with one line and no stack;
 * `--json` saves and shrinks a failing run as the text path does (the JSON names the files and commands, and
 * stdout holds nothing but the JSON); a merge lists the failures every shard saved.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
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
    // Each run saves its failure into its own folder (named in the JSON): compared with the folder as DIR.
    const da = mkdtempSync(join(tmpdir(), 'dtsim-split-a-'));
    const db = mkdtempSync(join(tmpdir(), 'dtsim-split-b-'));
    const a = dtsim([...one, '--workers', '1', '--out-dir', da]);
    const b = dtsim([...one, '--workers', '2', '--out-dir', db]);
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    const untimed = (out: string, dir: string): unknown => {
      const d = JSON.parse(out.split(dir).join('DIR')) as { wallSeconds?: number; results: { timeMs?: number }[] };
      delete d.wallSeconds;
      for (const r of d.results) delete r.timeMs;
      return d;
    };
    const ja = untimed(a.out, da) as { results: { runs: number; violations: number; distinctStates: number }[] };
    expect(untimed(b.out, db)).toEqual(ja);
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
    expect((JSON.parse(merged.out).results as { runsRequested: number }[]).map((r) => r.runsRequested)).toEqual(rw.map(() => 6));
    const text = dtsim(['check', '--merge', dir]);
    expect(text.out).toContain('upper bound');
  });
  it('--time-budget: a design stopped before its requested runs says so (runs done of requested), clean still exit 0', () => {
    // 7 designs share a 1 s budget on one worker: far fewer than 100000 runs each (no time is asserted).
    const args = ['check', '--model', 'dirty-bitmap', '--seed', 'budget-test', '--events', '60', '--runs', '100000', '--time-budget', '1', '--workers', '1'];
    const j = dtsim([...args, '--json']);
    expect(j.code, j.err).toBe(0);
    const doc = JSON.parse(j.out) as { complete: boolean; results: { runs: number; runsRequested: number; complete: boolean; violations: number }[] };
    expect(doc.complete).toBe(false);
    for (const r of doc.results) {
      expect(r.runsRequested).toBe(100000);
      expect(r.runs).toBeGreaterThan(0);
      expect(r.runs).toBeLessThan(r.runsRequested);
      expect(r.complete).toBe(false);
    }
    const t = dtsim(args);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/^dirty-bitmap: \d+ of 100000 requested runs done \(stopped by the time budget\)$/m);
    expect(t.out).toMatch(/^all 7 designs hold every invariant in the runs done: \d+ of 700000 requested \(the time budget stopped 7 of 7 designs early\)/m);
    // Every requested run done: complete, and the verdict line claims no more.
    const whole = dtsim([...base, '--runs', '2']);
    const wd = JSON.parse(whole.out) as { complete: boolean; results: { runs: number; runsRequested: number; complete: boolean }[] };
    expect(wd.complete).toBe(true);
    expect(wd.results.every((r) => r.runs === 2 && r.runsRequested === 2 && r.complete)).toBe(true);
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

  type Saved = { label: string; invariant: string; runIndex: number; eventIndex: number; trace: string; replay: string; rerun: string;
    shrunk: null | { trace: string; events: number; replay: string } };
  const buggy = ['check', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--seed', 'saved-test', '--events', '120', '--workers', '1', '--json'];

  it('--json saves and shrinks a failing run; the JSON names both traces and the commands; both replay to the violation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-check-saved-'));
    const r = dtsim([...buggy, '--runs', '2', '--out-dir', dir]);
    expect(r.code, r.err).toBe(1);
    const doc = JSON.parse(r.out) as { failures: Saved[]; results: Res[] };  // stdout is the JSON and nothing else
    expect(doc.failures).toHaveLength(1);
    const f = doc.failures[0]!;
    expect(f.label).toBe(doc.results[0]!.label);
    expect(f.trace.startsWith(dir)).toBe(true);
    expect(f.replay).toBe(`dtsim replay ${f.trace}`);
    expect(f.shrunk).not.toBeNull();
    expect(f.shrunk!.trace.startsWith(dir)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([f.trace, f.shrunk!.trace].map((p) => p.slice(dir.length + 1)).sort());
    for (const t of [f.trace, f.shrunk!.trace]) {
      const rp = dtsim(['replay', t, '--json']);
      expect(rp.code, `${t}: ${rp.err}`).toBe(0);  // 0: the outcome matches the expect block (a violation)
      const j = JSON.parse(rp.out) as { status: string; invariant: string; matchesExpect: boolean };
      expect([j.status, j.invariant, j.matchesExpect]).toEqual(['violated', f.invariant, true]);
    }
    // The re-run command reproduces the campaign's run from its derived seed: exit 1, the same violation.
    const rerun = dtsim([...f.rerun.replace(/^dtsim /, '').split(' ').map((a) => a.replace(/^(\w+=)"(.*)"$/, '$1$2')), '--json']);
    expect(rerun.code, rerun.err).toBe(1);
    const rj = JSON.parse(rerun.out) as { invariant: string; eventIndex: number };
    expect([rj.invariant, rj.eventIndex]).toEqual([f.invariant, f.eventIndex]);
  });

  it('a merge lists the failures every shard saved (text and --json), not only the first', () => {
    const results = mkdtempSync(join(tmpdir(), 'dtsim-check-shards-'));
    const saved = mkdtempSync(join(tmpdir(), 'dtsim-check-shard-failures-'));
    for (const i of [0, 1]) {
      const r = dtsim([...buggy, '--runs', '4', '--shard', `${i}/2`, '--out-dir', saved]);
      expect(r.code, r.err).toBe(1);
      expect((JSON.parse(r.out) as { failures: Saved[] }).failures).toHaveLength(1);
      writeFileSync(join(results, `shard-${i}.json`), r.out);
    }
    const files = readdirSync(saved).length;
    const mj = dtsim(['check', '--merge', results, '--json', '--out-dir', saved]);
    expect(mj.code, mj.err).toBe(1);
    const fs = (JSON.parse(mj.out) as { failures: Saved[] }).failures;
    expect(fs.map((f) => f.runIndex)).toEqual([0, 1]);  // shard 0 runs 0, 2; shard 1 runs 1, 3: each saved its first
    for (const f of fs) expect(existsSync(f.trace) && existsSync(f.shrunk!.trace)).toBe(true);
    const mt = dtsim(['check', '--merge', results, '--out-dir', saved]);
    expect(mt.code, mt.err).toBe(1);
    for (const f of fs) expect(mt.out).toContain(`  trace: ${f.trace}\n`);
    expect(mt.out.match(/^VIOLATION /gm)).toHaveLength(2);
    expect(readdirSync(saved).length, 'the merge lists the shards\' files; it saves nothing again').toBe(files);
  });
});

describe('dtsim check --merge: a folder that holds saved traces next to the shard results', () => {
  const buggy = ['check', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--seed', 'merge-folder', '--events', '120', '--workers', '1', '--json'];
  const oneLine = (r: { code: number; err: string }): void => {
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  };

  it('shards whose --out-dir is the merge folder: the saved traces are skipped and counted, text and --json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-merge-shared-'));
    for (const i of [0, 1]) {
      const r = dtsim([...buggy, '--runs', '4', '--shard', `${i}/2`, '--out-dir', dir]);
      expect(r.code, r.err).toBe(1);
      writeFileSync(join(dir, `shard-${i}.json`), r.out);
    }
    const traces = readdirSync(dir).filter((n) => !n.startsWith('shard-'));
    expect(traces.length).toBe(4);  // each shard: its failing run and the shrunk one
    const mj = dtsim(['check', '--merge', dir, '--json']);
    expect(mj.code, mj.err).toBe(1);
    const doc = JSON.parse(mj.out) as { skippedTraces: number; failures: { runIndex: number; trace: string }[]; results: Res[] };
    expect(doc.skippedTraces).toBe(4);
    expect(doc.failures.map((f) => f.runIndex)).toEqual([0, 1]);
    expect(doc.results.map((r) => r.runs)).toEqual([8]);
    const mt = dtsim(['check', '--merge', dir]);
    expect(mt.code, mt.err).toBe(1);
    expect(mt.out).toMatch(/^dtsim check --merge .*; skipped 4 saved traces \(not shard results\)$/m);
    expect(readdirSync(dir).length, 'the merge saves nothing again').toBe(traces.length + 2);
  });

  it('a merge of older shards (no `failures`) saving into the merge folder works, and so does the next merge of that folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-merge-old-'));
    const scratch = mkdtempSync(join(tmpdir(), 'dtsim-merge-old-scratch-'));
    for (const i of [0, 1]) {
      const r = dtsim([...buggy, '--runs', '2', '--shard', `${i}/2`, '--out-dir', scratch]);
      expect(r.code, r.err).toBe(1);
      const d = JSON.parse(r.out) as { failures?: unknown };
      delete d.failures;  // as an older dtsim wrote it
      writeFileSync(join(dir, `shard-${i}.json`), JSON.stringify(d));
    }
    const first = dtsim(['check', '--merge', dir, '--json', '--out-dir', dir]);
    expect(first.code, first.err).toBe(1);
    const f1 = JSON.parse(first.out) as { skippedTraces: number; failures: { trace: string }[] };
    expect(f1.skippedTraces).toBe(0);
    expect(f1.failures).toHaveLength(1);
    expect(f1.failures[0]!.trace.startsWith(dir)).toBe(true);
    expect(existsSync(f1.failures[0]!.trace)).toBe(true);
    const again = dtsim(['check', '--merge', dir, '--json', '--out-dir', scratch]);
    expect(again.code, again.err).toBe(1);
    expect((JSON.parse(again.out) as { skippedTraces: number }).skippedTraces).toBe(readdirSync(dir).length - 2);
  });

  it('any other JSON that is not a check result is still an error naming the file and field (exit 2, one line)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-merge-other-'));
    const r = dtsim([...buggy, '--runs', '1', '--out-dir', dir]);
    expect(r.code, r.err).toBe(1);
    writeFileSync(join(dir, 'shard-0.json'), r.out);
    writeFileSync(join(dir, 'zz-notes.json'), JSON.stringify({ command: 'explore', seed: 'x' }));
    const m = dtsim(['check', '--merge', dir]);
    oneLine(m);
    expect(m.err).toContain(`${join(dir, 'zz-notes.json')}: command: not a \`dtsim check --json\` result`);
    // A folder of saved traces only: no shard results, said as such.
    const only = mkdtempSync(join(tmpdir(), 'dtsim-merge-only-traces-'));
    expect(dtsim([...buggy, '--runs', '1', '--out-dir', only]).code).toBe(1);
    const o = dtsim(['check', '--merge', only]);
    oneLine(o);
    expect(o.err).toMatch(/no \.json shard results in this folder \(only 2 saved trace\(s\)\)/);
  });

  it('a shard result with a missing or hostile field is bad input naming the file and field (was exit 3 with a stack)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-merge-hostile-'));
    const r = dtsim([...buggy, '--runs', '1', '--out-dir', join(dir, 'saved')]);
    const doc = JSON.parse(r.out) as { results: { coverage?: unknown; metrics: unknown }[] };
    delete doc.results[0]!.coverage;
    writeFileSync(join(dir, 'shard-0.json'), JSON.stringify(doc));
    const m = dtsim(['check', '--merge', dir]);
    oneLine(m);
    expect(m.err).toContain(`${join(dir, 'shard-0.json')}: results[0].coverage: must be an object`);
    writeFileSync(join(dir, 'shard-0.json'), r.out.replace('"metrics":{', '"metrics":{"constructor":"x",'));
    const p = dtsim(['check', '--merge', dir]);
    oneLine(p);
    expect(p.err).toContain('results[0].metrics.constructor: must be a finite non-negative number');
  });
});

describe('dtsim check --merge: every shard once (a shard result records its --shard i/n)', () => {
  const base = ['check', '--model', 'dirty-bitmap', '--seed', 'shard-index', '--events', '60', '--runs', '1', '--workers', '1', '--json'];
  /** Runs the given shards of n into a fresh folder (shard-<i>.json) and returns it. */
  const shardsDir = (n: number, which: number[], edit: (d: Record<string, unknown>) => void = () => undefined): string => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-shard-index-'));
    for (const i of which) {
      const r = dtsim([...base, '--shard', `${i}/${n}`]);
      expect(r.code, r.err).toBe(0);
      const d = JSON.parse(r.out) as Record<string, unknown>;
      expect(d['shard']).toEqual({ index: i, count: n });
      edit(d);
      writeFileSync(join(dir, `shard-${i}.json`), JSON.stringify(d));
    }
    return dir;
  };
  const oneLine = (r: { code: number; err: string }): void => {
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  };

  it('an unsharded --json run records shard 0 of 1', () => {
    const r = dtsim(base);
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { shard: unknown }).shard).toEqual({ index: 0, count: 1 });
  });

  it('the same shard file twice in the folder is refused (exit 2, one line naming both files), not summed twice', () => {
    const dir = shardsDir(2, [0, 1]);
    copyFileSync(join(dir, 'shard-0.json'), join(dir, 'shard-0 (1).json'));
    for (const args of [['check', '--merge', dir], ['check', '--merge', dir, '--json']]) {
      const m = dtsim(args);
      oneLine(m);
      expect(m.err).toContain(join(dir, 'shard-0.json'));
      expect(m.err).toContain(join(dir, 'shard-0 (1).json'));
      expect(m.err).toContain('shard.index: shard 0/2');
      expect(m.out).toBe('');
    }
  });

  it('shards of different counts are refused (exit 2, one line)', () => {
    const dir = shardsDir(2, [0, 1]);
    const r = dtsim([...base, '--shard', '2/3']);
    writeFileSync(join(dir, 'shard-2-of-3.json'), r.out);
    const m = dtsim(['check', '--merge', dir]);
    oneLine(m);
    expect(m.err).toContain(`shard-2-of-3.json: shard.count: 3 shards, but ${join(dir, 'shard-0.json')} is one of 2`);
  });

  it('missing shards: "NOT complete: shards 1, 3 of 4 missing", exit 4, --json shards and complete: false', () => {
    const dir = shardsDir(4, [0, 2]);
    const t = dtsim(['check', '--merge', dir]);
    expect(t.code, t.err).toBe(4);
    expect(t.out).toMatch(/^NOT complete: shards 1, 3 of 4 missing/m);
    expect(t.out).toMatch(/^all 7 designs hold every invariant in the shards present \(2 of 4\)/m);
    const j = dtsim(['check', '--merge', dir, '--json']);
    expect(j.code, j.err).toBe(4);
    const doc = JSON.parse(j.out) as { complete: boolean; shards: unknown; results: { runs: number }[] };
    expect(doc.complete).toBe(false);
    expect(doc.shards).toEqual({ count: 4, present: [0, 2], missing: [1, 3], unchecked: 0 });
    expect(doc.results.every((r) => r.runs === 2)).toBe(true);
  });

  it('a violation in the shards present wins over missing shards (exit 1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-shard-violation-'));
    const r = dtsim(['check', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--seed', 'shard-index', '--events', '120', '--runs', '2', '--workers', '1',
      '--json', '--shard', '0/3', '--out-dir', join(dir, 'saved')]);
    expect(r.code, r.err).toBe(1);
    writeFileSync(join(dir, 'shard-0.json'), r.out);
    const j = dtsim(['check', '--merge', dir, '--json', '--out-dir', join(dir, 'saved')]);
    expect(j.code, j.err).toBe(1);
    const doc = JSON.parse(j.out) as { complete: boolean; shards: { missing: number[] } };
    expect([doc.complete, doc.shards.missing]).toEqual([false, [1, 2]]);
    const t = dtsim(['check', '--merge', dir, '--out-dir', join(dir, 'saved')]);
    expect(t.code, t.err).toBe(1);
    expect(t.out).toMatch(/^NOT complete: shards 1, 2 of 3 missing/m);
  });

  it('a complete merge says so: exit 0, complete: true, every shard present', () => {
    const dir = shardsDir(2, [0, 1]);
    const j = dtsim(['check', '--merge', dir, '--json']);
    expect(j.code, j.err).toBe(0);
    const doc = JSON.parse(j.out) as { complete: boolean; shards: unknown };
    expect(doc.complete).toBe(true);
    expect(doc.shards).toEqual({ count: 2, present: [0, 1], missing: [], unchecked: 0 });
    const t = dtsim(['check', '--merge', dir]);
    expect(t.code, t.err).toBe(0);
    expect(t.out).not.toContain('NOT complete');
    expect(t.out).not.toContain('could not be checked');
  });

  it('shard files written before the field (no `shard`) are merged as before; the output says their indices could not be checked', () => {
    const dir = shardsDir(2, [0, 1], (d) => { delete d['shard']; });
    const j = dtsim(['check', '--merge', dir, '--json']);
    expect(j.code, j.err).toBe(0);
    const doc = JSON.parse(j.out) as { complete: boolean; shards: unknown; results: { runs: number }[] };
    expect(doc.complete).toBe(true);
    expect(doc.shards).toEqual({ count: null, present: [], missing: [], unchecked: 2 });
    expect(doc.results.every((r) => r.runs === 2)).toBe(true);
    const t = dtsim(['check', '--merge', dir]);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/^shard indices of 2 files could not be checked/m);
  });

  it('a hostile shard field is bad input naming the field (exit 2, one line)', () => {
    for (const [shard, field] of [[{ index: 2, count: 2 }, 'shard.index'], [{ index: 0, count: 0 }, 'shard.count'], ['0/2', 'shard'],
      [{ index: -1, count: 2 }, 'shard.index']] as const) {
      const dir = shardsDir(2, [0], (d) => { d['shard'] = shard; });
      const m = dtsim(['check', '--merge', dir]);
      oneLine(m);
      expect(m.err).toContain(`shard-0.json: ${field}: `);
    }
  });
});
