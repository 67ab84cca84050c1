/**
 * Goal: dtsim is a real package. What `npm pack` makes (prepack builds dist/: compiled ESM and .d.ts) installs
 * into a project of its own with a plain `npm install`, and there, with no TypeScript loader anywhere in the
 * installed tree:
 * (a) the README's "Writing your own properties" example runs under vitest, importing `dtsim/testing` and
 *     `dtsim/models` as the README tells a user to;
 * (b) a plain `node` ESM script replays traces through the public API (`dtsim`, `dtsim/models`) and gets the
 *     outcome and fingerprint the repository's own `dtsim replay --json` gets from the sources;
 * (c) a TypeScript consumer type-checks with `module`/`moduleResolution: nodenext`, strict, without skipLibCheck
 *     (so our .d.ts are checked too), and a `@ts-expect-error` shows the types are real, not `any`;
 * (d) the installed `dtsim check --runs 5` exits 0 (worker threads included: the compiled pool starts the
 *     compiled worker).
 * Also the tarball itself: dist/ and bin/dtsim.js, no TypeScript sources, no tests, no tsx launchers.
 *
 * Method: `npm pack` of this checkout into a temporary folder, a temporary project whose `npm install` takes the
 * tarball plus vitest, fast-check, @fast-check/vitest and typescript at the versions of our package-lock.json
 * (from the registry, `--prefer-offline`: the npm cache that `npm ci` filled serves them when it can). Slow
 * (a build and an install): `npm run test:package`, run by `.ci/run` after `npm test`, not part of `npm test`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/**
 * The environment of the nested npm/node commands: ours without the variables `npm run` sets for this package
 * (npm_package_*, npm_lifecycle_*, the prefix of this checkout...), which would make the temporary project's npm
 * act on this checkout; the user-level npm settings (cache, registry, user config) are kept.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase())) env[k] = v;
  delete env['INIT_CWD'];
  delete env['DTSIM_ENTRY'];
  env['NO_COLOR'] = '1';
  return env;
}

function run(cmd: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
}

/** Fails with the command's own output, so a CI log says what went wrong. */
function ok(r: SpawnSyncReturns<string>, what: string): string {
  const msg = `${what}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  expect(r.status, msg).toBe(0);
  return r.stdout;
}

/** The version our package-lock.json pins for a package, so the temporary project tests what we test with. */
function locked(name: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: { [path: string]: { version?: string } } };
  const v = lock.packages[`node_modules/${name}`]?.version;
  if (v === undefined) throw new Error(`package-lock.json pins no version of ${name}`);
  return v;
}

/** Two traces to replay: a violation (an invariant at an event) and a clean migration. */
const TRACES = ['traces/regressions/hdbss-hdbss-no-save-at-put.json', 'traces/regressions/dirty-bitmap-correct.json'];

let tmp = '';
let project = '';
let tarball = '';

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dtsim-pack-'));
  project = join(tmp, 'consumer');
  // Pack (prepack runs `npm run build`) into the temporary folder; this checkout is left as it was but for dist/.
  ok(run(NPM, ['pack', '--pack-destination', tmp, '--no-fund', '--no-audit'], ROOT), 'npm pack');
  const tgz = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  expect(tgz, `npm pack made ${tgz.length} tarballs in ${tmp}`).toHaveLength(1);
  tarball = join(tmp, tgz[0]!);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'dtsim-consumer', private: true, type: 'module' }, null, 2)}\n`);
  ok(run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball,
    `vitest@${locked('vitest')}`, `fast-check@${locked('fast-check')}`, `@fast-check/vitest@${locked('@fast-check/vitest')}`,
    `typescript@${locked('typescript')}`], project), 'npm install (tarball + vitest, fast-check, @fast-check/vitest, typescript)');
});

