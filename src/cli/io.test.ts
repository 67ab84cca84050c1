/**
 * The one writer every command uses (src/cli/io.ts), in process: a named output is refused when it exists
 * (unless --force) or is the command's input (even with --force: ./x, symlinks and hard links count); a write
 * that fails after its temp file was made (fsync, rename, link) leaves no temp file and the destination as it
 * was; auto-named files never overwrite, even when another writer takes the name between the check and the
 * write. Faults are injected by wrapping node:fs (the wrapped calls behave as the real ones unless a test arms
 * a fault).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as realFs from 'node:fs';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Faults a test arms; each is consumed by the first call it applies to. */
const faults: { fsync?: string; rename?: string; link?: string; beforeLink?: (dest: string) => void } = {};

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof realFs>();
  const fail = (code: string): never => { throw Object.assign(new Error(`${code}: injected`), { code }); };
  return {
    ...fs,
    fsyncSync: (fd: number): void => {
      if (faults.fsync) { const c = faults.fsync; delete faults.fsync; fail(c); }
      fs.fsyncSync(fd);
    },
    renameSync: (a: string, b: string): void => {
      if (faults.rename) { const c = faults.rename; delete faults.rename; fail(c); }
      fs.renameSync(a, b);
    },
    linkSync: (a: string, b: string): void => {
      if (faults.beforeLink) { const f = faults.beforeLink; delete faults.beforeLink; f(b); }
      if (faults.link) { const c = faults.link; delete faults.link; fail(c); }
      fs.linkSync(a, b);
    },
  };
});

const { checkOutputs, writeFresh, writeOutput } = await import('./io.ts');

const fresh = (): string => mkdtempSync(join(tmpdir(), 'dtsim-io-'));
const noForce = { force: false, inputs: [] as string[] };
const force = { force: true, inputs: [] as string[] };
/** The names in a folder: a temp file left behind would show as `.name.pid.n.tmp`. */
const names = (dir: string): string[] => readdirSync(dir).sort();

afterEach(() => {
  for (const k of Object.keys(faults)) delete (faults as Record<string, unknown>)[k];
});

