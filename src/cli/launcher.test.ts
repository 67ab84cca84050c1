/**
 * The `dtsim` launcher (bin/dtsim.js) and the worker-thread entry (src/cli/pool.ts `workerEntry`): a checkout runs
 * the TypeScript sources through tsx, an installed package its compiled dist/ (packaging/pack-install.test.ts
 * runs that side end to end: `npm run test:package`); DTSIM_ENTRY forces one side and a wrong value is bad input.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { workerEntry } from './pool.ts';

const dtsim = (env: { [k: string]: string }, ...args: string[]) =>
  spawnSync(process.execPath, ['bin/dtsim.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('bin/dtsim.js', () => {
  it('refuses a DTSIM_ENTRY other than dist or src: exit 2, one line, no stack trace', () => {
    const r = dtsim({ DTSIM_ENTRY: 'build' }, 'help');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(["dtsim: DTSIM_ENTRY must be 'dist' or 'src', not 'build'"]);
  });
  it('runs the sources in a checkout, by default and with DTSIM_ENTRY=src, the same way', () => {
    const a = dtsim({ DTSIM_ENTRY: '' }, 'bugs', '--list');
    const b = dtsim({ DTSIM_ENTRY: 'src' }, 'bugs', '--list');
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toContain('missing-tlbi');
    expect(b.stdout).toBe(a.stdout);
  });
});

describe('workerEntry', () => {
  it('starts bin/worker.js (tsx, then src/cli/worker.ts) when running from the sources', () => {
    expect(workerEntry('file:///p/dtsim/src/cli/pool.ts').href).toBe('file:///p/dtsim/bin/worker.js');
    expect(workerEntry(import.meta.url).pathname.endsWith('/bin/worker.js')).toBe(true);
  });
  it('starts the compiled worker beside the compiled pool when running from dist/', () => {
    expect(workerEntry('file:///p/node_modules/dtsim/dist/src/cli/pool.js').href).toBe('file:///p/node_modules/dtsim/dist/src/cli/worker.js');
  });
});
