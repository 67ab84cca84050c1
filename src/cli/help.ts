/** CLI help texts (kept true to what the commands do). */
import { MODELS } from './registry.ts';
import { UsageError } from './errors.ts';

export const HELP = `dtsim: deterministic simulator and checker for stage-2 dirty page tracking designs

Usage: dtsim <command> [options]

Commands:
  check     property campaigns over every model's option matrix against the oracle (the main job)
  run       simulate one design and seed; save the trace
  replay    re-run a trace, check every event was enabled, compare with its expect block
  bugs      the bug catalogue (--list), or a campaign per knob showing the checker finds it
  explore   bounded exhaustive search (BFS) of one design; saves a shortest counterexample
  compare   designs side by side on the same seeded workloads; --html draws harvest-work curves;
            --preset small|realistic: at GiB scale, with plots (docs/compare.md)
  bisect    the first event after which an invariant is violated, its neighbours and the state change
  shrink    minimise a failing trace (fewest events, vCPUs, PEs, pages) that still violates the same invariant
  show      a trace's timeline per vCPU, PE, VMM and host: text, a self-contained HTML page, or Perfetto JSON
  help      this text; 'dtsim help <command>' (or 'dtsim <command> -h', '--help') for one command;
            'dtsim help state [MODEL]': every state field (the paths --reach reads), from the schemas
  version   the package version and the trace format version (also: dtsim --version, -V)

Exit codes: 0 ok; 1 violation found (or a trace differs from its expect block);
            2 bad input or usage (one line naming file, line and field), a refused write, an unknown help topic;
            3 internal error;
            4 inconclusive: no violation, but a limit stopped the work before it could conclude (explore's
              state, time or memory limit; --proof with a design not exhausted; a bugs knob not found within
              its budget; check --merge with shards missing); a violation (1) wins over inconclusive;
            5 explore --reach/--reach-module only: the search was complete (exhausted, or to --depth) and no
              state satisfies the query;
            141 the output's reader went away early (e.g. piped into head).
Every run prints its seed and options first; a failure prints the command that replays it.
JSON Schemas (draft 2020-12) of every --json output and of each trace format version ship in the package's
schemas/ (dtsim/schemas/*: output-<command>.schema.json, trace-v<N>.schema.json, trace.schema.json); a trace
names its own in "$schema" (an identifier, never fetched; when present it must be exactly its version's id).
Files: traces are evidence. A file you name (--out, --html, --perfetto) that exists is refused unless --force,
and a command never writes over its own input, even with --force; files dtsim names itself (check and bugs
failures, explore counterexamples) take a fresh name. Every write is atomic: temp file, fsync, rename.
Progress: check, bugs, explore (also --matrix, --proof) and compare draw one line on stderr, redrawn in place
(at most ~4 times a second): elapsed time, resident memory, then designs/chunks/knobs/cells done, runs,
violations, states, states/s, depth and frontier as fits the command. Only when stderr is a terminal; never
with --json or --quiet (which turns it off and changes nothing else), nor when stderr is a pipe or a file.
The line is dim and erased with ESC[K; with NO_COLOR set (non-empty) or TERM=dumb it carries no escape
sequence at all (erased with spaces). Results go to stdout, the same with or without progress.
`;

