/**
 * The proof tiers left `npm test` for steps of their own: this keeps them from being dropped on the way. Every
 * file of each tier exists, `npm test` excludes exactly those, `npm run test:proof` runs exactly tier 1's, `npm run
 * test:proof2` exactly tier 2's, and `.ci/run` runs those steps, in that order, after the README's test command
 * (a tier nobody runs would prove nothing); the README says how to run tier 2.
 * The mutation gate (vitest.mutate.config.ts, run by `npm run mutate` through StrykerJS) is the opposite case: a
 * long, local step kept out of `npm test` and `.ci/run`, made of files `npm test` already runs once each.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import suite, { DEEP, PROOF_TIER, PROOF_TIER2 } from '../vitest.config.ts';
import deep from '../vitest.deep.config.ts';
import proof from '../vitest.proof.config.ts';
import proof2 from '../vitest.proof2.config.ts';
import gate, { GATE_ENV, GATE_FILES } from '../vitest.mutate.config.ts';
import gateExplore from '../vitest.mutate-explore.config.ts';

describe('test steps', () => {
  it('the proof tier: its files exist, npm test leaves out exactly them, test:proof runs exactly them', () => {
    expect(PROOF_TIER.length).toBeGreaterThan(0);
    for (const f of PROOF_TIER) expect(existsSync(f), f).toBe(true);
    const s = suite as { test?: { exclude?: string[] } };
    const p = proof as { test?: { include?: string[] } };
    expect(s.test?.exclude?.filter((x) => !x.includes('node_modules'))).toEqual([...PROOF_TIER, ...PROOF_TIER2, ...DEEP]);
    expect(p.test?.include).toEqual(PROOF_TIER);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { [k: string]: string } };
    expect(pkg.scripts['test:proof']).toBe('vitest run --config vitest.proof.config.ts');
  });
  it('proof tier 2: its files exist, are in no other step, and test:proof2 runs exactly them', () => {
    expect(PROOF_TIER2.length).toBeGreaterThan(1);
    for (const f of PROOF_TIER2) expect(existsSync(f), f).toBe(true);
    for (const f of PROOF_TIER2) expect(PROOF_TIER, f).not.toContain(f);
    const p2 = proof2 as { test?: { include?: string[] } };
    expect(p2.test?.include).toEqual(PROOF_TIER2);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { [k: string]: string } };
    expect(pkg.scripts['test:proof2']).toBe('vitest run --config vitest.proof2.config.ts');
    // The README says how to run it.
    expect(readFileSync('README.md', 'utf8')).toContain('npm run test:proof2');
  });
  it('the deep step: its files exist, are in no other step and in no mutation gate, and test:deep runs exactly them', () => {
    expect(DEEP.length).toBeGreaterThan(0);
    for (const f of DEEP) expect(existsSync(f), f).toBe(true);
    for (const f of DEEP) expect([...PROOF_TIER, ...PROOF_TIER2, ...GATE_FILES], f).not.toContain(f);
    expect((deep as { test?: { include?: string[] } }).test?.include).toEqual(DEEP);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { [k: string]: string } };
    expect(pkg.scripts['test:deep']).toBe('vitest run --config vitest.deep.config.ts');
    expect(readFileSync('README.md', 'utf8')).toContain('npm run test:deep');
  });
  it('.ci/run runs npm test, then the deep step, then the proof tier, then proof tier 2, then the package test', () => {
    const lines = readFileSync('.ci/run', 'utf8').split('\n').map((l) => l.trim());
    const at = (cmd: string): number => lines.indexOf(cmd);
    expect(at('npm test')).toBeGreaterThan(0);
    expect(at('npm run test:deep')).toBeGreaterThan(at('npm test'));
    expect(at('npm run test:proof')).toBeGreaterThan(at('npm run test:deep'));
    expect(at('npm run test:proof2')).toBeGreaterThan(at('npm run test:proof'));
    expect(at('npm run test:package')).toBeGreaterThan(at('npm run test:proof2'));
  });
  it('the mutation gate: its files exist and run in npm test once each; npm run mutate runs Stryker on it; npm test and .ci/run run neither', async () => {
    const g = gate as { test?: { include?: string[]; env?: { [k: string]: string }; maxWorkers?: number } };
    const s = suite as { test?: { include?: string[]; exclude?: string[]; projects?: unknown } };
    expect(g.test?.include).toEqual(GATE_FILES);
    expect(GATE_FILES.length).toBeGreaterThan(0);
    for (const f of GATE_FILES) {
      expect(existsSync(f), f).toBe(true);
      // In npm test, once: matched by its include, not excluded, and no second project that would run it again.
      expect(f.startsWith('properties/') && f.endsWith('.test.ts'), f).toBe(true);
      expect(s.test?.include).toContain('properties/**/*.test.ts');
      expect(s.test?.exclude, f).not.toContain(f);
    }
    expect(s.test?.projects).toBeUndefined();
    // A fixed seed (seed.ts keeps 12 characters) and one worker; each budget variable is read by a gate file.
    expect(g.test?.env).toEqual(GATE_ENV);
    expect(GATE_ENV.DTSIM_SEED).toHaveLength(12);
    expect(g.test?.maxWorkers).toBe(1);
    // A killed mutant stops its property at the first failure (no 3-minute shrink per mutant).
    expect((gate as { test?: { setupFiles?: string[] } }).test?.setupFiles).toEqual(['properties/support/setup.ts', 'properties/support/setup-mutate.ts']);
    expect(readFileSync('properties/support/setup-mutate.ts', 'utf8')).toContain('endOnFailure: true');
    const sources = GATE_FILES.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const k of Object.keys(GATE_ENV).filter((x) => x !== 'DTSIM_SEED')) expect(sources, k).toContain(`process.env['${k}']`);
    // npm run mutate: Stryker on the gate, per-test coverage, the incremental file checked in under reports/.
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { [k: string]: string }; devDependencies: { [k: string]: string } };
    expect(pkg.scripts['mutate']).toBe('stryker run stryker.config.mjs');
    expect(Object.keys(pkg.devDependencies)).toEqual(expect.arrayContaining(['@stryker-mutator/core', '@stryker-mutator/vitest-runner']));
    const config: string = '../stryker.config.mjs';
    const sk = ((await import(config)) as { default: unknown }).default as {
      testRunner: string; vitest: { configFile: string }; coverageAnalysis: string; incremental: boolean; incrementalFile: string; mutate: string[];
    };
    expect([sk.testRunner, sk.vitest.configFile, sk.coverageAnalysis, sk.incremental]).toEqual(['vitest', 'vitest.mutate.config.ts', 'perTest', true]);
    expect(sk.incrementalFile).toBe('reports/stryker-incremental.json');
    expect(existsSync(sk.incrementalFile), 'the incremental file is checked in').toBe(true);
    expect(sk.mutate).toEqual(expect.arrayContaining(['models/**/*.ts', '!models/oracle/**', '!models/**/*.test.ts']));
    // Neither npm test nor CI runs Stryker or the gate config.
    expect(pkg.scripts['test']).toBe('tsc --noEmit && vitest run');
    const ci = readFileSync('.ci/run', 'utf8');
    expect(ci).not.toMatch(/stryker|mutate/);
  });
  it('the explore part of the gate alone (npm run mutate:explore): only the explore file, the gate\'s environment, its own incremental file', async () => {
    const g = gateExplore as { test?: { include?: string[]; env?: { [k: string]: string }; maxWorkers?: number; setupFiles?: string[] } };
    expect(g.test?.include).toEqual(['properties/mutation.explore-small.test.ts']);
    expect(GATE_FILES).toContain('properties/mutation.explore-small.test.ts');
    expect(g.test?.env).toEqual(GATE_ENV);
    expect(g.test?.maxWorkers).toBe(1);
    expect(g.test?.setupFiles).toEqual((gate as { test?: { setupFiles?: string[] } }).test?.setupFiles);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { [k: string]: string } };
    expect(pkg.scripts['mutate:explore']).toBe('stryker run stryker.explore.config.mjs');
    const config: string = '../stryker.explore.config.mjs';
    const sk = ((await import(config)) as { default: unknown }).default as {
      vitest: { configFile: string }; coverageAnalysis: string; incrementalFile: string; mutate: string[];
    };
    expect(sk.vitest.configFile).toBe('vitest.mutate-explore.config.ts');
    expect(sk.coverageAnalysis).toBe('perTest');
    // The checked-in incremental file holds the full gate's results only: this one is git-ignored.
    expect(sk.incrementalFile).not.toBe('reports/stryker-incremental.json');
    expect(sk.incrementalFile.startsWith('reports/mutation/')).toBe(true);
    expect(readFileSync('.gitignore', 'utf8')).toContain('reports/mutation/');
    expect(readFileSync('.ci/run', 'utf8')).not.toMatch(/stryker|mutate/);
  });
});
