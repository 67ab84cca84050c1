/**
 * Conformance checks every model gets for free (DESIGN.md section 1; style-anchors 9.8/9.9): determinism,
 * JSON round trip, enabled/isEnabled agreement and rejection of non-enabled events, invariants on init,
 * prefix consistency, the fast replay path equal to the immer path, and explore's recycling copy (`copyInto`) equal
 * to a fresh copy (`clone`).
 */
import { expect } from 'vitest';
import { produce } from 'immer';
import { checkInvariants, replay, replayFrom, runChoices } from '../../src/core/engine.ts';
import { fingerprint } from '../../src/core/fingerprint.ts';
import type { DesignCase } from './models.ts';
import type { AnyModel, Design, EventBase } from '../../src/core/model.ts';
import type { MachineEvent } from '../../models/machine/model-events.ts';
import type { MachineState } from '../../models/machine/state.ts';
import { viewMachine } from '../../models/machine/schema.ts';

export function invariantsHoldOnInit(c: DesignCase): void {
  const s = c.model.init(c.design, c.config);
  expect(checkInvariants(c.model.invariants, s)).toBeNull();
}

/** Same choices twice: same events, same final fingerprint. */
export function deterministic(c: DesignCase, choices: readonly number[]): void {
  const a = runChoices(c.model, c.design, c.config, choices);
  const b = runChoices(c.model, c.design, c.config, choices);
  expect(b.events).toEqual(a.events);
  expect(fingerprint(b.outcome.state)).toBe(fingerprint(a.outcome.state));
}

/** The events survive a JSON round trip and replay to the same outcome on both paths. */
export function replaysAfterJsonRoundTrip(c: DesignCase, choices: readonly number[]): void {
  const run = runChoices(c.model, c.design, c.config, choices);
  const events = JSON.parse(JSON.stringify(run.events)) as MachineEvent[];
  const config = JSON.parse(JSON.stringify(c.config)) as typeof c.config;
  const design = JSON.parse(JSON.stringify(c.design)) as typeof c.design;
  const fast = replay(c.model, design, config, events, { path: 'fast' });
  const slow = replay(c.model, design, config, events, { path: 'immer' });
  expect(fast.status).toBe(run.outcome.status);
  expect(slow.status).toBe(run.outcome.status);
  expect(fast.eventIndex).toBe(run.outcome.eventIndex);
  expect(slow.eventIndex).toBe(run.outcome.eventIndex);
  expect(fingerprint(fast.state)).toBe(fingerprint(run.outcome.state));
  expect(fingerprint(slow.state)).toBe(fingerprint(run.outcome.state));
  // The state itself is plain JSON.
  expect(JSON.parse(JSON.stringify(slow.state))).toEqual(slow.state);
}

/** Replaying a prefix, then the rest from the intermediate state, equals replaying all. */
export function prefixConsistent(c: DesignCase, choices: readonly number[], cut: number): void {
  const run = runChoices(c.model, c.design, c.config, choices);
  if (run.outcome.status !== 'ok') return;
  const k = run.events.length === 0 ? 0 : cut % (run.events.length + 1);
  const all = replay(c.model, c.design, c.config, run.events, { path: 'immer' });
  const pre = replay(c.model, c.design, c.config, run.events.slice(0, k), { path: 'immer' });
  const rest = replayFrom(c.model, pre.state, run.events.slice(k), { path: 'immer' }, k);
  expect(rest.status).toBe(all.status);
  expect(fingerprint(rest.state)).toBe(fingerprint(all.state));
}

/**
 * Along a run, every event of `enabled(s)` satisfies `isEnabled`, and an event that is not enabled is
 * rejected by replay with its index and leaves the state as it was (immer returns the same reference).
 */
export function rejectsWhatIsNotEnabled(c: DesignCase, choices: readonly number[], probe: number): void {
  const run = runChoices(c.model, c.design, c.config, choices);
  if (run.events.length === 0) return;
  const k = probe % run.events.length;
  const pre = replay(c.model, c.design, c.config, run.events.slice(0, k), { path: 'immer', noChecks: true });
  const en = c.model.enabled(pre.state);
  for (const e of en) expect(c.model.isEnabled(pre.state, e)).toBe(true);
  // A candidate from elsewhere in the run that is not enabled here.
  const foreign = run.events.find((e) => !c.model.isEnabled(pre.state, e));
  if (!foreign) return;
  const r = replay(c.model, c.design, c.config, [...run.events.slice(0, k), foreign], { path: 'immer', noChecks: true });
  expect(r.status).toBe('rejected');
  expect(r.eventIndex).toBe(k);
  expect(r.message).toContain(`event ${k}`);
  expect(fingerprint(r.state)).toBe(fingerprint(pre.state));
  // Reducer-level: applying nothing returns the same reference (no spurious copies).
  expect(produce(pre.state, () => undefined)).toBe(pre.state);
}

