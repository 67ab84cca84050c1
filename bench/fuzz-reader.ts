/**
 * Fuzz bench of the trace reader: hostile input at scale (issue 20, item 5).
 *
 *   node bin/run-ts.js bench/fuzz-reader.ts [--cases N] [--seed S] [--cli M]
 *
 * In-process, N corrupted traces (default 20,000; round-robin over every trace under traces/) made by the mutators
 * of properties/support/fuzz.ts (the same ones the `npm test` property uses) are parsed and, when they parse,
 * replayed. Then M (default 200) of them are written to a temp folder and given to the real CLI (`dtsim replay`,
 * `show`, `show --html`, `bisect`, `shrink --out`), two at a time.
 *
 * Printed: cases, outcome classes (parsed-ok, parsed-violated, rejected-event, parse-error by kind, crash; for the
 * parsed ones whether the meaning changed and whether replay still matches the expect block, by mutation family),
 * the worst case's time, and for the CLI sample the exit codes and any stack, hang, partial or stray file.
 * Exit 1 when any crash, bad error line, stack, exit 3, hang, partial file or modified input occurred.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { errorProblems, fuzzCase, runCase, seedTraces } from '../properties/support/fuzz.ts';
import { parseTrace } from '../src/trace/format.ts';
import { lookupModel } from '../src/cli/registry.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const { values } = parseArgs({ options: { cases: { type: 'string' }, seed: { type: 'string' }, cli: { type: 'string' }, examples: { type: 'boolean' } } });
const N = Number(values.cases ?? 20_000);
const SEED = values.seed ?? 'fuzz-bench-1';
const CLI = Number(values.cli ?? 200);
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(CLI) || CLI < 0) { console.error('usage: bench/fuzz-reader.ts [--cases N] [--seed S] [--cli M]'); process.exit(2); }

const traces = seedTraces(ROOT);
const count = new Map<string, number>();
const bump = (k: string): void => { count.set(k, (count.get(k) ?? 0) + 1); };
const failures: string[] = [];
let worst = { ms: 0, label: '' };
/** Up to 3 examples of each class accepted with a changed meaning that still matches its expect block. */
const examples = new Map<string, string[]>();

