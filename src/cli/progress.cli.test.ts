/**
 * Progress at the CLI (issue 17): on a terminal (a pseudo-terminal made by util-linux `script -qec CMD
 * /dev/null`, whose output is everything the terminal showed) `explore --proof`, `explore`, `check`, `bugs` and
 * `compare` draw their progress line; piped, with --json or with --quiet they draw none; with NO_COLOR the line
 * carries no escape sequence. Also `dtsim --version` and `-h` on every command.
 * `script` comes with Debian's essential bsdutils: without it the terminal tests are skipped locally and fail
 * under CI (CI set).
 */
import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_HELP, HELP } from './help.ts';
import { main } from './main.ts';
import { TOOL_VERSION, TRACE_VERSION } from '../trace/format.ts';

const SCRIPT = '/usr/bin/script';
const haveScript = existsSync(SCRIPT);
if (!haveScript && process.env['CI']) throw new Error(`${SCRIPT} is missing (util-linux/bsdutils): the progress test needs a pseudo-terminal`);
if (!haveScript) console.warn(`[progress.cli.test] skipping the terminal tests: ${SCRIPT} not found`);

/** The environment of a run: NO_COLOR and TERM as given (unset NO_COLOR unless asked), everything else inherited. */
function env(extra: { [k: string]: string }): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', ...extra };
  if (!('NO_COLOR' in extra)) delete e['NO_COLOR'];
  return e;
}

/** Runs dtsim with stdout and stderr piped. */
function piped(args: string[], extra: { [k: string]: string } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8', env: env(extra) });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Runs dtsim on a pseudo-terminal (stdout and stderr both the terminal): what the terminal showed. */
function onTty(args: string[], extra: { [k: string]: string } = {}): { code: number; screen: string } {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, 'bin/dtsim.js', ...args].map(quote).join(' ');
  const r = spawnSync(SCRIPT, ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: env(extra) });
  return { code: r.status ?? -1, screen: r.stdout };
}

/** A fast --proof: one model, one worker, each design stopped after 200 states (inconclusive: exit 4). */
const PROOF = ['explore', '--proof', '--model', 'dirty-bitmap', '--workers', '1', '--max-states', '200'];

describe.skipIf(!haveScript)('progress on a terminal, none otherwise', () => {
  it('explore --proof draws its progress line on a TTY; piped, stderr stays empty and stdout has no \\r', () => {
    const tty = onTty(PROOF);
    expect(tty.code).toBe(4);
    expect(tty.screen).toContain('explore --proof: 0/14 designs, 0 violated, 0 not exhausted');
    expect(tty.screen).toMatch(/explore --proof: ([1-9]|1[0-4])\/14 designs, 0 violated, ([1-9]|1[0-4]) not exhausted/);
    // Erased in place (ESC[K) and drawn dim; the rows and the summary are there as without a terminal.
    expect(tty.screen).toContain('\r\x1b[K\x1b[2m  ');
    expect(tty.screen).toContain('0 of 14 designs exhausted');
    const p = piped(PROOF);
    expect(p.code).toBe(4);
    expect(p.err).toBe('');
    expect(p.out).not.toContain('\r');
    expect(p.out).not.toContain('designs, ');
    expect(p.out).toContain('0 of 14 designs exhausted');
  });

  it('--json and --quiet draw nothing on a TTY', () => {
    const j = onTty([...PROOF, '--json']);
    expect(j.code).toBe(4);
    expect(j.screen).not.toContain('designs, ');
    expect(j.screen).not.toContain('\x1b');
    expect(JSON.parse(j.screen.trim()).verdict).toBe('inconclusive');
    const q = onTty([...PROOF, '--quiet']);
    expect(q.code).toBe(4);
    expect(q.screen).not.toContain('designs, ');
    expect(q.screen).not.toContain('\x1b');
    expect(q.screen).toContain('0 of 14 designs exhausted');
  });

  it('NO_COLOR: the line is drawn with no escape sequence, erased with spaces', () => {
    const t = onTty(PROOF, { NO_COLOR: '1' });
    expect(t.screen).toContain('explore --proof: 0/14 designs');
    expect(t.screen).not.toContain('\x1b');
    expect(t.screen).toMatch(/\r {30,}\r/);
  });

  it('explore (one design), check, bugs and compare draw theirs', () => {
    expect(onTty(['explore', '--model', 'dirty-bitmap', '--pages', '1']).screen).toContain('explore: depth 0, 1 state');
    expect(onTty(['check', '--model', 'dirty-bitmap', '--runs', '8', '--events', '20', '--workers', '1', '--seed', 'p1']).screen)
      .toMatch(/check: 0\/\d+ designs, 0 violations, 0 of [\d,]+ runs, 0\/\d+ chunks/);
    expect(onTty(['bugs', '--bug', 'missing-tlbi', '--runs', '50', '--workers', '1', '--seed', 'p2', '--out-dir', mkdtempSync(join(tmpdir(), 'dtsim-progress-'))]).screen)
      .toContain('bugs: 0/1 knobs, 0 found, 0 runs');
    expect(onTty(['compare', '--models', 'dirty-bitmap', '--pages', '4', '--vcpus', '1', '--runs', '1', '--events', '20', '--seed', 'p3']).screen)
      .toMatch(/compare: 0\/\d+ cells, 0 of \d+ runs/);
  });
});

/** Runs the CLI in this process (no start-up cost): exit code and what it wrote to stdout. */
async function inProcess(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(args), out };
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
}

describe('dtsim --version and -h', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const text = `dtsim ${pkg.version}\ntrace format version ${TRACE_VERSION} (older versions are migrated on read)\n`;
  it('--version, version and -V print the package version and the trace format version', async () => {
    // Through the real bin once, then every spelling in process.
    const r = piped(['--version']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(text);
    for (const flag of ['--version', 'version', '-V']) expect(await inProcess([flag])).toEqual({ code: 0, out: text });
    // Traces record TOOL_VERSION as their tool.version: it must be the package's.
    expect(TOOL_VERSION).toBe(pkg.version);
    expect((await inProcess(['--version', 'x'])).code).toBe(2);
  });
  it('-h is --help on every command', async () => {
    expect(piped(['explore', '-h']).out).toBe(COMMAND_HELP['explore']);
    for (const cmd of Object.keys(COMMAND_HELP)) {
      expect(await inProcess([cmd, '-h']), cmd).toEqual({ code: 0, out: COMMAND_HELP[cmd] });
      expect(await inProcess([cmd, '--help']), cmd).toEqual({ code: 0, out: COMMAND_HELP[cmd] });
    }
  });
});

describe('progress, --quiet, NO_COLOR and --version are documented', () => {
  it('in dtsim help, each command\'s help and the README Commands section', () => {
    for (const w of ['Progress:', '--quiet', 'NO_COLOR', '--version', '-h']) expect(HELP, w).toContain(w);
    for (const cmd of ['check', 'bugs', 'explore', 'compare']) expect(COMMAND_HELP[cmd], cmd).toContain('[--quiet]');
    const readme = readFileSync('README.md', 'utf8');
    const commands = readme.slice(readme.indexOf('## Commands'), readme.indexOf('## Concepts'));
    for (const w of ['**Progress.**', '--quiet', 'NO_COLOR', '`dtsim version` (`--version`, `-V`)', '-h']) expect(commands, w).toContain(w);
  });
});
