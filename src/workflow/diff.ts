/**
 * Generic structural difference of two JSON states (paths with before/after values), and the small interface
 * through which a model's domain renderer turns changes and states into readable lines.
 *
 * Pure: no I/O, no clock. The workflow code never imports models/: a `StateView` is passed in by the caller
 * (the CLI wires the machine's view; without one, changes print as JSON paths).
 */
import type { Change, JsonValue, Section, StateView } from '../core/model.ts';

// The view contract is part of the model's (src/core/model.ts `Model.view`); re-exported for the workflow's callers.
export type { Change, Section, StateView };

export function pathString(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += /^[A-Za-z_$][\w$]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
  }
  return out;
}

/**
 * Every difference between `a` and `b`, depth first, keys in sorted order (deterministic), at most `limit`
 * changes (the last entry then has path `...`). A short array of plain values whose length changed is one change. Shared subtrees (same reference) are skipped, so diffing two
 * immer states that share structure costs only the changed part.
 */
export function diffStates(a: unknown, b: unknown, limit = 500): Change[] {
  const out: Change[] = [];
  const segs: (string | number)[] = [];
  const push = (before: unknown, after: unknown): boolean => {
    if (out.length >= limit) return false;
    out.push({ path: pathString(segs), segments: [...segs], before: before as JsonValue | undefined, after: after as JsonValue | undefined });
    return true;
  };
  const walk = (x: unknown, y: unknown): boolean => {
    if (x === y) return true;
    const xo = typeof x === 'object' && x !== null;
    const yo = typeof y === 'object' && y !== null;
    if (!xo || !yo || Array.isArray(x) !== Array.isArray(y)) {
      if (typeof x === 'number' && typeof y === 'number' && Number.isNaN(x) && Number.isNaN(y)) return true;
      return push(x, y);
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      // A short list of plain values that grew or shrank reads best whole: `rearmed: [1,2] -> [1,2,5]`.
      if (x.length !== y.length && Math.max(x.length, y.length) <= 64 && x.every(isPlain) && y.every(isPlain)) return push(x, y);
      const n = Math.max(x.length, y.length);
      for (let i = 0; i < n; i++) {
        segs.push(i);
        const ok = walk(i < x.length ? x[i] : undefined, i < y.length ? y[i] : undefined);
        segs.pop();
        if (!ok) return false;
      }
      return true;
    }
    const xr = x as Record<string, unknown>;
    const yr = y as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(xr), ...Object.keys(yr)])].sort();
    for (const k of keys) {
      if (xr[k] === undefined && yr[k] === undefined) continue;
      segs.push(k);
      const ok = walk(xr[k], yr[k]);
      segs.pop();
      if (!ok) return false;
    }
    return true;
  };
  if (!walk(a, b) && out.length >= limit) {
    out.push({ path: '...', segments: [], before: undefined, after: `more than ${limit} changes` });
  }
  return out;
}

function isPlain(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function show(v: JsonValue | undefined): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Generic one-line rendering of a change: `vmm.phase: "precopy" -> "stopping"`. */
export function changeLine(c: Change): string {
  return `${c.path}: ${show(c.before)} -> ${show(c.after)}`;
}

/** Lines for the changes between two states, through the view when it has a renderer. */
export function describeDiff<S>(view: StateView<S> | undefined, before: S, after: S, limit = 500): string[] {
  const changes = diffStates(before, after, limit);
  if (view?.describeChanges) return view.describeChanges(changes, before, after);
  return changes.map(changeLine);
}

/** Sections of a state, through the view, or one section per top-level key. */
export function summarizeState<S>(view: StateView<S> | undefined, state: S): Section[] {
  if (view?.summarize) return view.summarize(state);
  if (typeof state !== 'object' || state === null) return [{ title: 'state', lines: [show(state as JsonValue)] }];
  return Object.keys(state as object).sort().map((k) => ({
    title: k, lines: [JSON.stringify((state as Record<string, unknown>)[k]) ?? 'undefined'],
  }));
}
