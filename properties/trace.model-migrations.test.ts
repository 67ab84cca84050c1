/**
 * Traces outlive the models that made them. Each registered model keeps a frozen, unedited trace of its current
 * version in traces/fixtures/model.<id>.v<N>.json; read by test-only copies of the model at version 2
 * (properties/support/model-v2.ts), it is migrated by a rewrite step, accepted by the replay rule when it still
 * replays to its expect block, and refused (one field, one line) when it no longer does. A trace from a newer
 * model version is refused; a model whose chain has a gap is refused when it is built (startup assertion).
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseTrace, serializeTrace } from '../src/trace/format.ts';
import { assertModelMigrations, describeModelMigration } from '../src/trace/model-migrations.ts';
import { replay } from '../src/core/engine.ts';
import { lookupModel } from '../src/cli/registry.ts';
import { MODELS, dirtyBitmap } from '../models/index.ts';
import { makeMachineModel } from '../models/machine/model.ts';
import type { EventBase, ModelMigration } from '../src/core/model.ts';
import { lookupV2, RENAME_CONSUMER } from './support/model-v2.ts';
import { SEED } from './support/seed.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const FIXTURES = join(ROOT, 'traces', 'fixtures');
const fixture = (id: string, v: number): string => join(FIXTURES, `model.${id}.v${v}.json`);
const read = (id: string, v = 1): string => readFileSync(fixture(id, v), 'utf8');

/** sha256 of each frozen model fixture: never edited (a new version gets a new fixture). */
const FROZEN: { readonly [file: string]: string } = {
  'model.dirty-bitmap.v1.json': '66ff864d6a750ace7881394e9ad3d1a5fbc77dba4698b7e25a1aa041d3ad7dd5',
  'model.dirty-ring.v1.json': '3d4f28e7bc68a6e2f6b40f0412e380d87687b6e8cf51f070c6e7e7dfad3a057a',
  'model.hdbss.v1.json': '3417cb47ddcfa8876bee2e64288b2fab2b8bed395fba88997f294587319baf91',
  'model.hdbss.v2.json': '5d300424dd15047298e6fb655f46d66a63a1ccac7ba9885d478f73a2c54b0f21',
  'model.pta.v1.json': '3e6b4531eb17a0688a43633715a5359862748b661be6f8954fadb6e6ce0a071b',
};

function replaysToExpect(r: ReturnType<typeof parseTrace>): boolean {
  if (!r.ok) return false;
  const o = replay(r.model, r.trace.design, r.trace.config, r.trace.events as EventBase[], { path: 'fast' });
  const ex = r.trace.expect;
  return o.status === ex.status && (ex.status !== 'violated' || (o.eventIndex === ex.eventIndex && o.invariant === ex.invariant));
}

const lineOf = (text: string, n: number | null): string => text.split('\n')[(n ?? 0) - 1] ?? '';

