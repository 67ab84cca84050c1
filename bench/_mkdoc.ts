// Scratch (not committed): the docs tables from a compare --preset --json file.
import { readFileSync } from 'node:fs';
import { table } from '../src/cli/commands/check.ts';
import { workPerPage, vcpuExitsPerSec, type ScaleResult } from '../src/compare/scale.ts';
const doc = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { results: ScaleResult[]; wallSeconds: number; events: number; workers: number };
const f = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = [['workload', 'design', 'harvest work', 'work/page', 'write faults', 'ring-full exits', 'hdbss-full faults', 'TLBIs', 'exits/s/vCPU', 'sent', 're-sent', 'final dirty', 'downtime ms', 'events']];
for (const r of doc.results) {
  if (r.status !== 'ok') { rows.push([r.point.workload, r.point.variant, `${r.status} ${r.violation?.invariant}`]); continue; }
  const m = r.measures; const g = r.figures;
  rows.push([r.point.workload, r.point.variant, f(m['harvestWork']!), f(workPerPage(r), 2), f(m['writeFaults']!), f(m['ringFullExits']!), f(m['hdbssFullFaults']!), f(m['tlbi']!),
    f(vcpuExitsPerSec(r)), f(g['pagesSent']!), f(g['pagesResent']!), f(r.rounds.at(-1)?.reports ?? 0), f(g['downtimeMs']!, 2), f(r.events)]);
}
console.log(table(rows));
console.log(`events ${doc.events} wall ${doc.wallSeconds} workers ${doc.workers}`);
const wall = doc.results.reduce((a, r) => a + r.wallMs, 0) / 1000;
console.log(`sum of per-point wall s ${wall.toFixed(1)}`);