/**
 * A state with the fields `copyMachineInto` documents as metrics it may leave stale (the `stale` fields of models/machine/schema.ts):
 * the counters other than `stats.events`, and the precision bits `oracle.touched` / `oracle.justified`. Every
 * other field (the machine's and every mechanism's, `vcpus[].lastPe` included) must be copied exactly.
 */
function withoutStaleMetrics(s: MachineState): unknown {
  const j = JSON.parse(JSON.stringify(s)) as { stats: unknown; oracle: { touched?: unknown; justified?: unknown } };
  j.stats = { events: s.stats.events };
  delete j.oracle.touched;
  delete j.oracle.justified;
  return j;
}

/**
 * Explore's fast path equals the reference copy: `copyInto(dead, live)`, with `dead` another reachable state
 * of the run (explore recycles expanded states), equals `clone(live)` on every field it does not document as a
 * stale metric, both ways round. (On 88a570d `vcpus[].lastPe` was left as the dead state's: after a copy, the
 * next `vcpu/loaded` counted a vCPU migration against the wrong PE.)
 */
export function copyIntoEqualsClone(c: DesignCase, choices: readonly number[], cut: number): void {
  const m = c.model;
  const run = runChoices(m, c.design, c.config, choices);
  const k = run.events.length === 0 ? 0 : cut % (run.events.length + 1);
  // One lineage of private copies (as explore's states are: they share the static design and config objects,
  // which copyInto requires, falling back to a fresh clone otherwise).
  const end = m.clone!(m.init(c.design, c.config));
  let mid = m.clone!(end);
  for (let i = 0; i < run.events.length; i++) {
    m.apply(end, run.events[i]!);
    if (i + 1 === k) mid = m.clone!(end);
  }
  for (const [dead, live] of [[mid, end], [end, mid]] as const) {
    const got = m.copyInto!(m.clone!(dead), live);
    expect(withoutStaleMetrics(got)).toEqual(withoutStaleMetrics(m.clone!(live)));
  }
}

/**
 * The fast path equals the reference after EVERY event, not only at the end: the same events applied in lockstep
 * under immer's `produce` (the reference reducer) and in place on a private copy made by the model's derived
 * `clone` (the fast path: replay --path fast, check, explore), with an exact copy (`clone` again) taken after
 * each step as explore takes them. Returns the number of events compared (so callers can tell a vacuous run).
 * Stops at the first event that is not enabled (a trace's expect block may be a rejection) or that breaks an
 * invariant (both paths stop there too).
 */
export function lockstepFastEqualsImmer(model: AnyModel, design: Design, config: unknown, events: readonly EventBase[]): number {
  if (!model.clone) throw new Error(`model ${model.id} has no clone`);
  let ref = model.init(design, config);
  let fast = model.clone(ref);
  let n = 0;
  for (const e of events) {
    if (!model.isEnabled(ref, e)) break;
    ref = produce(ref, (d) => { model.apply(d as never, e); });
    model.apply(fast, e);
    fast = model.clone(fast);
    n++;
    // Compared through the schema's view: every declared field, the page table by valid leaf (the copies trim
    // level-2/3 tables to the guest's pages, which no gfn of the guest can tell apart from untrimmed ones).
    const a = viewMachine(fast as MachineState) as { [k: string]: unknown };
    const b = viewMachine(ref as MachineState) as { [k: string]: unknown };
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      const k = Object.keys(b).find((x) => JSON.stringify(a[x]) !== JSON.stringify(b[x]));
      expect.fail(`fast path differs from immer after event ${n - 1} (${JSON.stringify(e)}) in ${k}`);
    }
    if (checkInvariants(model.invariants, ref) !== null) break;
  }
  return n;
}

/** `lockstepFastEqualsImmer` over one seeded run of the design. */
export function fastEqualsImmerEveryEvent(c: DesignCase, choices: readonly number[]): void {
  const run = runChoices(c.model, c.design, c.config, choices);
  expect(lockstepFastEqualsImmer(c.model as unknown as AnyModel, c.design, c.config, run.events as EventBase[])).toBe(run.events.length);
}
