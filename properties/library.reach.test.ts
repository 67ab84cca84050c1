/**
 * Goal: `explore` answers a user's reachability query. From the library, `explore(model, design, config,
 * { reach })` returns a shortest path to a state satisfying a predicate (status `reached`), which replays clean
 * to such a state; a predicate no state satisfies gives `exhausted` with no path. From the CLI, `dtsim explore
 * --reach EXPR` (the expression language of src/explore/reach-expr.ts over the state's JSON) and
 * `--reach-module FILE` exit 0 and save the path as a trace with expect ok; a complete search that never
 * reaches it exits 5 (bounded by --depth: says so); a misspelled field or a syntax error exits 2 with one line.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explore, parseReach, replay } from '../src/index.ts';
import { EXIT } from '../src/cli/main.ts';
import { reachExit } from '../src/cli/verdict.ts';
import { dirtyBitmap } from '../models/index.ts';

const SMALL = { vcpus: 1, pes: 1, slots: [{ base: 0, npages: 2 }], blocks: false, tlbEntries: 1, stolenTime: true, itsPages: [1], rounds: 1, storePages: [] };
const config = (() => { const c = dirtyBitmap.parseConfig(SMALL); if (!c.ok) throw new Error('config'); return c.config; })();

function dtsim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8', env: { ...process.env, DTSIM_SEED: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('explore with a reach predicate (library)', () => {
  const design = dirtyBitmap.design();
  it('returns a shortest path to a state satisfying it, which replays clean to such a state', () => {
    const p = parseReach('vmm.phase == "done"');
    const r = explore(dirtyBitmap, design, config, { maxDepth: 60, reach: (s) => p.test(s), encoding: 'generic' });
    expect(r.status).toBe('reached');
    expect(r.violation).toBeNull();
    const path = r.reached!;
    expect(path.events.length).toBeGreaterThan(0);
    const again = replay(dirtyBitmap, design, config, path.events);
    expect(again.status).toBe('ok');
    expect(again.state.vmm.phase).toBe('done');
    // Shortest: no state at a smaller depth satisfies it (a search bounded one event shorter does not reach it).
    const shorter = explore(dirtyBitmap, design, config, { maxDepth: path.events.length - 1, reach: (s) => p.test(s), encoding: 'generic' });
    expect(shorter.status).toBe('depthBound');
    expect(shorter.reached).toBeNull();
  });
  it('a predicate of the initial state is reached by the empty path; one never true exhausts the space with no path', () => {
    expect(explore(dirtyBitmap, design, config, { maxDepth: 5, reach: (s) => s.vmm.round === 0 }).reached?.events).toEqual([]);
    const never = explore(dirtyBitmap, design, config, { maxDepth: 200, reach: (s) => s.vmm.round > s.config.rounds + 1 });
    expect(never.status).toBe('exhausted');
    expect(never.reached).toBeNull();
    expect(never.message).toContain('no reachable state satisfies the predicate');
  });
  it('the expression language: paths, literals, comparisons, boolean operators; errors with a column', () => {
    const st = { a: { b: [1, 2, { c: 'x' }] }, f: false, n: null };
    const t = (e: string): boolean => parseReach(e).test(st);
    expect(t('a.b[2].c == "x" && a.b.length == 3')).toBe(true);
    expect(t('a.b[0] < a.b[1] && !(a.b[1] <= 1) && a.b[1] >= 2 && a.b[0] > 0')).toBe(true);
    expect(t('f || n == null')).toBe(true);
    expect(t('a.b == a.b && a != a.b')).toBe(true); // arrays and objects by canonical JSON
    expect(t('a.b[7] == 1 || a.zz == 1')).toBe(false); // missing: false, not an error, during the search
    expect(t('a.b[2] == a.b[2]')).toBe(true);
    expect(t('a.__proto__ == null')).toBe(false); // own properties only
    expect(() => parseReach('a.zz == 1').check(st)).toThrow(/'a.zz' is not a field/);
    expect(() => parseReach('a.b[0]').check(st)).toThrow(/expected a boolean/);
    expect(() => parseReach('a.b[0] == (1').test(st)).toThrow(/expected '\)'/);
    try { parseReach('a == 1 &&& f'); expect.unreachable(); } catch (e) { expect((e as { column: number }).column).toBe(10); }
  });
});

describe('dtsim explore --reach (CLI)', () => {
  const base = ['explore', '--model', 'dirty-bitmap', '--config', JSON.stringify(SMALL)];
  it('reached: exit 0, the path saved as a trace with expect ok and a note naming the query; it replays clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-reach-'));
    const out = join(dir, 'path.json');
    const r = dtsim([...base, '--reach', 'vmm.phase == "done" && vcpus[0].pe == 0', '--out', out]);
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.out).toMatch(/^reached: /m);
    const t = JSON.parse(readFileSync(out, 'utf8')) as { expect: { status: string }; note: string; events: unknown[] };
    expect(t.expect).toEqual({ status: 'ok' });
    expect(t.note).toContain('vmm.phase == "done" && vcpus[0].pe == 0');
    expect(t.events.length).toBeGreaterThan(0);
    const rp = dtsim(['replay', out]);
    expect(rp.code, rp.out + rp.err).toBe(0);
    expect(rp.out).toContain('matches the expect block');
    const j = dtsim([...base, '--reach', 'vmm.phase == "done"', '--json', '--out', join(dir, 'j.json')]);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out) as { status: string; verdict: string; reach: { query: string; result: string; bounded: boolean; events: number }; trace: string };
    expect(doc).toMatchObject({ status: 'reached', verdict: 'ok', reach: { query: 'vmm.phase == "done"', result: 'reached', bounded: false }, trace: join(dir, 'j.json') });
    expect(doc.reach.events).toBe((JSON.parse(readFileSync(join(dir, 'j.json'), 'utf8')) as { events: unknown[] }).events.length);
  });
  it('--reach-module: a predicate from an ES module', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-reach-mod-'));
    const mod = join(dir, 'pred.mjs');
    writeFileSync(mod, 'export default (s) => s.vmm.round >= 1;\n');
    const r = dtsim([...base, '--reach-module', mod, '--out', join(dir, 'p.json')]);
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(existsSync(join(dir, 'p.json'))).toBe(true);
    writeFileSync(join(dir, 'bad.mjs'), 'export const x = 1;\n');
    const bad = dtsim([...base, '--reach-module', join(dir, 'bad.mjs')]);
    expect(bad.code).toBe(EXIT.badInput);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
  });
  it('not reached in a complete search: exit 5 (EXIT.notReached); bounded by --depth says so; no file saved', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-reach-no-'));
    const r = dtsim([...base, '--reach', 'vmm.round > 3', '--encoding', 'auto', '--depth', '200', '--out', join(dir, 'x.json')]);
    expect(r.code, r.out + r.err).toBe(EXIT.notReached);
    expect(r.out).toMatch(/^unreachable: state space exhausted/m);
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
    const b = dtsim([...base, '--reach', 'vmm.phase == "done"', '--depth', '4']);
    expect(b.code).toBe(EXIT.notReached);
    expect(b.out).toContain('not reached within 4 events; bounded: states remain beyond depth 4; this is NOT a proof for deeper runs');
    expect([reachExit('reached'), reachExit('violated'), reachExit('inconclusive'), reachExit('unreachable')])
      .toEqual([EXIT.ok, EXIT.violation, EXIT.inconclusive, EXIT.notReached]);
  });
  it('a misspelled field or a syntax error: exit 2 with one line naming the column', () => {
    for (const [e, msg] of [['vmm.phse == "done"', /--reach: column 1: 'vmm.phse' is not a field of the state/], ['vmm.round >= (1', /--reach: column 16: expected '\)'/]] as const) {
      const r = dtsim([...base, '--reach', e]);
      expect(r.code).toBe(EXIT.badInput);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(dtsim([...base, '--reach', 'vmm.round == 1', '--symmetry']).code).toBe(EXIT.badInput);
    expect(dtsim(['explore', '--matrix', '--reach', 'vmm.round == 1']).code).toBe(EXIT.badInput);
  });
  it('exit 5 is documented in main.ts, dtsim help and the README', () => {
    expect(readFileSync('src/cli/main.ts', 'utf8')).toMatch(/\* 5 `explore --reach`/);
    expect(readFileSync('src/cli/help.ts', 'utf8')).toMatch(/5 explore --reach\/--reach-module only/);
    expect(readFileSync('README.md', 'utf8')).toMatch(/\| `5` \| only for `explore --reach`/);
  });
});