describe(`model migrations (seed ${SEED})`, () => {
  it('keeps a frozen, unedited fixture of every version of every model, read without migration at its own version', () => {
    for (const m of MODELS) {
      for (let v = 1; v <= m.version; v++) {
        const file = fixture(m.id, v);
        expect(existsSync(file), `${file} is missing: freeze a trace of ${m.id} v${v}`).toBe(true);
        const text = readFileSync(file, 'utf8');
        const name = `model.${m.id}.v${v}.json`;
        expect(createHash('sha256').update(text).digest('hex'), `${file} was edited (or is not listed in FROZEN)`).toBe(FROZEN[name]);
        expect((JSON.parse(text) as { design: { modelVersion: number } }).design.modelVersion).toBe(v);
      }
      const r = parseTrace(read(m.id, m.version), lookupModel);
      expect(r.ok && r.migration, m.id).toBe(null);
      expect(replaysToExpect(r), m.id).toBe(true);
    }
  });

  it('every registered model has a complete chain; a gap, a step out of order or too many steps are refused at startup', () => {
    for (const m of MODELS) expect(() => assertModelMigrations(m)).not.toThrow();
    const replayStep = (from: number): ModelMigration => ({ kind: 'replay', from, why: 'x' });
    expect(() => assertModelMigrations({ id: 'm', version: 3, migrations: [replayStep(1)] })).toThrow(/no step from v2/);
    expect(() => assertModelMigrations({ id: 'm', version: 3, migrations: [replayStep(1), replayStep(3)] })).toThrow(/expected v2/);
    expect(() => assertModelMigrations({ id: 'm', version: 2, migrations: [replayStep(1), replayStep(2)] })).toThrow(/at or above the current version/);
    expect(() => assertModelMigrations({ id: 'm', version: 2, migrations: [{ kind: 'replay', from: 1, why: '' }] })).toThrow(/one-line 'why'/);
    expect(() => assertModelMigrations({ id: 'm', version: 0 })).toThrow(/positive integer/);
    // Building a model: a version bump with no step stops dtsim where the model is made (module load).
    expect(() => makeMachineModel({ ...dirtyBitmap.preset, version: 2, migrations: [] })).toThrow(/model 'dirty-bitmap' migrations: no step from v1/);
    expect(() => makeMachineModel({ ...dirtyBitmap.preset, version: 2, migrations: [RENAME_CONSUMER] })).not.toThrow();
  });

  // The test-only copies are each model's next version (N + 1), reading the frozen fixture of its current one (N).
  it('rewrite step: each current fixture is rewritten (option consumer -> sink) and replays to its expect block under the next version', () => {
    const lookup = lookupV2('rewrite');
    for (const m of MODELS) {
      const n = m.version;
      const r = parseTrace(read(m.id, n), lookup);
      expect(r.ok, r.ok ? '' : JSON.stringify(r.error)).toBe(true);
      if (!r.ok) continue;
      expect(r.trace.design.modelVersion).toBe(n + 1);
      expect(r.trace.design.options['sink']).toBe((JSON.parse(read(m.id, n)) as { design: { options: { consumer: string } } }).design.options.consumer);
      expect(Object.hasOwn(r.trace.design.options, 'consumer')).toBe(false);
      expect(r.migration).toEqual({ model: m.id, from: n, to: n + 1, steps: [{ from: n, kind: 'rewrite', why: 'option consumer renamed sink' }], replayed: false });
      expect(describeModelMigration(r.migration!)).toBe(`migrated from v${n} (rewritten v${n}->v${n + 1}: option consumer renamed sink)`);
      expect(replaysToExpect(r), m.id).toBe(true);
      // Saved again, it is a v2 trace, read with no migration.
      const again = parseTrace(serializeTrace(r.trace), lookup);
      expect(again.ok && again.migration).toBe(null);
      expect(again.ok && again.trace.design.options).toEqual(r.trace.design.options);
    }
  });

  it('rewrite step: what it cannot migrate is refused with its line and field', () => {
    const lookup = lookupV2('rewrite');
    const text = read('dirty-bitmap').replace('"consumer":"bitmap"', '"consumer":"bitmap","sink":"bitmap"');
    const r = parseTrace(text, lookup);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ kind: 'staleModel', field: 'design.options.sink' });
    expect(r.error.message).toMatch(/^cannot migrate dirty-bitmap v1 -> v2 \(option consumer renamed sink\): /);
    expect(lineOf(text, r.error.line)).toContain('"design"');
    // After the rewrite the trace is validated by v2: an option v2 does not know is refused as usual.
    const r2 = parseTrace(read('dirty-bitmap').replace('"consumer":"bitmap"', '"consumer":"bitmap","frob":1'), lookup);
    expect(!r2.ok && r2.error.field).toBe('design.options.frob');
  });

  it('replay rule: a current fixture that still replays to its expect block under the next version is accepted, and says so', () => {
    const lookup = lookupV2('replay');
    for (const m of MODELS) {
      const n = m.version;
      const r = parseTrace(read(m.id, n), lookup);
      expect(r.ok, r.ok ? '' : JSON.stringify(r.error)).toBe(true);
      if (!r.ok) continue;
      expect(r.trace.design.modelVersion).toBe(n + 1);
      expect(r.migration?.replayed).toBe(true);
      expect(describeModelMigration(r.migration!)).toBe(`migrated from v${n} (replays to its expect block under v${n + 1})`);
    }
  });

  it('replay rule: a current fixture whose outcome changed under the next version is refused, naming the expect block in one line', () => {
    const lookup = lookupV2('changed');
    for (const m of MODELS) {
      const n = m.version;
      const text = read(m.id, n);
      const r = parseTrace(text, lookup);
      expect(r.ok, m.id).toBe(false);
      if (r.ok) continue;
      expect(r.error.kind).toBe('staleModel');
      expect(r.error.field).toBe('expect');
      expect(r.error.message).toContain(`trace made with ${m.id} v${n} no longer replays to its expect block under v${n + 1} (expected ok, got `);
      expect(r.error.message).not.toContain('\n');
      expect(lineOf(text, r.error.line)).toContain('"expect"');
    }
  });

  it('hdbss v1 -> v2 (the request paths made the default): a v1 trace is rewritten with the v1 defaults explicit and replays to its expect block', () => {
    const text = read('hdbss', 1);
    const r = parseTrace(text, lookupModel);
    expect(r.ok, r.ok ? '' : JSON.stringify(r.error)).toBe(true);
    if (!r.ok) return;
    expect(r.trace.design.modelVersion).toBe(2);
    expect(r.trace.design.options).toMatchObject({ kicks: false, enableRequest: false });
    expect(r.migration).toMatchObject({ model: 'hdbss', from: 1, to: 2, steps: [{ from: 1, kind: 'rewrite' }], replayed: true });
    expect(replaysToExpect(r)).toBe(true);
    // Without the step the same events under version 2's defaults (kicks, enableRequest on) are another run:
    // the v1 fixture read as a v2 trace does not replay to its expect block.
    const asV2 = parseTrace(text.replace('"modelVersion":1', '"modelVersion":2'), lookupModel);
    expect(asV2.ok && asV2.trace.design.options['kicks']).toBe(true);
    expect(asV2.ok && replaysToExpect(asV2)).toBe(false);
    // A v1 trace that chose kicks keeps it (the F14 regression trace, made with kicks on under version 1).
    const f14 = parseTrace(readFileSync(join(ROOT, 'traces', 'regressions', 'hdbss-hdbss-sync-ipi-wait.json'), 'utf8'), lookupModel);
    expect(f14.ok && f14.trace.design.options).toMatchObject({ kicks: true, enableRequest: false });
    expect(f14.ok && f14.migration?.replayed).toBe(true);
    // Version 1 had no option enableRequest: a v1 trace naming it is refused, with its line and field.
    const bad = text.replace('"hdbssAborts":false', '"hdbssAborts":false,"enableRequest":true');
    const rb = parseTrace(bad, lookupModel);
    expect(!rb.ok && [rb.error.kind, rb.error.field]).toEqual(['staleModel', 'design.options.enableRequest']);
    expect(!rb.ok && lineOf(bad, rb.error.line)).toContain('"design"');
  });

  it('a trace from a newer model version, or with a malformed one, is refused with its line and field', () => {
    for (const m of MODELS) {
      const text = read(m.id).replace('"modelVersion":1', `"modelVersion":${m.version + 1}`);
      const r = parseTrace(text, lookupModel);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.error).toMatchObject({ kind: 'modelTooNew', field: 'design.modelVersion' });
      expect(r.error.message).toContain(`newer than this dtsim's v${m.version}`);
      expect(lineOf(text, r.error.line)).toContain('"modelVersion"');
    }
    for (const bad of ['"1"', '0', '1.5', 'null']) {
      const r = parseTrace(read('pta').replace('"modelVersion":1', `"modelVersion":${bad}`), lookupModel);
      expect(!r.ok && [r.error.kind, r.error.field], bad).toEqual(['invalid', 'design.modelVersion']);
    }
  });

  it('dtsim replay of a trace from a newer model version exits 2 with one line naming file, line and field', () => {
    const tmp = join(mkdtempSync(join(tmpdir(), 'dtsim-model-')), 'too-new.json');
    writeFileSync(tmp, read('dirty-ring').replace('"modelVersion":1', '"modelVersion":2'));
    const r = spawnSync(process.execPath, ['bin/dtsim.js', 'replay', tmp], { encoding: 'utf8', cwd: ROOT });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^dtsim: ${tmp.replace(/[.]/g, '\\.')}:\\d+: design\\.modelVersion: trace was made with dirty-ring v2, newer than this dtsim's v1`));
  });
});
