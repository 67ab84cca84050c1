/**
 * Option names are typed (options.ts), like knob ids (knobs.test.ts): a misspelled or foreign option at a read
 * fails `tsc` (the `@ts-expect-error` lines below are checked by `npm test`'s `tsc --noEmit`: if a line stopped
 * being an error, tsc would fail on the unused directive), every option a catalogue declares is read by at least
 * one call site in models/, and no code indexes `design.options` with a literal (which would bypass the types).
 * An option declared but read nowhere is the silent failure the types exist to prevent: `dtsim check` would run
 * its matrix rows, and `explore` its proofs, on a design that ignores the option it names.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS, dirtyBitmap, dirtyRing, hdbss } from '../index.ts';
import {
  designOption, opt, optionOf, type BooleanOption, type DirtyBitmapOption, type DirtyRingOption, type HdbssOption,
  type MachineOption, type OptionRead, type OptionValue, type PtaOption,
} from './options.ts';
import type { OptionRow, PresetBug, PresetSituation } from './model.ts';
import { DIRTY_BITMAP_OPTIONS } from '../dirty-bitmap/index.ts';
import { DIRTY_RING_OPTIONS } from '../dirty-ring/index.ts';
import { HDBSS_OPTIONS } from '../hdbss/index.ts';
import { PTA_OPTIONS } from '../pta/index.ts';
import { sourceFiles } from '../../properties/support/sources.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('option names are typed', () => {
  it('a misspelled, foreign or non-boolean option does not compile (and at run time would silently read undefined)', () => {
    const m = dirtyBitmap;
    const s = m.init(m.design({ eagerSplit: true }), m.preset.checkConfig);
    expect(opt(s, 'eagerSplit')).toBe(true);
    expect(opt(s, 'manualProtect')).toBe(false);
    // @ts-expect-error 'eagerSplitt' is no option of any model: before the types this compiled and was always false
    expect(opt(s, 'eagerSplitt')).toBe(false);
    // @ts-expect-error `opt` tests boolean options only: 'consumer' is a string, so this was always false
    expect(opt(s, 'consumer')).toBe(false);
    expect(optionOf(s, 'consumer')).toBe('bitmap');
    // @ts-expect-error a misspelled value read
    expect(optionOf(s, 'consumr')).toBeUndefined();
    // @ts-expect-error no model allows consumer 'rnig': the comparison has no overlap
    expect(optionOf(s, 'consumer') === 'rnig').toBe(false);
    // An option of another model is declared (the machine may read it) and reads undefined on this design.
    expect(optionOf(s, 'ringEntries')).toBeUndefined();
    const ringOption: OptionRead<DirtyRingOption> = optionOf;
    const r = dirtyRing.init(dirtyRing.design({ ringEntries: 4 }), dirtyRing.preset.checkConfig);
    expect(ringOption(r, 'ringEntries')).toBe(4);
    // @ts-expect-error an hdbss option is not a dirty-ring option: the ring mechanism's accessor refuses it
    expect(ringOption(r, 'hdbssEntries')).toBeUndefined();
    const d = hdbss.design({ hdbssSz: 3 });
    expect(designOption(d.options, 'hdbssSz')).toBe(3);
    // @ts-expect-error misspelled in a design-level read as well
    expect(designOption(d.options, 'hdbsSz')).toBeUndefined();
    // The unions are exactly the catalogues' names, and the values their domains.
    const bitmapOpt: DirtyBitmapOption = 'initiallySet';
    // @ts-expect-error a dirty-ring option is not a dirty-bitmap option
    const notBitmap: DirtyBitmapOption = 'ringStart';
    const ptaOpt: PtaOption = 'deviceRecords';
    const hdbssOpt: HdbssOption = 'hdbssAborts';
    const anyOpt: MachineOption = 'adversary';
    const boolOpt: BooleanOption = 'ringWithBitmap';
    // @ts-expect-error ringEntries is a number option
    const notBool: BooleanOption = 'ringEntries';
    const entries: OptionValue<'ringEntries'> = 4096;
    // @ts-expect-error no model allows 5 entries
    const badEntries: OptionValue<'ringEntries'> = 5;
    expect([bitmapOpt, notBitmap, ptaOpt, hdbssOpt, anyOpt, boolOpt, notBool, entries, badEntries]).toHaveLength(9);
    // The catalogues are the presets' options (what validation, `check --matrix` and the schemas read).
    const catalogue = new Map<string, unknown>([
      ['dirty-bitmap', DIRTY_BITMAP_OPTIONS], ['dirty-ring', DIRTY_RING_OPTIONS], ['hdbss', HDBSS_OPTIONS], ['pta', PTA_OPTIONS],
    ]);
    expect(MODELS.map((x) => x.id).sort()).toEqual([...catalogue.keys()].sort());
    for (const x of MODELS) expect(x.preset.options, x.id).toBe(catalogue.get(x.id));
  });

  it('a catalogue row (matrix, knob options, situation when/unless) with a misspelled option or a value outside its domain does not compile', () => {
    type Ring = typeof DIRTY_RING_OPTIONS;
    const row: OptionRow<Ring> = { ringEntries: 4, ringWithBitmap: false };
    // @ts-expect-error misspelled option in a matrix row (at run time: refused when the design is built)
    const typo: OptionRow<Ring> = { ringEntires: 4 };
    // @ts-expect-error 5 is not an allowed ring size
    const badValue: OptionRow<Ring> = { ringEntries: 5 };
    // @ts-expect-error an hdbss option in a dirty-ring row
    const foreign: OptionRow<Ring> = { hdbssEntries: 1 };
    const knob: PresetBug<Ring> = { id: 'k', ref: 'B0', expect: null, description: '', options: { adversary: true } };
    // @ts-expect-error misspelled option forced by a knob
    const badKnob: PresetBug<Ring> = { id: 'k', ref: 'B0', expect: null, description: '', options: { adversery: true } };
    const sit: PresetSituation<typeof HDBSS_OPTIONS> = { id: 's', label: '', stat: 'x', when: { consumer: 'ring' }, unless: { ringEntries: 256 } };
    // @ts-expect-error misspelled `when`: before the types this compiled and the situation silently never applied
    const badSit: PresetSituation<typeof HDBSS_OPTIONS> = { id: 's', label: '', stat: 'x', when: { consumr: 'ring' } };
    // The untyped default still accepts any name (what `model.preset`'s readers see).
    const plain: OptionRow = { anything: 1 };
    expect([row, typo, badValue, foreign, knob, badKnob, sit, badSit, plain]).toHaveLength(9);
    // And at run time every model's rows name its declared options with allowed values.
    for (const m of MODELS) {
      const rows = [
        ...m.preset.matrix, ...m.preset.bugs.map((b) => b.options ?? {}),
        ...(m.preset.situations ?? []).flatMap((x) => [x.when ?? {}, x.unless ?? {}]),
      ];
      for (const r of rows) {
        for (const [k, v] of Object.entries(r)) {
          expect(Object.hasOwn(m.preset.options, k), `${m.id}: ${k}`).toBe(true);
          expect(m.preset.options[k]?.some((d) => JSON.stringify(d) === JSON.stringify(v)), `${m.id}: ${k}=${JSON.stringify(v)}`).toBe(true);
        }
      }
    }
  });

  it('every declared option is read by a call site in models/, and every call site names a declared option', () => {
    const read = new Map<string, string[]>();
    // A typed accessor call: opt(s, 'x'), optionOf(s, 'x'), a folder's option(s, 'x'), designOption(o, 'x'), designOpt(o, 'x').
    const call = /\b(?:opt|optionOf|option|designOption|designOpt)\(\s*[A-Za-z_$][\w$.]*\s*,\s*'([^']+)'\s*\)/g;
    for (const f of sourceFiles(join(ROOT, 'models'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(call)) {
        const name = m[1] as string;
        read.set(name, [...(read.get(name) ?? []), f.slice(ROOT.length)]);
      }
    }
    const declared = new Set(MODELS.flatMap((m) => Object.keys(m.preset.options)));
    expect(declared.size).toBeGreaterThanOrEqual(13);
    const unread = [...declared].filter((k) => !read.has(k));
    expect(unread, 'declared options no code reads (a typo at the read, or a dead option)').toEqual([]);
    const unknown = [...read.keys()].filter((k) => !declared.has(k));
    expect(unknown, 'reads naming no declared option').toEqual([]);
  });

  it('no code indexes design options directly with a literal: every read goes through a typed accessor', () => {
    const declared = new Set(MODELS.flatMap((m) => Object.keys(m.preset.options)));
    // `design.options['x']` / `design.options.x` with any name (a typo included), and any object indexed by a
    // declared option's name (`options['consumer']`, `o["hdbssSz"]`, `opts.ringEntries`). Names that are also
    // metrics (`stats['ringEntries']`, the metrics object `out`/`m`/`r`) are counters, not option reads.
    const design = /\bdesign\??\.options\s*(?:\[\s*['"`]|\??\.[A-Za-z_$])/;
    const indexed = /\b([A-Za-z_$][\w$]*)\s*\[\s*['"`]([A-Za-z_$][\w$]*)['"`]\s*\]/g;
    const dotted = /\b([A-Za-z_$][\w$]*)\??\.(?=([A-Za-z_$][\w$]*))/g;
    const METRICS = new Set(['stats', 'out', 'm', 'r', 'totals', 'metrics']);
    const direct: string[] = [];
    for (const f of [...sourceFiles(join(ROOT, 'models')), ...sourceFiles(join(ROOT, 'src'))]) {
      if (f.endsWith('/models/machine/options.ts')) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        const code = line.trim();
        if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return;
        const hit = design.test(code)
          || [...code.matchAll(indexed)].some((m) => declared.has(m[2] as string) && !METRICS.has(m[1] as string))
          || [...code.matchAll(dotted)].some((m) => declared.has(m[2] as string) && /options|^o$|^opts$/i.test(m[1] as string));
        if (hit) direct.push(`${f.slice(ROOT.length)}:${i + 1}: ${code}`);
      });
    }
    expect(direct).toEqual([]);
  });
});
