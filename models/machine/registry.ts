/**
 * Explore codecs and schema-compiled parts of the mechanisms' state (`s.ext[key]`). Which mechanisms a design
 * uses is selected.ts (`mechanismsOf`); this module imports no mechanism (mechanism modules call it while they
 * are evaluated, so it must be evaluated before any of them).
 */
import type { JsonValue } from '../../src/core/model.ts';
import type { Compiled, PackCtx } from '../../src/core/schema.ts';
import type { ExtCodec } from './mechanisms.ts';
import type { MachineState } from './state.ts';

const codecs = new Map<string, ExtCodec>();
let codecsVersion = 0;

/** Bumped by every `registerExtCodec`: caches of codec lookups (pack.ts) compare it. */
export function extCodecsVersion(): number {
  return codecsVersion;
}

/** Registers (or, with undefined, removes) the explore codec of `s.ext[key]` (see `ExtCodec`); returns the previous one. */
export function registerExtCodec(key: string, codec: ExtCodec | undefined): ExtCodec | undefined {
  codecsVersion++;
  const prev = codecs.get(key);
  if (codec) codecs.set(key, codec);
  else codecs.delete(key);
  return prev;
}

/** The codec of `s.ext[key]`, or undefined (packed and copied generically). */
export function extCodec(key: string): ExtCodec | undefined {
  return codecs.get(key);
}

/**
 * Schema-compiled mechanism state parts (`s.ext[key]`; src/core/schema.ts). A part's compiled operations give its
 * exact copy, save/load and canonical encoding; its pack hooks read the machine through `ctx.root` and encode
 * VMIDs through `ctx.vmid` (relative to the VM's current VMID, as the machine's own). Registering a part also
 * registers the `ExtCodec` the machine's copy/pack/save use until the machine itself is schema-compiled.
 */
const partsByKey = new Map<string, Compiled<unknown>>();

/** Registers (or, with undefined, removes) the part of `s.ext[key]`; returns the previous one. */
export function registerPart(key: string, part: Compiled<unknown> | undefined): Compiled<unknown> | undefined {
  const prev = partsByKey.get(key);
  if (part) partsByKey.set(key, part);
  else partsByKey.delete(key);
  registerExtCodec(key, part ? partCodec(part) : undefined);
  return prev;
}

export function partOf(key: string): Compiled<unknown> | undefined {
  return partsByKey.get(key);
}

/** The pack context of a machine state for its mechanism parts: no renaming (mechanism state disables
 * symmetry), VMIDs relative to the current one (pack.ts `vmidRel`, repeated here to avoid an import cycle). */
export function partCtx(s: MachineState): PackCtx {
  return { root: s, vcpu: (i) => i, pe: (i) => i, vmid: (v) => (v === 0 ? 0 : ((v - s.vmid + 255) % 255) + 1), order: (_g, j) => j };
}

function partCodec(part: Compiled<unknown>): ExtCodec {
  return {
    pack: (s, v, out) => part.pack(v, partCtx(s), out),
    copy: (d, v) => part.copyInto(d, v) as JsonValue,
    save: (v, out) => part.save(v, out),
    load: (src) => part.load(src, undefined) as JsonValue,
  };
}
