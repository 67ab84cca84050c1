/**
 * The `dtsim` command line: parses arguments, calls the library, prints, maps outcomes to exit codes.
 * This folder is the only place with file I/O, the clock and process state. The CLI is also where the model
 * registry is wired in (the engine in src/core does not import models/).
 *
 * Exit codes: 0 ok; 1 a violation was found, or a trace's outcome differs from its expect block;
 * 2 bad input or usage (one line naming the file, line and field; also a refused write: an existing output
 * without --force, an output onto the command's own input, and `dtsim help <unknown topic>`); 3 internal error (a bug in dtsim);
 * 4 inconclusive: no violation, but a limit stopped the work before it could conclude (explore's state, time or
 * memory limit; --proof with a design not exhausted; a bugs knob not found within its budget; `check --merge`
 * with shards missing); a violation (1) wins over inconclusive (src/cli/verdict.ts);
 * 5 `explore --reach`/`--reach-module` only: the search was complete and no state satisfies the query (reachExit);
 * 141 the reader of the output went away (`dtsim ... | head`): stopped quietly, as a process killed by SIGPIPE.
 */
import { parseArgs } from 'node:util';
import { setAutoFreeze } from 'immer';
import { HELP, COMMAND_HELP, stateHelp } from './help.ts';
import { clearAll } from './progress.ts';
import { versionText } from './version.ts';
import { UsageError, BadInputError } from './errors.ts';
import { cmdRun, cmdReplay } from './commands/run.ts';
import { cmdCheck } from './commands/check.ts';
import { cmdBugs } from './commands/bugs.ts';
import { cmdExplore } from './commands/explore.ts';
import { cmdCompare } from './commands/compare.ts';
import { cmdBisect } from './commands/bisect.ts';
import { cmdShrink } from './commands/shrink.ts';
import { cmdShow } from './commands/show.ts';

/**
 * Exit codes (README "Exit codes", `dtsim help`): 5, `notReached`, is only `explore --reach`'s: the search was
 * complete (exhausted, or to the --depth asked) and no state satisfied the predicate.
 */
export const EXIT = { ok: 0, violation: 1, badInput: 2, internal: 3, inconclusive: 4, notReached: 5, outputClosed: 141 } as const;

/**
 * A reader that closes early (`dtsim explore --proof | head`) makes the next write fail with EPIPE, which node
 * reports as an unhandled error with a stack trace: stop quietly instead, with the exit status a shell gives a
 * process killed by SIGPIPE. Files are written synchronously and atomically (io.ts), so none is left half-written.
 */
