/**
 * `dtsim bugs`: the bug catalogue (--list), and a campaign per knob showing the checker finds it: choice-
 * sequence runs from a fresh seed until the first violation or the budget, then the counterexample is shrunk
 * and saved as a trace. Verdicts per knob (src/cli/verdict.ts `bugOutcome`): found with its expected invariant
 * (or an alternative the knob declares, `BugKnob.alsoExpect`) or a negative control clean over its whole budget: ok; found with another invariant, or a negative control
 * flagged: a real failure (exit 1); not found within its budget (runs or seconds): inconclusive (exit 4, when no
 * knob failed), since more runs may find it.
 */
import { makeTrace, serializeTrace } from '../../trace/format.ts';
import { UsageError } from '../errors.ts';
import { writeFresh } from '../io.ts';
import { intFlag, MODELS, referenceRows, seedFlag } from '../registry.ts';
import type { Parsed } from '../main.ts';
import type { KnobExpectation } from '../../core/model.ts';
import type { BugJob, BugResult } from '../jobs.ts';
import { defaultWorkers, runPool } from '../pool.ts';
import { formatCount, progressFor } from '../progress.ts';
import { defaultSeed, table } from './check.ts';
import { bugOutcome, bugVerdict, verdictExit, worstVerdict, type BugOutcome } from '../verdict.ts';

/** The expected invariant, with the knob's declared alternatives (`BugKnob.alsoExpect`). */
function expectCell(b: KnobExpectation, none = '(none: negative control)'): string {
  if (b.expect === null) return none;
  return b.alsoExpect ? [b.expect, ...Object.keys(b.alsoExpect)].join(' or ') : b.expect;
}

/** The `found` column of a knob's row. */
function foundCell(o: BugOutcome, found: string | null, expect: string | null): string {
  switch (o) {
    // A declared alternative (BugKnob.alsoExpect) says which invariant broke.
    case 'found': return found === expect ? 'yes' : `yes, as ${found ?? ''}`;
    case 'clean': return 'no (ok)';
    case 'notFound': return 'not within budget';
    case 'wrongInvariant': return `WRONG: ${found ?? ''}`;
    case 'flagged': return `FLAGGED: ${found ?? ''}`;
    default: { const never: never = o; throw new Error(`[dtsim] unknown bug outcome ${String(never)}`); }
  }
}

