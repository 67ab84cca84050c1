/**
 * The proof tier left `npm test` for a step of its own: this keeps it from being dropped on the way. Every file of
 * the tier exists, `npm test` excludes exactly those, `npm run test:proof` runs exactly those, and `.ci/run` runs
 * that step after the README's test command (a tier nobody runs would prove nothing).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import suite, { PROOF_TIER } from '../vitest.config.ts';
import proof from '../vitest.proof.config.ts';

describe('test steps', () => {
  it('the proof tier: its files exist, npm test leaves out exactly them, test:proof runs exactly them', () => {
    expect(PROOF_TIER.length).toBeGreaterThan(0);
    for (const f of PROOF_TIER) expect(existsSync(f), f).toBe(true);
    const s = suite as { test?: { exclude?: string[] } };
    const p = proof as { test?: { include?: string[] } };
    expect(s.test?.exclude?.filter((x) => !x.includes('node_modules'))).toEqual(PROOF_TIER);
    expect(p.test?.include).toEqual(PROOF_TIER);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { [k: string]: string } };
    expect(pkg.scripts['test:proof']).toBe('vitest run --config vitest.proof.config.ts');
  });
  it('.ci/run runs npm test, then the proof tier, then the package test', () => {
    const lines = readFileSync('.ci/run', 'utf8').split('\n').map((l) => l.trim());
    const at = (cmd: string): number => lines.indexOf(cmd);
    expect(at('npm test')).toBeGreaterThan(0);
    expect(at('npm run test:proof')).toBeGreaterThan(at('npm test'));
    expect(at('npm run test:package')).toBeGreaterThan(at('npm run test:proof'));
  });
});
