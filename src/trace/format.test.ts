/** The trace reader names the line and field of the first problem and never throws. */
import { describe, expect, it } from 'vitest';
import { eventLines, makeTrace, parseTrace, serializeTrace, TRACE_VERSION } from './format.ts';
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
