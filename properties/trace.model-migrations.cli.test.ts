/**
 * The CLI path of a model migration: `dtsim replay`, `show` and `bisect` of a frozen v1 fixture, run in-process
 * with the registry replaced by test-only copies of the models at version 2 (properties/support/model-v2.ts;
 * no real model is bumped), print what happened to the trace (and carry it in --json), and a trace that no longer
 * replays to its expect block under v2 is refused with exit 2 and one line naming the file, line and field.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/cli/main.ts';
import { CLI_V2 } from './support/model-v2.ts';
import { SEED } from './support/seed.ts';

vi.mock('../src/cli/registry.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../src/cli/registry.ts')>();
  const v2 = await import('./support/model-v2.ts');
  const lookups = { rewrite: v2.lookupV2('rewrite'), replay: v2.lookupV2('replay'), changed: v2.lookupV2('changed') };
  return { ...orig, lookupModel: (id: string) => lookups[v2.CLI_V2.kind](id) };
});

const FIXTURE = join(new URL('../', import.meta.url).pathname, 'traces', 'fixtures', 'model.dirty-bitmap.v1.json');

let out = '';
let err = '';
beforeEach(() => {
  out = ''; err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { err += String(chunk); return true; });
});
afterEach(() => { vi.restoreAllMocks(); });

describe(`dtsim reads traces of an older model version (seed ${SEED})`, () => {
  it('replay prints the migration (replay rule) and matches the expect block under v2', async () => {
    CLI_V2.kind = 'replay';
    const code = await main(['replay', FIXTURE]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('model=dirty-bitmap v2');
    expect(out).toContain('  dirty-bitmap trace migrated from v1 (replays to its expect block under v2)\n');
    expect(out).toContain('matches the expect block');
  });

  it('replay --json carries the migration record', async () => {
    CLI_V2.kind = 'replay';
    expect(await main(['replay', FIXTURE, '--json'])).toBe(0);
    const j = JSON.parse(out) as { migration: unknown; matchesExpect: boolean };
    expect(j.matchesExpect).toBe(true);
    expect(j.migration).toEqual({ model: 'dirty-bitmap', from: 1, to: 2, replayed: true,
      steps: [{ from: 1, kind: 'replay', why: 'test-only v2: apply unchanged on what v1 traces do' }] });
  });

  it('a rewrite step is printed by replay, show and bisect', async () => {
    CLI_V2.kind = 'rewrite';
    const line = '  dirty-bitmap trace migrated from v1 (rewritten v1->v2: option consumer renamed sink)\n';
    expect(await main(['replay', FIXTURE])).toBe(0);
    expect(out).toContain(line);
    out = '';
    expect(await main(['show', FIXTURE, '--width', '120'])).toBe(0);
    expect(out).toContain(line);
    out = '';
    expect(await main(['bisect', FIXTURE])).toBe(0);
    expect(out).toContain(line);
    out = '';
    expect(await main(['bisect', FIXTURE, '--json'])).toBe(0);
    expect((JSON.parse(out) as { migration: { steps: { kind: string }[] } }).migration.steps[0]?.kind).toBe('rewrite');
    expect(err).toBe('');
  });

  it('a trace whose outcome changed under v2 is refused: exit 2, one line naming file, line and field', async () => {
    CLI_V2.kind = 'changed';
    const expectLine = readFileSync(FIXTURE, 'utf8').split('\n').findIndex((l) => l.includes('"expect"')) + 1;
    for (const cmd of ['replay', 'show', 'bisect']) {
      err = '';
      expect(await main([cmd, FIXTURE]), cmd).toBe(2);
      expect(err.trim().split('\n'), cmd).toHaveLength(1);
      expect(err, cmd).toContain(`dtsim: ${FIXTURE}:${expectLine}: expect: trace made with dirty-bitmap v1 no longer replays to its expect block under v2 (expected ok, got `);
    }
  });
});