export const COMMAND_HELP: { [cmd: string]: string } = {
  run: `Usage: dtsim run --model M [--bug K]... [--seed S] [--events N] [--option k=v]... [--config JSON] [--out FILE [--force]] [--json]
  Simulates one design (model M with options and bug knobs) from seed S for N scheduled events, then drives
  the migration to completion. --out saves the trace (atomically) with an expect block matching the outcome;
  an existing file is refused (exit 2) unless --force. --config overrides configuration fields (JSON object).
  Exit 0 if every invariant held, 1 on a violation.
`,
  replay: `Usage: dtsim replay FILE [--path fast|immer] [--check-every N] [--json]
  Re-runs a trace: every event must be enabled where it stands (else: rejected, with its index); invariants
  are checked after every event (or every N). Prints the outcome, the final state fingerprint and, on a
  violation, the invariant, event and pages. Exit 0 if the outcome equals the trace's expect block, else 1;
  2 if the trace is malformed (file:line: field: message). An expect block is ok, violated at event k with an
  invariant, or rejected at event k (event k not enabled there: how a litmus trace in traces/litmus/ says an
  outcome is forbidden; docs/litmus.md).
  A trace made by an older version of its model is read through the model's migrations (replay, show, bisect
  and shrink print 'migrated from vN (...)' and carry 'migration' in --json); one that no longer replays to
  its expect block under the current version, or made by a newer version than this dtsim, is refused (exit 2).
`,
  bisect: `Usage: dtsim bisect FILE [--stepwise] [--stride N] [--context N] [--json]
  Finds the first event after which an invariant is violated: one fast replay stores a checkpoint every N
  events (default: about sqrt(events/40) checkpoints, at most 512), a binary search checks invariants at
  checkpoints, a stepwise pass inside the last interval names the event. This assumes a violation persists
  once it happens; when the final state is clean (a transient invariant such as INV-FLUSH) or with --stepwise,
  it scans stepwise (exact). Prints the event with --context neighbours (default 3) and the state change it
  made (descriptors, TLB entries, bitmap bits, ...).
  For INV-FINAL it also names the cause: the event after which completing the run no longer recovers the page.
  Exit 0 if no invariant is violated, 1 if one is (or an event is not enabled), 2 if the trace is malformed.
`,
  shrink: `Usage: dtsim shrink FILE --out FILE2 [--force] [--max-tests N] [--json]
  Minimises a failing trace: drops events after the violation, shrinks the choice sequence (re-generating the
  events), tries smaller machines (fewer vCPUs and PEs, renumbering the rest; fewer memslot pages, ITS pages,
  rounds, TLB entries) and runs delta debugging on the event list. Every candidate is replayed (events must stay
  enabled) and must violate the same invariant; the result is never longer than the input. At most N replays
  (default 20000). FILE2 is written atomically with an expect block naming its violating event; an existing
  FILE2 is refused (exit 2, before any work) unless --force, and FILE2 is never FILE itself, even with --force
  (compared as files: ./FILE, symlinks and hard links count). Exit 0 when saved; 2 if FILE does not fail.
`,
  show: `Usage: dtsim show FILE [--from A] [--to B] [--width N] [--html OUT] [--perfetto OUT] [--force] [--max-states N]
  Replays the trace and prints a timeline with one column per vCPU, per PE, for the VMM and the host, the
  violating (X) or rejected (!) event marked (a trace of more than 200 events: the 200 around the violation or
  the end, unless --from/--to). --width N (default: the terminal's, else 160) is a preference, not a limit:
  an idle lane is as wide as its name, a long description wraps at field boundaries within its lane, and a
  lane is widened to its longest field=value, so no field is ever cut. --html writes one self-contained page (inline SVG and script, no
  network): the timeline with the violation marked; step with the buttons, the arrow keys, Home/End, 'v' or a
  click, and see the changes each event made and the machine state after it (page table, TLBs, vCPUs, bitmap,
  rings and buffers, VMM), computed by the real reducer for at most N events around the violation (default 2000).
  --perfetto writes Chrome trace-event JSON (one thread per lane) for ui.perfetto.dev. Files are written
  atomically; an existing OUT is refused unless --force, and OUT is never FILE nor the other output.
  Exit 0; 2 if the trace is malformed or an output is refused.
`,
  check: `Usage: dtsim check [--model M]... [--bug K]... [--runs N] [--seed S] [--events N] [--time-budget SECONDS]
                   [--workers N] [--shard i/n] [--merge DIR] [--out-dir DIR] [--json] [--quiet]
  The main job. Runs N seeded simulations (default 250, each N events long, default 300, then driven to the end
  of the migration) of every design in each model's option matrix, checking every invariant after every event,
  on all cores (--workers, default: every core; a design's runs are split into chunks across the workers, run i
  keeping its seed, and merged back exactly, so the result is the same for any N). Prints a table per design
  (runs, events, distinct states, violations, reports, unjustified and duplicate report rates, write faults,
  time = worker time summed over the design's chunks) and a coverage table of the
  situations that matter (GAP: never reached). Seed: --seed, else $DTSIM_SEED, else fresh (printed first).
  --time-budget stops starting new runs once the budget (shared by all designs and chunks) is spent.
  --bug K checks the designs with knob K injected (to see how a bug shows up in a campaign).
  --shard i/n runs the runs i, i+n, i+2n, ... of every design (disjoint, deterministic seeds): run n shards
  with the same --seed and --json into one folder, then --merge DIR prints the combined table (Kubernetes
  Indexed Job and GitHub Actions matrix examples: docs/sharded-campaigns.md).
  A failing design's first failing run is saved to --out-dir (default out/failures) under a fresh name, shrunk
  (saved next to it, '-min'), and printed with the commands that replay and re-run it; with --json the same
  files are saved and the 'failures' list names them and the commands (nothing but the JSON goes to stdout).
  Each shard saves its own failures; --merge lists the failures of every shard (text and --json). Saved
  traces in the merge folder (a shard's --out-dir may be it) are skipped and counted; any other file that is
  not a check --json result is bad input (exit 2, naming the file and field).
  --json records the shard (shard: index, count; unsharded: 0 of 1). --merge refuses two files of the same
  shard index (exit 2, naming both: a copied shard would be counted twice) and files of different shard
  counts (exit 2); shards missing from 0..n-1 print 'NOT complete: shards 1, 3 of 4 missing' and exit 4
  (inconclusive; a violation in the shards present still exits 1), and --json gives shards (count, present,
  missing, unchecked) and complete: false. Files written before the field are merged as before, and the
  output says their shard indices could not be checked (unchecked).
  Exit 0 if every design holds every invariant, 1 on a violation, 2 on bad input, 4 when a merge misses shards.
  A design the time budget stopped before its N runs is printed as 'R of N' runs ('stopped by the time
  budget'), the verdict line claims only the runs done, and --json gives each design runsRequested, runs and
  complete; a clean campaign so cut still exits 0: the budget is the sample size asked for (a random campaign
  is never exhaustive; the runs printed are the evidence).
  On a terminal, progress on stderr (designs done, violations, runs done of requested, chunks; see dtsim help);
  --quiet: none.
`,
  bugs: `Usage: dtsim bugs [--list] [--model M]... [--bug K]... [--runs N] [--seed S] [--events N] [--time-budget SECONDS]
                  [--shrink-tests N] [--workers N] [--out-dir DIR] [--json] [--quiet]
  --list prints the catalogue (id, reference scenario, model, expected invariant, description), then every
  reference id of both catalogues (kvm B1-B15 and U1-U4, arm F1-F21) and of dtsim's own findings (F-B1, F-B2)
  with its knobs or why it has none (x86-only, performance-only, test-bug, covered-by, not-modelled); with --json one
  object {knobs, references}.
  Otherwise, for every knob, runs choice-sequence campaigns (as the property suite does; at most N runs,
  default 1000, of up to --events choices, default 240, or the time budget, default 60 s per knob) from the
  seed until the first violation, shrinks it (at most --shrink-tests replays, default 4000) and saves it to DIR
  (default out/bugs) under a fresh name (never overwriting a file). Prints id, reference, model, expected invariant, found, runs and seconds to find, the
  events of the counterexample and of the shrunk one. Exit 0 when every knob is found with its expected
  invariant (or an alternative the catalogue declares with its reason, shown as "yes, as INV-X") and every negative control ran its whole budget clean; 1 when a knob is found with another
  invariant or a negative control is flagged (a real failure); else 4 (inconclusive) when a knob was not found
  within its budget (runs and seconds printed: more runs may find it). --json gives each knob its outcome
  (found, wrongInvariant, flagged, notFound, clean), runsRequested, complete and incompleteReason.
  On a terminal, progress on stderr (knobs done, found, runs; see dtsim help); --quiet: none.
`,
  explore: `Usage: dtsim explore --model M [--bug K]... [--option k=v]... [--vcpus N] [--pes N] [--pages N] [--store-pages G,G..]
                     [--tlb-entries N] [--rounds N] [--config JSON] [--depth D] [--max-states N] [--time-limit SECONDS]
                     [--symmetry] [--encoding auto|generic] [--invariant ID]... [--context-bound K] [--reach EXPR | --reach-module FILE]
                     [--out FILE [--force]] [--json] [--quiet]
       dtsim explore --matrix [--model M] [configuration flags] [--depth D] [--max-states N] [--time-limit S] [--workers N] [--json] [--quiet]
       dtsim explore --proof [--tier 1|2] [--model M] [--depth D] [--max-states N] [--time-limit S] [--workers N] [--json] [--quiet]
  Breadth-first search over every enabled event from the initial state, up to depth D (default 60), using the
  model's own enabled/apply/invariants. States are deduplicated by a canonical 64-bit fingerprint of a packed
  encoding (the model's pack hook, or the generic JSON encoding); the collision probability n^2/2^65 is printed.
  Every invariant is checked in every distinct state; the first violation found is a shortest counterexample,
  saved as a trace (--out FILE: an existing one is refused, before the search, unless --force; default a new
  file in out/explore/) that
  'dtsim replay' reproduces exactly.
  Default configuration (small): 1 vCPU, 1 PE, one 3-page memslot, a 1-entry TLB, 1 pre-copy round, the ITS
  save writing the last page, stolen time on; a knob's own configuration is merged over it, then the flags.
  --pages N makes one N-page memslot (store/ITS pages outside it are dropped). --symmetry merges states that
  differ only by renaming interchangeable vCPUs/PEs (where the model says it is sound; printed).
  --invariant ID (repeatable) searches for a violation of those invariants only: a state where another
  invariant breaks first is a dead end (counted, not expanded), so the result is a shortest path to a state
  whose first violation is ID, and its trace replays to exactly that (e.g. a knob's expected invariant when a
  different invariant breaks sooner).
  --context-bound K searches only the schedules with at most K context switches (changes of lane: the vCPU,
  PE, VMM or host an event belongs to, as in 'dtsim show') between consecutive events, completely: a violation
  is a shortest one among those schedules, 'exhausted' covers those schedules only (NOT the whole space). It
  reaches deeper than the full search for the same number of states (off by default; not with --symmetry).
  --reach EXPR asks a reachability query: the search stops at the first state (a shortest path) whose JSON
  satisfies EXPR, e.g. 'vmm.phase == "done" && vcpus[0].pe == 0' ('dtsim help state' lists the fields):
  paths (a.b, a[0], .length; own fields only),
  numbers, "strings", true, false, null, == != < <= > >=, && || ! and parentheses. EXPR is checked against the
  initial state first: a misspelled field or a syntax error exits 2 naming the column. --reach-module FILE: an
  ES module whose default export (or export 'reach') is a function (state) => boolean. Invariants are checked
  as usual on the way (a violation wins: exit 1, its counterexample saved). Reached: exit 0, the path printed
  and saved as a trace whose expect block is ok (it replays clean), with a note naming the query (--out FILE, or
  a new file in out/explore/). A complete search that never reaches it: exit 5, 'unreachable' (the whole space
  exhausted) or 'not reached within D events' (bounded by --depth: NOT a proof for deeper runs); a limit: 4.
  States are told apart by every field (--encoding generic, unless --encoding auto is given: the model's packed
  encoding leaves out counters a query may read); not with --symmetry, --context-bound, --matrix or --proof.
  --json adds reach: {query, result (reached, unreachable, violated, inconclusive), bounded, events} and trace.
  --matrix explores every correct design of the option matrix 'dtsim check' runs (of --model M, or of every
  model) at the configuration the flags give, one row each (default depth 1000): a row proves the design holds
  every invariant in its bounded space only when it says 'exhausted'. Exit 1 if any design is violated (its
  shortest counterexample is saved as a new trace in out/explore/ and the row prints how to replay it); else 4
  if a limit left any design NOT exhausted.
  --proof explores every correct design of the matrix at its own documented small configurations
  (models/proofs.ts) of one tier. --tier 1 (default): 1 vCPU, 1 PE, 2 pages, TLB 1, 1 round, no stolen time;
  then the same with 2 PEs (vCPU migration). --tier 2: 2 vCPUs racing on 2 PEs, 2 pages, TLB 1, 1 round,
  stolen time and the ITS save on (defaults: no state limit, --time-limit 1800 per design). A design whose space is infinite or too large there is narrowed (e.g. a 4-entry ring, a 2-record
  PTA device; tier 1 also one page) and the row says so and why; a tier-2 design that even narrowed does not
  exhaust is explored up to its documented budget (unless --max-states is given) and its row says 'expected:
  documented as NOT exhausted' with what was measured. Exit 0 only when every design is exhausted with every
  invariant holding; 1 when one is violated; else 4 when one is NOT exhausted, by a limit, by --depth or as
  documented (the proof is inconclusive: only exhaustion proves); configuration flags do not apply.
  --matrix and --proof then print dtsim check's coverage table for what they explored: per row, the least
  number of events after which each of check's situations for the design happens in the explored space, GAP
  if never ('.' = not applicable), and the situations no row of the design reached (--proof: in this tier;
  those neither tier reaches are documented in models/proofs.ts). --json rows carry coverage {id: depth|null}.
  --workers N (--matrix and --proof; default: every core) explores N designs at once, one per worker thread;
  rows print in the same order with the same figures whatever N (only their times differ), unless a time or
  memory limit stops a design: each design's memory limit is a 1/N share.
  Limits: --max-states (default 5000000 distinct, --proof --tier 2: none; 0: none), --time-limit (default 300 s,
  --proof --tier 2: 1800 s; per design) and memory
  (heap plus buffers at 85% of node's heap limit; raise it with NODE_OPTIONS=--max-old-space-size=MB) stop the
  search with "NOT exhausted: stopped by the <state|time|memory> limit after N states at depth D": the result
  is inconclusive (exit 4). The states waiting at each BFS level are saved as words (a fixed-size image per
  state where the configuration bounds every list), each as a delta against the state saved before it
  (about 90-120 bytes a state at the default configuration). Prints states generated, distinct states, depth
  reached, distinct states/s, peak memory and the frontier's size. On a terminal, progress on stderr (see dtsim
  help): the BFS depth, distinct states and states/s, frontier, states generated; --matrix/--proof: designs
  done, violated, not exhausted, their states summed and states/s. --quiet: none.
  Verdict and exit: 1 on a violation (in any row); else 4 (inconclusive) when a state, time or memory limit
  stopped a search (any row); else 0. The depth bound is the question asked, not a limit: a search with states
  left beyond --depth D is a complete answer to "no invariant breaks within D events" (exit 0) and says
  "bounded: states remain beyond depth D; this is NOT a proof for deeper runs" (--proof excepted: there it is
  inconclusive, 4). --json: verdict (ok, violated, inconclusive), complete (a violation, or the whole space
  exhausted), exhaustive (the whole reachable space explored, no violation), incompleteReason (stateLimit,
  timeLimit, memoryLimit, depthBound, contextBound); --matrix/--proof rows carry the same fields. 2 on bad input.
`,
  version: `Usage: dtsim version (also: dtsim --version, dtsim -V)
  Prints the package version (dtsim X.Y.Z, from the installed package.json; traces record it as tool.version)
  and the trace format version this dtsim writes (every older one is migrated on read). Exit 0.
`,
  compare: `Usage: dtsim compare [--model(s) M[,M...]]... [--vcpus N] [--pages N] [--runs N] [--events N] [--seed S] [--html OUT [--force]] [--json] [--quiet]
  Runs each model's default design (default: every model) on the same seeded workloads: sparse (4 pages) and
  dense (every page) dirtying with 1..N vCPUs (default 2) over one N-page memslot (default 128), 3 pre-copy
  rounds, --runs seeds each (default 4) of --events scheduled events (default 400), plus curve workloads
  (1, 2, 4, ... pages written). Prints a table per design, per run: pages reported, unjustified and duplicate
  reports, exits (write faults, ring-full exits, HDBSS-full faults), drains, TLBIs and harvest work (bitmap
  words read by GET/CLEAR, ring/PTA/HDBSS entries read). --html OUT writes one self-contained page with the
  harvest-work-versus-dirty-rate curves (inline SVG) and the tables (atomically; an existing OUT is refused
  unless --force). Exit 1 if any run broke an invariant. On a terminal, progress on stderr (design x workload
  cells done, runs; see dtsim help); --quiet: none.

       dtsim compare --preset small|realistic [--model M[,M...]]... [--seed S] [--check-every N] [--workers N]
                     [--html OUT [--force]] [--csv FILE] [--json] [--quiet]
  At the scale users migrate (docs/compare.md): a preset grid of guest sizes x dirty rates x design variants
  (bitmap, ring 4096/65536 entries, HDBSS 512/4096-entry buffers, PTA 4096 records); realistic covers 1 GiB / 4
  vCPUs, 4 GiB / 8 and 16 GiB (4M pages) / 16 vCPUs (about 7 CPU minutes: 6 min wall measured with
  --workers 2 on a shared 2-core machine, docs/compare.md), small
  runs in seconds. Each grid point is one
  whole pre-copy migration driven by the model's seeded workload (simulated time from a documented cost per
  event kind), one worker-pool job each (--workers, default: all cores; the results are the same for any N).
  Every invariant is checked on the initial state, every N events (--check-every, printed; preset default),
  at each collection boundary and at the end: a run that broke one shows VIOLATED and no figures, exit 1.
  Prints the headline table (harvest work, faults, full exits, TLBIs, exits/s per vCPU, pages sent and re-sent,
  final dirty set, simulated downtime, precision, events). --html OUT: the page with the plots (cost and exits
  vs dirty rate per design, convergence per round, exits per vCPU; inline SVG); OUT an existing folder or
  ending in / gets OUT/index.html. --csv FILE: the table. Outputs are never overwritten without --force.
  --vcpus, --pages, --runs and --events are refused with --preset (exit 2).
`,
};

