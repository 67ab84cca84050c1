/**
 * Writes the JSON Schemas dtsim ships into `schemas/` (`npm run schemas`), from src/cli/schemas.ts: the trace
 * schemas generated from the models' declarations and the schemas of every command's `--json` output. A schema
 * file no longer generated is removed. `--check` writes nothing and exits 1 when a file differs (the same check
 * src/cli/schemas.test.ts makes in `npm test`).
 *
 *   node bin/run-ts.js scripts/schemas.ts [--check]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchemas, renderSchema } from '../src/cli/schemas.ts';

const DIR = new URL('../schemas/', import.meta.url).pathname;
const check = process.argv.includes('--check');
const files = buildSchemas();
const want = new Set(files.map((f) => f.file));
const stale = existsSync(DIR) ? readdirSync(DIR).filter((n) => n.endsWith('.schema.json') && !want.has(n)) : [];
const changed = files.filter((f) => !existsSync(join(DIR, f.file)) || readFileSync(join(DIR, f.file), 'utf8') !== renderSchema(f.schema));
if (check) {
  for (const f of changed) process.stderr.write(`schemas/${f.file}: differs from what src/cli/schemas.ts generates (run npm run schemas)\n`);
  for (const n of stale) process.stderr.write(`schemas/${n}: no longer generated (run npm run schemas)\n`);
  process.exit(changed.length || stale.length ? 1 : 0);
}
mkdirSync(DIR, { recursive: true });
for (const f of changed) {
  const tmp = join(DIR, `.${f.file}.tmp`);
  writeFileSync(tmp, renderSchema(f.schema));
  renameSync(tmp, join(DIR, f.file));
}
for (const n of stale) rmSync(join(DIR, n));
process.stdout.write(`schemas/: ${files.length} schemas, ${changed.length} written, ${stale.length} removed\n`);
