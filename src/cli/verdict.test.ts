/**
 * Verdicts (src/cli/verdict.ts): the exit codes are main.ts's EXIT; a violation wins over inconclusive, which
 * wins over ok; every explore status maps to the documented complete/exhaustive/incompleteReason; a `bugs` knob
 * found with the wrong invariant is a failure (exit 1), one not found within its budget is inconclusive (exit 4).
 */
import { describe, expect, it } from 'vitest';
import type { ExploreStatus } from '../explore/bfs.ts';
import { readFileSync } from 'node:fs';
import { EXIT } from './main.ts';
import { COMMAND_HELP, HELP } from './help.ts';
import { knobFoundAs } from '../core/model.ts';
import { bugOutcome, bugVerdict, notExhaustedLine, searchVerdict, verdictExit, worstVerdict } from './verdict.ts';

describe('verdicts and exit codes', () => {
  it('the exit codes are EXIT of main.ts: ok 0, violation 1, inconclusive 4', () => {
    expect([verdictExit('ok'), verdictExit('violated'), verdictExit('inconclusive')]).toEqual([EXIT.ok, EXIT.violation, EXIT.inconclusive]);
    expect(EXIT.inconclusive).toBe(4);
  });

  it('a violation wins over inconclusive, inconclusive over ok', () => {
    expect(worstVerdict([])).toBe('ok');
    expect(worstVerdict(['ok', 'ok'])).toBe('ok');
    expect(worstVerdict(['ok', 'inconclusive', 'ok'])).toBe('inconclusive');
    expect(worstVerdict(['inconclusive', 'violated', 'ok'])).toBe('violated');
    expect(worstVerdict(['violated', 'inconclusive'])).toBe('violated');
  });

  it('explore: limits are inconclusive; the depth and context bounds asked for are ok but not exhaustive; --proof needs exhaustion', () => {
    const all: ExploreStatus[] = ['exhausted', 'depthBound', 'violated', 'stateLimit', 'timeLimit', 'stopped'];
    const table = all.map((s) => [s, searchVerdict(s, { contextBound: false, proof: false })]);
    expect(Object.fromEntries(table)).toEqual({
      exhausted: { verdict: 'ok', complete: true, exhaustive: true, incompleteReason: null },
      depthBound: { verdict: 'ok', complete: false, exhaustive: false, incompleteReason: 'depthBound' },
      violated: { verdict: 'violated', complete: true, exhaustive: false, incompleteReason: null },
      stateLimit: { verdict: 'inconclusive', complete: false, exhaustive: false, incompleteReason: 'stateLimit' },
      timeLimit: { verdict: 'inconclusive', complete: false, exhaustive: false, incompleteReason: 'timeLimit' },
      stopped: { verdict: 'inconclusive', complete: false, exhaustive: false, incompleteReason: 'memoryLimit' },
    });
    expect(searchVerdict('exhausted', { contextBound: true, proof: false })).toEqual({ verdict: 'ok', complete: false, exhaustive: false, incompleteReason: 'contextBound' });
    expect(searchVerdict('depthBound', { contextBound: false, proof: true }).verdict).toBe('inconclusive');
    expect(searchVerdict('exhausted', { contextBound: false, proof: true }).verdict).toBe('ok');
    expect(searchVerdict('violated', { contextBound: true, proof: true }).verdict).toBe('violated');
  });

  it('explore: the NOT exhausted line names the limit, the states and the depth; none for a complete or bounded search', () => {
    expect(notExhaustedLine('stateLimit', 1234, 7)).toBe('NOT exhausted: stopped by the state limit after 1,234 states at depth 7 (raise --max-states, or lower --depth)');
    expect(notExhaustedLine('timeLimit', 5, 2)).toMatch(/^NOT exhausted: stopped by the time limit after 5 states at depth 2 \(raise --time-limit/);
    expect(notExhaustedLine('stopped', 5, 2)).toMatch(/^NOT exhausted: stopped by the memory limit after 5 states at depth 2 \(raise it with NODE_OPTIONS/);
    for (const s of ['exhausted', 'violated', 'depthBound'] as const) expect(notExhaustedLine(s, 5, 2)).toBeNull();
  });

  it('bugs: found with its invariant ok; wrong invariant or a flagged negative control a failure (1); not found within the budget inconclusive (4)', () => {
    const cases = [
      [{ expect: 'INV-FLUSH', found: 'INV-FLUSH' }, 'found', 'ok'],
      [{ expect: 'INV-FLUSH', found: 'INV-NOLOSS' }, 'wrongInvariant', 'violated'],
      [{ expect: 'INV-FLUSH', found: null }, 'notFound', 'inconclusive'],
      [{ expect: null, found: null }, 'clean', 'ok'],
      [{ expect: null, found: 'INV-ARMED' }, 'flagged', 'violated'],
    ] as const;
    for (const [r, outcome, verdict] of cases) {
      expect(bugOutcome(r), JSON.stringify(r)).toBe(outcome);
      expect(bugVerdict(bugOutcome(r))).toBe(verdict);
    }
    // A catalogue with a knob not found and one found with the wrong invariant fails (1), not inconclusive.
    expect(verdictExit(worstVerdict([cases[2][0], cases[1][0]].map((r) => bugVerdict(bugOutcome(r)))))).toBe(1);
    expect(verdictExit(worstVerdict([cases[2][0], cases[0][0], cases[3][0]].map((r) => bugVerdict(bugOutcome(r)))))).toBe(4);
  });

  it('bugs: a declared alternative (BugKnob.alsoExpect) counts as found; any other invariant is still wrong', () => {
    const also = { 'INV-NOLOSS': 'why' };
    expect(bugOutcome({ expect: 'INV-ARMED', alsoExpect: also, found: 'INV-ARMED' })).toBe('found');
    expect(bugOutcome({ expect: 'INV-ARMED', alsoExpect: also, found: 'INV-NOLOSS' })).toBe('found');
    expect(bugOutcome({ expect: 'INV-ARMED', alsoExpect: also, found: 'INV-FLUSH' })).toBe('wrongInvariant');
    expect(bugOutcome({ expect: 'INV-ARMED', alsoExpect: null, found: 'INV-NOLOSS' })).toBe('wrongInvariant');
    expect(bugOutcome({ expect: 'INV-ARMED', alsoExpect: also, found: null })).toBe('notFound');
    // Inherited keys are not alternatives; a negative control has none.
    expect(knobFoundAs({ expect: 'INV-ARMED', alsoExpect: also }, 'toString')).toBe(false);
    expect(knobFoundAs({ expect: null, alsoExpect: also }, 'INV-NOLOSS')).toBe(false);
    expect(bugOutcome({ expect: null, alsoExpect: also, found: 'INV-NOLOSS' })).toBe('flagged');
  });

  it('exit code 4 is documented where the exit codes are: README, dtsim help, main.ts, and the help of explore and bugs', () => {
    expect(readFileSync('README.md', 'utf8')).toContain('| `4` | inconclusive');
    expect(HELP).toContain('4 inconclusive');
    expect(readFileSync('src/cli/main.ts', 'utf8')).toContain(' * 4 inconclusive');
    expect(COMMAND_HELP['explore']).toMatch(/inconclusive \(exit 4\)/);
    expect(COMMAND_HELP['explore']).toContain('bounded: states remain beyond depth D; this is NOT a proof for deeper runs');
    expect(COMMAND_HELP['bugs']).toMatch(/else 4 \(inconclusive\) when a knob was not found/);
    expect(COMMAND_HELP['check']).toContain('stopped by the time');
  });
});
