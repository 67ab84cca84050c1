/**
 * The dirty ring as the consumer of a hardware producer (hdbss, pta): the ring mechanism (models/dirty-ring, id
 * `ring`) takes every mark_page_dirty with a vCPU through its `mark` hook, so a drain or a per-CPU read that
 * marks with the owning vCPU feeds that vCPU's ring. The ring's invariants apply only to designs whose consumer
 * is the ring (presets list invariants statically, hence the guard).
 */
import type { Invariant } from '../../src/core/model.ts';
import type { MachineState } from '../machine/state.ts';
import { RING_ID, RING_INVARIANTS } from '../dirty-ring/mechanism.ts';

export const RING_INVARIANTS_IF_RING: readonly Invariant<MachineState>[] = RING_INVARIANTS.map((inv) => ({
  id: inv.id,
  description: inv.description,
  check: (s: MachineState) => (s.ext[RING_ID] === undefined ? null : inv.check(s)),
}));
