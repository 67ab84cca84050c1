/** `dtsim check`: the main job. Property campaigns over every model's option matrix against the oracle. */
import { performance } from 'node:perf_hooks';
import { runItem, type CampaignItem, type ItemResult } from '../../check/campaign.ts';
import { makeTrace, serializeTrace } from '../../trace/format.ts';
import type { EventBase, JsonValue } from '../../core/model.ts';
import { UsageError } from '../errors.ts';
import { freshPath, writeAtomic } from '../io.ts';
import { intFlag, MODELS, seedFlag } from '../registry.ts';
import type { Parsed } from '../main.ts';
import type { MachineModel } from '../registry-types.ts';

export function designLabel(model: string, options: { readonly [k: string]: JsonValue }, defaults: { readonly [k: string]: JsonValue }): string {
  const diff = Object.entries(options).filter(([k, v]) => JSON.stringify(defaults[k]) !== JSON.stringify(v));
  return diff.length ? `${model}{${diff.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : model;
}

/** Saves a failing run as a trace that replays to its violation; returns the path. */
export function saveFailure(dir: string, model: MachineModel, r: ItemResult<EventBase>, cmd: string): string {
  const f = r.firstFailure!;
  const path = freshPath(dir, `${model.id}-${f.invariant}-${f.seed}`);
  const trace = makeTrace({ design: r.design, config: model.defaultConfig as unknown as JsonValue, seed: f.seed, choices: f.run.choices,
    events: f.run.events, note: cmd, expect: { status: 'violated', eventIndex: f.eventIndex, invariant: f.invariant } });
  writeAtomic(path, serializeTrace(trace));
  return path;
}

export function defaultSeed(): string {
  return process.env['DTSIM_SEED'] ?? (Date.now() % 1e9).toString(36);
}

export async function cmdCheck(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`check: unexpected argument '${p.positionals[0]}'`);
  const ids = (v['model'] as string[] | undefined) ?? MODELS.map((m) => m.id);
  const models: MachineModel[] = [];
  for (const id of ids) {
    const m = MODELS.find((x) => x.id === id);
    if (!m) throw new UsageError(`--model: unknown model '${id}' (one of: ${MODELS.map((x) => x.id).join(', ')})`);
    models.push(m);
  }
  const runs = intFlag('runs', v['runs'], 40, 1);
  const maxEvents = intFlag('events', v['events'], 300, 1);
  const budget = intFlag('time-budget', v['time-budget'], 0, 0);
  const seed = seedFlag(v['seed'], defaultSeed());
  const outDir = (v['out-dir'] as string | undefined) ?? 'out/failures';
  const json = v['json'] === true;
  const items: CampaignItem<unknown, EventBase, unknown>[] = [];
  for (const m of models) {
    for (const opts of m.preset.matrix) {
      const design = m.design(opts, []);
      items.push({ label: designLabel(m.id, design.options, m.defaultOptions), model: m as never, design, config: m.defaultConfig });
    }
  }
  const perItemBudget = budget > 0 ? (budget * 1000) / items.length : 0;
  if (!json) {
    process.stdout.write(`dtsim check: seed=${seed} runs=${runs} events=${maxEvents} time-budget=${budget || 'none'}s models=${ids.join(',')} designs=${items.length}\n`);
  }
  const results: ItemResult<EventBase>[] = [];
  const tty = process.stderr.isTTY && !json;
  for (const it of items) {
    const r = runItem(it, { runs, seed, maxEvents, timeBudgetMs: perItemBudget, stopAtFirst: false, now: () => performance.now(),
      onRun: tty ? (l, d, t) => process.stderr.write(`\r  ${l}: ${d}/${t}   `) : undefined });
    if (tty) process.stderr.write('\r\x1b[K');
    results.push(r);
  }
  let failed = 0;
  const rows: string[][] = [['design', 'runs', 'events', 'violations', 'reports', 'unjustified', 'faults', 'time']];
  const saved: string[] = [];
  for (const r of results) {
    if (r.violations > 0) {
      failed++;
      const m = models.find((x) => x.id === r.model)!;
      const cmd = `dtsim check --model ${r.model} --seed ${seed} --runs ${runs} --events ${maxEvents}`;
      const path = saveFailure(outDir, m, r, cmd);
      saved.push(`${r.label}: ${r.firstFailure!.invariant} (seed ${r.firstFailure!.seed}) after event ${r.firstFailure!.eventIndex}: ${r.firstFailure!.message}\n  trace: ${path}\n  replay: npx dtsim replay ${path}`);
    }
    rows.push([r.label, String(r.runs), String(r.events), String(r.violations), String(r.metrics['reports'] ?? 0),
      `${((r.metrics['unjustifiedRate'] ?? 0) * 100).toFixed(1)}%`, String(r.metrics['writeFaults'] ?? 0), `${(r.timeMs / 1000).toFixed(1)}s`]);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'check', seed, runs, events: maxEvents, results: results.map((r) => ({
      label: r.label, model: r.model, design: r.design, runs: r.runs, events: r.events, violations: r.violations, byInvariant: r.byInvariant,
      metrics: r.metrics, timeMs: Math.round(r.timeMs), firstFailure: r.firstFailure ? { seed: r.firstFailure.seed, invariant: r.firstFailure.invariant,
        eventIndex: r.firstFailure.eventIndex, message: r.firstFailure.message } : null })) })}\n`);
  } else {
    process.stdout.write(table(rows));
    for (const s of saved) process.stdout.write(`VIOLATION ${s}\n`);
    process.stdout.write(failed ? `${failed} design(s) violated an invariant\n` : 'all designs hold every invariant\n');
  }
  return failed ? 1 : 0;
}

export function table(rows: string[][]): string {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, i) => { w[i] = Math.max(w[i] ?? 0, c.length); });
  return rows.map((r, ri) => {
    const line = r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
    return ri === 0 ? `${line}\n${w.map((x) => '-'.repeat(x)).join('  ')}` : line;
  }).join('\n') + '\n';
}
