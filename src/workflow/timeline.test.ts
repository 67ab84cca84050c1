/**
 * The text timeline never cuts a field it prints: with many lanes (8 vCPUs, 8 PEs, the VMM and the host) and a
 * narrow `--width`, every event's description (each `field=value`, less the one its lane names) is read back
 * whole from its lane's column, across its continuation rows. Also at the CLI (`dtsim run` then `dtsim show`).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODELS } from '../../models/index.ts';
import { simulate } from '../core/engine.ts';
import { buildTimeline, renderTimelineText, wrapWords, type Timeline } from './timeline.ts';

/** The words an event's row must show: its description without the `kind=N` field its lane `kindN` names. */
function expectedWords(text: string, lane: string): string[] {
  const words = text.split(' ').filter((w) => w !== '');
  const m = /^([a-z]+)(\d+)$/.exec(lane);
  if (!m) return words;
  const k = words.indexOf(`${m[1]}=${m[2]}`, 1);
  if (k > 0) words.splice(k, 1);
  return words;
}

/**
 * Reads a rendered timeline back: the column of each lane from the `----` rule, then for each event row and its
 * continuation rows the text in its lane's column. Returns event index -> words read in that lane.
 */
function readBack(text: string, lanes: readonly string[], laneOf: (i: number) => string): Map<number, string[]> {
  const lines = text.split('\n');
  const rule = lines[1] as string;
  const cols: { start: number; end: number }[] = [];
  const re = /-+/g;
  for (let m = re.exec(rule); m; m = re.exec(rule)) cols.push({ start: m.index, end: m.index + m[0].length });
  expect(cols.length).toBe(lanes.length);
  const lead = cols[0]?.start ?? 0;
  const got = new Map<number, string[]>();
  let cur = -1;
  for (const line of lines.slice(2)) {
    const row = /^\s*(\d+)[ X!] /.exec(line);
    if (row) cur = Number(row[1]);
    else if (!(line.length > lead && line.slice(0, lead).trim() === '' && line[lead] !== '#' && line[lead] !== '^')) {
      cur = -1;
      continue;
    }
    if (cur < 0) continue;
    const c = lanes.indexOf(laneOf(cur));
    const col = cols[c] as { start: number; end: number };
    // The cell fits its column: the next column's separator is a space (or the line ends).
    expect(line.length <= col.end || line[col.end] === ' ').toBe(true);
    const cell = line.slice(col.start, col.end).trim();
    const words = got.get(cur) ?? [];
    if (row || cell !== '|') words.push(...cell.split(' ').filter((w) => w !== ''));
    got.set(cur, words);
    // Every other lane of the row is idle.
    cols.forEach((o, k) => { if (k !== c) expect(['|', ''].includes(line.slice(o.start, o.end).trim())).toBe(true); });
  }
  return got;
}

describe('text timeline never cuts a field', () => {
  it('wrapWords never splits a word and keeps every word in order', () => {
    expect(wrapWords('a/b gfn=123 slot=4', 8)).toEqual(['a/b', 'gfn=123', 'slot=4']);
    expect(wrapWords('a/b gfn=1', 20)).toEqual(['a/b gfn=1']);
    expect(wrapWords('averyveryverylongword x', 4)).toEqual(['averyveryverylongword', 'x']);
  });

  for (const model of MODELS) {
    it(`${model.id}: 8 vCPUs, 8 PEs, widths 40/80/160: every event's every field is printed whole`, () => {
      const parsed = model.parseConfig({ vcpus: 8, pes: 8 });
      if (!parsed.ok) throw new Error(`config rejected: ${parsed.error.message}`);
      const design = model.design();
      const run = simulate(model, design, parsed.config, `timeline-${model.id}`, { maxEvents: 250 });
      const tl = buildTimeline(model, model.init(design, parsed.config), run.events, { vcpus: 8, pes: 8 });
      expect(tl.lanes.length).toBeGreaterThanOrEqual(18);
      for (const width of [40, 80, 160]) {
        const text = renderTimelineText(tl, { width });
        expect(text).not.toContain('~');
        const got = readBack(text, tl.lanes, (i) => (tl.events[i] as { lane: string }).lane);
        expect(got.size).toBe(tl.events.length);
        for (const e of tl.events) expect(got.get(e.index)).toEqual(expectedWords(e.text, e.lane));
      }
    });
  }

  it('a word wider than the width widens its lane; lane vcpu1 drops vcpu=1, not the prefix of vcpu=12', () => {
    const lanes = [...Array.from({ length: 12 }, (_, i) => `vcpu${i}`), 'vmm', 'host'];
    const long = `gfns=${'7'.repeat(70)}`;
    const tl: Timeline = {
      lanes,
      events: [
        { index: 0, lane: 'vcpu1', type: 'x/y', text: 'x/y vcpu=12 gfn=3', label: null },
        { index: 1, lane: 'vcpu1', type: 'x/y', text: 'x/y gfn=3 vcpu=1', label: null },
        { index: 2, lane: 'vmm', type: 'vmm/z', text: `vmm/z ${long} slot=0`, label: 'a note' },
      ],
      outcome: { status: 'ok' },
    };
    const text = renderTimelineText(tl, { width: 40 });
    const got = readBack(text, lanes, (i) => (tl.events[i] as { lane: string }).lane);
    expect(got.get(0)).toEqual(['x/y', 'vcpu=12', 'gfn=3']);
    expect(got.get(1)).toEqual(['x/y', 'gfn=3']);
    expect(got.get(2)).toEqual(['vmm/z', long, 'slot=0']);
    expect(text).toContain('# a note');
  });

  it('dtsim show of a 4-vCPU, 4-PE run at --width 60 prints every field of every event', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-timeline-'));
    try {
      const f = join(dir, 't.json');
      const run = spawnSync(process.execPath, ['bin/dtsim.js', 'run', '--model', 'hdbss', '--seed', 'tl4', '--events', '120',
        '--config', '{"vcpus":4,"pes":4}', '--out', f], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      const sh = spawnSync(process.execPath, ['bin/dtsim.js', 'show', f, '--width', '60', '--from', '0', '--to', '150'], { encoding: 'utf8' });
      expect(sh.status).toBe(0);
      expect(sh.stderr).toBe('');
      const model = MODELS.find((m) => m.id === 'hdbss');
      if (!model) throw new Error('no hdbss model');
      const text = sh.stdout.split('\n').slice(1).join('\n');
      const header = (text.split('\n')[0] as string).trim().split(/\s+/);
      expect(header.slice(0, 8)).toEqual(['vcpu0', 'vcpu1', 'vcpu2', 'vcpu3', 'pe0', 'pe1', 'pe2', 'pe3']);
      const rows = text.split('\n').filter((l) => /^\s*\d+[ X!] /.test(l));
      expect(rows.length).toBeGreaterThan(100);
      expect(text).not.toContain('~');
      // Every event of the saved trace, described by the model, is read back whole from its lane.
      const trace = JSON.parse(readFileSync(f, 'utf8')) as { events: { type: string }[] };
      const events = trace.events.slice(0, 151);
      const laneOf = (i: number): string => model.laneOf(events[i] as never);
      const got = readBack(text, header, laneOf);
      expect(got.size).toBe(events.length);
      events.forEach((e, i) => expect(got.get(i)).toEqual(expectedWords(model.describeEvent(e as never), laneOf(i))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
