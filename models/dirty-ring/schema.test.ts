/**
 * The dirty ring's state schema (schema.ts): it describes exactly the state the reducers build (every state of
 * sampled runs passes its shape check, for the ring designs and the hdbss / pta designs feeding rings), every
 * field carries a label, `justified` is the only metric, the part the machine uses for `s.ext.ring` is the one
 * compiled from it, and the reset audit's out-of-slot re-arms (numbers now, u64 offsets as two halves) still
 * print as `slot:offset` with the full u64 offset. The hooks' soundness is properties/explore.ring.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '../../src/core/engine.ts';
import { describe as describeSchema } from '../../src/core/schema.ts';
import { explore } from '../../src/explore/bfs.ts';
import { Packer } from '../../src/explore/pack.ts';
import { partOf } from '../machine/parts.ts';
import type { MachineConfig, MachineState } from '../machine/state.ts';
import { hdbss } from '../hdbss/index.ts';
import { pta } from '../pta/index.ts';
import { dirtyRing } from './index.ts';
import { INV_RESET_VALID } from './invariants.ts';
import { RING_PART, RING_STATE } from './schema.ts';
import { RING_ID, ringExt } from './state.ts';

const CONFIG: MachineConfig = {
  vcpus: 2, pes: 2, slots: [{ base: 0, npages: 3 }], blocks: false, tlbEntries: 1, stolenTime: true, itsPages: [2],
  rounds: 1, storePages: [],
};

describe('the dirty ring state schema', () => {
  it('labels every field (kernel names where KVM has one), and justified is the only metric', () => {
    const lines = describeSchema(RING_STATE).slice(1);
    // Every field has a label (path, two spaces, kind and marks, two spaces, label).
    for (const l of lines) expect(l, l).toMatch(/^\S+ {2}\S[^ ]*( [^ ]+)*( \(metric\))? {2}\S/);
    expect(lines.filter((l) => l.includes('(metric)')).map((l) => l.split(' ')[0])).toEqual(['justified']);
    // Kernel names (struct kvm_dirty_ring): dirty_index, reset_index, soft_limit.
    for (const f of ['rings[].dirtyIndex', 'rings[].resetIndex', 'rings[].fetchIndex', 'softLimit']) {
      expect(lines.some((l) => l.startsWith(`${f}  `)), f).toBe(true);
    }
  });

  it('is the part the machine uses for s.ext.ring, and every state of sampled runs passes its shape check', () => {
    expect(partOf(RING_ID)).toBe(RING_PART);
    const designs = [
      [dirtyRing, dirtyRing.design({ ringEntries: 4 })],
      [dirtyRing, dirtyRing.design({ ringEntries: 4, adversary: true })],
      [dirtyRing, dirtyRing.design({ ringEntries: 4, adversary: true }, ['reset-offset-wrap'])],
      [dirtyRing, dirtyRing.design({ ringEntries: 4 }, ['softfull-cleared-by-reset'])],
      [hdbss, hdbss.design({ consumer: 'ring', ringEntries: 16 })],
      [pta, pta.design({ consumer: 'ring', ringEntries: 16 })],
    ] as const;
    let checked = 0;
    let withAudit = 0;
    for (const [m, d] of designs) {
      for (let run = 0; run < 8; run++) {
        simulate(m, d, CONFIG, `ring-schema/${m.id}/${run}`, {
          maxEvents: 150,
          onStep: (st) => {
            const R = ringExt(st as MachineState);
            const e = RING_PART.check(R, 'ext.ring');
            if (e !== null) throw new Error(`${m.id} run ${run}: ${e}`);
            checked++;
            if (R.last !== null) withAudit++;
          },
        });
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(withAudit).toBeGreaterThan(0);
  });

  it('leaves justified out of the encoding and keeps every other field', () => {
    const s = dirtyRing.init(dirtyRing.design({ ringEntries: 4 }), CONFIG);
    const key = (x: MachineState): string => {
      const p = new Packer();
      dirtyRing.pack!(x, p, null);
      return Array.from(p.words.subarray(0, p.len)).join(',');
    };
    const a = dirtyRing.clone!(s);
    ringExt(a).justified[0]![1] = 1;
    expect(key(a)).toBe(key(s));
    const b = dirtyRing.clone!(s);
    ringExt(b).softLimit = 1;
    expect(key(b)).not.toBe(key(s));
  });

  it('INV-RESET-VALID prints out-of-slot re-arms as slot:offset with the whole u64 offset', () => {
    const s = dirtyRing.clone!(dirtyRing.init(dirtyRing.design({ ringEntries: 4 }), CONFIG));
    s.vmm.ioctl = { kind: 'reset', slot: 0, deliver: [], rearmed: [], flush: false, snapshotPending: false };
    ringExt(s).last = { cleared: 2, consumed: 2, expected: [0], invalid: 1, actual: [0], outOfSlot: [0, 0xffffffc1, 0xffffffff, 1, 5, 0],
      unterminated: 0 };
    expect(INV_RESET_VALID.check(s)?.message).toBe('RESET re-armed offsets outside their memslot (slot:offset) 0:18446744073709551553, 1:5');
  });

  it('the B12 knob (reset-offset-wrap) is found with the wrapped offset named in the message', () => {
    const cfg: MachineConfig = { ...CONFIG, vcpus: 1, pes: 1 };
    const r = explore(dirtyRing, dirtyRing.design({ adversary: true }, ['reset-offset-wrap']), cfg, { maxDepth: 200 });
    expect(r.violation?.invariant).toBe('INV-RESET-VALID');
    expect(r.violation?.message).toMatch(/\(slot:offset\) 0:1844674407370955\d{4}/);
  });
});
