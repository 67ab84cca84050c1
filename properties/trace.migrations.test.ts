/**
 * Trace format migrations: a frozen sample of every old format version loads (migrated step by step) and replays
 * to its expect block; the migration table is contiguous; a newer version is refused with a clear error; the v2
 * `labels` field is validated and shown.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertMigrationsContiguous, makeTrace, MIGRATIONS, parseTrace, serializeTrace, TRACE_VERSION } from '../src/trace/format.ts';
import { replay } from '../src/core/engine.ts';
import { lookupModel } from '../src/cli/registry.ts';
import { buildTimeline, renderTimelineText } from '../src/workflow/timeline.ts';
import type { EventBase } from '../src/core/model.ts';
import { SEED } from './support/seed.ts';

const FIXTURES = new URL('../traces/fixtures/', import.meta.url).pathname;

/** sha256 of each frozen sample: a sample is never edited (a new version gets a new sample). */
const FROZEN: { readonly [version: number]: string } = {
  1: 'ced4a0c1d0068b96ed19b4adb2ef23a4c1f2e0a52ac9c755ce93ab2c556fb441',
};

describe(`trace format migrations (seed ${SEED})`, () => {
  it('keeps a frozen, unedited sample of every old version', () => {
    for (let v = 1; v < TRACE_VERSION; v++) {
      const file = join(FIXTURES, `trace.v${v}.sample.json`);
      expect(existsSync(file), `${file} is missing: freeze a sample before bumping TRACE_VERSION`).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(createHash('sha256').update(text).digest('hex'), `${file} was edited`).toBe(FROZEN[v]);
      expect((JSON.parse(text) as { formatVersion: number }).formatVersion).toBe(v);
    }
  });

  it('every old sample migrates to the current version and replays to its expect block', () => {
    for (let v = 1; v < TRACE_VERSION; v++) {
      const text = readFileSync(join(FIXTURES, `trace.v${v}.sample.json`), 'utf8');
      const r = parseTrace(text, lookupModel);
      expect(r.ok, r.ok ? '' : JSON.stringify(r.error)).toBe(true);
      if (!r.ok) continue;
      expect(r.trace.formatVersion).toBe(TRACE_VERSION);
      expect(r.trace.labels).toEqual({});
      const o = replay(r.model, r.trace.design, r.trace.config, r.trace.events as EventBase[], { path: 'fast' });
      const ex = r.trace.expect;
      expect(o.status).toBe(ex.status);
      if (ex.status === 'violated') expect([o.eventIndex, o.invariant]).toEqual([ex.eventIndex, ex.invariant]);
      // Saved again, it is a current-version document with the same content.
      const again = parseTrace(serializeTrace(r.trace), lookupModel);
      expect(again.ok && again.trace.events).toEqual(r.trace.events);
      expect(serializeTrace(r.trace)).toContain(`"formatVersion": ${TRACE_VERSION}`);
    }
  });

  it('a v1 document that carries labels keeps them through the migration; invalid ones are refused with line and field', () => {
    // The v1 reader ignored unknown fields, so a v1 document may have `labels` (test input inline: the frozen
    // fixture is never edited). The v1 -> v2 step once replaced them with none, silently.
    const v1 = readFileSync(join(FIXTURES, 'trace.v1.sample.json'), 'utf8');
    const withLabels = (labels: string): string => v1.replace(/^( {2}"expect": )/m, `  "labels": ${labels},\n$1`);
    const ok = parseTrace(withLabels('{"0": "logging on for slot 0", "47": "the stale TLB entry is used"}'), lookupModel);
    expect(ok.ok, ok.ok ? '' : JSON.stringify(ok.error)).toBe(true);
    if (ok.ok) {
      expect(ok.trace.labels).toEqual({ 0: 'logging on for slot 0', 47: 'the stale TLB entry is used' });
      expect(serializeTrace(ok.trace)).toContain('"labels": {"0":"logging on for slot 0","47":"the stale TLB entry is used"}');
    }
    const line = withLabels('{}').split('\n').findIndex((l) => l.startsWith('  "labels"')) + 1;
    for (const [labels, field] of [['{"9999": "x"}', 'labels.9999'], ['{"3": 7}', 'labels.3'], ['["x"]', 'labels'], ['"x"', 'labels'],
      ['{"__proto__": "x"}', 'labels.__proto__']] as const) {
      const r = parseTrace(withLabels(labels), lookupModel);
      expect(r.ok, labels).toBe(false);
      if (!r.ok) expect([r.error.kind, r.error.field, r.error.line], labels).toEqual(['invalid', field, line]);
    }
    // Without labels: none, as before.
    const none = parseTrace(v1, lookupModel);
    expect(none.ok && none.trace.labels).toEqual({});
    // The step itself keeps only an own `labels`.
    const step = MIGRATIONS[1]!;
    expect(step({ formatVersion: 1, labels: { 1: 'a' } })['labels']).toEqual({ 1: 'a' });
    expect(step(JSON.parse('{"formatVersion": 1}') as Record<string, unknown>)['labels']).toEqual({});
  });

  it('each migration step raises the version by exactly one', () => {
    for (let v = 1; v < TRACE_VERSION; v++) {
      const step = MIGRATIONS[v];
      expect(step).toBeTypeOf('function');
      if (step) expect(step({ formatVersion: v })['formatVersion']).toBe(v + 1);
    }
  });

  it('the startup assertion catches a gap or a step out of range', () => {
    expect(() => assertMigrationsContiguous(MIGRATIONS, TRACE_VERSION)).not.toThrow();
    const f = (d: Record<string, unknown>): Record<string, unknown> => d;
    expect(() => assertMigrationsContiguous({ 1: f, 3: f }, 4)).toThrow(/no step from version 2/);
    expect(() => assertMigrationsContiguous({ 1: f, 2: f }, 2)).toThrow(/outside/);
    expect(() => assertMigrationsContiguous({}, 1)).not.toThrow();
  });

  it('refuses a newer format version with its line and field', () => {
    const text = readFileSync(join(FIXTURES, 'trace.v1.sample.json'), 'utf8').replace('"formatVersion": 1', `"formatVersion": ${TRACE_VERSION + 1}`);
    const r = parseTrace(text, lookupModel);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.kind).toBe('versionTooNew');
      expect(r.error.field).toBe('formatVersion');
      expect(text.split('\n')[(r.error.line ?? 0) - 1]).toContain('formatVersion');
    }
  });

  it('validates v2 labels and shows them on the timeline', () => {
    const base = parseTrace(readFileSync(join(FIXTURES, 'trace.v1.sample.json'), 'utf8'), lookupModel);
    if (!base.ok) throw new Error('sample does not parse');
    const t = base.trace;
    const labelled = makeTrace({ design: t.design, config: t.config, seed: t.seed, choices: t.choices, note: t.note, events: t.events, expect: t.expect,
      labels: { 2: 'the VMM copies page 1', [String(t.events.length - 1)]: 'returns with a stale writable TLB entry' } });
    const r = parseTrace(serializeTrace(labelled), lookupModel);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.trace.labels['2']).toBe('the VMM copies page 1');
    const text = renderTimelineText(buildTimeline(r.model, r.model.init(r.trace.design, r.trace.config), r.trace.events, {}, r.trace.labels));
    expect(text).toContain('# returns with a stale writable TLB entry');
    const bad = (labels: unknown): string | null => {
      const doc = JSON.parse(serializeTrace(labelled)) as Record<string, unknown>;
      doc['labels'] = labels;
      const p = parseTrace(JSON.stringify(doc, null, 1), lookupModel);
      return p.ok ? null : p.error.field;
    };
    expect(bad({ [String(t.events.length)]: 'x' })).toBe(`labels.${t.events.length}`);
    expect(bad({ '-1': 'x' })).toBe('labels.-1');
    expect(bad({ 3: 7 })).toBe('labels.3');
    expect(bad([1])).toBe('labels');
  });
});
