/**
 * Goal: `dtsim explore` and `dtsim compare` keep their command-line contract: exit 1 with a saved shortest
 * counterexample that `dtsim replay` reproduces (exit 0), exit 0 with `exhausted` for a correct design, exit 4
 * (inconclusive, "NOT exhausted: stopped by the ... limit") when a limit stopped the search (a violation wins),
 * exit 0 and "bounded" for the depth bound asked for, exit 2 with one line on bad input, never overwriting a
 * trace; compare writes a self-contained page.
 * Method: the real CLI (`node bin/dtsim.js`) on small configurations.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { SEED } from './support/seed.ts';
import { dirtyBitmap } from '../models/dirty-bitmap/index.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const dtsim = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { encoding: 'utf8' });
const dtsimIn = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { encoding: 'utf8', cwd });

const dirtyBitmapMatrix = dirtyBitmap.preset.matrix;

describe(`explore and compare CLI (seed ${SEED})`, () => {
  it('explore: violation -> exit 1, trace saved, replay reproduces it; correct design -> exit 0 exhausted; bad input -> 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-explore-'));
    try {
      const file = join(dir, 'cx.json');
      const r = dtsim('explore', '--model', 'dirty-bitmap', '--bug', 'host-write-unmarked', '--json', '--out', file);
      expect(r.status, r.stderr).toBe(1);
      const j = JSON.parse(r.stdout) as { status: string; violation: { invariant: string; events: number }; trace: string };
      expect(j.status).toBe('violated');
      expect(j.violation.invariant).toBe('INV-NOLOSS');
      expect(j.trace).toBe(file);
      const rp = dtsim('replay', file, '--json');
      expect(rp.status, rp.stdout + rp.stderr).toBe(0);
      expect(JSON.parse(rp.stdout)).toMatchObject({ status: 'violated', invariant: 'INV-NOLOSS', eventIndex: j.violation.events - 1, matchesExpect: true });
      const again = dtsim('explore', '--model', 'dirty-bitmap', '--bug', 'host-write-unmarked', '--out', file);
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/exists; pass --force/);
      const ok = dtsim('explore', '--model', 'dirty-bitmap', '--pages', '2', '--depth', '200', '--json');
      expect(ok.status, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'exhausted', verdict: 'ok', complete: true, exhaustive: true, incompleteReason: null, violation: null });
      for (const bad of [['--model', 'nope'], ['--model', 'dirty-bitmap', '--depth', 'x'], ['--model', 'dirty-bitmap', '--bug', 'nope'],
        ['--model', 'dirty-bitmap', '--invariant', 'INV-NOPE']]) {
        const b = dtsim('explore', ...bad);
        expect(b.status).toBe(2);
        expect(b.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explore: the saved trace\'s note is a command line that finds it again: --option for each non-default option (not the knob\'s own)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-explore-note-'));
    try {
      // kvmTlbi=events changes the design; hd=true is the default; wp-before-harvest brings producer=dbm and
      // manualProtect=true itself (its knob options), so only kvmTlbi is named.
      const a = join(dir, 'a.json');
      const r = dtsim('explore', '--model', 'hdbss', '--bug', 'vtcr-switch-no-tlbi', '--option', 'kvmTlbi=events', '--option', 'hd=true', '--out', a);
      expect(r.status, r.stderr).toBe(1);
      const t = JSON.parse(readFileSync(a, 'utf8')) as { note: string; design: { options: { kvmTlbi: string } }; events: unknown[] };
      expect(t.design.options.kvmTlbi).toBe('events');
      const m = /^shortest counterexample found by: dtsim (explore .*) --config '(.*)'$/.exec(t.note);
      expect(m, t.note).not.toBeNull();
      expect(m![1]).toBe('explore --model hdbss --bug vtcr-switch-no-tlbi --option kvmTlbi=events --depth 60');
      const b = join(dir, 'b.json');
      const again = dtsim(...m![1]!.split(' '), '--config', m![2]!, '--out', b);
      expect(again.status, again.stderr).toBe(1);
      expect(JSON.parse(readFileSync(b, 'utf8'))).toEqual(t);
      // A knob's own options are not named (wp-before-harvest: producer=dbm); a number is bare (ringEntries=4 reads
      // back as the number 4). The reach query's path trace carries the same line.
      const k = join(dir, 'k.json');
      const wp = dtsim('explore', '--model', 'hdbss', '--bug', 'wp-before-harvest', '--option', 'kvmTlbi=events', '--option', 'producer=dbm',
        '--option', 'ringEntries=4', '--depth', '3', '--reach', 'vmm.slotsEnabled == 1', '--out', k);
      expect(wp.status, wp.stderr).toBe(0);
      const note = (JSON.parse(readFileSync(k, 'utf8')) as { note: string }).note;
      expect(note).toContain(' found by: dtsim explore --model hdbss --bug wp-before-harvest --option ringEntries=4 --option kvmTlbi=events --depth 3 --config ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explore --matrix: every correct design of the option matrix, one row each; exit 0 when none is violated', () => {
    const r = dtsim('explore', '--matrix', '--model', 'dirty-bitmap', '--pages', '2', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { rows: { options: unknown; status: string; violation: string | null }[]; exhausted: number; violations: number };
    expect(j.rows.map((x) => x.options)).toEqual(dirtyBitmapMatrix);
    expect(j.rows.every((x) => x.status === 'exhausted' && x.violation === null)).toBe(true);
    expect([j.exhausted, j.violations]).toEqual([dirtyBitmapMatrix.length, 0]);
    const b = dtsim('explore', '--matrix', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--matrix explores the correct designs.*--bug does not apply/);
  });

  it('explore --proof: each correct design at its documented configuration; exit 0 only when every one is exhausted', () => {
    const r = dtsim('explore', '--proof', '--model', 'dirty-bitmap', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { proof: boolean; rows: { options: unknown; pes: number; status: string }[]; exhausted: number; notExhausted: number };
    expect(j.proof).toBe(true);
    // Two tiers: 1 PE, then 2 PEs.
    expect(j.rows.map((x) => x.options)).toEqual([...dirtyBitmapMatrix, ...dirtyBitmapMatrix]);
    expect(j.rows.map((x) => x.pes)).toEqual([...dirtyBitmapMatrix.map(() => 1), ...dirtyBitmapMatrix.map(() => 2)]);
    expect([j.exhausted, j.notExhausted]).toEqual([2 * dirtyBitmapMatrix.length, 0]);
    // The proof is inconclusive when a design is left open (here: a state limit far below the space): exit 4, said so.
    const cut = dtsim('explore', '--proof', '--model', 'pta', '--max-states', '1000');
    expect(cut.status, cut.stderr).toBe(4);
    expect(cut.stdout).toContain('NOT exhausted (stateLimit)');
    expect(cut.stdout).toMatch(/NOT exhausted: stopped by the state limit after 1,000 states at depth \d+ \(raise --max-states/);
    expect(cut.stdout).toContain('narrowed to deviceRecords=2');
    expect(cut.stdout).toContain('proof NOT complete: inconclusive');
    // ... and so is a proof cut by the depth bound: only exhaustion proves (exit 4, rows complete: false).
    const shallow = dtsim('explore', '--proof', '--model', 'dirty-bitmap', '--depth', '3', '--json');
    expect(shallow.status, shallow.stderr).toBe(4);
    const sj = JSON.parse(shallow.stdout) as { verdict: string; complete: boolean; rows: { status: string; verdict: string; complete: boolean; incompleteReason: string }[] };
    expect([sj.verdict, sj.complete]).toEqual(['inconclusive', false]);
    expect(sj.rows.every((x) => x.status === 'depthBound' && x.verdict === 'inconclusive' && !x.complete && x.incompleteReason === 'depthBound')).toBe(true);
    for (const bad of [['--pages', '3'], ['--bug', 'missing-tlbi'], ['--config', '{}']]) {
      const b = dtsim('explore', '--proof', '--model', 'dirty-bitmap', ...bad);
      expect(b.status).toBe(2);
      expect(b.stderr.trim().split('\n')).toHaveLength(1);
      expect(b.stderr).toMatch(/--proof explores/);
    }
  });

  it('explore --proof --tier 2: two vCPUs on two PEs with stolen time and the ITS save; check\'s coverage table; --tier only with --proof', () => {
    // Tier 2 cut by a state limit: every row NOT exhausted, the proof NOT complete (exit 4), never claimed.
    const cut = dtsim('explore', '--proof', '--tier', '2', '--model', 'dirty-bitmap', '--max-states', '2000', '--json');
    expect(cut.status, cut.stderr).toBe(4);
    const j = JSON.parse(cut.stdout) as { tier: number; verdict: string; complete: boolean; notExhausted: number;
      rows: { options: unknown; config: { vcpus: number; pes: number; stolenTime: boolean; itsPages: number[]; slots: { npages: number }[] }; status: string;
        coverage: { [id: string]: number | null } }[] };
    expect([j.tier, j.verdict, j.complete, j.notExhausted]).toEqual([2, 'inconclusive', false, dirtyBitmapMatrix.length]);
    expect(j.rows.map((x) => x.options)).toEqual(dirtyBitmapMatrix);
    for (const x of j.rows) {
      expect([x.config.vcpus, x.config.pes, x.config.stolenTime, x.config.itsPages.length > 0, x.config.slots[0]!.npages >= 2]).toEqual([2, 2, true, true, true]);
      expect(x.status).toBe('stateLimit');
      // The coverage of what was explored: every situation of check for the design, reached (a depth) or not (null).
      // The varied VMM's row (option clearCalls, issue 18) adds its three CLEAR situations.
      // The kvmTlbi 'events' rows (issue 16) add the window in which a KVM path still owes its TLBI.
      const o = x.options as { clearCalls?: string; kvmTlbi?: string };
      const varied = o.clearCalls === 'varied' ? ['clear-ignored-bits', 'clear-refused', 'clear-unset-bits'] : [];
      const tlbi = o.kvmTlbi === 'events' ? ['kvm-tlbi-window'] : [];
      expect(Object.keys(x.coverage).sort()).toEqual([...varied, 'collection', 'host-write-no-vcpu', ...tlbi, 'stale-tlb-store', 'vcpu-migrated', 'write-fault']);
      expect(x.coverage['vcpu-migrated']).toBeGreaterThan(0);
    }
    const text = dtsim('explore', '--proof', '--tier', '2', '--model', 'dirty-bitmap', '--max-states', '2000');
    expect(text.status, text.stderr).toBe(4);
    expect(text.stdout).toContain('tier 2: every correct design of the check matrix with 2 vCPUs racing on 2 PEs');
    expect(text.stdout).toContain('dirty-bitmap, 2 vCPUs x 2 PEs:');
    expect(text.stdout).toMatch(/^coverage +write-fault +stale-tlb-store +vcpu-migrated +host-write-no-vcpu +collection +clear-refused +clear-unset-bits +kvm-tlbi-window +clear-ignored-bits$/m);
    expect(text.stdout).toContain('proof NOT complete: inconclusive (tier 2)');
    // Tier 1 (the default) prints the table too; its 1-PE rows cannot move a vCPU, its 2-PE rows do: no gap for the design.
    const t1 = dtsim('explore', '--proof', '--model', 'dirty-bitmap');
    expect(t1.status, t1.stderr).toBe(0);
    expect(t1.stdout).toMatch(/^dirty-bitmap \{\} +\d+ +\d+ +GAP +\d+ +\d+( +\.){4}$/m); // '.': the varied VMM's and kvmTlbi's situations, not this design's
    expect(t1.stdout).toMatch(/^dirty-bitmap \{\} 2 PEs +\d+ +\d+ +\d+ +\d+ +\d+( +\.){4}$/m);
    expect(t1.stdout).not.toContain('not reached by any configuration');
    expect(t1.stdout).toContain('proof complete: no reachable state of any design violates an invariant at its documented configuration (tier 1)');
    // --matrix prints each row's gaps.
    const mx = dtsim('explore', '--matrix', '--model', 'dirty-bitmap', '--pages', '2', '--depth', '12');
    expect(mx.stdout).toMatch(/not reached by the exploration: dirty-bitmap \{\}: vcpu-migrated/);
    for (const bad of [['--proof', '--tier', '3'], ['--proof', '--tier', 'x'], ['--matrix', '--tier', '2'], ['--tier', '2']]) {
      const b = dtsim('explore', '--model', 'dirty-bitmap', ...bad);
      expect(b.status, bad.join(' ')).toBe(2);
      expect(b.stderr.trim().split('\n')).toHaveLength(1);
      expect(b.stderr).toMatch(/--tier/);
    }
  });

  it('explore: a state, time or memory limit that stops the search is inconclusive (exit 4); the depth bound asked for is exit 0, bounded', () => {
    const cut = dtsim('explore', '--model', 'dirty-bitmap', '--max-states', '50');
    expect(cut.status, cut.stderr).toBe(4);
    expect(cut.stdout).toMatch(/^NOT exhausted: stopped by the state limit after 50 states at depth \d+ \(raise --max-states, or lower --depth\): inconclusive$/m);
    const cj = dtsim('explore', '--model', 'dirty-bitmap', '--max-states', '50', '--json');
    expect(cj.status, cj.stderr).toBe(4);
    expect(JSON.parse(cj.stdout)).toMatchObject({ status: 'stateLimit', verdict: 'inconclusive', complete: false, exhaustive: false, incompleteReason: 'stateLimit', distinct: 50 });
    // The time limit (the dirty-ring default configuration is far beyond a second; no time is asserted).
    const slow = dtsim('explore', '--model', 'dirty-ring', '--time-limit', '1', '--json');
    expect(slow.status, slow.stderr).toBe(4);
    expect(JSON.parse(slow.stdout)).toMatchObject({ status: 'timeLimit', verdict: 'inconclusive', complete: false, incompleteReason: 'timeLimit' });
    // The depth bound the user asked for: a complete answer to the bounded question, not a proof for deeper runs.
    const bounded = dtsim('explore', '--model', 'dirty-bitmap', '--depth', '3');
    expect(bounded.status, bounded.stderr).toBe(0);
    expect(bounded.stdout).toContain('bounded: states remain beyond depth 3; this is NOT a proof for deeper runs');
    expect(bounded.stdout).not.toContain('NOT exhausted: stopped');
    const bj = dtsim('explore', '--model', 'dirty-bitmap', '--depth', '3', '--json');
    expect(bj.status, bj.stderr).toBe(0);
    expect(JSON.parse(bj.stdout)).toMatchObject({ status: 'depthBound', verdict: 'ok', complete: false, exhaustive: false, incompleteReason: 'depthBound' });
    // --matrix: any row stopped by a limit and none violated: exit 4, rows say why; bounded rows alone: exit 0.
    const m = dtsim('explore', '--matrix', '--model', 'dirty-bitmap', '--pages', '2', '--max-states', '50', '--workers', '1', '--json');
    expect(m.status, m.stderr).toBe(4);
    const mj = JSON.parse(m.stdout) as { verdict: string; complete: boolean; stoppedByLimit: number; rows: { complete: boolean; incompleteReason: string | null }[] };
    expect([mj.verdict, mj.complete, mj.stoppedByLimit]).toEqual(['inconclusive', false, dirtyBitmapMatrix.length]);
    expect(mj.rows.map((x) => [x.complete, x.incompleteReason])).toEqual(dirtyBitmapMatrix.map(() => [false, 'stateLimit']));
    const mt = dtsim('explore', '--matrix', '--model', 'dirty-bitmap', '--pages', '2', '--max-states', '50', '--workers', '1');
    expect(mt.status).toBe(4);
    expect(mt.stdout).toContain(`inconclusive: ${dirtyBitmapMatrix.length} design(s) NOT exhausted, stopped by a limit`);
    const mb = dtsim('explore', '--matrix', '--model', 'dirty-bitmap', '--pages', '2', '--depth', '3', '--workers', '1');
    expect(mb.status, mb.stderr).toBe(0);
    expect(mb.stdout).toContain('bounded: states remain beyond depth 3; this is NOT a proof for deeper runs');
  });

  it('explore --matrix at 2 MiB blocks: the hdbss ring consumer no longer overflows its ring (finding F-B1 fixed): no row violated, none saved', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-matrix-'));
    try {
      // Until F-B1 (docs/mutation.md) this configuration's two ring rows violated INV-RING-BOUND after 9 events (a
      // block's one HDBSS entry drained as 512 ring pushes) and saved their counterexamples; with the ring consumer
      // the enable now leaves blocks without DBM, so every row is stopped by the state limit and none violated.
      // (The old behaviour is the knob hdbss-ring-block-dbm: properties/explore.bfs.test.ts, INV-BLOCK in 10.)
      const config = '{"blocks":true,"slots":[{"base":0,"npages":515}],"storePages":[0,1,5,511,512,514],"itsPages":[513]}';
      const r = dtsimIn(dir, 'explore', '--matrix', '--model', 'hdbss', '--config', config, '--depth', '10', '--max-states', '6000', '--json');
      expect(r.status, r.stderr).toBe(4);
      const j = JSON.parse(r.stdout) as { rows: { options: { consumer?: string }; status: string; violation: string | null; trace: string | null }[]; violations: number };
      expect(j.rows.filter((x) => x.options.consumer === 'ring').length).toBe(2);
      expect(j.violations).toBe(0);
      expect(j.rows.length).toBeGreaterThanOrEqual(8);
      expect(j.rows.map((x) => [x.status, x.violation, x.trace])).toEqual(j.rows.map(() => ['stateLimit', null, null]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explore --matrix/--proof --workers N: the same rows, in the same order, and the same saved traces whatever N', () => {
    const dirs = [1, 2].map(() => mkdtempSync(join(tmpdir(), 'dtsim-workers-')));
    try {
      // hdbss's matrix at the block configuration: every design stopped by the state limit (two were violated, and
      // saved their traces, until finding F-B1 was fixed: no correct design's matrix row is violated any more).
      const config = '{"blocks":true,"slots":[{"base":0,"npages":515}],"storePages":[0,1,5,511,512,514],"itsPages":[513]}';
      const runs = [1, 2].map((w, i) => dtsimIn(dirs[i]!, 'explore', '--matrix', '--model', 'hdbss', '--config', config, '--depth', '10',
        '--max-states', '6000', '--workers', String(w), '--json'));
      type Row = { seconds?: number; trace: string | null; status: string };
      const rows = runs.map((r, i) => {
        expect(r.status, r.stderr).toBe(4);
        const j = JSON.parse(r.stdout) as { rows: Row[]; workers: number };
        expect(j.workers).toBe(i + 1);
        return j.rows;
      });
      const strip = (rs: Row[]): unknown => rs.map(({ seconds: _s, trace, ...rest }) => ({ ...rest, trace: trace === null ? null : 'saved' }));
      expect(strip(rows[1]!)).toEqual(strip(rows[0]!));
      const traces = rows.map((rs, i) => rs.filter((x) => x.trace !== null).map((x) => readFileSync(join(dirs[i]!, x.trace!), 'utf8')));
      expect(traces[0]!.length).toBe(0);
      expect(traces[1]).toEqual(traces[0]);
      // The text form says how many workers ran; a bad count, or --workers without --matrix/--proof, is bad input.
      const text = dtsim('explore', '--proof', '--model', 'dirty-bitmap', '--workers', '2');
      expect(text.status, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/workers=2 \(designs explored in parallel/);
      for (const bad of [['--proof', '--workers', '0'], ['--matrix', '--workers', 'x'], ['--model', 'dirty-bitmap', '--workers', '2']]) {
        const b = dtsim('explore', ...bad);
        expect(b.status).toBe(2);
        expect(b.stderr.trim().split('\n')).toHaveLength(1);
        expect(b.stdout).toBe('');
      }
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it('a reader that goes away early (dtsim ... | head) stops dtsim quietly: exit 141, no stack trace', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/dtsim.js'), 'explore', '--proof', '--model', 'dirty-bitmap'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Read the header line, then close the pipe as `head -1` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });

  it('compare: tables for each design and one self-contained HTML page', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-compare-'));
    try {
      const html = join(dir, 'c.html');
      const r = dtsim('compare', '--model', 'dirty-bitmap,dirty-ring', '--pages', '64', '--vcpus', '1', '--runs', '1', '--events', '120',
        '--seed', 'cli', '--html', html);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('dirty-bitmap (');
      expect(r.stdout).toContain('dirty-ring (');
      expect(r.stdout).toContain('harvest work');
      expect(existsSync(html)).toBe(true);
      const page = readFileSync(html, 'utf8');
      expect(page).toContain('<svg');
      expect(page).not.toMatch(/<script|src=|href=/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
