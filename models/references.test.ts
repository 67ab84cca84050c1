import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODELS } from './index.ts';
import { REFERENCES, referenceProblems, referenceRows } from './references.ts';
import type { MachineModel } from './machine/model.ts';

const ids = REFERENCES.map((r) => r.id);

describe('the reference catalogues (issue 16 item 5)', () => {
  it('lists every id of both catalogues: B1-B15, U1-U4, F1-F21, and dtsim\'s findings (F-B1, F-B2)', () => {
    const want = [...Array.from({ length: 15 }, (_, i) => `B${i + 1}`), ...Array.from({ length: 4 }, (_, i) => `U${i + 1}`),
      ...Array.from({ length: 21 }, (_, i) => `F${i + 1}`), 'F-B1', 'F-B2'];
    expect([...ids].sort()).toEqual([...want].sort());
  });

  it('maps every reference to knobs or to a reason, never both, and every knob to a listed reference', () => {
    expect(referenceProblems(MODELS)).toEqual([]);
  });

  it('can fail: a knob for a reference that also gives a reason, a knob of an unknown reference, a reference left bare', () => {
    const m = MODELS[0]!;
    const withBugs = (bugs: MachineModel['preset']['bugs']): MachineModel => ({ ...m, preset: { ...m.preset, bugs } }) as MachineModel;
    const b0 = m.preset.bugs[0]!;
    expect(referenceProblems([withBugs([...m.preset.bugs, { ...b0, id: 'x', ref: 'B7' }])]).join('\n')).toMatch(/B7: has knobs \(x\) and a no-knob reason/);
    expect(referenceProblems([withBugs([...m.preset.bugs, { ...b0, id: 'y', ref: 'Z9' }])]).join('\n')).toMatch(/ref Z9 is in no reference catalogue/);
    // Only the first model's knobs: the references whose knobs live in the other models are bare.
    expect(referenceProblems([m]).join('\n')).toMatch(/B5: has neither a knob nor a reason/);
  });

  it('README.md has one row per reference, naming its knobs or its reason kind', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('## Reference catalogue')[1]?.split('\n## ')[0] ?? '';
    expect(section).not.toBe('');
    for (const row of referenceRows(MODELS)) {
      const line = section.split('\n').find((l) => l.startsWith(`| ${row.ref.id} |`));
      expect(line, `README row for ${row.ref.id}`).toBeDefined();
      if (row.ref.none) expect(line).toContain(row.ref.none.kind);
      for (const k of row.knobs) expect(line).toContain(`\`${k.knob}\``);
    }
    const rows = section.split('\n').filter((l) => /^\| (?:[BUF]\d+|F-[A-Z]\d+) \|/.test(l));
    expect(rows.length).toBe(REFERENCES.length);
  });
});
