/**
 * `dtsim explore`: bounded exhaustive exploration of one design (breadth-first, deduplicated by a canonical
 * 64-bit fingerprint), with a shortest counterexample saved as a trace that `dtsim replay` reproduces.
 */
import { performance } from 'node:perf_hooks';
import { explore, type ExploreResult, type ExploreStatus } from '../../explore/bfs.ts';
import { contextBounded, modelChoices } from '../../explore/context-bound.ts';
import type { EventBase, JsonValue } from '../../core/model.ts';
import { UsageError } from '../errors.ts';
import { checkOutputs, type OutputRules } from '../io.ts';
import { coverageException, designFromFlags, intFlag, MODELS, optionFlags, proofBase, proofCases, type DesignChoice, type ProofOpen, type ProofTier } from '../registry.ts';
import { situationsOf } from '../jobs.ts';
import { table } from './check.ts';
import type { ExploreCoverage } from '../../explore/coverage.ts';
import { memoryLimit, memoryLimitBytes, type ExploreJob, type ExploreRowResult } from '../explore-row.ts';
import { defaultWorkers, runPool } from '../pool.ts';
import { formatCount, progressFor } from '../progress.ts';
import type { Parsed } from '../main.ts';
import { fmt, reachQuery, reachReport, saveCounterexample } from './explore-reach.ts';
import { boundedLine, notExhaustedLine, searchVerdict, verdictExit, worstVerdict, type SearchVerdict } from '../verdict.ts';

/**
 * The small configuration explore starts from (documented in `dtsim help explore`): one vCPU on one PE, a
 * 3-page memslot, a 1-entry TLB, one pre-copy round, the ITS save writing the last page, stolen time on.
 */
export const SMALL_CONFIG = { vcpus: 1, pes: 1, slots: [{ base: 0, npages: 3 }], blocks: false, tlbEntries: 1,
  stolenTime: true, itsPages: [2], rounds: 1, storePages: [] as number[] } as const;

/** Peak resident set size of this process, in MB. */
function peakMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}


/** The explore command line that finds the design again: its knobs, its non-default options, the depth, the configuration. */
export function exploreCommandLine(d: DesignChoice, depth: number, extra: string): string {
  const c = d.config as JsonValue;
  return `dtsim explore --model ${d.model.id}${d.bugs.map((b) => ` --bug ${b}`).join('')}${optionFlags(d)} --depth ${depth} --config '${JSON.stringify(c)}'${extra}`;
}

/**
 * `dtsim explore --matrix`: every design of the option matrix `dtsim check` runs (of --model, or of every
 * model), correct (no knob), explored at the same configuration flags; one row each. The evidence that the
 * correct designs hold in the whole bounded space: a row proves it only when its status is `exhausted`.
 * `--proof`: the same designs, each at its documented configuration (models/proofs.ts) of the tier `--tier`
 * asks for (1, the default: one vCPU on 1 then 2 PEs; 2: two vCPUs on two PEs, stolen time and the ITS save on);
 * it proves nothing unless every one is exhausted (a design the tier documents as not exhaustible is explored up
 * to its budget and reported NOT exhausted, as expected). A violated row saves its shortest counterexample as a
 * trace and prints how to replay it. Both print `dtsim check`'s coverage table for what they explored: for
 * each row, the least number of events after which each situation that applies to its design happens in the
 * explored space, or GAP (src/explore/coverage.ts).
 * Exit (src/cli/verdict.ts): 1 if a row is violated; else 4 (inconclusive) if a limit left a row open, or, for
 * --proof, if any row is not exhausted (the depth bound included); else 0 (--matrix rows bounded by --depth are
 * a complete answer to the bounded question and say they are not a proof for deeper runs).
 */