describe('writeOutput (a file the user named)', () => {
  it('writes a new file, creating its folder, and leaves no temp file', () => {
    const dir = fresh();
    const f = join(dir, 'a', 'b', 't.json');
    writeOutput({ flag: '--out', file: f }, 'new', noForce);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(names(join(dir, 'a', 'b'))).toEqual(['t.json']);
  });

  it('refuses an existing file without --force (exit-2 error naming flag and path) and replaces it with --force', () => {
    const dir = fresh();
    const f = join(dir, 't.json');
    writeFileSync(f, 'precious');
    expect(() => writeOutput({ flag: '--out', file: f }, 'new', noForce)).toThrow(`--out: ${f} exists; pass --force`);
    expect(readFileSync(f, 'utf8')).toBe('precious');
    expect(names(dir)).toEqual(['t.json']);
    writeOutput({ flag: '--out', file: f }, 'new', force);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(names(dir)).toEqual(['t.json']);
  });

  it('never writes over its input, even with --force: the same path, ./path, a symlink, a hard link', () => {
    const dir = fresh();
    const input = join(dir, 'in.json');
    writeFileSync(input, 'evidence');
    symlinkSync(input, join(dir, 'sym.json'));
    linkSync(input, join(dir, 'hard.json'));
    for (const out of [input, join(dir, '.', 'in.json'), join(dir, 'sub', '..', 'in.json'), join(dir, 'sym.json'), join(dir, 'hard.json')]) {
      expect(() => writeOutput({ flag: '--out', file: out }, 'shrunk', { force: true, inputs: [input] }), out).toThrow(/is this command's input/);
    }
    expect(readFileSync(input, 'utf8')).toBe('evidence');
    expect(names(dir)).toEqual(['hard.json', 'in.json', 'sym.json']);
  });

  it('refuses two outputs onto one file, an existing folder, and a path under a file', () => {
    const dir = fresh();
    const a = join(dir, 'o.html');
    expect(() => checkOutputs([{ flag: '--html', file: a }, { flag: '--perfetto', file: join(dir, '.', 'o.html') }], force)).toThrow(/--perfetto: .* is also the file of --html/);
    mkdirSync(join(dir, 'folder'));
    expect(() => checkOutputs([{ flag: '--out', file: join(dir, 'folder') }], force)).toThrow(/is a directory/);
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => checkOutputs([{ flag: '--out', file: join(dir, 'file', 'sub', 't.json') }], force)).toThrow(/cannot create folder .* is a file/);
    expect(names(dir)).toEqual(['file', 'folder']);
  });

  it('a write that fails after the temp file was made (fsync, rename, link) leaves no temp file and the old file as it was', () => {
    const dir = fresh();
    const f = join(dir, 't.json');
    writeFileSync(f, 'precious');
    faults.fsync = 'EIO';
    expect(() => writeOutput({ flag: '--out', file: f }, 'new', force)).toThrow(`${f}: cannot write (EIO)`);
    faults.rename = 'EXDEV';
    expect(() => writeOutput({ flag: '--out', file: f }, 'new', force)).toThrow(`${f}: cannot write (EXDEV)`);
    expect(readFileSync(f, 'utf8')).toBe('precious');
    const g = join(dir, 'new.json');
    faults.link = 'EIO';
    expect(() => writeOutput({ flag: '--out', file: g }, 'new', noForce)).toThrow(`${g}: cannot write (EIO)`);
    expect(names(dir)).toEqual(['t.json']);
  });

  it('a file created by someone else between the check and the write is not overwritten without --force', () => {
    const dir = fresh();
    const f = join(dir, 't.json');
    faults.beforeLink = (dest) => writeFileSync(dest, 'theirs');
    expect(() => writeOutput({ flag: '--out', file: f }, 'mine', noForce)).toThrow(/exists; pass --force/);
    expect(readFileSync(f, 'utf8')).toBe('theirs');
    expect(names(dir)).toEqual(['t.json']);
  });

  it('where hard links are not supported, still writes exclusively (reservation, then rename)', () => {
    const dir = fresh();
    const f = join(dir, 't.json');
    faults.link = 'EPERM';
    writeOutput({ flag: '--out', file: f }, 'new', noForce);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(names(dir)).toEqual(['t.json']);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only folder: cannot write, nothing left behind', () => {
    const dir = fresh();
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      expect(() => writeOutput({ flag: '--out', file: join(ro, 't.json') }, 'x', noForce)).toThrow(/cannot write \(EACCES\)/);
      expect(names(ro)).toEqual([]);
    } finally {
      chmodSync(ro, 0o755);
    }
  });
});

describe('writeFresh (a file dtsim names itself)', () => {
  it('takes the first free name and never overwrites, even when another writer takes a name meanwhile', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'f.json'), 'one');
    expect(writeFresh(dir, 'f', 'two')).toBe(join(dir, 'f-2.json'));
    // Another process saves f-3.json between our look and our write: we must move on to f-4.json.
    const other = (dest: string): void => {
      if (existsSync(dest)) { faults.beforeLink = other; return; }
      writeFileSync(dest, 'theirs');
    };
    faults.beforeLink = other;
    expect(writeFresh(dir, 'f', 'mine')).toBe(join(dir, 'f-4.json'));
    expect(readFileSync(join(dir, 'f.json'), 'utf8')).toBe('one');
    expect(readFileSync(join(dir, 'f-2.json'), 'utf8')).toBe('two');
    expect(readFileSync(join(dir, 'f-3.json'), 'utf8')).toBe('theirs');
    expect(readFileSync(join(dir, 'f-4.json'), 'utf8')).toBe('mine');
    expect(names(dir)).toEqual(['f-2.json', 'f-3.json', 'f-4.json', 'f.json']);
  });

  it('a failed write leaves no temp file', () => {
    const dir = fresh();
    faults.fsync = 'ENOSPC';
    expect(() => writeFresh(dir, 'f', 'x')).toThrow(/cannot write \(ENOSPC\)/);
    expect(names(dir)).toEqual([]);
  });
});
