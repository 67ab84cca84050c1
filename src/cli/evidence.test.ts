/**
 * Evidence is never lost, at the CLI (`node bin/dtsim.js`): every command that writes a file the user names
 * (`run --out`, `shrink --out`, `explore --out`, `show --html/--perfetto`, `compare --html`) refuses an existing
 * path without --force (exit 2, one line, the file untouched) and replaces it with --force; `shrink` never writes
 * over its own input, even with --force, whatever the spelling (./T, a symlink, a hard link); a write that
 * cannot happen leaves no temp file; `help <unknown>` exits 2 with one line.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { MODELS } from '../../models/index.ts';
import { parseReach } from '../explore/reach-expr.ts';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function dtsim(args: string[], cwd = ROOT): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { encoding: 'utf8', cwd });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Exit 2 with exactly one line on stderr, no stack trace, matching `msg`. */
function refused(r: { code: number; err: string }, msg: RegExp, what: string): void {
  expect(r.code, `${what}: ${r.err}`).toBe(2);
  expect(r.err.trimEnd().split('\n'), what).toHaveLength(1);
  expect(r.err, what).not.toMatch(/\n\s+at /);
  expect(r.err, what).toMatch(msg);
}

/** A folder's names; a temp file left behind shows as `.name.pid.n.tmp`. */
const temps = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

