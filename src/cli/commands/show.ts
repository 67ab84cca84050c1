/** `dtsim show FILE`: a timeline per vCPU / PE / VMM / host, as text, a self-contained HTML page, or Perfetto JSON. */
import { buildTimeline, renderTimelineText } from '../../workflow/timeline.ts';
import { buildFrames, renderHtml } from '../../workflow/html.ts';
import { toPerfetto } from '../../workflow/perfetto.ts';
import { UsageError } from '../errors.ts';
import { checkOutputs, writeOutput, type Output } from '../io.ts';
import { intFlag } from '../registry.ts';
import { loadTrace, migrationLine } from './run.ts';
import { viewFor } from './bisect.ts';
import type { Parsed } from '../main.ts';
import type { EventBase } from '../../core/model.ts';

/** Rows the text timeline prints by default for a long trace. */
const TEXT_WINDOW = 200;

export async function cmdShow(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length !== 1) throw new UsageError('show: expected exactly one trace file (dtsim show FILE [--html OUT] [--perfetto OUT])');
  const file = p.positionals[0] as string;
  const html = v['html'] as string | undefined;
  const perfetto = v['perfetto'] as string | undefined;
  // Refused before the replay: an existing file without --force, the input trace itself, both flags on one file.
  const rules = { force: v['force'] === true, inputs: [file] };
  const outputs: Output[] = [...(html ? [{ flag: '--html', file: html }] : []), ...(perfetto ? [{ flag: '--perfetto', file: perfetto }] : [])];
  checkOutputs(outputs, rules);
  const loaded = loadTrace(file);
  const { trace, model } = loaded;
  const events = trace.events as EventBase[];
  const n = events.length;
  const from = intFlag('from', v['from'], 0, 0, Math.max(0, n - 1));
  const to = intFlag('to', v['to'], Math.max(0, n - 1), from, Math.max(0, n - 1));
  const maxStates = intFlag('max-states', v['max-states'], 2000, 1, 1_000_000);
  const cfg = trace.config as { vcpus?: unknown; pes?: unknown };
  const counts = { vcpus: typeof cfg.vcpus === 'number' ? cfg.vcpus : 0, pes: typeof cfg.pes === 'number' ? cfg.pes : 0 };
  const start = model.init(trace.design, trace.config);
  const tl = buildTimeline(model, start, events, counts, trace.labels);
  const title = `${file}: ${trace.design.model} ${JSON.stringify(trace.design.bugs)} seed ${trace.seed ?? '-'}, ${n} events`;
  if (!html && !perfetto) {
    process.stdout.write(`dtsim show: ${file} model=${trace.design.model} v${trace.design.modelVersion} bugs=${JSON.stringify(trace.design.bugs)} seed=${trace.seed ?? '-'} events=${n}\n${migrationLine(loaded)}`);
    const width = intFlag('width', v['width'], process.stdout.columns ?? 160, 40, 1000);
    // A long trace prints a window around the violation (or its end) unless --from/--to say otherwise.
    let a = from;
    let b = to;
    if (v['from'] === undefined && v['to'] === undefined && n > TEXT_WINDOW) {
      const focus = tl.outcome.status === 'ok' ? n - 1 : Math.max(0, tl.outcome.eventIndex);
      b = Math.min(n - 1, focus + 20);
      a = Math.max(0, b - TEXT_WINDOW + 1);
      process.stdout.write(`events ${a}..${b} of ${n} (use --from/--to for others)\n`);
    }
    process.stdout.write(renderTimelineText(tl, { from: a, to: b, width }));
    return 0;
  }
  if (html) {
    // States for at most --max-states events of [from, to], centred on the violation when there is one.
    let a = from;
    let b = to;
    if (b - a + 1 > maxStates) {
      const focus = tl.outcome.status === 'ok' ? b : Math.max(a, Math.min(b, tl.outcome.eventIndex));
      a = Math.max(from, focus - Math.floor(maxStates / 2));
      b = Math.min(to, a + maxStates - 1);
      a = Math.max(from, b - maxStates + 1);
    }
    const frames = buildFrames(model, start, events, viewFor(model), a, b);
    writeOutput({ flag: '--html', file: html }, renderHtml(tl, frames, title), rules);
    process.stdout.write(`html saved: ${html} (${n} events, states for events ${frames.from}..${frames.to})\n${migrationLine(loaded)}`);
  }
  if (perfetto) {
    writeOutput({ flag: '--perfetto', file: perfetto }, `${JSON.stringify(toPerfetto(tl, title))}\n`, rules);
    process.stdout.write(`perfetto trace saved: ${perfetto} (open it at ui.perfetto.dev or chrome://tracing)\n${html ? '' : migrationLine(loaded)}`);
  }
  return 0;
}
