/**
 * Explore codecs and schema-compiled parts of the mechanisms' state (`s.ext[key]`). Which mechanisms a design
 * uses is selected.ts (`mechanismsOf`); this module imports no mechanism (mechanism modules call it while they
 * are evaluated, so it must be evaluated before any of them).
 */
import type { ExtCodec } from './mechanisms.ts';

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
