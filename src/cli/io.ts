/**
 * File I/O for the CLI: reading traces, and the one way every command writes a file.
 *
 * Traces are evidence, so every writer goes through `writeOutput` (a path the user named: `run --out`,
 * `shrink --out`, `explore --out`, `show --html/--perfetto`, `compare --html`) or `writeFresh` (a file the
 * command names itself in a folder: `check` and `bugs` failures, `explore` counterexamples without --out):
 *
 * - **Never a silent overwrite.** A named path that exists is refused (exit 2, one line) unless the user passed
 *   `--force`; the refusal is race-free (the file is put in place with link(2), which fails if the name was
 *   taken meanwhile), and `checkOutputs` refuses it before the work starts, so nobody waits for a shrink to be
 *   told no. An auto-named file never overwrites anything, whatever runs alongside (two shards saving into one
 *   folder): it is put in place with link(2) under the first free name `stem.json`, `stem-2.json`, ...
 * - **Never over the command's own input**, even with `--force` (`dtsim shrink T.json --out ./T.json`), nor two
 *   outputs of one command onto one file: paths are compared as files (device and inode, through symlinks and
 *   hard links) and as resolved real paths.
 * - **Atomic.** The text is written to a temp file in the destination's folder (created exclusively, never a
 *   shared name), fsynced, then renamed (or linked) into place, and the folder is fsynced (best effort: not every
 *   platform can open a folder). A crash leaves either the old file or the whole new one; a refused or failed
 *   write removes its temp file and leaves nothing behind.
 *
 * Errors are `UsageError` (a refusal: the user asked for something dtsim will not do) or `BadInputError` (the
 * file system said no), so the CLI exits 2 with one line naming the flag or the file.
 */
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BadInputError, UsageError } from './errors.ts';

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BadInputError(file, null, '', code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? String(e)})`);
  }
}

/** A file a command was asked to write: the flag that named it (for messages) and the path. */
export interface Output {
  readonly flag: string;
  readonly file: string;
}

/** How a named output may be written. */
export interface OutputRules {
  /** The user passed `--force`: an existing file at the path may be replaced (never one of `inputs`). */
  readonly force: boolean;
  /** The files the command reads: never written over, even with `--force`. */
  readonly inputs: readonly string[];
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** `stat` (through symlinks), or undefined when nothing can be found there (ENOENT, ENOTDIR, EACCES...). */
function statOf(file: string): Stats | undefined {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The device and inode of a path (through symlinks), or null when nothing is there. */
function fileId(file: string): string | null {
  const s = statOf(file);
  return s ? `${s.dev}:${s.ino}` : null;
}

/** The resolved real path of a file that may not exist yet (its folder's real path, then its name). */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    try { return join(realpathSync(dirname(file)), basename(file)); } catch { return resolve(file); }
  }
}

/** Whether two paths name one file: the same inode (symlinks, hard links, `./x` and `x`), or the same real path. */
function sameFile(a: string, b: string): boolean {
  const ia = fileId(a);
  return (ia !== null && ia === fileId(b)) || realPath(a) === realPath(b);
}

/** Whether something (a file, a folder, a dangling symlink) holds the name `file`. */
function taken(file: string): boolean {
  try {
    return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Refuses, before any work, the outputs a command may not write: one that is (or links to) one of its inputs,
 * even with --force; two outputs onto one file; a path under a file; an existing folder; an existing file
 * without --force. Throws a `UsageError` (or `BadInputError`) naming the flag or the path (exit 2, one line).
 */
export function checkOutputs(outputs: readonly Output[], rules: OutputRules): void {
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i]!;
    for (const input of rules.inputs) {
      if (sameFile(o.file, input)) {
        throw new UsageError(`${o.flag}: ${o.file} is this command's input ${input}; write to another file (--force never replaces a command's own input)`);
      }
    }
    for (const other of outputs.slice(0, i)) {
      if (sameFile(o.file, other.file)) throw new UsageError(`${o.flag}: ${o.file} is also the file of ${other.flag}; give each output its own file`);
    }
    // The nearest existing ancestor must be a folder (a path under a file can never be written).
    for (let d = dirname(resolve(o.file)); ; d = dirname(d)) {
      const s = statOf(d);
      if (s === undefined && dirname(d) !== d) continue;
      if (s !== undefined && !s.isDirectory()) throw new BadInputError(o.file, null, '', `cannot create folder ${dirname(o.file)} (${d} is a file)`);
      break;
    }
    if (!taken(o.file)) continue;
    if (statOf(o.file)?.isDirectory()) throw new UsageError(`${o.flag}: ${o.file} is a directory`);
    if (!rules.force) {
      throw new UsageError(`${o.flag}: ${o.file} exists; pass --force to replace it (traces are evidence: dtsim never overwrites one silently)`);
    }
  }
}

/** Creates `dir` (and its parents) for a file; a folder that cannot be made is bad input naming the file. */
function ensureDir(file: string): string {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new BadInputError(file, null, '', `cannot create folder ${dir} (${errCode(e)})`);
  }
  return dir;
}

let tempCounter = 0;

/**
 * Writes `text` to a new temp file next to `file` (created exclusively: never a file someone else holds),
 * fsyncs and closes it; returns its path. On failure nothing is left behind.
 */
function writeTemp(dir: string, file: string, text: string): string {
  for (let attempt = 0; ; attempt++) {
    const tmp = join(dir, `.${basename(file)}.${process.pid}.${++tempCounter}.tmp`);
    let fd: number;
    try {
      fd = openSync(tmp, 'wx', 0o666);
    } catch (e) {
      if (errCode(e) === 'EEXIST' && attempt < 100) continue;
      throw new BadInputError(file, null, '', `cannot write (${errCode(e)})`);
    }
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
      closeSync(fd);
      return tmp;
    } catch (e) {
      try { closeSync(fd); } catch { /* already closed */ }
      removeQuietly(tmp);
      throw new BadInputError(file, null, '', `cannot write (${errCode(e)})`);
    }
  }
}

function removeQuietly(file: string): void {
  try { unlinkSync(file); } catch { /* gone already, or nothing more to do */ }
}

/** Makes a rename or link durable: fsync the folder (best effort: some platforms cannot open a folder). */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch { /* best effort */ } finally {
    if (fd !== null) try { closeSync(fd); } catch { /* nothing more to do */ }
  }
}

/**
 * Puts the complete temp file at `dest` only if no file holds that name, race-free: link(2) fails with EEXIST
 * when the name is taken. Where hard links are not supported, the name is reserved with an exclusive create
 * and the temp file renamed over the (empty, ours) reservation. Returns false when the name is taken.
 */
function placeExclusive(tmp: string, dest: string): boolean {
  try {
    linkSync(tmp, dest);
    removeQuietly(tmp);
    return true;
  } catch (e) {
    const code = errCode(e);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EMLINK') throw e;
  }
  let fd: number;
  try {
    fd = openSync(dest, 'wx');
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, dest);
  } catch (e) {
    removeQuietly(dest);
    throw e;
  }
  return true;
}

/**
 * Writes a file the user named (`--out`, `--html`, ...): refuses as `checkOutputs` does, then writes atomically
 * (temp file, fsync, rename or link, fsync the folder). Without --force the file is put in place only if the
 * name is still free at that moment (link), so a file created meanwhile is not overwritten either.
 */
export function writeOutput(out: Output, text: string, rules: OutputRules): void {
  checkOutputs([out], rules);
  const dir = ensureDir(out.file);
  const tmp = writeTemp(dir, out.file, text);
  try {
    if (rules.force) renameSync(tmp, out.file);
    else if (!placeExclusive(tmp, out.file)) {
      throw new UsageError(`${out.flag}: ${out.file} exists; pass --force to replace it (traces are evidence: dtsim never overwrites one silently)`);
    }
  } catch (e) {
    removeQuietly(tmp);
    if (e instanceof UsageError) throw e;
    throw new BadInputError(out.file, null, '', `cannot write (${errCode(e)})`);
  }
  syncDir(dir);
}

/**
 * Writes a file dtsim names itself: `dir/stem.json`, or `stem-2.json`, `stem-3.json`, ... the first name no file
 * holds at the moment it is put in place (link: race-free, so two processes saving into one folder never
 * overwrite each other's files). Atomic as `writeOutput`; returns the path written.
 */
export function writeFresh(dir: string, stem: string, text: string): string {
  const first = join(dir, `${stem}.json`);
  ensureDir(first);
  const tmp = writeTemp(dir, first, text);
  try {
    for (let i = 1; ; i++) {
      const p = i === 1 ? first : join(dir, `${stem}-${i}.json`);
      if (placeExclusive(tmp, p)) {
        syncDir(dir);
        return p;
      }
    }
  } catch (e) {
    removeQuietly(tmp);
    throw new BadInputError(first, null, '', `cannot write (${errCode(e)})`);
  }
}