console.log(`fuzz-reader: seed ${SEED}, ${N} cases over ${traces.length} traces, CLI sample ${CLI}`);
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const base = traces[i % traces.length] as { file: string; text: string };
  const c = fuzzCase(base.text, SEED, String(i));
  const fam = c.mutations.map((m) => m.family).join('+') || 'none';
  const label = `case ${i} (${base.file}; ${c.mutations.map((m) => `${m.family}: ${m.what}`).join('; ')})`;
  const s = performance.now();
  const o = runCase(base.text, c.text);
  const ms = performance.now() - s;
  if (ms > worst.ms) worst = { ms, label };
  if (o.cls === 'crash') { bump('crash'); failures.push(`CRASH ${label}: ${o.message}`); continue; }
  if (o.cls === 'parse-error') {
    bump(`parse-error ${o.kind}`);
    const bad = errorProblems(o);
    if (bad.length) { bump('bad error line'); failures.push(`BAD ERROR ${label}: ${bad.join('; ')} [${o.field}: ${o.message.slice(0, 120)}]`); }
    continue;
  }
  bump(o.cls);
  if (o.cls === 'rejected-event' && (o.message === '' || o.message.includes('\n'))) failures.push(`REJECTED WITHOUT A ONE-LINE REASON ${label}`);
  // The classes of item 4: accepted with the same meaning; changed and caught by the expect block (exit 1);
  // changed and still matching the expect block (the ones docs/failing-traces.md gives a verdict for).
  const verdict = o.sameMeaning ? 'same meaning' : o.matchesExpect ? `meaning changed (${o.changed}), still matches expect` : `meaning changed (${o.changed}), differs from expect (exit 1)`;
  bump(`  ${verdict}`);
  if (o.sameMeaning) bump(`    same meaning by ${fam}`);
  if (!o.sameMeaning && o.matchesExpect) {
    bump(`    by ${fam} (${o.changed})`);
    const ex = examples.get(`${fam} (${o.changed})`) ?? [];
    if (ex.length < 3) examples.set(`${fam} (${o.changed})`, [...ex, label]);
  }
}
const inMs = performance.now() - t0;
console.log(`in-process: ${N} cases in ${(inMs / 1000).toFixed(1)} s; worst case ${worst.ms.toFixed(1)} ms: ${worst.label.slice(0, 200)}`);
for (const [k, v] of [...count.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) console.log(`  ${k.padEnd(70)} ${v}`);
if (values.examples) for (const [k, v] of examples) for (const l of v) console.log(`  example ${k}: ${l.slice(0, 220)}`);

// CLI sample: every k-th case (parsed or not), spread over the commands.
async function cliSample(): Promise<void> {
  if (CLI === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'dtsim-fuzz-'));
  const cli = new Map<string, number>();
  const cbump = (k: string): void => { cli.set(k, (cli.get(k) ?? 0) + 1); };
  let worstCli = { ms: 0, label: '' };
  try {
    const jobs: (() => Promise<void>)[] = [];
    for (let j = 0; j < CLI; j++) {
      const i = Math.floor((j * N) / CLI);
      const base = traces[i % traces.length] as { file: string; text: string };
      const c = fuzzCase(base.text, SEED, String(i));
      const label = `case ${i} (${base.file}; ${c.mutations.map((m) => `${m.family}: ${m.what}`).join('; ')})`;
      const file = join(dir, `case-${i}.json`);
      const out = join(dir, `case-${i}.out`);
      const cmd = [['replay', file], ['show', file], ['show', file, '--html', `${out}.html`], ['bisect', file], ['shrink', file, '--out', `${out}.json`, '--max-tests', '300']][j % 5] as string[];
      jobs.push(async () => {
        // Compared as bytes: a lone surrogate in the text is written as U+FFFD, so the text would not read back equal.
        const bytes = Buffer.from(c.text, 'utf8');
        writeFileSync(file, bytes);
        const s = performance.now();
        const r = await run(cmd, 60_000);
        const ms = performance.now() - s;
        if (ms > worstCli.ms) worstCli = { ms, label: `${cmd[0]} ${label}` };
        const what = `${cmd.join(' ')} ${label}`;
        cbump(`${cmd[0]}${cmd[2] === '--html' ? ' --html' : ''} exit ${r.code ?? r.signal}`);
        if (r.timedOut) { cbump('HANG'); failures.push(`HANG ${what}`); }
        if (r.code === null || ![0, 1, 2].includes(r.code)) failures.push(`EXIT ${r.code ?? r.signal} ${what}: ${r.stderr.slice(0, 300)}`);
        if (/\n\s+at |internal error/.test(r.stderr)) { cbump('STACK'); failures.push(`STACK ${what}: ${r.stderr.slice(0, 300)}`); }
        if (r.stderr.trimEnd().split('\n').length > 1) { cbump('MULTI-LINE STDERR'); failures.push(`MULTI-LINE STDERR ${what}: ${r.stderr.slice(0, 300)}`); }
        if (!readFileSync(file).equals(bytes)) { cbump('INPUT MODIFIED'); failures.push(`INPUT MODIFIED ${what}`); }
        for (const o of [`${out}.html`, `${out}.json`]) {
          if (!existsSync(o)) continue;
          const t = readFileSync(o, 'utf8');
          const whole = o.endsWith('.html') ? t.trimEnd().endsWith('</html>') : parseTrace(t, lookupModel).ok;
          if (r.code !== 0 || !whole) { cbump('PARTIAL FILE'); failures.push(`PARTIAL FILE ${o} after exit ${r.code} ${what}`); }
          rmSync(o);
        }
        rmSync(file);
      });
    }
    const s = performance.now();
    const lanes = [0, 1].map(async (lane) => { for (let k = lane; k < jobs.length; k += 2) await (jobs[k] as () => Promise<void>)(); });
    await Promise.all(lanes);
    const stray = readdirSync(dir);
    if (stray.length) { cli.set('STRAY FILES', stray.length); failures.push(`STRAY FILES left in ${dir}: ${stray.slice(0, 5).join(', ')}`); }
    console.log(`CLI sample: ${CLI} commands in ${((performance.now() - s) / 1000).toFixed(1)} s; slowest ${(worstCli.ms / 1000).toFixed(2)} s: ${worstCli.label.slice(0, 160)}`);
    for (const [k, v] of [...cli.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) console.log(`  ${k.padEnd(70)} ${v}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutMs);
    p.stderr.on('data', (d: Buffer) => { if (stderr.length < 10_000) stderr += d.toString('utf8'); });
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr, timedOut }); });
  });
}

await cliSample();
const bad = failures.length;
console.log(bad ? `FAIL: ${bad} problem(s)` : 'PASS: 0 crashes, bad error lines, stacks, exit 3, hangs, partial or stray files');
for (const f of failures.slice(0, 40)) console.log(`  ${f.slice(0, 400)}`);
process.exit(bad ? 1 : 0);