afterAll(() => {
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds dist/ (ESM + .d.ts) and the launcher, and no sources, tests or tsx launchers', () => {
    const files = ok(run('tar', ['-tzf', tarball], tmp), 'tar -tzf').split('\n').filter((f) => f !== '');
    for (const f of ['package/package.json', 'package/README.md', 'package/bin/dtsim.js', 'package/dist/src/index.js', 'package/dist/src/index.d.ts',
      'package/dist/models/index.js', 'package/dist/models/index.d.ts', 'package/dist/src/testing/index.js', 'package/dist/src/testing/index.d.ts',
      'package/dist/src/cli/main.js', 'package/dist/src/cli/worker.js',
      // the JSON Schemas (issue 17 item 3), exported as dtsim/schemas/*
      'package/schemas/trace.schema.json', 'package/schemas/trace-v1.schema.json', 'package/schemas/trace-v2.schema.json', 'package/schemas/output-check.schema.json']) expect(files, f).toContain(f);
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/models/') || f.startsWith('package/properties/')), 'sources in the tarball').toEqual([]);
    expect(files.filter((f) => /\.test\.|\/bin\/(worker|run-ts)\.js$/.test(f)), 'tests or tsx launchers in the tarball').toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'TypeScript sources in the tarball').toEqual([]);
  });

  it('runs, in this checkout, the build prepack made with DTSIM_ENTRY=dist, as the sources run', () => {
    const env = { ...cleanEnv(), DTSIM_ENTRY: 'dist' };
    const built = spawnSync(process.execPath, ['bin/dtsim.js', 'bugs', '--list'], { cwd: ROOT, encoding: 'utf8', env });
    const src = spawnSync(process.execPath, ['bin/dtsim.js', 'bugs', '--list'], { cwd: ROOT, encoding: 'utf8', env: { ...env, DTSIM_ENTRY: 'src' } });
    expect(built.status, built.stderr).toBe(0);
    expect(built.stdout).toContain('missing-tlbi');
    expect(built.stdout).toBe(src.stdout);
  });

  it('installs with no TypeScript loader: tsx is not a run-time dependency', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules/dtsim/package.json'), 'utf8')) as { dependencies?: { [k: string]: string } };
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain('tsx');
    expect(existsSync(join(project, 'node_modules/tsx')), 'tsx was installed into the consumer project').toBe(false);
  });

  it("(a) runs the README's library example under vitest, importing dtsim/testing and dtsim/models", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const m = /<!-- example:library -->\n```ts\n([\s\S]*?)```\n<!-- \/example:library -->/.exec(readme);
    expect(m, 'README.md has no example:library block').not.toBeNull();
    // What the README tells a user: "In your project, import from `dtsim/testing` and `dtsim/models`".
    const example = m![1]!.replace(`'../src/testing/index.ts'`, `'dtsim/testing'`).replace(`'../models/index.ts'`, `'dtsim/models'`);
    expect(example).toContain(`from 'dtsim/testing'`);
    expect(example).toContain(`from 'dtsim/models'`);
    expect(example, 'the example still imports a relative path').not.toMatch(/from '\.\.?\//);
    writeFileSync(join(project, 'readme-example.test.ts'), example);
    const out = ok(run(NPX, ['--no', '--', 'vitest', 'run', '--reporter=verbose', 'readme-example.test.ts'], project), 'vitest run (README example)');
    expect(out).toContain('every dirty-bitmap design migrates without losing a page');
    expect(out).toMatch(/Tests\s+1 passed \(1\)/);
  });

  it('(b) replays traces from a plain node ESM script through the public API, as the CLI does from the sources', () => {
    writeFileSync(join(project, 'replay.mjs'), [
      `import { readFileSync } from 'node:fs';`,
      `import { fingerprint, parseTrace, replay } from 'dtsim';`,
      `import { modelById } from 'dtsim/models';`,
      `const r = parseTrace(readFileSync(process.argv[2], 'utf8'), modelById);`,
      `if (!r.ok) { console.error(JSON.stringify(r.error)); process.exit(2); }`,
      `const o = replay(r.model, r.trace.design, r.trace.config, r.trace.events);`,
      `console.log(JSON.stringify({ status: o.status, eventIndex: o.eventIndex, invariant: o.invariant, fingerprint: fingerprint(o.state), expect: r.trace.expect }));`,
      '',
    ].join('\n'));
    for (const t of TRACES) {
      const local = join(project, t.replace(/\//g, '_'));
      copyFileSync(join(ROOT, t), local);
      const got = JSON.parse(ok(run(process.execPath, ['replay.mjs', local], project), `node replay.mjs ${t}`)) as
        { status: string; eventIndex: number | null; invariant: string | null; fingerprint: string; expect: { status: string; eventIndex?: number; invariant?: string } };
      const want = JSON.parse(ok(run(process.execPath, ['bin/dtsim.js', 'replay', t, '--json'], ROOT), `dtsim replay ${t} --json (sources)`)) as
        { status: string; eventIndex: number | null; invariant: string | null; fingerprint: string };
      expect({ status: got.status, eventIndex: got.eventIndex, invariant: got.invariant, fingerprint: got.fingerprint }, t)
        .toEqual({ status: want.status, eventIndex: want.eventIndex, invariant: want.invariant, fingerprint: want.fingerprint });
      expect(got.status, `${t}: outcome vs its expect block`).toBe(got.expect.status);
      if (got.expect.status === 'violated') expect([got.eventIndex, got.invariant]).toEqual([got.expect.eventIndex, got.expect.invariant]);
    }
  });

  it('(c) type-checks a TypeScript consumer with moduleResolution nodenext, our .d.ts included', () => {
    writeFileSync(join(project, 'consumer.ts'), [
      `import fc from 'fast-check';`,
      `import { parseTrace, replay, TRACE_VERSION, type AnyModel, type Design, type RunOutcome, type Trace } from 'dtsim';`,
      `import { dirtyBitmap, MODELS, modelById, type MachineModel } from 'dtsim/models';`,
      `import { choices, designs, invariantsOf, runDesign, workloads, type RunResult } from 'dtsim/testing';`,
      ``,
      `export function outcome(text: string): RunOutcome<unknown> | string {`,
      `  const r = parseTrace(text, (id: string) => modelById(id) as unknown as AnyModel | undefined);`,
      `  if (!r.ok) return \`line \${r.error.line ?? '?'}: \${r.error.field}: \${r.error.message}\`;`,
      `  const t: Trace = r.trace;`,
      `  return replay(r.model, t.design, t.config, t.events);`,
      `}`,
      `export const version: number = TRACE_VERSION;`,
      `export const ids: readonly string[] = MODELS.map((m: MachineModel) => m.id);`,
      `export const invariantIds: string[] = invariantsOf(dirtyBitmap).map((i) => i.id);`,
      `export function once(seed: number): RunResult {`,
      `  const [design, config, seq] = fc.sample(fc.tuple(designs(dirtyBitmap), workloads(dirtyBitmap), choices()), { numRuns: 1, seed })[0]!;`,
      `  const d: Design = design;`,
      `  return runDesign(dirtyBitmap, d, config, seq);`,
      `}`,
      `// The types are real, not \`any\`: a model id is a string, a status one of three words.`,
      `// @ts-expect-error a string is not a number`,
      `export const wrong: number = dirtyBitmap.id;`,
      `// @ts-expect-error 'lost' is not a RunResult status`,
      `export const status: RunResult['status'] = 'lost';`,
      ``,
    ].join('\n'));
    writeFileSync(join(project, 'tsconfig.json'), `${JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false,
        types: [] },
      files: ['consumer.ts'],
    }, null, 2)}\n`);
    ok(run(NPX, ['--no', '--', 'tsc', '-p', '.'], project), 'tsc -p . (nodenext consumer)');
    // The same compiler refuses a wrong use, so the check above is not vacuous.
    writeFileSync(join(project, 'bad.ts'), `import { dirtyBitmap } from 'dtsim/models';\nexport const n: number = dirtyBitmap.id;\n`);
    const bad = run(NPX, ['--no', '--', 'tsc', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'bad.ts'], project);
    expect(bad.status, bad.stdout + bad.stderr).not.toBe(0);
    expect(bad.stdout).toContain('TS2322');
  });

  it('(d) the installed dtsim check --runs 5 exits 0, on worker threads too', () => {
    const out = ok(run(NPX, ['--no', '--', 'dtsim', 'check', '--runs', '5'], project), 'npx dtsim check --runs 5 (installed)');
    expect(out).toMatch(/all \d+ designs hold every invariant/);
    // Two workers whatever the machine's cores: the compiled pool must start the compiled worker.
    const w = ok(run(NPX, ['--no', '--', 'dtsim', 'check', '--model', 'dirty-bitmap', '--runs', '5', '--workers', '2'], project), 'npx dtsim check --workers 2 (installed)');
    expect(w).toMatch(/all \d+ designs hold every invariant/);
  });
});
