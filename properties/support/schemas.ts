/**
 * The shipped JSON Schemas (schemas/*.schema.json, as checked in) loaded into one ajv (draft 2020-12, strict), for
 * the tests that validate traces and `--json` outputs against them. Validation errors come back as short lines
 * (`/events/3/gfn: must be <= 4194303`) for a failure message.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ANY_TRACE_SCHEMA_ID, outputSchemaId, type JsonCommand } from '../../src/cli/schemas.ts';
import { traceSchemaId } from '../../src/trace/format.ts';

export const SCHEMA_DIR = new URL('../../schemas/', import.meta.url).pathname;

/** The schema files under schemas/, parsed, by file name. */
export function shippedSchemas(): { file: string; schema: { $id: string } }[] {
  return readdirSync(SCHEMA_DIR).filter((n) => n.endsWith('.schema.json')).sort()
    .map((file) => ({ file, schema: JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as { $id: string } }));
}

let ajv: Ajv2020 | null = null;

/** One ajv with every shipped schema added (strict: an unknown keyword or an ambiguous type is an error). */
export function schemaValidator(): Ajv2020 {
  if (ajv) return ajv;
  const a = new Ajv2020({ strict: true, allErrors: false });
  for (const s of shippedSchemas()) a.addSchema(s.schema);
  ajv = a;
  return a;
}

function compiled(id: string): ValidateFunction {
  const v = schemaValidator().getSchema(id);
  if (!v) throw new Error(`no schema ${id} in schemas/`);
  return v;
}

function lines(errs: readonly ErrorObject[] | null | undefined): string[] {
  return (errs ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'}: ${e.message ?? e.keyword}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/** Validates a parsed document against the schema with this `$id`: [] when valid, else short error lines. */
export function validateWith(id: string, doc: unknown): string[] {
  const v = compiled(id);
  return v(doc) ? [] : lines(v.errors);
}

/** Against the schema of its own formatVersion (when it has one dtsim knows), else the any-version trace schema. */
export function validateTrace(doc: unknown): string[] {
  const fv = typeof doc === 'object' && doc !== null ? (doc as { formatVersion?: unknown }).formatVersion : undefined;
  const id = typeof fv === 'number' && schemaValidator().getSchema(traceSchemaId(fv)) ? traceSchemaId(fv) : ANY_TRACE_SCHEMA_ID;
  return validateWith(id, doc);
}

/** A command's `--json` output against `output-<command>.schema.json`. */
export function validateOutput(command: JsonCommand, doc: unknown): string[] {
  return validateWith(outputSchemaId(command), doc);
}
