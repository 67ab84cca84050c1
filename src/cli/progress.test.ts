/**
 * The progress line (src/cli/progress.ts) with an injected clock and sink: at most one redraw per interval
 * however often a command reports, nothing at all when disabled, no escape sequence under NO_COLOR, never wider
 * than the terminal, and erased by `clear`/`done`.
 */
import { describe, expect, it } from 'vitest';
import { escapesAllowed, formatElapsed, Progress, type ProgressOptions } from './progress.ts';

function harness(over: Partial<ProgressOptions> = {}): { p: Progress; out: string[]; clock: { t: number } } {
  const out: string[] = [];
  const clock = { t: 1000 };
  const p = new Progress({ enabled: true, sink: { write: (s: string) => out.push(s), columns: 120 }, now: () => clock.t, escapes: true, ...over });
  return { p, out, clock };
}

describe('progress line', () => {
  it('redraws at most once per 250 ms, however often updated; force draws anyway', () => {
    const { p, out, clock } = harness();
    let built = 0;
    for (let i = 0; i < 100; i++) {
      clock.t = 1000 + i * 10; // 100 updates over 1 s
      p.update(() => { built++; return `step ${i}`; });
    }
    // Draws at 1000, 1250, 1500, 1750 ms: 4 redraws a second, and the text is only built when drawn.
    expect(out.length).toBe(4);
    expect(built).toBe(4);
    expect(out[0]).toContain('step 0');
    expect(out[1]).toContain('step 25');
    expect(out[3]).toContain('step 75');
    p.update(() => 'the last', true);
    expect(out.length).toBe(5);
    expect(out[4]).toContain('the last');
    // Elapsed time since the line was made, from the injected clock.
    expect(out[4]).toContain(formatElapsed(990));
    p.done();
    expect(out[5]).toBe('\r\x1b[K');
    p.update(() => 'after done', true);
    expect(out.length).toBe(6);
  });

  it('writes nothing when disabled (not a TTY, --json, --quiet)', () => {
    const { p, out, clock } = harness({ enabled: false });
    for (let i = 0; i < 10; i++) { clock.t += 1000; p.update(() => `step ${i}`, true); }
    p.redraw();
    p.clear();
    p.done();
    expect(out).toEqual([]);
    expect(p.enabled).toBe(false);
  });

  it('without escapes (NO_COLOR) the line is erased with spaces, and never carries ESC', () => {
    const { p, out, clock } = harness({ escapes: false });
    p.update(() => 'a rather long progress line');
    clock.t += 300;
    p.update(() => 'short');
    p.clear();
    p.redraw();
    p.done();
    const all = out.join('');
    expect(all).not.toContain('\x1b');
    // The shorter line blanks what the longer one left, and `clear` blanks exactly what was drawn.
    const long = `  ${formatElapsed(0)}  a rather long progress line`;
    const short = `  ${formatElapsed(300)}  short`;
    expect(out[1]).toBe(`\r${short}${' '.repeat(long.length - short.length)}\r${short}`);
    expect(out[2]).toBe(`\r${' '.repeat(short.length)}\r`);
    expect(out[3]).toBe(`\r${short}`);
  });

  it('with escapes the line is dim and erased with ESC[K; clear then redraw shows it again', () => {
    const { p, out } = harness();
    p.update(() => 'x');
    p.clear();
    p.clear(); // nothing drawn: nothing to erase
    p.redraw();
    expect(out).toEqual([`\r\x1b[K\x1b[2m  ${formatElapsed(0)}  x\x1b[22m`, '\r\x1b[K', `\r\x1b[K\x1b[2m  ${formatElapsed(0)}  x\x1b[22m`]);
  });

  it('is cut to the terminal width less one column, elapsed time and memory kept', () => {
    const { p, out } = harness({ escapes: false, sink: { write: (s: string) => { out.push(s); }, columns: 30 }, memory: () => 50 * 1048576 });
    p.update(() => 'y'.repeat(200));
    expect(out[0]!.length).toBe(1 + 29);
    expect(out[0]).toMatch(/^\r {2}0\.0 s {2}50 MB {2}y+$/);
  });

  it('NO_COLOR (non-empty) and TERM=dumb turn escapes off', () => {
    expect(escapesAllowed({})).toBe(true);
    expect(escapesAllowed({ NO_COLOR: '1' })).toBe(false);
    expect(escapesAllowed({ NO_COLOR: '' })).toBe(true);
    expect(escapesAllowed({ TERM: 'dumb' })).toBe(false);
  });

  it('formats elapsed time', () => {
    expect(formatElapsed(12_345)).toBe('12.3 s');
    expect(formatElapsed(245_000)).toBe('4 m 05 s');
    expect(formatElapsed(3_720_000)).toBe('1 h 02 m');
  });
});
