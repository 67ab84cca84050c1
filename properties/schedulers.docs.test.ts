/**
 * Goal: the scheduler examples in docs/schedulers/ run a sharded campaign whose merge equals the unsharded one.
 * The Kubernetes Indexed Job (docs/schedulers/k8s-indexed-job.yaml) and the GitHub Actions matrix workflow
 * (docs/schedulers/github-actions.yml) are read as text (no YAML library: a block scalar `run: |` / `- |` is
 * taken verbatim, the few scalars the test needs by a line regex), their shape is checked (N completions and
 * parallelism with an Indexed completion mode; a matrix over 0..N-1, upload-artifact, a merge job with
 * download-artifact), then the shard and merge shell text of each file is run locally through `sh -c`, with the
 * index in the variable each scheduler sets (JOB_COMPLETION_INDEX; the matrix value as SHARD) and `dtsim` on
 * PATH as a shim to this checkout, so the docs cannot drift from what the CLI does. The merged `--json` result
 * is compared with the unsharded campaign of the same seed and runs (as src/cli/check.test.ts does). Kept
 * small: one model, 3 runs per shard, 120 events, one worker.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

const K8S = readFileSync('docs/schedulers/k8s-indexed-job.yaml', 'utf8');
const GHA = readFileSync('docs/schedulers/github-actions.yml', 'utf8');
/** What the test runs instead of each file's CHECK_ARGS (the campaign the docs give is far larger). */
const SMALL = '--model dirty-bitmap --runs 3 --events 120 --workers 1';
const RUNS_PER_SHARD = 3;

/** Every literal block scalar (`key: |` or `- |`): its lines, dedented, in file order. */
function blockScalars(text: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:- |[\w-]+: )\|\s*$/.exec(lines[i]!);
    if (!m) continue;
    const ind = m[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim() !== '' && l.length - l.trimStart().length <= ind) break;
      body.push(l);
    }
    const min = Math.min(...body.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
    out.push(body.map((l) => l.slice(min)).join('\n').trim());
    i = j - 1;
  }
  return out;
}
/** The one block scalar containing `needle`. */
function script(text: string, needle: string): string {
  const found = blockScalars(text).filter((b) => b.includes(needle));
  expect(found, `one block containing ${needle}`).toHaveLength(1);
  return found[0]!;
}
/** `name: value` / `value: ...` of a Kubernetes env entry, or a plain `key: value` line (first match). */
function k8sEnv(doc: string, name: string): string {
  const m = new RegExp(`- name: ${name}\\n\\s*value: "?([^"\\n]*)"?`).exec(doc);
  expect(m, `env ${name}`).not.toBeNull();
  return m![1]!;
}
function scalar(doc: string, key: string): string {
  const m = new RegExp(`^\\s*${key}: ([^#\\n]*?)\\s*(?:#.*)?$`, 'm').exec(doc);
  expect(m, `${key}:`).not.toBeNull();
  return m![1]!;
}

/** A folder holding a `dtsim` that runs this checkout's CLI, for PATH. */
function shimDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dtsim-shim-'));
  const f = join(dir, 'dtsim');
  writeFileSync(f, `#!/bin/sh\nexec '${process.execPath}' '${resolve('bin/dtsim.js')}' "$@"\n`);
  chmodSync(f, 0o755);
  return dir;
}
const SHIM = shimDir();

