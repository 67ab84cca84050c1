/**
 * The failing-trace workflow end to end through the CLI (`node bin/dtsim.js`): bisect names the expect block's
 * event, shrink writes a shorter trace that replays to the same invariant, show prints a timeline and writes the
 * HTML and Perfetto files; usage errors exit 2 with one line.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { serializeTrace } from '../src/trace/format.ts';
import { SEED } from './support/seed.ts';
import { knobTraces, regressionTraces, type FailingTrace } from './support/failing-traces.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const dtsim = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { encoding: 'utf8' });

function sample(): FailingTrace {
  const t = regressionTraces().find((x) => x.trace.expect.status === 'violated' && x.trace.events.length > 20)
    ?? knobTraces().find((x) => x.trace.events.length > 20);
  if (!t) throw new Error('no failing trace');
  return t;
}

describe(`workflow CLI (seed ${SEED})`, () => {
  it('bisect, shrink, replay of the shrunk trace, show', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-wf-'));
    try {
      const t = sample();
      if (t.trace.expect.status !== 'violated') throw new Error('sample must fail');
      const file = join(dir, 'in.json');
      writeFileSync(file, serializeTrace(t.trace));
      const b = dtsim('bisect', file, '--json');
      expect(b.status, b.stderr).toBe(1);
      const bj = JSON.parse(b.stdout) as { eventIndex: number; invariant: string; matchesExpect: boolean; changes: string[] };
      expect([bj.eventIndex, bj.invariant, bj.matchesExpect]).toEqual([t.trace.expect.eventIndex, t.trace.expect.invariant, true]);
      expect(bj.changes.length).toBeGreaterThan(0);
      const bt = dtsim('bisect', file);
      expect(bt.stdout).toContain(`first violation: ${t.trace.expect.invariant} after event ${t.trace.expect.eventIndex}`);
      expect(bt.stdout).toContain('state change made by event');
      expect(bt.stdout).toContain('matches the expect block');

      const out = join(dir, 'small.json');
      const s = dtsim('shrink', file, '--out', out, '--max-tests', '3000');
      expect(s.status, s.stderr).toBe(0);
      const small = JSON.parse(readFileSync(out, 'utf8')) as { events: unknown[]; expect: { invariant: string; eventIndex: number } };
      expect(small.events.length).toBeLessThanOrEqual(t.trace.events.length);
      expect(small.expect.invariant).toBe(t.trace.expect.invariant);
      expect(small.expect.eventIndex).toBe(small.events.length - 1);
      const r = dtsim('replay', out);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('matches the expect block');

      const sh = dtsim('show', out, '--width', '120');
      expect(sh.status, sh.stderr).toBe(0);
      expect(sh.stdout).toMatch(new RegExp(`\\n\\s*${small.expect.eventIndex}X `));
      const html = join(dir, 'o.html');
      const pf = join(dir, 'o.perfetto.json');
      const sw = dtsim('show', out, '--html', html, '--perfetto', pf);
      expect(sw.status, sw.stderr).toBe(0);
      const page = readFileSync(html, 'utf8');
      expect(page).toContain('id="violation-marker"');
      expect(page).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
      const j = JSON.parse(readFileSync(pf, 'utf8')) as { traceEvents: unknown[] };
      expect(j.traceEvents.length).toBeGreaterThan(small.events.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bisect, shrink and show refuse a corrupted trace with exit 2 and one line naming file, line and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-wfbad-'));
    try {
      const good = serializeTrace(sample().trace);
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, good.replace(/"gfn":\d+/, '"gfn":-3'));
      for (const args of [['bisect', bad], ['shrink', bad, '--out', join(dir, 'o.json')], ['show', bad], ['show', bad, '--html', join(dir, 'o.html')]]) {
        const r = dtsim(...args);
        expect(r.status, `${args[0]}: ${r.stderr}`).toBe(2);
        expect(r.stderr.trimEnd().split('\n').length).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: events\\[\\d+\\]\\.gfn: `));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2 with one line', () => {
    for (const args of [['bisect'], ['shrink', 'x.json'], ['show'], ['bisect', '/nonexistent/trace.json'], ['show', 'a', 'b'], ['bisect', 'x', '--stride', '0']]) {
      const r = dtsim(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n').length, r.stderr).toBe(1);
    }
  });
});