let closedOutputHandled = false;
function quietOnClosedOutput(): void {
  if (closedOutputHandled) return;
  closedOutputHandled = true;
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(EXIT.outputClosed);
      throw e;
    });
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  setAutoFreeze(false);
  quietOnClosedOutput();
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        // A topic is a command (looked up as an own key: 'constructor' is no topic); an unknown one is a usage error.
        const topic = rest[0];
        if (topic === undefined || topic === 'help') {
          process.stdout.write(HELP);
          return EXIT.ok;
        }
        if (topic === 'state') {
          process.stdout.write(stateHelp(rest.slice(1)));
          return EXIT.ok;
        }
        if (!Object.hasOwn(COMMAND_HELP, topic)) {
          throw new UsageError(`help: unknown topic '${topic}' (one of: ${Object.keys(COMMAND_HELP).join(', ')}, state, help)`);
        }
        process.stdout.write(COMMAND_HELP[topic]!);
        return EXIT.ok;
      }
      case 'version':
      case '--version':
      case '-V': {
        if (rest.length === 1 && (rest[0] === '-h' || rest[0] === '--help')) {
          process.stdout.write(COMMAND_HELP['version']!);
          return EXIT.ok;
        }
        if (rest.length) throw new UsageError(`${command}: unexpected argument '${rest[0]}' (see: dtsim help version)`);
        process.stdout.write(versionText());
        return EXIT.ok;
      }
      case 'run': return await cmdRun(parse('run', rest));
      case 'replay': return await cmdReplay(parse('replay', rest));
      case 'check': return await cmdCheck(parse('check', rest));
      case 'bugs': return await cmdBugs(parse('bugs', rest));
      case 'explore': return await cmdExplore(parse('explore', rest));
      case 'compare': return await cmdCompare(parse('compare', rest));
      case 'bisect': return await cmdBisect(parse('bisect', rest));
      case 'shrink': return await cmdShrink(parse('shrink', rest));
      case 'show': return await cmdShow(parse('show', rest));
      default:
        throw new UsageError(`unknown command '${command}' (try: dtsim help)`);
    }
  } catch (e) {
    if (e instanceof HelpShown) return EXIT.ok;
    clearAll();
    if (e instanceof UsageError || e instanceof BadInputError) {
      process.stderr.write(`dtsim: ${e.message}\n`);
      return EXIT.badInput;
    }
    process.stderr.write(`dtsim: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.internal;
  }
}

const OPTIONS = {
  run: { model: 's', bug: 'm', seed: 's', out: 's', force: 'b', events: 's', option: 'm', config: 's', json: 'b', help: 'b' },
  replay: { json: 'b', path: 's', 'check-every': 's', help: 'b' },
  check: { model: 'm', bug: 'm', runs: 's', seed: 's', events: 's', 'time-budget': 's', json: 'b', 'out-dir': 's', workers: 's', shard: 's', merge: 's', quiet: 'b', help: 'b' },
  bisect: { stepwise: 'b', stride: 's', context: 's', json: 'b', help: 'b' },
  shrink: { out: 's', force: 'b', 'max-tests': 's', json: 'b', help: 'b' },
  show: { html: 's', perfetto: 's', force: 'b', from: 's', to: 's', width: 's', 'max-states': 's', help: 'b' },
  bugs: { list: 'b', model: 'm', bug: 'm', runs: 's', seed: 's', events: 's', 'time-budget': 's', json: 'b', 'out-dir': 's', workers: 's', 'shrink-tests': 's', quiet: 'b', help: 'b' },
  explore: { model: 's', bug: 'm', option: 'm', config: 's', vcpus: 's', pes: 's', pages: 's', 'store-pages': 's', 'tlb-entries': 's',
    rounds: 's', depth: 's', 'max-states': 's', 'time-limit': 's', symmetry: 'b', encoding: 's', invariant: 'm', matrix: 'b', proof: 'b', tier: 's', workers: 's', 'context-bound': 's', reach: 's', 'reach-module': 's', out: 's', force: 'b', json: 'b', quiet: 'b', help: 'b' },
  compare: { model: 'm', models: 'm', vcpus: 's', pages: 's', runs: 's', events: 's', seed: 's', html: 's', force: 'b', json: 'b', quiet: 'b',
    preset: 's', workers: 's', 'check-every': 's', csv: 's', help: 'b' },
} as const;

export type Parsed = { values: { [k: string]: string | boolean | string[] | undefined }; positionals: string[] };

function parse(cmd: keyof typeof OPTIONS, args: readonly string[]): Parsed {
  const spec = OPTIONS[cmd];
  const options: { [k: string]: { type: 'string' | 'boolean'; multiple?: boolean; short?: string } } = {};
  for (const [k, t] of Object.entries(spec)) {
    options[k] = t === 'b' ? { type: 'boolean' } : t === 'm' ? { type: 'string', multiple: true } : { type: 'string' };
  }
  // `-h` is `--help` on every command (the only short option).
  options['help'] = { type: 'boolean', short: 'h' };
  try {
    const r = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    if (r.values['help']) {
      process.stdout.write(COMMAND_HELP[cmd] ?? HELP);
      throw new HelpShown();
    }
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    if (e instanceof HelpShown) throw e;
    throw new UsageError(`${cmd}: ${(e as Error).message.split('\n')[0]} (see: dtsim help ${cmd})`);
  }
}

/** `dtsim CMD --help` printed the help: exit 0. */
class HelpShown extends Error {}
