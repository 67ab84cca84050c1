/**
 * `dtsim run` and `dtsim replay` at the CLI: a run saves a trace that replays to its own outcome (exit 0), a
 * violation exits 1 and prints the replay command, and bad input exits 2 with one line naming the field, with
 * no stack trace and no file overwritten.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function dtsim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('dtsim run / replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtsim-run-'));
  it('prints its seed and options, saves a trace that replays to itself', () => {
    const f = join(dir, 'ok.json');
    const r = dtsim(['run', '--model', 'dirty-bitmap', '--seed', 'r1', '--events', '80', '--out', f]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('seed=r1');
    expect(r.out).toContain('options=');
    expect(dtsim(['replay', f]).code).toBe(0);
  });
  it('a violation exits 1 and names the replay command; the trace replays to it', () => {
    const f = join(dir, 'bad.json');
    const r = dtsim(['run', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--seed', 'r2', '--out', f]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`replay with: npx dtsim replay ${f}`);
    const rp = dtsim(['replay', f, '--json']);
    expect(rp.code).toBe(0);
    expect(JSON.parse(rp.out).invariant).toBe('INV-FLUSH');
  });
  it('the saved trace\'s note is a run command that repeats it: non-default options and configuration named, defaults not', () => {
    const f = join(dir, 'note.json');
    const r = dtsim(['run', '--model', 'dirty-ring', '--bug', 'reset-no-tlb-flush', '--option', 'kvmTlbi=events', '--option', 'ringEntries=8',
      '--option', 'weakMemory=false', '--config', '{"tlbEntries":2}', '--seed', 'n1', '--events', '60', '--out', f]);
    expect(r.code, r.err).not.toBe(2);
    const t = JSON.parse(readFileSync(f, 'utf8')) as { note: string };
    const m = /^dtsim run --model dirty-ring --bug reset-no-tlb-flush --option ringEntries=8 --option kvmTlbi=events --seed n1 --events 60 --config '(.*)'$/.exec(t.note);
    expect(m, t.note).not.toBeNull();
    const g = join(dir, 'note-again.json');
    expect(dtsim([...t.note.replace(/ --config .*$/, '').split(' ').slice(1), '--config', m![1]!, '--out', g]).code).toBe(r.code);
    expect(JSON.parse(readFileSync(g, 'utf8'))).toEqual(t);
    // The default configuration and options: none named.
    const d = join(dir, 'note-plain.json');
    dtsim(['run', '--model', 'dirty-ring', '--seed', 'n2', '--events', '20', '--out', d]);
    expect((JSON.parse(readFileSync(d, 'utf8')) as { note: string }).note).toBe('dtsim run --model dirty-ring --seed n2 --events 20');
  });
  it('never overwrites an existing trace without --force', () => {
    const f = join(dir, 'keep.json');
    writeFileSync(f, 'precious');
    const r = dtsim(['run', '--model', 'dirty-bitmap', '--seed', 'r3', '--events', '10', '--out', f]);
    expect(r.code).toBe(2);
    expect(readFileSync(f, 'utf8')).toBe('precious');
  });
  it('rejects bad input with exit 2, one line, no stack', () => {
    const cases: [string[], RegExp][] = [
      [['run', '--model', 'nope'], /unknown model 'nope'/],
      [['run', '--model', 'dirty-bitmap', '--bug', 'nope'], /unknown bug 'nope'/],
      [['run', '--model', 'dirty-bitmap', '--option', 'manualProtect=3'], /options\.manualProtect/],
      [['run', '--model', 'dirty-bitmap', '--config', '{"vcpus": 99}'], /config\.vcpus/],
      [['run', '--model', 'dirty-bitmap', '--events', '-1'], /--events/],
      // The flags take the configuration's own bounds (LIMITS): 64 vCPUs/PEs, as --config and traces do.
      [['explore', '--model', 'dirty-bitmap', '--vcpus', '65'], /--vcpus: expected an integer in \[1, 64\], got '65'/],
      [['explore', '--model', 'dirty-bitmap', '--pes', '65'], /--pes: expected an integer in \[1, 64\], got '65'/],
      [['replay'], /exactly one trace file/],
      [['replay', join(dir, 'missing.json')], /no such file/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [args, msg] of cases) {
      const r = dtsim(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    }
  });
  it('explore --vcpus/--pes accept what a configuration may hold (past the old cap of 8), as --config does', () => {
    const r = dtsim(['explore', '--model', 'dirty-bitmap', '--vcpus', '9', '--pes', '9', '--depth', '2', '--json', '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/"vcpus": ?9/);
  });
});
