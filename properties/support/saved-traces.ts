/**
 * Every saved trace: the `*.json` files under traces/ (recursively, sorted), for the tests that walk them all
 * (each replays to its expect block; each mechanism's `pendingIndex` agrees with its `pending` along them).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyModel } from '../../src/core/model.ts';
import { parseTrace, type Trace } from '../../src/trace/format.ts';
import { modelById } from '../../models/index.ts';

export function savedTraceFiles(dir = 'traces'): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...savedTraceFiles(p));
    else if (n.endsWith('.json')) out.push(p);
  }
  return out.sort();
}

/** A saved trace parsed (after migrations) with its model; a trace that does not parse throws naming file, line and field. */
export function readSavedTrace(file: string): { readonly trace: Trace; readonly model: AnyModel } {
  const r = parseTrace(readFileSync(file, 'utf8'), (id) => modelById(id) as unknown as AnyModel | undefined);
  if (!r.ok) throw new Error(`${file}:${r.error.line}: ${r.error.field}: ${r.error.message}`);
  return { trace: r.trace, model: r.model };
}
