/** `dtsim bugs`: the bug catalogue, and a campaign per knob showing the checker finds it. */
import { performance } from 'node:perf_hooks';
import { runItem } from '../../check/campaign.ts';
import type { EventBase } from '../../core/model.ts';
import { UsageError } from '../errors.ts';
import { intFlag, MODELS, seedFlag } from '../registry.ts';
import type { Parsed } from '../main.ts';
import { defaultSeed, saveFailure, table } from './check.ts';

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
    if (json) process.stdout.write(`${JSON.stringify(knobs.map(({ m, b }) => ({ id: b.id, ref: b.ref, model: m.id, expect: b.expect, description: b.description })))}\n`);
    else process.stdout.write(table([['id', 'ref', 'model', 'expected invariant', 'description'],
      ...knobs.map(({ m, b }) => [b.id, b.ref, m.id, b.expect ?? '(none: negative control)', b.description])]));
    return 0;
  }
  const runs = intFlag('runs', v['runs'], 2000, 1);
  const maxEvents = intFlag('events', v['events'], 300, 1);
  const budget = intFlag('time-budget', v['time-budget'], 60, 0);
  const seed = seedFlag(v['seed'], defaultSeed());
  const outDir = (v['out-dir'] as string | undefined) ?? 'out/bugs';
  if (!json) process.stdout.write(`dtsim bugs: seed=${seed} runs<=${runs} events=${maxEvents} time-budget=${budget}s per knob, knobs=${knobs.length}\n`);
  const rows: string[][] = [['id', 'ref', 'model', 'expected', 'found', 'runs', 'seconds', 'events']];
  const out: unknown[] = [];
  let bad = 0;
  for (const { m, b } of knobs) {
    const design = m.design({}, [b.id]);
    const config = { ...m.defaultConfig, ...(b.config ?? {}) };
    const r = runItem({ label: `${m.id}/${b.id}`, model: m as never, design, config }, {
      runs, seed, maxEvents, timeBudgetMs: budget * 1000, stopAtFirst: b.expect !== null, now: () => performance.now() });
    const f = r.firstFailure;
    const ok = b.expect === null ? f === null : f !== null && f.invariant === b.expect;
    if (!ok) bad++;
    const found = f ? (f.invariant === b.expect ? 'yes' : `WRONG: ${f.invariant}`) : (b.expect === null ? 'no (ok)' : 'NO');
    let trace: string | null = null;
    if (f) trace = saveFailure(outDir, m, { ...r, design } as never, `dtsim bugs --bug ${b.id} --seed ${seed}`);
    rows.push([b.id, b.ref, m.id, b.expect ?? '(none)', found, String(r.runs), (r.timeMs / 1000).toFixed(2), f ? String(f.run.events.length) : '-']);
    out.push({ id: b.id, ref: b.ref, model: m.id, expect: b.expect, found: f ? f.invariant : null, ok, runs: r.runs,
      seconds: r.timeMs / 1000, events: f ? f.run.events.length : null, trace });
    void (r as unknown as EventBase);
  }
  if (json) process.stdout.write(`${JSON.stringify({ command: 'bugs', seed, knobs: out })}\n`);
  else {
    process.stdout.write(table(rows));
    process.stdout.write(bad ? `${bad} knob(s) not found as expected\n` : 'every knob found with its expected invariant; negative controls not flagged\n');
  }
  return bad ? 1 : 0;
}
