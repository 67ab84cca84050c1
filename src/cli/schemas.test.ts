/**
 * The JSON Schemas in schemas/ (issue 17 item 3): the checked-in files are exactly what src/cli/schemas.ts
 * generates from the models' declarations (so they never drift: run `npm run schemas` after changing a model's
 * options, knobs, invariants or events, or a command's --json output), they compile in a standard validator (ajv,
 * draft 2020-12, strict), they are shipped in the package, and every trace in traces/ validates against the schema
 * of its format version.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchemas, renderSchema, ANY_TRACE_SCHEMA_ID, JSON_COMMANDS, outputSchemaId, SCHEMA_DIALECT } from './schemas.ts';
import { traceSchemaId, TRACE_VERSION } from '../trace/format.ts';
import { HELP } from './help.ts';
import { SCHEMA_DIR, schemaValidator, shippedSchemas, validateTrace, validateWith } from '../../properties/support/schemas.ts';
import { LIMITS } from '../../models/machine/state.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('JSON Schemas', () => {
  it('schemas/ holds exactly the generated schemas, byte for byte (npm run schemas writes them)', () => {
    const want = buildSchemas();
    const files = readdirSync(SCHEMA_DIR).filter((n) => n.endsWith('.json')).sort();
    expect(files).toEqual(want.map((w) => w.file).sort());
    for (const w of want) expect(readFileSync(join(SCHEMA_DIR, w.file), 'utf8'), `schemas/${w.file} is stale: run npm run schemas`).toBe(renderSchema(w.schema));
  });

  it('one schema per trace format version the reader accepts, one for any version, one per command with --json; each with its own $id and the 2020-12 dialect', () => {
    const ids = shippedSchemas().map((s) => s.schema.$id).sort();
    const expected = [...Array.from({ length: TRACE_VERSION }, (_, i) => traceSchemaId(i + 1)), ANY_TRACE_SCHEMA_ID, ...JSON_COMMANDS.map(outputSchemaId)].sort();
    expect(ids).toEqual(expected);
    for (const s of shippedSchemas()) expect((s.schema as unknown as { $schema: string }).$schema).toBe(SCHEMA_DIALECT);
    // every one compiles under ajv's strict mode (unknown keywords, ambiguous types are errors)
    for (const id of ids) expect(schemaValidator().getSchema(id), id).toBeTypeOf('function');
  });

  it('the package ships schemas/ and exports it as dtsim/schemas/*', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[]; exports: { [k: string]: unknown }; scripts: { [k: string]: string } };
    expect(pkg.files).toContain('schemas/');
    expect(pkg.exports['./schemas/*']).toBe('./schemas/*');
    expect(pkg.scripts['schemas']).toContain('scripts/schemas.ts');
  });

  it('every trace in traces/ validates against the schema of its formatVersion and against trace.schema.json', () => {
    const files = (readdirSync(join(ROOT, 'traces'), { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(30);
    const bad: string[] = [];
    const versions = new Set<number>();
    for (const f of files) {
      const doc = JSON.parse(readFileSync(join(ROOT, 'traces', f), 'utf8')) as { formatVersion: number; $schema?: string };
      versions.add(doc.formatVersion);
      const errs = [...validateWith(traceSchemaId(doc.formatVersion), doc), ...validateWith(ANY_TRACE_SCHEMA_ID, doc)];
      if (errs.length) bad.push(`traces/${f}: ${errs.join('; ')}`);
      // regressions and explore results name their schema (fixtures are frozen as they were made)
      if (!f.startsWith('fixtures/') && doc.$schema !== traceSchemaId(doc.formatVersion)) bad.push(`traces/${f}: $schema ${String(doc.$schema)}`);
    }
    expect(bad).toEqual([]);
    expect([...versions].sort()).toEqual(Array.from({ length: TRACE_VERSION }, (_, i) => i + 1));
  });

  it('the trace schema refuses what the reader refuses and a schema can see: a wrong $schema, an unknown option value, knob, invariant, event type or field', () => {
    const doc = JSON.parse(readFileSync(join(ROOT, 'traces/regressions/dirty-ring-reset-no-tlb-flush.json'), 'utf8')) as { [k: string]: unknown };
    expect(validateTrace(doc)).toEqual([]);
    const edit = (f: (d: { [k: string]: any }) => void): string[] => { const d = structuredClone(doc) as { [k: string]: any }; f(d); return validateTrace(d); };
    expect(edit((d) => { d['$schema'] = traceSchemaId(1); })).not.toEqual([]);
    expect(edit((d) => { d['design'].options.ringEntries = 5; })).not.toEqual([]);
    expect(edit((d) => { d['design'].options.manualProtect = true; })).not.toEqual([]); // a dirty-bitmap option, not a dirty-ring one
    expect(edit((d) => { d['design'].bugs = ['missing-tlbi']; })).not.toEqual([]); // a dirty-bitmap knob
    expect(edit((d) => { d['expect'].invariant = 'INV-VMID'; })).not.toEqual([]); // a pta invariant
    expect(edit((d) => { d['events'][0].type = 'vmm/pageTeleported'; })).not.toEqual([]);
    expect(edit((d) => { d['events'][0].extra = 1; })).not.toEqual([]);
    expect(edit((d) => { d['config'].vcpus = LIMITS.vcpus + 1; })).not.toEqual([]);
    expect(edit((d) => { d['design'].modelVersion = 2; })).not.toEqual([]);
    expect(edit((d) => { d['exp\u0435ct'] = d['expect']; delete d['expect']; })).not.toEqual([]);
  });

  it('the README (Commands, Traces, Layout), docs/failing-traces.md and dtsim help name the schemas', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = (title: string): string => readme.split(/^## /m).find((x) => x.startsWith(title)) ?? '';
    for (const t of ['Commands', 'Traces', 'Layout']) expect(section(t), `README ${t}`).toMatch(/schemas\/|\$schema/);
    expect(section('Commands')).toContain('dtsim/schemas/*');
    expect(section('Traces')).toContain(traceSchemaId(TRACE_VERSION));
    for (const c of JSON_COMMANDS) expect(section('Commands'), c).toContain(`\`${c}\``);
    expect(readFileSync(join(ROOT, 'docs/failing-traces.md'), 'utf8')).toContain('$schema');
    expect(HELP).toContain('schemas/');
    expect(HELP).toContain('$schema');
  });
});
