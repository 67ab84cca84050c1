/**
 * Goal: the project's standing rules hold mechanically (a fallback when no linter runs):
 * - determinism: no Math.random, Date.now, performance.now or `new Date(` in the engine (src/ outside src/cli)
 *   or in models/; randomness only through src/random/streams.ts, the only importer of seedrandom;
 * - no I/O in the engine or the models (no node:fs / node:child_process / process.* outside src/cli);
 * - the engine knows no mechanism: src/ imports models/ only from src/cli (the CLI wires the registry in).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { sourceFiles } from './support/sources.ts';

const engine = [...sourceFiles('src').filter((f) => !f.startsWith('src/cli/') && !f.startsWith('src/testing/')), ...sourceFiles('models')];

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
    const bad = [...sourceFiles('src'), ...sourceFiles('models')].filter((f) => /from 'seedrandom'/.test(readFileSync(f, 'utf8')) && f !== 'src/random/streams.ts');
    expect(bad).toEqual([]);
  });
  it('no I/O or process state in the engine or the models', () => {
    const bad = engine.filter((f) => /from 'node:(fs|child_process|worker_threads|os)'|from 'fs'|\bprocess\.(env|argv|stdout|stderr|exit)/.test(readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });
  it('src/ imports models/ only from src/cli', () => {
    const bad = sourceFiles('src').filter((f) => !f.startsWith('src/cli/') && /from '\.\.\/(\.\.\/)*models\//.test(readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });
});
