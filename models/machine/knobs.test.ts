/**
 * Knob ids are typed (knobs.ts): a misspelled or foreign id at a call site fails `tsc` (the `@ts-expect-error`
 * lines below are checked by `npm test`'s `tsc --noEmit`: if a line stopped being an error, tsc would fail on the
 * unused directive), and every knob a catalogue declares is tested by at least one call site in models/, or is
 * listed here as data-only. A knob declared but tested nowhere is the silent failure the types exist to prevent:
 * `dtsim bugs` would report it "not found" and blame the checker, not the code.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS, dirtyBitmap, dirtyRing } from '../index.ts';
import { designHasBug, hasBug, type DirtyRingKnob, type Knob, type KnobTest, type PtaKnob } from './knobs.ts';
import type { DirtyBitmapKnob } from '../dirty-bitmap/index.ts';
import { sourceFiles } from '../../properties/support/sources.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Knobs that work only through the options or configuration their catalogue entry forces (no code tests them).
 * Empty today: every knob is tested by a call site. An entry needs the reason it is data-only.
 */
const DATA_ONLY: ReadonlyMap<string, string> = new Map<string, string>([]);

describe('knob ids are typed', () => {
  it('a misspelled or foreign knob id does not compile (and at run time would silently be off)', () => {
    const m = dirtyBitmap;
    const design = m.design({}, ['missing-tlbi']);
    const s = m.init(design, m.preset.checkConfig);
    expect(hasBug(s, 'missing-tlbi')).toBe(true);
    expect(hasBug(s, 'local-tlbi')).toBe(false);
    // @ts-expect-error 'missing-tlb' is no knob of any model: before the types this compiled and was always false
    expect(hasBug(s, 'missing-tlb')).toBe(false);
    // @ts-expect-error the state's lookup is keyed by knob ids too
    expect(s.bug['missing-tlb']).toBeUndefined();
    const ringBug: KnobTest<DirtyRingKnob> = hasBug;
    expect(ringBug(s, 'reset-no-tlb-flush')).toBe(false);
    // @ts-expect-error a dirty-bitmap knob is not a dirty-ring knob: the ring mechanism's accessor refuses it
    expect(ringBug(s, 'missing-tlbi')).toBe(true);
    expect(designHasBug(design.bugs, 'missing-tlbi')).toBe(true);
    // @ts-expect-error misspelled in a design-level check as well
    expect(designHasBug(design.bugs, 'missing_tlbi')).toBe(false);
    // The unions are exactly the catalogues' ids.
    const bitmapIds: readonly DirtyBitmapKnob[] = dirtyBitmap.preset.bugs.map((b) => b.id as DirtyBitmapKnob);
    const ptaKnob: PtaKnob = 'pta-read-no-flush';
    // @ts-expect-error a hdbss knob is not a pta knob
    const notPta: PtaKnob = 'hdbss-no-save-at-put';
    const anyKnob: Knob = 'reset-offset-wrap';
    expect([...bitmapIds, ptaKnob, notPta, anyKnob].length).toBe(dirtyBitmap.preset.bugs.length + 3);
    expect(dirtyRing.preset.bugs.some((b) => b.id === anyKnob)).toBe(true);
  });

  it('every declared knob id is tested by a call site in models/ (or is data-only), and every call site names a declared knob', () => {
    const files = sourceFiles(join(ROOT, 'models'));
    const called = new Map<string, string[]>();
    // A typed accessor call: hasBug(s, 'id'), a folder's bug(s, 'id'), designHasBug(bugs, 'id').
    const call = /\b(?:hasBug|bug|designHasBug)\(\s*[A-Za-z_$][\w$.]*\s*,\s*'([^']+)'\s*\)/g;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(call)) {
        const id = m[1] as string;
        called.set(id, [...(called.get(id) ?? []), f.slice(ROOT.length)]);
      }
    }
    const declared = new Set(MODELS.flatMap((m) => m.preset.bugs.map((b) => b.id)));
    expect(declared.size).toBeGreaterThanOrEqual(30);
    const untested = [...declared].filter((id) => !called.has(id) && !DATA_ONLY.has(id));
    expect(untested, `declared knobs no code tests (typo at the call site, or add to DATA_ONLY with a reason)`).toEqual([]);
    const stale = [...DATA_ONLY.keys()].filter((id) => called.has(id) || !declared.has(id));
    expect(stale, 'DATA_ONLY entries that are tested by code or not declared').toEqual([]);
    const unknown = [...called.keys()].filter((id) => !declared.has(id));
    expect(unknown, 'call sites naming no declared knob').toEqual([]);
  });

  it('no code indexes the knob lookup directly: every call site goes through a typed accessor', () => {
    const direct: string[] = [];
    for (const f of [...sourceFiles(join(ROOT, 'models')), ...sourceFiles(join(ROOT, 'src'))]) {
      if (f.endsWith('/models/machine/knobs.ts')) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        if (/\.bug\[|\bbugs\.includes\(/.test(line)) direct.push(`${f.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(direct).toEqual([]);
  });
});
