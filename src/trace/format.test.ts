/** The trace reader names the line and field of the first problem and never throws. */
import { describe, expect, it } from 'vitest';
import { eventLines, expectMatches, makeTrace, parseTrace, serializeTrace, traceSchemaId, TRACE_VERSION } from './format.ts';
import { dirtyBitmap } from '../../models/dirty-bitmap/index.ts';
import type { AnyModel } from '../core/model.ts';

const lookup = (id: string): AnyModel | undefined => (id === 'dirty-bitmap' ? (dirtyBitmap as unknown as AnyModel) : undefined);
const good = serializeTrace(makeTrace({ design: dirtyBitmap.design(), config: dirtyBitmap.defaultConfig as never, seed: 's', choices: [1],
  note: '', events: [{ type: 'kvm/loggingEnabled', slot: 0 } as never, { type: 'vmm/pageCopied', gfn: 0 } as never], expect: { status: 'ok' } }));

describe('trace reader', () => {
  it('round-trips a serialised trace', () => {
    const r = parseTrace(good, lookup);
    expect(r.ok).toBe(true);
  });
  it('finds the line of each event', () => {
    const lines = eventLines(good);
    expect(lines).toHaveLength(2);
    expect(good.split('\n')[lines[1]! - 1]).toContain('pageCopied');
  });
  it('reports truncated JSON with a line', () => {
    const r = parseTrace(good.slice(0, good.length - 20), lookup);
    expect(r.ok).toBe(false);
    if (!r.ok) { expect(r.error.kind).toBe('notJson'); expect(r.error.line).toBeGreaterThan(1); }
  });
  it('names the event and field of an out-of-range page', () => {
    const r = parseTrace(good.replace('"gfn":0', '"gfn":9999'), lookup);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.field).toBe('events[1].gfn');
      expect(r.error.message).toContain('out of range');
      expect(good.split('\n')[r.error.line! - 1]).toContain('pageCopied');
    }
  });
  it('rejects unknown event types, unknown models and bugs, newer versions', () => {
    const a = parseTrace(good.replace('vmm/pageCopied', 'vmm/pageTeleported'), lookup);
    expect(!a.ok && a.error.field === 'events[1].type').toBe(true);
    const b = parseTrace(good.replace('"model":"dirty-bitmap"', '"model":"nope"'), lookup);
    expect(!b.ok && b.error.kind === 'unknownModel').toBe(true);
    const c = parseTrace(good.replace('"bugs":[]', '"bugs":["nope"]'), lookup);
    expect(!c.ok && c.error.field === 'design.bugs[0]').toBe(true);
    const d = parseTrace(good.replace(`"formatVersion": ${TRACE_VERSION}`, '"formatVersion": 99'), lookup);
    expect(!d.ok && d.error.kind === 'versionTooNew').toBe(true);
  });
});