export async function cmdBugs(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`bugs: unexpected argument '${p.positionals[0]}'`);
  const ids = (v['model'] as string[] | undefined) ?? MODELS.map((m) => m.id);
  for (const id of ids) if (!MODELS.some((m) => m.id === id)) throw new UsageError(`--model: unknown model '${id}'`);
  const only = (v['bug'] as string[] | undefined) ?? null;
  const knobs = MODELS.filter((m) => ids.includes(m.id)).flatMap((m) => m.preset.bugs.map((b) => ({ m, b })))
    .filter(({ b }) => !only || only.includes(b.id));
  if (only) for (const b of only) if (!knobs.some((k) => k.b.id === b)) throw new UsageError(`--bug: unknown bug '${b}'`);
  const json = v['json'] === true;
  if (v['list']) {
    // The references of both catalogues, each with its knobs (of the models listed) or why it has none.
    const refs = referenceRows(MODELS.filter((m) => ids.includes(m.id)));
    if (json) {
      process.stdout.write(`${JSON.stringify({
        knobs: knobs.map(({ m, b }) => ({ id: b.id, ref: b.ref, model: m.id, expect: b.expect, alsoExpect: b.alsoExpect ?? null, description: b.description })),
        references: refs.map((r) => ({ id: r.ref.id, source: r.ref.source, title: r.ref.title, knobs: r.knobs.map((k) => `${k.model}/${k.knob}`),
          none: r.ref.none ?? null })),
      })}\n`);
      return 0;
    }
    process.stdout.write(table([['id', 'ref', 'model', 'expected invariant', 'description'],
      ...knobs.map(({ m, b }) => [b.id, b.ref, m.id, expectCell(b),
        b.alsoExpect ? `${b.description} ${Object.entries(b.alsoExpect).map(([k, why]) => `(${k}: ${why})`).join(' ')}` : b.description])]));
    process.stdout.write(`\nreferences (kvm reference sections 6 and 8, arm reference section 6, dtsim's own findings): knobs, or why none\n`);
    process.stdout.write(table([['ref', 'source', 'title', 'knobs or reason'],
      ...refs.map((r) => [r.ref.id, r.ref.source, r.ref.title,
        r.knobs.length ? r.knobs.map((k) => `${k.model}/${k.knob}`).join(', ')
          : r.ref.none ? `${r.ref.none.kind}: ${r.ref.none.reason}` : '(no knob among the models listed)'])]));
    return 0;
  }
  const runs = intFlag('runs', v['runs'], 1000, 1);
  const maxEvents = intFlag('events', v['events'], 240, 1);
  const budget = intFlag('time-budget', v['time-budget'], 60, 0);
  const workers = intFlag('workers', v['workers'], defaultWorkers(), 1, 256);
  const shrinkTests = intFlag('shrink-tests', v['shrink-tests'], 4000, 0);
  const seed = seedFlag(v['seed'], defaultSeed());
  const outDir = (v['out-dir'] as string | undefined) ?? 'out/bugs';
  if (!json) {
    process.stdout.write(`dtsim bugs: seed=${seed} runs<=${runs} choices<=${maxEvents} time-budget=${budget}s per knob shrink-tests=${shrinkTests} workers=${workers} knobs=${knobs.length}\n`);
  }
  const jobs: BugJob[] = knobs.map(({ m, b }) => ({ kind: 'bug', model: m.id, bug: b.id, runs, seed, maxEvents,
    timeBudgetMs: budget * 1000, shrinkTests }));
  // Progress (a TTY only): knobs done, found among them, runs spent.
  const progress = progressFor({ json, quiet: v['quiet'] === true });
  let found = 0;
  let runsDone = 0;
  const line = (d: number): string => `bugs: ${d}/${jobs.length} knobs, ${found} found, ${formatCount(runsDone)} runs`;
  progress.update(() => line(0));
  const out = await runPool(jobs, workers, (d, t, r) => {
    if (r.kind === 'bug') { runsDone += r.result.runs; if (r.result.found !== null) found++; }
    progress.update(() => line(d), d === t);
  });
  progress.done();
  const results = out.map((r) => (r.kind === 'bug' ? r.result : null)).filter((r): r is BugResult => r !== null);
  const rows: string[][] = [['id', 'ref', 'model', 'expected', 'found', 'runs', 'seconds', 'events', 'shrunk']];
  const traces: (string | null)[] = [];
  for (const r of results) {
    let path: string | null = null;
    if (r.shrunk) {
      const m = MODELS.find((x) => x.id === r.model)!;
      path = writeFresh(outDir, `${r.model}-${r.id}`, serializeTrace(makeTrace({ design: m.design({}, [r.id]), config: r.shrunk.config, seed, choices: r.shrunk.choices,
        events: r.shrunk.events, note: `dtsim bugs --bug ${r.id} --seed ${seed}: run ${r.runIndex}, shrunk from ${r.eventsFound} events`,
        expect: { status: 'violated', eventIndex: r.shrunk.eventIndex, invariant: r.shrunk.invariant } })));
    }
    traces.push(path);
    rows.push([r.id, r.ref, r.model, expectCell(r, '(none)'), foundCell(bugOutcome(r), r.found, r.expect), String(r.runs), r.seconds.toFixed(2),
      r.eventsFound === null ? '-' : String(r.eventsFound), r.eventsShrunk === null ? '-' : String(r.eventsShrunk)]);
  }
  const outcomes = results.map((r) => bugOutcome(r));
  const verdict = worstVerdict(outcomes.map(bugVerdict));
  const failed = results.filter((_, i) => bugVerdict(outcomes[i]!) === 'violated');
  const open = results.filter((_, i) => outcomes[i] === 'notFound');
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'bugs', seed, verdict, knobs: results.map((r, i) => ({ ...r, shrunk: undefined, trace: traces[i],
      outcome: outcomes[i], runsRequested: runs, complete: outcomes[i] !== 'notFound', incompleteReason: outcomes[i] === 'notFound' ? 'notFoundWithinBudget' : null,
      stoppedBy: r.found !== null ? null : r.runs < runs ? 'timeBudget' : 'runs' })) })}\n`);
  } else {
    process.stdout.write(table(rows));
    for (let i = 0; i < results.length; i++) if (traces[i]) process.stdout.write(`  ${results[i]!.id}: npx dtsim replay ${traces[i]}\n`);
    for (const r of open) {
      process.stdout.write(`  ${r.id}: not found within the budget (${r.runs} of ${runs} runs, ${r.seconds.toFixed(1)} s${r.runs < runs ? `: stopped by the time budget of ${budget} s` : ''}): `
        + 'inconclusive, raise --runs/--time-budget\n');
    }
    for (const r of failed) {
      process.stdout.write(`  ${r.id}: ${r.expect === null ? `negative control flagged by ${r.found ?? ''}` : `found ${r.found ?? ''}, expected ${expectCell(r)}`}: FAILED\n`);
    }
    process.stdout.write(failed.length ? `${failed.length} knob(s) FAILED (wrong invariant or negative control flagged)${open.length ? `; ${open.length} not found within the budget` : ''}\n`
      : open.length ? `inconclusive: ${open.length} knob(s) not found within the budget; every other knob found with its expected invariant, negative controls not flagged\n`
        : 'every knob found with its expected invariant; negative controls not flagged\n');
  }
  return verdictExit(verdict);
}
