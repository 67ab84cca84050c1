/**
 * Goal: the README's library example is true. README.md shows, between its example markers, exactly the code of
 * properties/library.example.test.ts (which runs with the suite), and the two set-up commands README gives are
 * the ones .ci/run runs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';

const readme = readFileSync('README.md', 'utf8');

describe('README stays true', () => {
  it('shows the library example that the suite runs', () => {
    const m = /<!-- example:library -->\n```ts\n([\s\S]*?)```\n<!-- \/example:library -->/.exec(readme);
    expect(m, 'README.md has no example:library block').not.toBeNull();
    const file = readFileSync('properties/library.example.test.ts', 'utf8').split('\n').filter((l) => !l.startsWith('//')).join('\n').trim();
    expect(m![1]!.trim()).toBe(file);
  });
  it('gives the install + main job command and the test command that CI runs', () => {
    expect(readme).toContain('npm ci && npx dtsim check');
    expect(readme).toContain('npm test');
    const ci = readFileSync('.ci/run', 'utf8');
    expect(ci).toContain('npm ci');
    expect(ci).toMatch(/^npm test$/m);
  });
});