async function exploreMatrix(v: Parsed['values']): Promise<number> {
  const proof = v['proof'] === true;
  for (const f of ['bug', 'option', 'out', 'invariant', 'context-bound', 'reach', 'reach-module'] as const) {
    if (v[f] !== undefined) throw new UsageError(`--${proof ? 'proof' : 'matrix'} explores the correct designs of the option matrix; --${f} does not apply`);
  }
  if (proof) {
    for (const f of ['vcpus', 'pes', 'pages', 'store-pages', 'tlb-entries', 'rounds', 'config', 'symmetry', 'encoding'] as const) {
      if (v[f] !== undefined) throw new UsageError(`--proof explores each design at its documented configuration (models/proofs.ts); --${f} does not apply (use --matrix)`);
    }
  } else if (v['tier'] !== undefined) throw new UsageError('--tier applies to --proof (the proof tier to explore: 1 or 2)');
  const tier = intFlag('tier', v['tier'], 1, 1, 2) as ProofTier;
  const depth = intFlag('depth', v['depth'], 1000, 0, 100_000);
  // Tier 2's designs run to millions of states: no state limit and 1800 s a design by default (the memory limit
  // stays), but a design the tier documents as not exhaustible stops at its own budget unless --max-states is given.
  const maxStatesSet = v['max-states'] !== undefined;
  const maxStates = intFlag('max-states', v['max-states'], proof && tier === 2 ? 0 : 5_000_000, 0);
  const timeLimit = intFlag('time-limit', v['time-limit'], proof && tier === 2 ? 1800 : 300, 0);
  const json = v['json'] === true;
  const symmetry = v['symmetry'] === true;
  const enc = (v['encoding'] as string | undefined) ?? 'auto';
  if (enc !== 'auto' && enc !== 'generic') throw new UsageError(`--encoding: expected 'auto' or 'generic', got '${enc}'`);
  const workersFlag = intFlag('workers', v['workers'], defaultWorkers(), 1, 256);
  const models = v['model'] !== undefined ? [designFromFlags(v, SMALL_CONFIG).model] : MODELS;
  // The designs: the matrix at the flags' configuration, or (--proof) each at its documented configuration.
  const cases = proof ? proofCases(models, tier).map((c) => ({ model: c.model, pes: c.pes as number, row: c.row, options: c.options, config: c.config as unknown, why: c.why, open: c.open }))
    : models.flatMap((m) => {
      const { config } = designFromFlags({ ...v, model: m.id }, SMALL_CONFIG);
      const pes = (config as { pes: number }).pes;
      return m.preset.matrix.map((row) => ({ model: m, pes, row, options: row, config: config as unknown, why: null as string | null, open: null as ProofOpen | null }));
    });
  const rows: ({ model: string; pes: number; options: JsonValue; explored: JsonValue; config: JsonValue; why: string | null; status: ExploreStatus; distinct: number;
    generated: number; depth: number; seconds: number; deadlocked: number; violation: string | null; trace: string | null; message: string;
    expectedOpen: string | null; coverage: ExploreCoverage } & SearchVerdict)[] = [];
  if (!json) {
    process.stdout.write(`dtsim explore --${proof ? 'proof' : 'matrix'}: depth<=${depth} max-states=${maxStates || 'none'} time-limit=${timeLimit ? `${timeLimit}s` : 'none'} per design\n`);
    if (proof) {
      process.stdout.write(tier === 1
        ? `  tier 1: every correct design of the check matrix at its documented configurations (models/proofs.ts): base ${JSON.stringify(proofBase(1))}, then with 2 PEs\n`
        : `  tier 2: every correct design of the check matrix with 2 vCPUs racing on 2 PEs, stolen time and the ITS save on, at its documented configurations (models/proofs.ts): base ${JSON.stringify(proofBase(2))}\n`);
    }
  }
  // One job per design: the rows run on --workers threads (each design is one exploration: its own thread), and
  // print in this order whatever the number of workers (a row's figures never depend on it but for its time).
  const workers = Math.min(workersFlag, cases.length);
  const share = memoryLimitBytes(workers);
  const jobs: ExploreJob[] = cases.map((c) => ({ kind: 'explore', model: c.model.id, options: c.options, config: c.config as JsonValue,
    depth, maxStates: c.open !== null && !maxStatesSet ? c.open.maxStates : maxStates, timeLimitMs: timeLimit * 1000, symmetry, encoding: enc, memoryLimitBytes: share,
    // Check's rule (its coverage table): the situations that apply to the design's options, defaults included,
    // of the matrix row (not of the narrowing: a 1-entry buffer explored for a 2-entry row still owes its situations).
    situations: situationsOf(c.model.id, c.model.design(c.row).options) }));
  if (!json) process.stdout.write(`  workers=${workers}${workers > 1 ? ` (designs explored in parallel, each under its share of the memory limit: ${(share / 1048576).toFixed(0)} MB)` : ''}\n`);
  let bad = 0;
  let lastModel = '';
  let lastConfig = '';
  // Progress (a TTY only): designs done, violated, left open, their distinct states summed and per second.
  const progress = progressFor({ json, quiet: v['quiet'] === true });
  const t0 = performance.now();
  let states = 0;
  let violated = 0;
  let notExhausted = 0;
  const line = (d: number): string => {
    const secs = (performance.now() - t0) / 1000;
    return `explore --${proof ? 'proof' : 'matrix'}: ${d}/${jobs.length} designs, ${violated} violated, ${notExhausted} not exhausted, `
      + `${formatCount(states)} states (${formatCount(secs > 0 ? Math.round(states / secs) : 0)}/s)`;
  };
  let doneCount = 0;
  progress.update(() => line(0));
  const row = (i: number, r: ExploreRowResult): void => {
    const c = cases[i]!;
    const m = c.model;
    const cfg = JSON.stringify(c.config);
    const head = proof ? `${m.id}, ${tier === 2 ? '2 vCPUs x 2 PEs' : c.pes === 1 ? '1 PE' : `${c.pes} PEs`}` : m.id;
    progress.clear();
    if (!json && (head !== lastModel || (!proof && cfg !== lastConfig))) process.stdout.write(proof ? `${head}:\n` : `${m.id}: config=${cfg}\n`);
    lastModel = head;
    lastConfig = cfg;
    const cx = r.violation;
    const trace = cx ? saveCounterexample(m.id, m.design(c.options), c.config, cx, cx.choices,
      `shortest counterexample found by: dtsim explore --${proof ? 'proof' : 'matrix'} (${m.id} ${JSON.stringify(c.options)})`) : null;
    const out = { model: m.id, pes: c.pes, options: c.row as JsonValue, explored: c.options as JsonValue, config: c.config as JsonValue, why: c.why,
      status: r.status, distinct: r.distinct, generated: r.generated, depth: r.depth, seconds: r.seconds, deadlocked: r.deadlocked,
      violation: cx ? `${cx.invariant} after ${cx.events.length} events` : null, trace, message: r.message,
      expectedOpen: c.open !== null && r.status !== 'exhausted' && r.status !== 'violated' ? c.open.measured : null, coverage: r.coverage,
      ...searchVerdict(r.status, { contextBound: false, proof }) };
    rows.push(out);
    if (cx) bad++;
    const stopped = notExhaustedLine(r.status, r.distinct, r.depth);
    if (!json) {
      const st = r.status === 'exhausted' ? 'exhausted' : r.status === 'violated' ? `VIOLATED: ${out.violation}` : `NOT exhausted (${r.status})`;
      process.stdout.write(`  ${JSON.stringify(c.row).padEnd(44)} ${st.padEnd(24)} ${fmt(r.distinct).padStart(11)} states  depth ${String(r.depth).padStart(3)}`
        + `  ${out.seconds.toFixed(1).padStart(6)} s${r.deadlocked ? `  ${fmt(r.deadlocked)} DEADLOCKED` : ''}\n`);
      if (trace !== null) process.stdout.write(`    counterexample saved: ${trace}; replay with: npx dtsim replay ${trace}\n`);
      if (stopped !== null) process.stdout.write(`    ${stopped}: inconclusive\n`);
      else if (r.status === 'depthBound') process.stdout.write(`    ${boundedLine(depth)}${proof ? ': the proof needs it exhausted' : ''}\n`);
      if (c.why !== null) {
        const diff = Object.entries(c.options).filter(([k, x]) => JSON.stringify(c.row[k]) !== JSON.stringify(x));
        const base = proofBase(tier) as Record<string, unknown>;
        const cdiff = Object.entries(c.config as object).filter(([k, x]) => k !== 'pes' && k in base && JSON.stringify(base[k]) !== JSON.stringify(x));
        const changed = [...diff, ...cdiff];
        // A model-wide ('*') narrowing may leave a row as it is (the row already has the smaller ring): say so.
        process.stdout.write(changed.length ? `    narrowed to ${changed.map(([k, x]) => `${k}=${JSON.stringify(x)}`).join(' ')}: ${c.why}\n` : `    as is: ${c.why}\n`);
      }
      if (out.expectedOpen !== null) process.stdout.write(`    expected: documented as NOT exhausted at this tier (models/proofs.ts): ${out.expectedOpen}\n`);
    }
    // The row is printed: draw the line again under it while the next designs run.
    progress.redraw();
  };
  await runPool(jobs, workers, (d, _t, res) => {
    if (res.kind === 'explore') {
      states += res.result.distinct;
      if (res.result.status === 'violated') violated++;
      else if (res.result.status !== 'exhausted') notExhausted++;
    }
    doneCount = d;
    progress.update(() => line(doneCount));
  }, (i, res) => {
    if (res.kind !== 'explore') throw new Error(`[dtsim] explore: a ${res.kind} result for an explore job`);
    row(i, res.result);
  });
  progress.done();
  const exhausted = rows.filter((r) => r.status === 'exhausted').length;
  const open = rows.length - exhausted - bad;
  // Rows a limit stopped (inconclusive), and (--matrix) rows that answered the depth bound asked for (ok, bounded).
  const limited = rows.filter((r) => notExhaustedLine(r.status, 0, 0) !== null).length;
  const bounded = rows.filter((r) => r.incompleteReason === 'depthBound').length;
  // A violated row wins; else a row left open by a limit (or, for --proof, by anything) makes the run
  // inconclusive (exit 4): --proof proves something only when every design is exhausted.
  const verdict = worstVerdict(rows.map((r) => r.verdict));
  const expectedOpen = rows.filter((r) => r.expectedOpen !== null).length;
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'explore', matrix: true, proof, ...(proof ? { tier } : {}), depthBound: depth, workers, verdict, complete: bad > 0 || open === 0,
      rows, exhausted, violations: bad, notExhausted: open, expectedNotExhausted: expectedOpen, stoppedByLimit: limited, bounded })}\n`);
  } else {
    process.stdout.write(coverageText(cases.map((c, i) => ({ label: `${c.model.id} ${JSON.stringify(c.row)}${proof && tier === 1 && c.pes === 2 ? ' 2 PEs' : ''}`,
      model: c.model.id, row: c.row, coverage: rows[i]!.coverage })), proof));
    process.stdout.write(`${exhausted} of ${rows.length} designs exhausted with every invariant holding; ${bad} violated; `
      + `${open} not exhausted (${limited} stopped by a limit, ${bounded} bounded by --depth ${depth}; raise --depth/--max-states/--time-limit${proof ? '' : ' or shrink the configuration'})\n`);
    if (proof) process.stdout.write(bad === 0 && open === 0 ? `proof complete: no reachable state of any design violates an invariant at its documented configuration (tier ${tier})\n`
      : `proof NOT complete${bad === 0 ? ': inconclusive' : ''} (tier ${tier}${expectedOpen > 0 ? `; ${expectedOpen} of the designs not exhausted documented as not exhaustible at this tier` : ''})\n`);
    else if (verdict === 'inconclusive') process.stdout.write(`inconclusive: ${limited} design(s) NOT exhausted, stopped by a limit\n`);
  }
  return verdictExit(verdict);
}

/**
 * `dtsim check`'s coverage table for what --matrix/--proof explored: one line per row, one column per situation
 * (of any row's model); a cell is the least number of events after which the situation happens in the row's
 * explored space, GAP when it never does, '.' when it does not apply to the row's design (as in check's table).
 * Then the gaps: under --matrix each row's; under --proof the situations of a design that none of its rows in
 * this tier reaches (tier 1's 1-PE row cannot move a vCPU: its 2-PE row does), saying so where models/proofs.ts
 * documents that neither tier reaches it (properties/explore.coverage.test.ts fails on any other).
 */
function coverageText(rs: readonly { label: string; model: string; row: { readonly [k: string]: JsonValue }; coverage: ExploreCoverage }[], proof: boolean): string {
  const ids: string[] = [];
  const labels = new Map<string, string>();
  for (const r of rs) {
    for (const s of situationsOf(r.model)) {
      if (!ids.includes(s.id)) ids.push(s.id);
      labels.set(s.id, s.label);
    }
  }
  // A design's situations reached by none of its rows (under --matrix each row is its own design).
  const unreached = new Map<string, { label: string; model: string; row: { readonly [k: string]: JsonValue }; ids: Set<string> }>();
  const t: string[][] = [['coverage', ...ids]];
  for (const r of rs) {
    const key = proof ? `${r.model} ${JSON.stringify(r.row)}` : r.label;
    const u = unreached.get(key) ?? { label: key, model: r.model, row: r.row, ids: new Set(Object.keys(r.coverage)) };
    unreached.set(key, u);
    t.push([r.label, ...ids.map((id) => {
      if (!(id in r.coverage)) return '.';
      const d = r.coverage[id];
      if (d === null || d === undefined) return 'GAP';
      u.ids.delete(id);
      return String(d);
    })]);
  }
  const gaps: string[] = [];
  for (const u of unreached.values()) {
    for (const id of ids.filter((x) => u.ids.has(x))) {
      const ex = proof ? coverageException(u.model, u.row, id) : undefined;
      gaps.push(`${u.label}: ${id}${ex ? ` (documented: ${ex.why})` : ''}`);
    }
  }
  return `\n${table(t)}situations: ${ids.map((id) => `${id} = ${labels.get(id)}`).join('; ')}; a cell is the least number of events after which it happens `
    + `in the explored space ('.' = not applicable, GAP = never reached)\n`
    + `${gaps.length ? `not reached by ${proof ? 'any configuration of the design in this tier' : 'the exploration'}: ${gaps.join('; ')}\n` : ''}`;
}

export async function cmdExplore(p: Parsed): Promise<number> {
  const v = p.values;
  if (p.positionals.length) throw new UsageError(`explore: unexpected argument '${p.positionals[0]}'`);
  if (v['matrix'] === true || v['proof'] === true) return await exploreMatrix(v);
  if (v['workers'] !== undefined) throw new UsageError('--workers applies to --matrix and --proof (one exploration runs in one thread)');
  if (v['tier'] !== undefined) throw new UsageError('--tier applies to --proof (the proof tier to explore: 1 or 2)');
  const d = designFromFlags(v, SMALL_CONFIG);
  const depth = intFlag('depth', v['depth'], 60, 0, 100_000);
  const maxStates = intFlag('max-states', v['max-states'], 5_000_000, 0);
  const timeLimit = intFlag('time-limit', v['time-limit'], 300, 0);
  const symmetry = v['symmetry'] === true;
  const enc = (v['encoding'] as string | undefined) ?? 'auto';
  if (enc !== 'auto' && enc !== 'generic') throw new UsageError(`--encoding: expected 'auto' or 'generic', got '${enc}'`);
  const json = v['json'] === true;
  // --context-bound K: only the schedules with at most K lane switches (src/explore/context-bound.ts).
  const bound = v['context-bound'] === undefined ? null : intFlag('context-bound', v['context-bound'], 0, 0, 100_000);
  if (bound !== null && symmetry) throw new UsageError('--symmetry does not apply with --context-bound (lanes are named by agent: not relabelled)');
  const target = ((v['invariant'] as string[] | undefined) ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x);
  const knownInv = d.model.invariants.map((x) => x.id);
  for (const t of target) {
    if (!knownInv.includes(t)) throw new UsageError(`--invariant: unknown invariant '${t}' for model '${d.model.id}' (known: ${knownInv.join(', ')})`);
  }
  const outFlag = v['out'] as string | undefined;
  const outRules: OutputRules = { force: v['force'] === true, inputs: [] };
  if (outFlag) checkOutputs([{ flag: '--out', file: outFlag }], outRules);
  const { model, design, config } = d;
  const query = await reachQuery(v, model.init(design, config as never));
  if (query !== null && symmetry) throw new UsageError('--symmetry does not apply with --reach/--reach-module (a predicate may name one vCPU or PE: relabelled states are not the same to it)');
  if (query !== null && bound !== null) throw new UsageError('--context-bound does not apply with --reach/--reach-module');
  // A predicate may read any field (counters the model's packed encoding leaves out): every field counts, unless
  // --encoding auto is asked for.
  const encoding = (query !== null && v['encoding'] === undefined ? 'generic' : enc) as 'auto' | 'generic';
  if (!json) {
    process.stdout.write(`dtsim explore: model=${model.id} options=${JSON.stringify(design.options)} bugs=${JSON.stringify(design.bugs)}\n`
      + `  config=${JSON.stringify(config)}\n  depth<=${depth} max-states=${maxStates || 'none'} time-limit=${timeLimit ? `${timeLimit}s` : 'none'} symmetry=${symmetry ? 'on' : 'off'} encoding=${encoding}${query !== null ? ` reach=${query.label}` : ''}${target.length ? ` invariant=${target.join(',')}` : ''}${bound !== null ? ` context-bound=${bound}` : ''}\n`);
  }
  // Progress (a TTY only): BFS level, distinct and generated states, frontier, distinct states/s (the engine
  // reports every 16,384 generated states; the progress line redraws at most ~4 times a second).
  const progress = progressFor({ json, quiet: v['quiet'] === true });
  progress.update(() => 'explore: depth 0, 1 state');
  const searched = bound === null ? model : contextBounded(model as never, bound);
  const r: ExploreResult<EventBase> = explore(searched as never, design, config, {
    maxDepth: depth, maxStates, timeLimitMs: timeLimit * 1000, symmetry, encoding, target, ...(query !== null ? { reach: query.test } : {}),
    now: () => performance.now(), progressEvery: 16_384,
    shouldStop: memoryLimit(),
    onProgress: (pr) => {
      progress.update(() => `explore: depth ${pr.depth}, ${fmt(pr.distinct)} states (${fmt(pr.elapsedMs > 0 ? Math.round(pr.distinct / (pr.elapsedMs / 1000)) : 0)}/s), `
        + `frontier ${fmt(pr.frontier)}, ${fmt(pr.generated)} generated`);
    },
  });
  progress.done();
  const secs = r.elapsedMs / 1000;
  const rate = secs > 0 ? Math.round(r.distinct / secs) : r.distinct;
  let file: string | null = null;
  const cx = r.violation;
  // Under a context bound, say what was exhausted and what a violation is the shortest of.
  const message = bound === null ? r.message
    : r.status === 'exhausted' ? `the schedules with at most ${bound} lane switches are exhausted at depth ${r.depth}: every invariant holds in every state they reach (NOT the whole space)`
      : r.status === 'violated' && cx ? `${cx.invariant} violated after ${cx.events.length} events (a shortest counterexample among the schedules with at most ${bound} lane switches)`
        : r.message;
  const cmd = exploreCommandLine(d, depth, `${symmetry ? ' --symmetry' : ''}${target.map((t) => ` --invariant ${t}`).join('')}${bound !== null ? ` --context-bound ${bound}` : ''}${query !== null ? ` ${query.flag}` : ''}`);
  if (query !== null) return reachReport(r, query, { model: model.id, design, config, depth, json, cmd, secs, rate, outFlag, outRules });
  if (cx) {
    // Under a context bound the indices are into the product's (filtered) enabled lists: record the model's own.
    const choices = bound === null ? cx.choices : modelChoices(model as never, model.init(design, config as never), cx.events);
    file = saveCounterexample(model.id, design, config, cx, choices,
      `shortest counterexample${bound !== null ? ` among the schedules with at most ${bound} lane switches` : ''} found by: ${cmd}`, outFlag ? { file: outFlag, rules: outRules } : undefined);
  }
  // The verdict (src/cli/verdict.ts): a limit that stopped the search makes it inconclusive (exit 4); the depth
  // and context bounds the user asked for do not, but the answer is then bounded and says so.
  const sv = searchVerdict(r.status, { contextBound: bound !== null, proof: false });
  const stopped = notExhaustedLine(r.status, r.distinct, r.depth);
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: 'explore', model: model.id, design, config, depthBound: depth, status: r.status,
      verdict: sv.verdict, complete: sv.complete, exhaustive: sv.exhaustive, incompleteReason: sv.incompleteReason, generated: r.generated, distinct: r.distinct, depth: r.depth,
      frontier: r.frontier, terminal: r.terminal, deadlocked: r.deadlocked, contextBound: bound, target, otherViolations: r.otherViolations, seconds: secs, distinctPerSecond: rate, peakMemoryMb: Math.round(peakMb()),
      collisionProbability: r.collisionProbability, encoding: r.encoding, symmetry: r.symmetry, storage: r.storage, storageMb: +(r.storageBytes / 1048576).toFixed(1), message,
      violation: cx ? { invariant: cx.invariant, message: cx.message, pages: cx.pages, events: cx.events.length, eventIndex: cx.eventIndex } : null,
      trace: file })}\n`);
  } else {
    const w = (s: string): void => { process.stdout.write(`${s}\n`); };
    w(`${r.status}: ${message}`);
    if (bound !== null) {
      w(`  context bound      at most ${bound} lane switches: only those schedules were searched (NOT the whole space); `
        + 'states are (model state, last lane, switches)');
    }
    w(`  states generated   ${fmt(r.generated)}`);
    w(`  distinct states    ${fmt(r.distinct)}${r.frontier ? ` (${fmt(r.frontier)} left unexpanded)` : ''}; terminal ${fmt(r.terminal)}`
      + `${r.deadlocked ? `, of which ${fmt(r.deadlocked)} DEADLOCKED (nothing enabled, migration not complete)` : ', every one final'}`);
    w(`  depth reached      ${r.depth}`);
    if (target.length) {
      w(`  target             ${target.join(', ')}; ${fmt(r.otherViolations)} states broke another invariant first (dead ends)`
        + `${r.firstOther ? `, the first ${r.firstOther.invariant} at depth ${r.firstOther.depth}` : ''}`);
    }
    w(`  distinct states/s  ${fmt(rate)} (${secs.toFixed(2)} s)`);
    w(`  peak memory        ${peakMb().toFixed(0)} MB (resident); visited set ${(r.visitedBytes / 1048576).toFixed(1)} MB; `
      + (r.storage === 'words' ? `frontier saved as words, at most ${(r.storageBytes / 1048576).toFixed(1)} MB of states` : 'frontier kept as objects (the state is not plain JSON, or nothing was explored past the initial state)'));
    w(`  fingerprint        64-bit (${r.encoding === 'model' ? `${model.id}'s packed encoding` : 'generic JSON encoding'}); collision probability <= ${r.collisionProbability.toExponential(1)} (n^2/2^65)`);
    const why = symmetry && r.symmetry.length === 0
      ? ` (asked for, but ${(model.symmetry?.(model.init(design, config as never)) ?? []).map((g) => `${g.name}: ${g.why}`).join('; ') || 'the model declares no symmetry'})` : '';
    w(`  symmetry           ${r.symmetry.length ? r.symmetry.map((g) => `${g.name} x${g.size} (${g.why})`).join('; ') : `none${why}`}`);
    if (cx) {
      w(`violation: ${cx.invariant} after ${cx.events.length} events (shortest${bound !== null ? ` with at most ${bound} lane switches` : ''}): ${cx.message}`);
      w(`counterexample saved: ${file}\nreplay with: npx dtsim replay ${file}`);
    }
    if (stopped !== null) w(`${stopped}: inconclusive`);
    else if (r.status === 'depthBound') w(boundedLine(depth));
  }
  return verdictExit(worstVerdict([sv.verdict]));
}
