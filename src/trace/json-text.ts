/**
 * Scanners over a trace's JSON text, for what `JSON.parse` cannot report (format.ts): line numbers (of an offset,
 * of each element of the top-level `events` array) and, for hostile input (issue 20), a key repeated in one object
 * and a number not written as dtsim writes it (`scanJson`). They track strings and nesting themselves, so
 * hand-formatted traces get correct lines too.
 */
import { keyName, quote } from '../core/untrusted.ts';

/** 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Start lines of the elements of the top-level "events" array, found by a small scanner that tracks
 * strings and nesting (so hand-formatted traces get correct line numbers too).
 */
export function eventLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inStr = false;
  let line = 1;
  let pendingKey = '';
  let keyStart = -1;
  let eventsDepth = -1;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') { line++; continue; }
    if (inStr) {
      if (ch === '\\') { i++; continue; }
      if (ch === '"') { inStr = false; if (depth === 1) pendingKey = text.slice(keyStart + 1, i); }
      continue;
    }
    if (ch === '"') {
      if (expectElement) { out.push(line); expectElement = false; }
      inStr = true; keyStart = i; continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === ':') continue;
    if (ch === '[' || ch === '{') {
      if (expectElement) { out.push(line); expectElement = false; }
      depth++;
      if (ch === '[' && depth === 2 && pendingKey === 'events') { eventsDepth = depth; expectElement = true; }
      continue;
    }
    if (ch === ']' || ch === '}') {
      if (depth === eventsDepth && ch === ']') eventsDepth = -1;
      depth--; expectElement = false; continue;
    }
    if (ch === ',') { if (depth === eventsDepth) expectElement = true; continue; }
    if (expectElement) { out.push(line); expectElement = false; }
  }
  return out;
}

/** A problem `JSON.parse` cannot see, found on the text by `scanJson`. */
export interface JsonTextIssue {
  readonly line: number;
  /** Key path, e.g. `events[3].gfn`. */
  readonly field: string;
  readonly message: string;
}

/**
 * Is a number token written canonically, i.e. as `JSON.stringify` writes the number it reads as? dtsim writes
 * every trace with JSON.stringify, so anything else was edited by hand or corrupted.
 */
function numberIssue(tok: string): string | null {
  if (/^-?(0|[1-9][0-9]{0,14})$/.test(tok) && tok !== '-0') return null;
  const n = Number(tok);
  if (!Number.isFinite(n)) return `number ${quote(tok.slice(0, 40))} is out of range (reads as ${n})`;
  if (String(n) === tok) return null;
  if (/^-?[0-9]+$/.test(tok) && tok !== '-0') return `integer ${tok.slice(0, 40)} is not exactly representable (reads as ${String(n)})`;
  return `number ${tok.slice(0, 40)} is not written canonically (reads as ${String(n)}; write ${String(n)})`;
}

/**
 * Checks the text of a document that `JSON.parse` accepted for what the parse hides: a key repeated in the same
 * object (the parse keeps the last one silently; keys are compared after unescaping, so `"\u0074ype"` repeats
 * `"type"`) and numbers not written canonically (`numberIssue`). Returns the first issue with its line and key
 * path, and the line of each top-level key. Iterative (a deep document cannot overflow the stack), one pass.
 */
export function scanJson(text: string): { issue: JsonTextIssue | null; topLines: Map<string, number> } {
  const topLines = new Map<string, number>();
  // One frame per open object / array: its keys so far (objects) or the current index (arrays).
  const isArr: boolean[] = [];
  const keys: string[][] = [];
  const index: number[] = [];
  const expectKey: boolean[] = [];
  let line = 1;
  const path = (last: string | null): string => {
    let out = '';
    for (let f = 0; f < isArr.length; f++) {
      const seg = isArr[f] ? `[${index[f]}]` : f + 1 < isArr.length || last === null ? (keys[f] as string[]).at(-1) : last;
      if (seg === undefined) continue;
      out += isArr[f] ? seg : out ? `.${keyName(seg)}` : keyName(seg);
    }
    return out;
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) { line++; continue; }
    if (c === 32 || c === 9 || c === 13 || c === 58 /* : */) continue;
    const top = isArr.length - 1;
    if (c === 34 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) { escaped = true; i++; continue; }
        if (d === 34) break;
      }
      if (top >= 0 && !isArr[top] && expectKey[top]) {
        const key = escaped ? JSON.parse(text.slice(start, i + 1)) as string : text.slice(start + 1, i);
        const ks = keys[top] as string[];
        if (ks.includes(key)) return { issue: { line, field: path(key), message: 'duplicated key (JSON keeps only the last value, silently): each field once' }, topLines };
        ks.push(key);
        expectKey[top] = false;
        if (top === 0 && !topLines.has(key)) topLines.set(key, line);
      }
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      isArr.push(c === 91); keys.push([]); index.push(0); expectKey.push(c === 123);
      continue;
    }
    if (c === 125 || c === 93) { isArr.pop(); keys.pop(); index.pop(); expectKey.pop(); continue; }
    if (c === 44 /* , */) {
      if (top >= 0) { if (isArr[top]) index[top] = (index[top] as number) + 1; else expectKey[top] = true; }
      continue;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) j++; else break;
      }
      const why = numberIssue(text.slice(i, j));
      if (why) return { issue: { line, field: path(null), message: why }, topLines };
      i = j - 1;
      continue;
    }
    // true / false / null: skip the letters.
    while (i + 1 < n && text.charCodeAt(i + 1) >= 97 && text.charCodeAt(i + 1) <= 122) i++;
  }
  return { issue: null, topLines };
}
