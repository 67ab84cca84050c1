/**
 * The proof tiers left `npm test` for steps of their own: this keeps them from being dropped on the way. Every
 * file of each tier exists, `npm test` excludes exactly those, `npm run test:proof` runs exactly tier 1's, `npm run
 * test:proof2` exactly tier 2's, and `.ci/run` runs those steps, in that order, after the README's test command
 * (a tier nobody runs would prove nothing); the README says how to run tier 2.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import suite, { PROOF_TIER, PROOF_TIER2 } from '../vitest.config.ts';
import proof from '../vitest.proof.config.ts';
import proof2 from '../vitest.proof2.config.ts';

describe('test steps', () => {
  it('the proof tier: its files exist, npm test leaves out exactly them, test:proof runs exactly them', () => {
    expect(PROOF_TIER.length).toBeGreaterThan(0);
    for (const f of PROOF_TIER) expect(existsSync(f), f).toBe(true);
    const s = suite as { test?: { exclude?: string[] } };
    const p = proof as { test?: { include?: string[] } };
    expect(s.test?.exclude?.filter((x) => !x.includes('node_modules'))).toEqual([...PROOF_TIER, ...PROOF_TIER2]);
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
  it('.ci/run runs npm test, then the proof tier, then proof tier 2, then the package test', () => {
    const lines = readFileSync('.ci/run', 'utf8').split('\n').map((l) => l.trim());
    const at = (cmd: string): number => lines.indexOf(cmd);
    expect(at('npm test')).toBeGreaterThan(0);
    expect(at('npm run test:proof')).toBeGreaterThan(at('npm test'));
    expect(at('npm run test:proof2')).toBeGreaterThan(at('npm run test:proof'));
    expect(at('npm run test:package')).toBeGreaterThan(at('npm run test:proof2'));
  });
});