function sh(text: string, cwd: string, env: Record<string, string>): { code: number; out: string; err: string } {
  const r = spawnSync('sh', ['-c', text], { cwd, encoding: 'utf8',
    env: { ...process.env, DTSIM_SEED: '', PATH: `${SHIM}${delimiter}${process.env['PATH'] ?? ''}`, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

type Res = { label: string; runs: number; runsRequested: number; events: number; violations: number; metrics: Record<string, number> };
const strip = (rs: Res[]): unknown => rs.map((r) => ({ label: r.label, runs: r.runs, events: r.events, violations: r.violations, metrics: r.metrics }));

/** The unsharded campaign of `seed` with every shard's runs in one: the result a merge must equal. */
function unsharded(seed: string, shards: number): Res[] {
  const r = sh(`dtsim check --seed '${seed}' ${SMALL.replace(`--runs ${RUNS_PER_SHARD}`, `--runs ${RUNS_PER_SHARD * shards}`)} --json`,
    tmpdir(), {});
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out).results as Res[];
}

/** Runs a merge script as written, then with --json, and checks it equals the unsharded campaign. */
function checkMerge(merge: string, cwd: string, env: Record<string, string>, seed: string, shards: number): void {
  const text = sh(merge, cwd, env);
  expect(text.code, text.err).toBe(0);
  expect(text.out).toContain(`seed=${seed}`);
  expect(text.out).toContain('(distinct states are summed over shards: an upper bound)');
  const json = sh(`${merge} --json`, cwd, env);
  expect(json.code, json.err).toBe(0);
  const merged = JSON.parse(json.out) as { seed: string; results: Res[] };
  expect(merged.seed).toBe(seed);
  const whole = unsharded(seed, shards);
  expect(whole.length).toBeGreaterThan(0);
  expect(strip(merged.results)).toEqual(strip(whole));
  expect(merged.results.map((r) => r.runsRequested)).toEqual(whole.map(() => RUNS_PER_SHARD * shards));
}

describe('docs/schedulers: sharded campaigns as the schedulers run them', () => {
  it('the Kubernetes Indexed Job: JOB_COMPLETION_INDEX shards into a shared volume, then the merge Job', () => {
    const docs = K8S.split(/^---$/m);
    const shardJob = docs.find((d) => /completionMode: Indexed/.test(d));
    const mergeJob = docs.find((d) => /name: dtsim-merge/.test(d));
    expect(shardJob, 'an Indexed Job').toBeDefined();
    expect(mergeJob, 'the merge Job').toBeDefined();
    const n = Number(scalar(shardJob!, 'completions'));
    expect(n).toBeGreaterThan(1);
    expect(Number(scalar(shardJob!, 'parallelism'))).toBeGreaterThan(0);
    expect(Number(k8sEnv(shardJob!, 'SHARDS'))).toBe(n);
    expect(Number(k8sEnv(mergeJob!, 'SHARDS'))).toBe(n);
    expect(K8S).toMatch(/kind: PersistentVolumeClaim[\s\S]*ReadWriteMany/);
    // Both jobs mount the same claim at the RESULTS folder.
    for (const d of [shardJob!, mergeJob!]) expect(d).toMatch(/claimName: dtsim-results/);
    const seed = k8sEnv(shardJob!, 'SEED');
    const shard = script(shardJob!, '--shard');
    expect(shard).toMatch(/dtsim check --shard "\$i\/\$SHARDS" --seed "\$SEED" \$CHECK_ARGS --json/);
    expect(shard).toContain('i="$JOB_COMPLETION_INDEX"');
    const merge = script(mergeJob!, '--merge');
    expect(merge).toBe('dtsim check --merge "$RESULTS"');
    const results = mkdtempSync(join(tmpdir(), 'dtsim-k8s-'));
    // Every index Kubernetes gives a pod, in reverse (order does not matter).
    for (let i = n - 1; i >= 0; i--) {
      const r = sh(shard, tmpdir(), { JOB_COMPLETION_INDEX: String(i), SHARDS: String(n), SEED: seed, CHECK_ARGS: SMALL, RESULTS: results });
      expect(r.code, r.err).toBe(0);
      expect(existsSync(join(results, `shard-${i}.json`))).toBe(true);
    }
    expect(readdirSync(results).filter((f) => f.endsWith('.json')).sort()).toEqual([...Array(n).keys()].map((i) => `shard-${i}.json`).sort());
    // The init container's wait is over once every shard's JSON is there.
    const wait = script(mergeJob!, 'until');
    expect(sh(wait.split('/results').join(results), tmpdir(), { SHARDS: String(n) }).code).toBe(0);
    checkMerge(merge, tmpdir(), { RESULTS: results }, seed, n);
  });

  it('the GitHub Actions matrix: SHARD = matrix.shard over 0..N-1, artifacts, then the merge job', () => {
    const n = Number(scalar(GHA, 'SHARDS'));
    expect(n).toBeGreaterThan(1);
    const matrix = /^\s*shard: \[([^\]]*)\]/m.exec(GHA);
    expect(matrix, 'strategy.matrix.shard').not.toBeNull();
    const indices = matrix![1]!.split(',').map((s) => Number(s.trim()));
    expect(indices).toEqual([...Array(n).keys()]);
    expect(GHA).toMatch(/SHARD: \$\{\{ matrix\.shard \}\}/);
    expect(GHA).toContain('uses: actions/upload-artifact@');
    expect(GHA).toMatch(/name: shard-\$\{\{ matrix\.shard \}\}/);
    expect(GHA).toMatch(/merge:\n\s*needs: shard/);
    expect(GHA).toContain('uses: actions/download-artifact@');
    expect(GHA).toContain('merge-multiple: true');
    expect(scalar(GHA, 'SEED')).toBe('${{ github.sha }}');
    const seed = '0123456789abcdef0123456789abcdef01234567'; // as a commit would give it
    const out = scalar(GHA, 'OUT');
    const shard = script(GHA, '--shard');
    expect(shard).toMatch(/dtsim check --shard "\$SHARD\/\$SHARDS" --seed "\$SEED" \$CHECK_ARGS --json/);
    const merge = script(GHA, '--merge');
    expect(merge).toMatch(/dtsim check --merge "\$OUT"$/);
    // Each matrix job runs in its own checkout: its own folder; download-artifact merges their OUT folders.
    const mergeJob = mkdtempSync(join(tmpdir(), 'dtsim-gha-merge-'));
    mkdirSync(join(mergeJob, out));
    for (const i of indices) {
      const job = mkdtempSync(join(tmpdir(), `dtsim-gha-${i}-`));
      const r = sh(shard, job, { SHARD: String(i), SHARDS: String(n), SEED: seed, CHECK_ARGS: SMALL, OUT: out });
      expect(r.code, r.err).toBe(0);
      const f = `shard-${i}.json`;
      writeFileSync(join(mergeJob, out, f), readFileSync(join(job, out, f)));
    }
    checkMerge(merge, mergeJob, { OUT: out }, seed, n);
  });

  it('docs/sharded-campaigns.md explains both files, and README and help point to it', () => {
    const doc = readFileSync('docs/sharded-campaigns.md', 'utf8');
    for (const f of ['docs/schedulers/k8s-indexed-job.yaml', 'docs/schedulers/github-actions.yml', 'JOB_COMPLETION_INDEX',
      'matrix.shard', 'actions/upload-artifact', 'actions/download-artifact', 'dtsim check --merge']) expect(doc).toContain(f);
    expect(readFileSync('README.md', 'utf8')).toContain('docs/sharded-campaigns.md');
    expect(readFileSync('src/cli/help.ts', 'utf8')).toContain('docs/sharded-campaigns.md');
  });
});