/** Hostile input (issue 20): what JSON.parse hides, prototype names, lookalikes, closed field sets. */
describe('trace reader, hostile input', () => {
  const fails = (text: string): { kind: string; line: number | null; field: string; message: string } => {
    const r = parseTrace(text, lookup);
    expect(r.ok, text.slice(0, 200)).toBe(false);
    if (r.ok) throw new Error('accepted');
    return r.error;
  };
  const lineWith = (text: string, s: string): number => text.split('\n').findIndex((l) => l.includes(s)) + 1;
  it('an option named like an Object.prototype member is an unknown option, not a crash', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const e = fails(good.replace('"options":{', `"options":{"${name}":1,`));
      expect(e.field).toBe(`design.options.${name}`);
      expect(e.message).toContain('unknown option');
    }
  });
  it('an event type or field named like an Object.prototype member is unknown', () => {
    const a = fails(good.replace('"type":"vmm/pageCopied"', '"type":"constructor"'));
    expect([a.field, a.message]).toEqual(['events[1].type', 'unknown event type "constructor"']);
    const b = fails(good.replace('"gfn":0', '"gfn":0,"constructor":1'));
    expect([b.field, b.message]).toEqual(['events[1].constructor', "unexpected field for 'vmm/pageCopied'"]);
  });
  it('a duplicated key is an error naming its line and path (also when written with an escape)', () => {
    const t = good.replace('"gfn":0', '"gfn":0,"gfn":1');
    const e = fails(t);
    expect([e.line, e.field]).toEqual([lineWith(t, '"gfn":0,"gfn":1'), 'events[1].gfn']);
    expect(e.message).toContain('duplicated key');
    const t2 = good.replace('"expect": {', '"expect": {"\\u0073tatus":"violated",');
    expect(fails(t2).field).toBe('expect.status');
    const t3 = good.replace('"note": ""', '"note": "", "note": "x"');
    expect(fails(t3).field).toBe('note');
  });
  it('numbers must be written canonically: -0, 1.0, 1e0, 1e400 and integers beyond 2^53 are refused', () => {
    for (const [tok, why] of [['-0', 'not written canonically'], ['0.0', 'not written canonically'], ['0e0', 'not written canonically'],
      ['1e400', 'out of range'], ['9007199254740993', 'not exactly representable']] as const) {
      const t = good.replace('"gfn":0', `"gfn":${tok}`);
      const e = fails(t);
      expect([e.line, e.field], tok).toEqual([lineWith(t, `"gfn":${tok}`), 'events[1].gfn']);
      expect(e.message, tok).toContain(why);
    }
  });
  it('unknown fields are errors at every level (a lookalike key is unknown, shown escaped)', () => {
    const a = fails(good.replace('"note": ""', '"note": "", "expe\u0441t": {"status":"violated","eventIndex":0,"invariant":"INV-FLUSH"}'));
    expect(a.field).toBe('"expe\\u0441t"');
    expect(a.message).toContain('unknown field');
    expect(fails(good.replace('"model":"dirty-bitmap"', '"model":"dirty-bitmap","extra":1')).field).toBe('design.extra');
    expect(fails(good.replace('"expect": {"status":"ok"', '"expect": {"status":"ok","eventIndex":3')).field).toBe('expect.eventIndex');
    expect(fails(good.replace('"npages":', '"npagse":1,"npages":')).field).toBe('config.slots[0].npagse');
    expect(fails(good.replace('"name":"dtsim"', '"name":"dtsim","__proto__":{}')).field).toBe('tool.__proto__');
  });
  it('expect status "rejected" names the event the machine must refuse (litmus traces), validated with its line and field', () => {
    const t = good.replace('"expect": {"status":"ok"}', '"expect": {"status":"rejected","eventIndex":1}');
    const r = parseTrace(t, lookup);
    expect(r.ok && r.trace.expect).toEqual({ status: 'rejected', eventIndex: 1 });
    // The index must name one of the trace's events (not the initial state, not past the end).
    for (const bad of ['-1', '2', '"1"', '0.5']) {
      const e = fails(good.replace('"expect": {"status":"ok"}', `"expect": {"status":"rejected","eventIndex":${bad}}`));
      expect([e.line, e.field], bad).toEqual([lineWith(t, '"expect"'), 'expect.eventIndex']);
      expect(e.message, bad).toBe('must be the index of the rejected event, an integer in [0, 2)');
    }
    expect(fails(good.replace('"expect": {"status":"ok"}', '"expect": {"status":"rejected"}')).field).toBe('expect.eventIndex');
    // A rejection names no invariant; an unknown status lists the three.
    const inv = fails(good.replace('"expect": {"status":"ok"}', '"expect": {"status":"rejected","eventIndex":1,"invariant":"INV-FLUSH"}'));
    expect([inv.field, inv.message]).toEqual(['expect.invariant', 'unknown field for status "rejected"']);
    expect(fails(good.replace('"expect": {"status":"ok"}', '"expect": {"status":"refused"}')).message)
      .toBe('must be "ok", "violated" or "rejected"');
    // Matching: only a rejection at exactly that event.
    const ex = { status: 'rejected', eventIndex: 1 } as const;
    expect(expectMatches({ status: 'rejected', eventIndex: 1, invariant: null }, ex)).toBe(true);
    expect(expectMatches({ status: 'rejected', eventIndex: 0, invariant: null }, ex)).toBe(false);
    expect(expectMatches({ status: 'ok', eventIndex: null, invariant: null }, ex)).toBe(false);
    expect(expectMatches({ status: 'violated', eventIndex: 1, invariant: 'INV-FLUSH' }, ex)).toBe(false);
  });
  it('an event type that is not exactly a known one is named, escaped, with the type it looks like', () => {
    const e = fails(good.replace('"vmm/pageCopied"', '"vmm/pageCopied\u200b"'));
    expect(e.field).toBe('events[1].type');
    expect(e.message).toBe(`unknown event type "vmm/pageCopied\\u200b" (looks like 'vmm/pageCopied'; only the exact spelling is accepted)`);
    expect(fails(good.replace('"vmm/pageCopied"', '"vmm/pageC\u043epied"')).message).toContain('"vmm/pageC\\u043epied"');
  });
  it('expect names an invariant of the model; a knob listed twice is refused; a missing field has line 1', () => {
    expect(fails(good.replace('"expect": {"status":"ok"}', '"expect": {"status":"violated","eventIndex":0,"invariant":"INV-NOPE"}')).field).toBe('expect.invariant');
    expect(fails(good.replace('"bugs":[]', '"bugs":["missing-tlbi","missing-tlbi"]')).field).toBe('design.bugs[1]');
    const e = fails(good.replace(/ *"formatVersion": \d+,\n/, ''));
    expect([e.line, e.field]).toEqual([1, 'formatVersion']);
  });

  // Issue 17 item 3: a trace names the JSON Schema of its format version in `$schema`.
  it('makeTrace writes $schema (the id of the current format version) first; the reader accepts exactly it', () => {
    expect(good.split('\n')[1]).toBe(`  "$schema": "${traceSchemaId(TRACE_VERSION)}",`);
    expect(traceSchemaId(2)).toBe('https://dtsim.dev/schemas/trace-v2.schema.json');
    const r = parseTrace(good, lookup);
    expect(r.ok && r.trace.$schema).toBe(traceSchemaId(TRACE_VERSION));
    const absent = parseTrace(good.replace(/^ {2}"\$schema": .*\n/m, ''), lookup);
    expect(absent.ok).toBe(true);
  });
  it('refuses a $schema that is not the id of the document\'s own format version, naming the field and its line', () => {
    for (const bad of ['"https://dtsim.dev/schemas/trace-v1.schema.json"', '"https://dtsim.dev/schemas/trace-v3.schema.json"', '"https://example.com/x.json"', 'null', '2']) {
      const r = parseTrace(good.replace(`"${traceSchemaId(TRACE_VERSION)}"`, bad), lookup);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) {
        expect(r.error.field, bad).toBe('$schema');
        expect(r.error.line, bad).toBe(2);
        expect(r.error.message, bad).toContain(traceSchemaId(TRACE_VERSION));
      }
    }
    // A version-1 document names the version-1 schema (checked before it is migrated), not the current one.
    const v1 = good.replace(`"${traceSchemaId(TRACE_VERSION)}"`, `"${traceSchemaId(1)}"`).replace(/"formatVersion": \d+/, '"formatVersion": 1').replace(/^ {2}"labels": .*\n/m, '');
    expect(parseTrace(v1, lookup).ok).toBe(true);
    const v1named2 = parseTrace(v1.replace(traceSchemaId(1), traceSchemaId(2)), lookup);
    expect(!v1named2.ok && v1named2.error.field).toBe('$schema');
  });
  it('refuses null options and null labels (a missing field takes its default; null is not missing)', () => {
    const o = parseTrace(good.replace(/"options":\{[^}]*\}/, '"options":null'), lookup);
    expect(!o.ok && o.error.field).toBe('design.options');
    const l = parseTrace(good.replace('"labels": {}', '"labels": null'), lookup);
    expect(!l.ok && l.error.field).toBe('labels');
    expect(parseTrace(good.replace(/"options":\{[^}]*\},/, ''), lookup).ok).toBe(true);
  });
});
