/**
 * HDBSS's rendering for bisect, show, shrink and diff (`Mechanism.view`, called by models/machine/view.ts): an
 * "HDBSS buffers" section (the non-empty entries of each vCPU's buffer, decoded: gfn and TTWL level) and one line
 * per changed buffer entry.
 */
import { match, P } from 'ts-pattern';
import type { Change, Section } from '../../src/core/model.ts';
import type { MachineState } from '../machine/state.ts';
import type { MechanismView } from '../machine/view.ts';
import { entryGfn, entryLevel, entryValid } from './state.ts';

/** The per-vCPU buffers under `s.ext.hdbss.buf`, recognised by shape, or null. */
function hdbssBuffers(s: MachineState): number[][] | null {
  const h = s.ext['hdbss'] as { buf?: unknown } | undefined;
  return h && Array.isArray(h.buf) && h.buf.every((b) => Array.isArray(b)) ? (h.buf as number[][]) : null;
}

/** `gfn 7 level 3` for a valid entry, `empty` for 0, else the raw word. */
function hdbssEntryText(e: number): string {
  return entryValid(e) ? `gfn ${entryGfn(e)} level ${entryLevel(e)}` : e === 0 ? 'empty' : `invalid 0x${e.toString(16)}`;
}

function summarize(s: MachineState): Section[] {
  const bufs = hdbssBuffers(s);
  if (!bufs) return [];
  return [{
    title: 'HDBSS buffers', lines: bufs.map((b, v) => {
      const ents = b.map((e, k) => (e !== 0 ? `[${k}] ${hdbssEntryText(e)}` : '')).filter(Boolean);
      return `vcpu${v}: ${ents.length ? ents.join('; ') : '(empty)'}`;
    }),
  }];
}

function describeChange(c: Change): string[] | null {
  const [top, key, field, v, k] = c.segments;
  return match({ top, key, field, v, k, before: c.before, after: c.after })
    .with({ top: 'ext', key: 'hdbss', field: 'buf', v: P.number, k: P.number, before: P.number, after: P.number }, (x) =>
      [`HDBSS buffer of vcpu${x.v} entry ${x.k}: ${hdbssEntryText(x.before)} -> ${hdbssEntryText(x.after)}`])
    .otherwise(() => null);
}

export const hdbssView: MechanismView = { summarize, describeChange };
