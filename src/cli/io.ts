/**
 * File I/O for the CLI: reading traces, and writing files atomically (temp file in the same folder, then
 * rename), so a crash never leaves a half-written trace and an existing file is replaced only whole.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { BadInputError } from './errors.ts';

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BadInputError(file, null, '', code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? String(e)})`);
  }
}

export function writeAtomic(file: string, text: string): void {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new BadInputError(file, null, '', `cannot create folder ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    try { if (existsSync(tmp)) unlinkSync(tmp); } catch { /* nothing more to do */ }
    throw new BadInputError(file, null, '', `cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** A path in `dir` named `stem.json` that does not exist yet (`stem-2.json`, ... otherwise): never overwrites. */
export function freshPath(dir: string, stem: string): string {
  let p = join(dir, `${stem}.json`);
  for (let i = 2; existsSync(p); i++) p = join(dir, `${stem}-${i}.json`);
  return p;
}
