/**
 * The project's own source files, for the tests that read code as text (architecture rules, knob and option
 * call sites): every `.ts` file under `dir`, tests excluded.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...sourceFiles(p));
    else if (d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