/**
 * `dtsim help state [MODEL]`: every field of every model's state as its schema declares it (path, kind:role,
 * metric/fixed marks, label). Fields every model shares are listed once; each model then adds its own parts.
 */
export function stateHelp(args: readonly string[]): string {
  const unknown = args.find((a) => !MODELS.some((m) => m.id === a));
  if (unknown !== undefined || args.length > 1) {
    throw new UsageError(`help state: ${unknown !== undefined ? `unknown model '${unknown}'` : 'at most one model'} (one of: ${MODELS.map((m) => m.id).join(', ')})`);
  }
  const models = MODELS.filter((m) => args.length === 0 || m.id === args[0]);
  const fields = models.map((m) => ({ id: m.id, lines: m.stateFields ? [...m.stateFields()] : [] }));
  const common = fields.length > 1 ? (fields[0]?.lines ?? []).filter((l) => fields.every((f) => f.lines.includes(l))) : [];
  const out: string[] = [
    'State fields (path  kind:role  marks  label), from the models\' schemas. (metric): counters and precision figures,',
    'left out of explore\'s state key; (fixed): set from the configuration; (stale in copyInto): may be a recycled',
    'state\'s in explore. [] is an array element, ? a nullable value. --reach EXPR and the state views use these paths.',
  ];
  if (common.length > 0) out.push('', `every model (${models.map((m) => m.id).join(', ')}):`, ...common.map((l) => `  ${l}`));
  for (const f of fields) {
    const own = f.lines.filter((l) => !common.includes(l));
    if (own.length === 0) continue;
    out.push('', `${f.id}${common.length > 0 ? ' adds' : ''}:`, ...own.map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}
