/**
 * When a property fails, the shrunk counterexample is saved as a trace (out/failures/) and the error names
 * the exact command that replays it, so a red test is one command away from `dtsim bisect` and `dtsim show`.
 */
import fc from 'fast-check';
import { runChoices } from '../../src/core/engine.ts';
import { makeTrace, serializeTrace } from '../../src/trace/format.ts';
import type { DesignCase } from './models.ts';
import { SEED } from './seed.ts';
import { writeFresh } from '../../src/cli/io.ts';

export function saveCounterexample(c: DesignCase, choices: readonly number[], label: string): { path: string; message: string } {
  const r = runChoices(c.model, c.design, c.config, choices);
  const o = r.outcome;
  const stem = `${c.model.id}-${label.replace(/[^A-Za-z0-9_-]+/g, '_')}-${SEED}`;
  const expect = o.status === 'violated' ? { status: 'violated' as const, eventIndex: o.eventIndex, invariant: o.invariant } : { status: 'ok' as const };
  const text = serializeTrace(makeTrace({ design: c.design, config: c.config as never, seed: SEED, choices: r.choices, events: r.events,
    note: `property counterexample (${label}), DTSIM_SEED=${SEED}`, expect }));
  // The CLI's writer: atomic, and a fresh name even when parallel test workers save into out/failures at once.
  const path = writeFresh('out/failures', stem, text);
  const message = `${o.status}${o.invariant ? ` ${o.invariant}` : ''} after event ${o.eventIndex ?? '-'}: ${o.message ?? 'run did not finish'}\n`
    + `  counterexample saved: ${path}\n  replay: npx dtsim replay ${path}\n  bisect: npx dtsim bisect ${path}\n  re-run the suite: DTSIM_SEED=${SEED} npm test`;
  return { path, message };
}

/**
 * Asserts that every choice sequence leaves the design's invariants intact and the run finished. On failure,
 * fast-check's shrunk counterexample is saved as a trace and reported with its replay command.
 */
export function assertDesignHolds(c: DesignCase, arb: fc.Arbitrary<number[]>, params: fc.Parameters<[number[]]>): void {
  const holds = (ch: number[]): boolean => {
    const r = runChoices(c.model, c.design, c.config, ch);
    return r.outcome.status === 'ok' && c.model.isFinal(r.outcome.state);
  };
  const res = fc.check(fc.property(arb, holds), params);
  if (res.failed) {
    const ch = res.counterexample?.[0] ?? [];
    const { message } = saveCounterexample(c, ch, c.label);
    throw new Error(`${c.label}: ${message}\n  (fast-check seed ${res.seed}, path ${res.counterexamplePath ?? '-'}, shrunk ${res.numShrinks} times)`);
  }
}
