/**
 * Progress of long commands (`check`, `bugs`, `explore`, `explore --matrix/--proof`, `compare`) on a terminal:
 * one line on stderr, redrawn in place: the elapsed time, the process's resident memory, then what is done so
 * far (designs, chunks, runs, violations, states, states/s, depth, frontier, as fits the command), e.g.
 * `  12.3 s  85 MB  explore --proof: 3/8 designs, 9,000 states (3,666/s), 0 violated, 0 not exhausted`. Results never go through here: stdout carries exactly what it carries without a terminal.
 *
 * When it is drawn (`progressFor`): only when stderr is a TTY, never with `--json` (a machine reads the output)
 * nor with `--quiet`. A pipe, a file or CI log gets no progress at all, so no `\r` ever lands in a log.
 *
 * How it is drawn: at most one redraw per `minIntervalMs` (250 ms: ~4 redraws a second, however often the
 * command reports), truncated to the terminal's width less one column (a wrapped line cannot be redrawn in
 * place), and erased before the command prints anything else (`clear`) and when it ends (`done`).
 * Escapes: by default the line is dim (SGR 2) and is erased with `\r` + `ESC[K`. With `NO_COLOR` set (to
 * anything but the empty string, as no-color.org asks) or `TERM=dumb`, the line carries no escape sequence at
 * all: it is erased by `\r`, as many spaces as were drawn, and `\r`.
 *
 * The clock and the memory reading are injected (`ProgressOptions`), so the throttle is tested without waiting;
 * this module is in src/cli, the only place that reads the clock.
 */
import { performance } from 'node:perf_hooks';

/** Where the line goes: stderr, or a test's buffer. `columns`: the terminal's width, when known. */
export interface ProgressSink {
  write(s: string): unknown;
  readonly columns?: number | undefined;
}

export interface ProgressOptions {
  /** Draw at all (false: every method is a no-op). */
  readonly enabled: boolean;
  readonly sink: ProgressSink;
  /** Milliseconds, monotonic. */
  readonly now: () => number;
  /** Escape sequences allowed (dim text, erase-to-end-of-line); false under NO_COLOR or TERM=dumb. */
  readonly escapes: boolean;
  /** Resident memory in bytes (omitted: not shown). */
  readonly memory?: () => number;
  /** At least this long between two redraws (default 250). */
  readonly minIntervalMs?: number;
  /**
   * Redraw the last line every this many ms from a timer (default 0: never), so the elapsed time and memory
   * stay fresh while worker threads do the work and the main thread waits. The timer is unref'd: it never
   * keeps the process alive.
   */
  readonly refreshMs?: number;
}

/** Width used when the sink does not know its own (a pseudo-terminal without a size). */
const DEFAULT_COLUMNS = 80;

/** `12.3 s`, `4 m 05 s`, `1 h 02 m`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s - m * 60)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m - h * 60).padStart(2, '0')} m`;
}

/** 1234567 -> `1,234,567`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * The in-place progress line. `update(text)` asks for a redraw with the command's figures (a function, built
 * only when a redraw happens); `clear()` erases the line before the command writes a result (the next update
 * or `redraw()` draws it again); `done()` erases it for good.
 */
export class Progress {
  private readonly t0: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  /** Characters visible on the terminal now (0: nothing drawn). */
  private shown = 0;
  private text: (() => string) | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.t0 = opts.now();
    if (opts.enabled) active.add(this);
  }

  get enabled(): boolean {
    return this.opts.enabled && !this.finished;
  }

  /** Redraws with these figures unless the last redraw was less than `minIntervalMs` ago (`force`: anyway). */
  update(text: () => string, force = false): void {
    if (!this.enabled) return;
    this.text = text;
    const t = this.opts.now();
    if (!force && t - this.lastDraw < (this.opts.minIntervalMs ?? 250)) return;
    this.draw(t);
    const every = this.opts.refreshMs ?? 0;
    if (this.timer === null && every > 0) {
      this.timer = setInterval(() => this.redraw(), every);
      this.timer.unref();
    }
  }

  /** Draws the last figures again now (after a `clear`, or to refresh the elapsed time). */
  redraw(): void {
    if (!this.enabled || this.text === null) return;
    this.draw(this.opts.now());
  }

  /** Erases the line (if drawn), e.g. before the command prints a result row. */
  clear(): void {
    if (this.shown === 0) return;
    this.opts.sink.write(this.erase());
    this.shown = 0;
  }

  /** Erases the line and stops: later calls draw nothing. */
  done(): void {
    if (!this.opts.enabled || this.finished) return;
    this.clear();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.finished = true;
    active.delete(this);
  }

  private erase(): string {
    return this.opts.escapes ? '\r\x1b[K' : `\r${' '.repeat(this.shown)}\r`;
  }

  private draw(t: number): void {
    this.lastDraw = t;
    // Elapsed time and memory first: a line too wide for the terminal loses the end of the command's figures.
    const mem = this.opts.memory ? `  ${(this.opts.memory() / 1048576).toFixed(0)} MB` : '';
    const full = `  ${formatElapsed(t - this.t0)}${mem}  ${this.text!()}`;
    const cols = this.opts.sink.columns !== undefined && this.opts.sink.columns > 0 ? this.opts.sink.columns : DEFAULT_COLUMNS;
    const line = full.length > cols - 1 ? full.slice(0, Math.max(0, cols - 1)) : full;
    const prev = this.shown;
    this.shown = line.length;
    if (this.opts.escapes) {
      this.opts.sink.write(`\r\x1b[K\x1b[2m${line}\x1b[22m`);
    } else {
      // No escapes: blank out what a longer previous line left on screen, then leave the cursor after the text.
      this.opts.sink.write(prev > line.length ? `\r${line}${' '.repeat(prev - line.length)}\r${line}` : `\r${line}`);
    }
  }
}

/** Lines drawn now: `clearAll` erases them before an error message (src/cli/main.ts). */
const active = new Set<Progress>();

/** Erases every progress line drawn and stops them (an error is about to be printed). */
export function clearAll(): void {
  for (const p of [...active]) p.done();
}

/** Do escape sequences belong on this terminal? Not under NO_COLOR (non-empty) nor TERM=dumb. */
export function escapesAllowed(env: { readonly [k: string]: string | undefined }): boolean {
  return !(env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') && env['TERM'] !== 'dumb';
}

/**
 * The progress line of a command: drawn on stderr only when stderr is a TTY and neither `--json` nor
 * `--quiet` was given; escapes as `escapesAllowed` says; the elapsed time refreshed every second.
 */
export function progressFor(flags: { readonly json: boolean; readonly quiet: boolean }): Progress {
  const err = process.stderr;
  return new Progress({
    enabled: err.isTTY === true && !flags.json && !flags.quiet,
    sink: { write: (s) => err.write(s), get columns() { return err.columns; } },
    now: () => performance.now(),
    escapes: escapesAllowed(process.env),
    memory: () => process.memoryUsage.rss(),
    refreshMs: 1000,
  });
}
