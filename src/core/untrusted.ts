/**
 * Helpers for reading untrusted input (traces, `--option`, `--config`): looking keys up without the prototype
 * chain, and naming untrusted keys and values in one short printable line.
 *
 * Why: a JSON object from `JSON.parse` has `Object.prototype` behind it, so `obj[key]` and `key in obj` answer for
 * `__proto__`, `constructor`, `toString`, `hasOwnProperty`... although the document never had them (a design option
 * named `constructor` once reached `dom.some(...)` on the `Object` function and crashed the reader). Every lookup by
 * a key that comes from input goes through `own` (or a `Map`). And an error message that quotes input must stay one
 * line a user can read: a lookalike (`vmm/pageCopіed` with a Cyrillic i), a zero-width space or a control
 * character is shown escaped (`\u0456`), and a huge value is cut.
 */

/** `obj[key]` when `obj` is a plain object that has `key` as its own property; otherwise undefined. */
export function own(obj: unknown, key: string): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  return Object.hasOwn(obj, key) ? (obj as { readonly [k: string]: unknown })[key] : undefined;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is { readonly [k: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every character outside printable ASCII as a `\uXXXX` escape (so lookalikes and invisible characters show). */
export function asciiOnly(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An untrusted value as short printable JSON text: `"vmm/pageCopi\u0435d"`, `[1,2,3,...]` (cut at `max`). */
export function quote(v: unknown, max = 80): string {
  let s: string;
  try { s = JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  s = asciiOnly(s);
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** An untrusted key as a field path segment: as it is when it is a plain ASCII word, else quoted and escaped. */
export function keyName(k: string): string {
  return /^[\w$-]{1,64}$/.test(k) ? k : quote(k, 64);
}

/** Sets `obj[key] = v` as an own data property, also for `__proto__` (plain assignment would set the prototype). */
export function setOwn(obj: { [k: string]: unknown }, key: string, v: unknown): void {
  Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
}