describe('dtsim never overwrites evidence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtsim-evidence-'));
  const trace = join(dir, 'T.json');
  /** Saves the failing trace T.json the tests read (once: a second run onto it would be refused). */
  const failing = (): void => {
    if (existsSync(trace)) return;
    const r = dtsim(['run', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--seed', 'r2', '--out', trace]);
    expect(r.code, r.err).toBe(1);
  };

  it('shrink --out onto its input is refused, with or without --force, however spelled; the input is byte-identical', () => {
    failing();
    const before = readFileSync(trace);
    symlinkSync(trace, join(dir, 'sym.json'));
    linkSync(trace, join(dir, 'hard.json'));
    const tries: [string, string[]][] = [['T.json', []], ...[trace, 'T.json', './T.json', join(dir, 'sym.json'), join(dir, 'hard.json')]
      .map((o): [string, string[]] => [o, ['--force']])];
    for (const [out, force] of tries) {
      const r = dtsim(['shrink', 'T.json', '--out', out, ...force], dir);
      refused(r, /is this command's input/, `shrink T.json --out ${out} ${force.join(' ')}`);
      expect(r.out, 'refused before any work').not.toContain('shrunk:');
    }
    expect(readFileSync(trace).equals(before)).toBe(true);
    expect(temps(dir)).toEqual([]);
  });

  it('every command that writes a named file refuses an existing one without --force and replaces it with --force', () => {
    const cases: { what: string; flag: string; args: (out: string) => string[]; ok: number }[] = [
      { what: 'run --out', flag: '--out', ok: 0, args: (o) => ['run', '--model', 'dirty-bitmap', '--seed', 'e1', '--events', '20', '--out', o] },
      { what: 'shrink --out', flag: '--out', ok: 0, args: (o) => ['shrink', trace, '--out', o, '--max-tests', '300'] },
      { what: 'explore --out', flag: '--out', ok: 1, args: (o) => ['explore', '--model', 'dirty-bitmap', '--bug', 'missing-tlbi', '--out', o] },
      { what: 'show --html', flag: '--html', ok: 0, args: (o) => ['show', trace, '--html', o] },
      { what: 'show --perfetto', flag: '--perfetto', ok: 0, args: (o) => ['show', trace, '--perfetto', o] },
      { what: 'compare --html', flag: '--html', ok: 0, args: (o) => ['compare', '--model', 'dirty-bitmap', '--runs', '1', '--events', '20', '--pages', '4', '--vcpus', '1', '--html', o] },
    ];
    failing();
    for (const c of cases) {
      const out = join(dir, `existing-${c.what.replace(/\W+/g, '-')}`);
      writeFileSync(out, 'precious');
      refused(dtsim(c.args(out)), new RegExp(`${c.flag}: .*exists; pass --force`), c.what);
      expect(readFileSync(out, 'utf8'), c.what).toBe('precious');
      const r = dtsim([...c.args(out), '--force']);
      expect(r.code, `${c.what} --force: ${r.err}`).toBe(c.ok);
      const text = readFileSync(out, 'utf8');
      expect(text, c.what).not.toBe('precious');
      expect(text.length, c.what).toBeGreaterThan(100);
    }
    expect(temps(dir)).toEqual([]);
  });

  it('show refuses --html and --perfetto onto one file, and onto its input trace even with --force', () => {
    failing();
    const before = readFileSync(trace);
    refused(dtsim(['show', trace, '--html', join(dir, 'o.x'), '--perfetto', join(dir, '.', 'o.x')]), /--perfetto: .* is also the file of --html/, 'one file');
    refused(dtsim(['show', trace, '--html', trace, '--force']), /--html: .* is this command's input/, 'html onto input');
    expect(readFileSync(trace).equals(before)).toBe(true);
  });

  it('a write under a file fails with exit 2 and one line before any work, and leaves no file', () => {
    const d = mkdtempSync(join(tmpdir(), 'dtsim-evidence-bad-'));
    writeFileSync(join(d, 'file'), 'x');
    for (const args of [['run', '--model', 'dirty-bitmap', '--seed', 'e2', '--events', '10', '--out', join(d, 'file', 't.json')],
      ['compare', '--model', 'dirty-bitmap', '--runs', '1', '--events', '10', '--pages', '4', '--vcpus', '1', '--html', join(d, 'file', 'sub', 'c.html')]]) {
      const r = dtsim(args);
      refused(r, /cannot create folder .* is a file/, args[0]!);
      expect(r.out, args[0]).toBe('');
    }
    expect(readdirSync(d)).toEqual(['file']);
  });
});

describe('dtsim help', () => {
  it('help <unknown> exits 2 with one line naming the topic and the known ones; a known topic exits 0', () => {
    for (const t of ['nope', 'constructor', '__proto__']) {
      const r = dtsim(['help', t]);
      refused(r, new RegExp(`unknown topic '${t}'.*shrink.*explore`), `help ${t}`);
      expect(r.out).toBe('');
    }
    const ok = dtsim(['help', 'shrink']);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('--force');
  });
});

describe('dtsim help state', () => {
  it('lists every state field from the schemas: shared ones once, each model\'s parts, with kinds and labels', () => {
    const r = dtsim(['help', 'state']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('every model (dirty-bitmap, dirty-ring, hdbss, pta):');
    expect(r.out).toContain('  vcpus[].run  enum(out|host|guest|fault)');
    expect(r.out).toContain('  oracle.touched  bits (metric) (stale in copyInto)');
    expect(r.out).toMatch(/dirty-ring adds:\n(.*\n)*  ext\.ring\.rings\[\]\.dirtyIndex  int:index  .*dirty_index/);
    expect(r.out).toMatch(/hdbss adds:\n(.*\n)*  ext\.hdbss\./);
    expect(r.out).toMatch(/pta adds:\n(.*\n)*  ext\.pta\.vmid  int:vmid/);
    const one = dtsim(['help', 'state', 'dirty-bitmap']);
    expect(one.code).toBe(0);
    expect(one.out).not.toContain('ext.ring');
    expect(one.out).toContain('dirty-bitmap:\n  design  static');
    refused(dtsim(['help', 'state', 'nope']), /help state: unknown model 'nope' \(one of: dirty-bitmap, dirty-ring, hdbss, pta\)/, 'help state nope');
  });

  it('every listed path is one --reach accepts: each leaf resolves in the initial state of a design that has it', () => {
    for (const m of MODELS) {
      const lines = m.stateFields ? m.stateFields() : [];
      expect(lines.length, m.id).toBeGreaterThan(40);
      const states = m.preset.matrix.map((o) => m.init(m.design(o), m.defaultConfig) as unknown as Record<string, unknown>);
      const nullable = lines.filter((l) => / or null/.test(l)).map((l) => l.split('  ')[0] as string);
      for (const l of lines) {
        const path = l.split('  ')[0] as string;
        const underNull = nullable.some((n) => path === n || path.startsWith(`${n}.`));
        if (path.includes('[]') || / static/.test(l)) continue;
        // A nullable value is null in an initial state: its fields are checked through the parent.
        const top = path.split('.');
        const has = states.some((s) => {
          let v: unknown = s;
          for (const k of top) {
            if (v === null) return true;
            if (typeof v !== 'object' || !Object.hasOwn(v as object, k)) return false;
            v = (v as Record<string, unknown>)[k];
          }
          return true;
        });
        expect(has, `${m.id}: ${path}`).toBe(true);
        if (!path.startsWith('ext.') && !underNull) expect(() => parseReach(`${path} == ${path}`).check(states[0]), `${m.id}: ${path}`).not.toThrow();
      }
    }
  });
});
