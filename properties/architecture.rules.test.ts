/**
 * Goal: the project's standing rules hold mechanically (a fallback when no linter runs):
 * - determinism: no Math.random, Date.now, performance.now or `new Date(` in the engine (src/ outside src/cli)
 *   or in models/; randomness only through src/random/streams.ts, the only importer of seedrandom;
 * - no I/O in the engine or the models (no node:fs / node:child_process / process.* outside src/cli);
 * - the engine knows no mechanism: src/ imports models/ only from src/cli (the CLI wires the registry in), and
 *   then only the registry (models/index.ts), never a model's or mechanism's internals: views, config shrinking and
 *   metric names come through the `Model` hooks. The few remaining imports are an exact allow-list, each with why;
 * - registration by declaration: no module of models/ registers a mechanism or adds events by side effect.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
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
  it('src/ imports of models/ are exactly the allow-list: the registry, nothing internal', () => {
    // Every `file -> models/<path>` import in src/, resolved to a path under models/. The allow-list is exact: a new
    // import of a model's or mechanism's internals fails here (put it behind a `Model` hook or models/index.ts),
    // and an import that goes away must leave the list.
    const ALLOWED: { readonly [edge: string]: string } = {
      'src/cli/registry.ts -> models/index.ts': 'the model registry: the CLI looks models up by id',
      'src/cli/registry-types.ts -> models/index.ts': 'the MachineModel type of the registry',
      'src/cli/schemas.ts -> models/index.ts': 'npm run schemas: the models, the event field schema and the configuration bounds',
      'src/cli/jobs.ts -> models/index.ts': 'campaign jobs: the common situations and the configuration type',
      'src/cli/commands/run.ts -> models/index.ts': 'the configuration type (run --config)',
      'src/cli/commands/shrink.ts -> models/index.ts': 'the configuration type (sizes printed by shrink)',
      'src/cli/commands/check.ts -> models/index.ts': 'the event type of check\'s failures',
      'src/cli/registry.ts -> models/proofs.ts': 'explore --proof: the proof configurations of each model',
    };
    const edges: string[] = [];
    for (const f of sourceFiles('src')) {
      for (const m of readFileSync(f, 'utf8').matchAll(/from '((?:\.\.\/)+models\/[^']+)'/g)) {
        edges.push(`${f} -> ${join(dirname(f), m[1] as string).split(sep).join('/')}`);
      }
    }
    expect(edges.sort()).toEqual(Object.keys(ALLOWED).sort());
  });
  it('no registration by side effect: no registerMechanism, no side-effect imports of mechanism files, no Object.assign into shared tables', () => {
    const bad: string[] = [];
    for (const f of sourceFiles('models')) {
      const src = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      if (/\bregisterMechanism\b/.test(src)) bad.push(`${f}: registerMechanism`);
      if (/Object\.assign\((EVENT_FIELDS|WEIGHTS)\b/.test(src)) bad.push(`${f}: Object.assign into a shared table`);
      // No side-effect imports (`import './x.ts'`): state parts are declared by their folders too (MechanismFolder.parts).
      for (const m of src.matchAll(/^import '([^']+)';/gm)) bad.push(`${f}: import '${m[1]}'`);
      if (/\bregisterExtCodec\b/.test(src)) bad.push(`${f}: registerExtCodec`);
    }
    expect(bad).toEqual([]);
  });
});
