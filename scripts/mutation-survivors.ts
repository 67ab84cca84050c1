/**
 * `npm run mutate:survivors -- [--file SUBSTR] [--all] [--dir D]`: the mutants a Stryker run did not kill, read
 * from the event recorder's files (`--reporters ...,event-recorder`: one JSON file per tested mutant under
 * reports/mutation/events), so a run stopped before its end (Stryker writes its HTML/JSON reports and the
 * incremental file only at the end) still gives its list to classify in docs/mutation.md.
 *
 * The recorder also replays results reused from the incremental file (other files, earlier runs), so --file
 * (a substring of the mutated file's path, repeatable) picks the file under study. Prints one line per mutant
 * that is not Killed or Timeout (with --all: every mutant): status, file:line:column, mutator, the replacement
 * and the original source line; then counts per status and the raw score (killed + timeout) / (all but
 * runtime and compile errors), the formula of docs/mutation.md. Exit 0; 2 on a bad flag or a missing folder.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface Tested {
  fileName: string;
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

function fail(msg: string): never {
  process.stderr.write(`mutate:survivors: ${msg}\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const files: string[] = [];
let all = false;
let dir = 'reports/mutation/events';
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--all') all = true;
  else if (a === '--file' || a === '--dir') {
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) fail(`${a}: want a value`);
    if (a === '--file') files.push(v); else dir = v;
  } else fail(`unknown flag '${a}' (want --file SUBSTR, --all, --dir D)`);
}
if (!existsSync(dir)) fail(`${dir}: no such folder (run Stryker with --reporters ...,event-recorder first)`);

// The last result per (file, id) wins: a mutant reported twice (reused, then re-tested) keeps its newest status.
const byKey = new Map<string, Tested>();
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith('-onMutantTested.json')) continue;
  let m: Tested;
  try {
    m = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Tested;
  } catch (e) {
    fail(`${dir}/${f}: not JSON (${(e as Error).message})`);
  }
  if (files.length > 0 && !files.some((s) => m.fileName.includes(s))) continue;
  byKey.set(`${m.fileName}#${m.id}`, m);
}

const sources = new Map<string, string[]>();
function sourceLine(file: string, line: number): string {
  let lines = sources.get(file);
  if (!lines) {
    lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
    sources.set(file, lines);
  }
  return (lines[line - 1] ?? '').trim();
}

const list = [...byKey.values()].sort((a, b) => a.fileName.localeCompare(b.fileName)
  || a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column || Number(a.id) - Number(b.id));
const counts: Record<string, number> = {};
for (const m of list) {
  counts[m.status] = (counts[m.status] ?? 0) + 1;
  if (!all && (m.status === 'Killed' || m.status === 'Timeout')) continue;
  const at = `${relative(process.cwd(), m.fileName)}:${m.location.start.line}:${m.location.start.column}`;
  const rep = (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 80);
  process.stdout.write(`${m.status.padEnd(11)} #${m.id.padEnd(4)} ${at}  ${m.mutatorName}: ${rep}\n      | ${sourceLine(m.fileName, m.location.start.line).slice(0, 140)}\n`);
}
const killed = (counts['Killed'] ?? 0) + (counts['Timeout'] ?? 0);
const scored = list.length - (counts['RuntimeError'] ?? 0) - (counts['CompileError'] ?? 0);
process.stdout.write(`\n${list.length} mutants: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}`
  + (scored > 0 ? `; score ${(100 * killed / scored).toFixed(2)}% (${killed} of ${scored})` : '') + '\n');
