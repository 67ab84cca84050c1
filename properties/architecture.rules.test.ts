/**
 * Goal: the project's standing rules hold mechanically (a fallback when no linter runs):
 * - determinism: no Math.random, Date.now, performance.now or `new Date(` in the engine (src/ outside src/cli)
 *   or in models/; randomness only through src/random/streams.ts, the only importer of seedrandom;
 * - no I/O in the engine or the models (no node:fs / node:child_process / process.* outside src/cli);
 * - the engine knows no mechanism: src/ imports models/ only from src/cli (the CLI wires the registry in).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const engine = [...files('src').filter((f) => !f.startsWith('src/cli/') && !f.startsWith('src/testing/')), ...files('models')];

describe('architecture rules', () => {
  it('no ambient time or randomness in the engine or the models', () => {
    const bad: string[] = [];
    for (const f of engine) {
      const src = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      if (/Math\.random|Date\.now|performance\.now|new Date\(/.test(src)) bad.push(f);
    }
    expect(bad).toEqual([]);
  });
  it('seedrandom is imported only by src/random/streams.ts', () => {
    const bad = [...files('src'), ...files('models')].filter((f) => /from 'seedrandom'/.test(readFileSync(f, 'utf8')) && f !== 'src/random/streams.ts');
    expect(bad).toEqual([]);
  });
  it('no I/O or process state in the engine or the models', () => {
    const bad = engine.filter((f) => /from 'node:(fs|child_process|worker_threads|os)'|from 'fs'|\bprocess\.(env|argv|stdout|stderr|exit)/.test(readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });
  it('src/ imports models/ only from src/cli', () => {
    const bad = files('src').filter((f) => !f.startsWith('src/cli/') && /from '\.\.\/(\.\.\/)*models\//.test(readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });
});
