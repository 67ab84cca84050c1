/**
 * Config shrinking of the shared machine (`Model.configCandidates` and `Model.relabelings`, used by `dtsim shrink`,
 * the campaigns' saved minimal traces and `dtsim bugs`): smaller machines to replay a failing trace on. The
 * machine's own knowledge (vCPUs, PEs, memslots, ITS pages, rounds, TLB size); src/ only calls the model's hooks.
 */
import type { Relabeling } from '../../src/core/model.ts';
import type { MachineEvent } from './model-events.ts';
import type { MachineConfig } from './state.ts';

/**
 * Smaller machines to try when shrinking, most aggressive first: fewer vCPUs, fewer PEs, fewer memslots,
 * fewer pages in a slot, fewer ITS pages, fewer pre-copy rounds, fewer TLB entries. Each is validated by the
 * model's parseConfig before use; gfn lists are filtered to the pages that remain (a non-empty storePages list is
 * never emptied, since empty means "every page").
 */
export function machineConfigCandidates(c: MachineConfig): unknown[] {
  const out: unknown[] = [];
  const within = (slots: readonly { base: number; npages: number }[], g: number): boolean =>
    slots.some((s) => g >= s.base && g < s.base + s.npages);
  const withSlots = (slots: { base: number; npages: number }[]): unknown | null => {
    const its = c.itsPages.filter((g) => within(slots, g));
    const store = c.storePages.filter((g) => within(slots, g));
    if (c.storePages.length > 0 && store.length === 0) return null;
    return { ...c, slots, itsPages: its, storePages: store };
  };
  if (c.vcpus > 1) out.push({ ...c, vcpus: c.vcpus - 1 });
  if (c.pes > 1) out.push({ ...c, pes: c.pes - 1 });
  if (c.slots.length > 1) { const x = withSlots(c.slots.slice(0, -1)); if (x) out.push(x); }
  c.slots.forEach((s, i) => {
    for (const n of [Math.floor(s.npages / 2), s.npages - 8, s.npages - 1]) {
      if (n < 1 || n >= s.npages) continue;
      const slots = c.slots.map((x, j) => (j === i ? { base: x.base, npages: n } : { ...x }));
      const x = withSlots(slots);
      if (x) out.push(x);
    }
  });
  for (let i = c.itsPages.length - 1; i >= 0; i--) out.push({ ...c, itsPages: c.itsPages.filter((_, j) => j !== i) });
  if (c.rounds > 0) out.push({ ...c, rounds: c.rounds - 1 });
  if (c.tlbEntries > 1) out.push({ ...c, tlbEntries: c.tlbEntries - 1 });
  return out;
}

/**
 * Smaller machines that drop one vCPU or PE other than the last: its events are dropped and the higher ids
 * renamed down by one (fields `vcpu` and `pe`, and `vcpu/loaded`'s PE). Events naming a page that depends on the
 * vCPU id (its stolen-time page) become disabled and are skipped by the shrinker's replay.
 */
export function machineRelabelings(c: MachineConfig): Relabeling<MachineEvent>[] {
  const out: Relabeling<MachineEvent>[] = [];
  const drop = (field: 'vcpu' | 'pe', k: number) => (e: MachineEvent): MachineEvent | null => {
    const r = e as MachineEvent & { readonly [f: string]: unknown };
    const v = r[field];
    if (typeof v !== 'number') return e;
    if (v === k) return null;
    return v > k ? ({ ...r, [field]: v - 1 } as MachineEvent) : e;
  };
  for (let k = 0; k < c.vcpus - 1; k++) out.push({ config: { ...c, vcpus: c.vcpus - 1 }, mapEvent: drop('vcpu', k) });
  for (let k = 0; k < c.pes - 1; k++) out.push({ config: { ...c, pes: c.pes - 1 }, mapEvent: drop('pe', k) });
  return out;
}
