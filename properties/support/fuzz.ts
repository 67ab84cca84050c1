/**
 * Hostile-input mutators for the trace reader, shared by the fuzz property in `npm test`
 * (properties/trace.reader-never-crashes.test.ts) and the bench (bench/fuzz-reader.ts), so the two never drift.
 *
 * A trace is turned into a small syntax tree that keeps what `JSON.parse` loses: objects are lists of entries (so a
 * key can be duplicated), keys and scalars are their raw JSON text (so `-0`, `1.0`, `1e400`, `"\u0074ype"` survive).
 * A mutator edits the tree (or, for the `text` family, the serialised text) from a seeded stream
 * (src/random/streams.ts), and the tree is written back in the trace layout (one top-level field, one event per line),
 * so line numbers in the reader's errors stay meaningful.
 *
 * Families (`Mutation.family`), each aimed at a class of hostile input:
 * - `protoKey`: a key renamed to, or added as, `__proto__`, `constructor`, `toString`, `hasOwnProperty`, ...;
 * - `dupKey`: a key repeated in the same object with another value (JSON.parse keeps the last silently);
 * - `lookalike`: a key or an event type with a unicode lookalike (Cyrillic letters, zero-width and no-break spaces,
 *   fullwidth slash, case change, a trailing space), or written with a `\u` escape (same meaning);
 * - `eventType`: an event's type swapped for a prototype name, another model's type, another valid type;
 * - `options`, `bugs`, `config`, `expect`, `labels`: the design's options and knobs, the machine configuration, the
 *   expect block and the labels, set to other valid values (a different but valid trace) or to invalid ones;
 * - `number`: a number written non-canonically (`-0`, `1.0`, `1e0`, `1e400`, `9007199254740993`) or moved by one;
 * - `structure`: a value deleted, replaced by another type, nested deeply, or an unknown field added;
 * - `version`: `formatVersion` / `modelVersion` changed;
 * - `text`: the text itself truncated, garbled, lines deleted, duplicated or swapped, a BOM, NUL or U+2028 inserted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stream, type Prng } from '../../src/random/streams.ts';
import { parseTrace } from '../../src/trace/format.ts';
import { replay } from '../../src/core/engine.ts';
import { lookupModel } from '../../src/cli/registry.ts';
import type { EventBase } from '../../src/core/model.ts';

export type Node =
  | { readonly k: 'obj'; e: { key: string; v: Node }[] }
  | { readonly k: 'arr'; a: Node[] }
  /** A scalar as raw JSON text (a number, string, true, false or null, possibly non-canonical). */
  | { readonly k: 'raw'; t: string };

export type Family = 'protoKey' | 'dupKey' | 'lookalike' | 'eventType' | 'options' | 'bugs' | 'config' | 'expect' | 'labels'
  | 'number' | 'structure' | 'version' | 'text';

export const FAMILIES: readonly Family[] = ['protoKey', 'dupKey', 'lookalike', 'eventType', 'options', 'bugs', 'config', 'expect',
  'labels', 'number', 'structure', 'version', 'text'];

export interface Mutation {
  readonly family: Family;
  /** What was done, for a failure message (`events[3].type -> "constructor"`). */
  readonly what: string;
}

export interface FuzzCase {
  readonly text: string;
  readonly mutations: readonly Mutation[];
}

export const PROTO_NAMES: readonly string[] = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype',
  '__defineGetter__', 'isPrototypeOf'];

/** Event types of every model (a swap to one of these is a valid type for some model, maybe not this one). */
const SOME_TYPES: readonly string[] = ['guest/storeIssued', 'guest/storeRetired', 'vmm/pageCopied', 'vmm/vmStopped', 'vmm/migrationCompleted',
  'kvm/ioctlReturned', 'kvm/dirtyLogCleared', 'vcpu/entered', 'vcpu/exited', 'ring/harvested', 'kvm/ringReset', 'hdbss/drained',
  'kvm/readFaultMapped', 'mmu/accessTracked', 'pe/tlbEvicted', 'guest/storeTeleported'];

/** Lookalikes of ASCII letters (Cyrillic and Greek), and invisible characters. */
const LOOKALIKE: { readonly [ch: string]: string } = { a: '\u0430', e: '\u0435', o: '\u043e', p: '\u0440', c: '\u0441', x: '\u0445',
  y: '\u0443', i: '\u0456', s: '\u0455', d: '\u0501', v: '\u03bd', g: '\u0261', '/': '\uff0f' };
const INVISIBLE: readonly string[] = ['\u200b', '\u00a0', '\ufeff', '\u200d', ' ', '\t'];

export function fromJson(v: unknown): Node {
  if (Array.isArray(v)) return { k: 'arr', a: v.map(fromJson) };
  if (v !== null && typeof v === 'object') return { k: 'obj', e: Object.entries(v).map(([key, x]) => ({ key: JSON.stringify(key), v: fromJson(x) })) };
  return { k: 'raw', t: JSON.stringify(v) };
}

function compact(n: Node): string {
  switch (n.k) {
    case 'raw': return n.t;
    case 'arr': return `[${n.a.map(compact).join(',')}]`;
    case 'obj': return `{${n.e.map((x) => `${x.key}:${compact(x.v)}`).join(',')}}`;
    default: { const never: never = n; return never; }
  }
}

/** Writes a tree in the trace layout: one top-level field per line, the elements of `events` one per line. */
export function render(root: Node): string {
  if (root.k !== 'obj') return `${compact(root)}\n`;
  const lines = ['{'];
  root.e.forEach((x, i) => {
    const comma = i + 1 < root.e.length ? ',' : '';
    if (x.v.k === 'arr' && x.key === '"events"') {
      lines.push(`  ${x.key}: [`);
      x.v.a.forEach((ev, j, all) => lines.push(`    ${compact(ev)}${j + 1 < all.length ? ',' : ''}`));
      lines.push(`  ]${comma}`);
    } else lines.push(`  ${x.key}: ${compact(x.v)}${comma}`);
  });
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function pick<T>(r: Prng, xs: readonly T[]): T {
  return xs[r.int(xs.length)] as T;
}

function clone(n: Node): Node {
  switch (n.k) {
    case 'raw': return { k: 'raw', t: n.t };
    case 'arr': return { k: 'arr', a: n.a.map(clone) };
    case 'obj': return { k: 'obj', e: n.e.map((x) => ({ key: x.key, v: clone(x.v) })) };
    default: { const never: never = n; return never; }
  }
}

function get(n: Node | undefined, key: string): Node | undefined {
  if (!n || n.k !== 'obj') return undefined;
  return n.e.find((x) => x.key === JSON.stringify(key))?.v;
}

type Where = { node: Node; path: string };

/** Every object and array in the tree with its path (events sampled: a long trace would drown the head). */
function containers(root: Node, r: Prng): Where[] {
  const out: Where[] = [];
  const walk = (n: Node, path: string, depth: number): void => {
    if (n.k === 'raw' || depth > 40) return;
    out.push({ node: n, path });
    if (n.k === 'obj') for (const x of n.e) walk(x.v, `${path}.${x.key}`, depth + 1);
    else {
      const idx = n.a.length > 6 ? [0, r.int(n.a.length), r.int(n.a.length), n.a.length - 1] : n.a.map((_, i) => i);
      for (const i of idx) walk(n.a[i] as Node, `${path}[${i}]`, depth + 1);
    }
  };
  walk(root, '', 0);
  return out;
}

function objects(root: Node, r: Prng): { node: Extract<Node, { k: 'obj' }>; path: string }[] {
  return containers(root, r).filter((w): w is { node: Extract<Node, { k: 'obj' }>; path: string } => w.node.k === 'obj' && w.node.e.length > 0);
}

/** Scalars (with the container and slot holding them), sampled like `containers`. */
function scalars(root: Node, r: Prng): { set: (v: Node) => void; node: Node; path: string }[] {
  const out: { set: (v: Node) => void; node: Node; path: string }[] = [];
  for (const w of containers(root, r)) {
    if (w.node.k === 'obj') w.node.e.forEach((x) => { if (x.v.k === 'raw') out.push({ set: (v) => { x.v = v; }, node: x.v, path: `${w.path}.${x.key}` }); });
    else if (w.node.k === 'arr') { const a = w.node.a; a.forEach((x, i) => { if (x.k === 'raw') out.push({ set: (v) => { a[i] = v; }, node: x, path: `${w.path}[${i}]` }); }); }
  }
  return out;
}

const raw = (v: unknown): Node => ({ k: 'raw', t: JSON.stringify(v) });

function lookalikeOf(r: Prng, s: string): string {
  if (typeof s !== 'string') s = String(s);
  const spots: number[] = [];
  for (let i = 0; i < s.length; i++) if (LOOKALIKE[s[i] as string] !== undefined) spots.push(i);
  switch (r.int(5)) {
    case 0: if (spots.length) { const i = pick(r, spots); return s.slice(0, i) + (LOOKALIKE[s[i] as string] as string) + s.slice(i + 1); } return `${s}\u200b`;
    case 1: return s + pick(r, INVISIBLE);
    case 2: return pick(r, INVISIBLE) + s;
    case 3: return s.toUpperCase() === s ? s.toLowerCase() : s.replace(/[a-z]/, (c) => c.toUpperCase());
    default: return s.normalize('NFKD') === s ? `${s.slice(0, 1)}\u0301${s.slice(1)}` : s.normalize('NFKD');
  }
}

/** `"type"` written as `"\u0074ype"`: the same key after decoding (harmless; must still be checked for duplicates). */
function escapedKey(s: string): string {
  if (s.length === 0) return '""';
  const c = s.charCodeAt(0).toString(16).padStart(4, '0');
  return `"\\u${c}${JSON.stringify(s.slice(1)).slice(1)}`;
}

const NUMBERS_NONCANONICAL: readonly string[] = ['-0', '0.0', '1.0', '1e0', '1E1', '-0.0', '1e400', '-1e400', '9007199254740993', '1e-400', '0.5', '2.5e1'];

/** A number moved or re-written: non-canonical forms, off-by-one, out-of-range and huge values. */
function mutateNumber(r: Prng, t: string): string {
  const n = Number(t);
  switch (r.int(4)) {
    case 0: return pick(r, NUMBERS_NONCANONICAL);
    case 1: return Number.isFinite(n) ? String(n + pick(r, [1, -1, 2, 7])) : '1';
    case 2: return Number.isFinite(n) ? `${n}.0` : '0.0';
    default: return pick(r, ['-1', '4294967296', '9007199254740992', '1e21', '123456789012345678901234567890', String(2 ** 31)]);
  }
}

function eventsOf(root: Node): Node[] {
  const ev = get(root, 'events');
  return ev && ev.k === 'arr' ? ev.a : [];
}

/** One mutation of the tree; returns its description, or null when it did not apply (the caller tries another). */
function mutateTree(root: Node, family: Exclude<Family, 'text'>, r: Prng): string | null {
  switch (family) {
    case 'protoKey': {
      const objs = objects(root, r);
      if (!objs.length) return null;
      const o = pick(r, objs);
      const name = pick(r, PROTO_NAMES);
      if (r.int(2) === 0) { const x = pick(r, o.node.e); const was = x.key; x.key = JSON.stringify(name); return `${o.path}.${was} renamed to ${name}`; }
      const v = pick(r, [raw(1), raw('x'), raw(null), { k: 'obj', e: [] } as Node, { k: 'arr', a: [raw('a')] } as Node, clone(pick(r, o.node.e).v)]);
      o.node.e.splice(r.int(o.node.e.length + 1), 0, { key: JSON.stringify(name), v });
      return `${o.path}.${name} added = ${compact(v).slice(0, 40)}`;
    }
    case 'dupKey': {
      const objs = objects(root, r);
      if (!objs.length) return null;
      const o = pick(r, objs);
      const x = pick(r, o.node.e);
      const scal = x.v.k === 'raw' ? x.v.t : '';
      const v: Node = pick(r, [clone(x.v), raw(Number.isFinite(Number(scal)) && scal !== '' ? Number(scal) + 1 : 0), raw('other'), raw(true)]);
      const key = r.int(4) === 0 ? escapedKey(JSON.parse(x.key) as string) : x.key;
      o.node.e.splice(r.int(o.node.e.length + 1), 0, { key, v });
      return `${o.path}.${x.key} duplicated = ${compact(v).slice(0, 40)}`;
    }
    case 'lookalike': {
      if (r.int(2) === 0) {
        const evs = eventsOf(root);
        if (!evs.length) return null;
        const e = pick(r, evs);
        const t = get(e, 'type');
        if (!t || t.k !== 'raw') return null;
        const was = JSON.parse(t.t) as string;
        const now = r.int(5) === 0 ? was : lookalikeOf(r, was);
        t.t = now === was ? escapedKey(was) : JSON.stringify(now);
        return `event type ${was} -> ${t.t}`;
      }
      const objs = objects(root, r);
      if (!objs.length) return null;
      const o = pick(r, objs);
      const x = pick(r, o.node.e);
      const was = JSON.parse(x.key) as string;
      const now = r.int(5) === 0 ? was : lookalikeOf(r, was);
      x.key = now === was ? escapedKey(was) : JSON.stringify(now);
      return `${o.path}: key ${x.key} for ${JSON.stringify(was)}`;
    }
    case 'eventType': {
      const evs = eventsOf(root);
      if (!evs.length) return null;
      const e = pick(r, evs);
      if (e.k !== 'obj') return null;
      const t = e.e.find((x) => x.key === '"type"');
      if (!t) return null;
      const all = evs.map((x) => get(x, 'type')).filter((x): x is Node => x !== undefined && x.k === 'raw').map((x) => (x as { t: string }).t);
      const v = pick(r, [raw(pick(r, PROTO_NAMES)), raw(pick(r, SOME_TYPES)), { k: 'raw', t: pick(r, all) } as Node, raw(''), raw(1), raw(null),
        raw(['vmm/pageCopied']), raw({ toString: 'x' })]);
      t.v = v;
      return `events[?].type -> ${compact(v)}`;
    }
    case 'options': case 'bugs': case 'config': case 'expect': case 'labels': {
      const target = family === 'options' ? get(get(root, 'design'), 'options') : family === 'bugs' ? get(get(root, 'design'), 'bugs')
        : get(root, family);
      if (!target) return null;
      const name = pick(r, PROTO_NAMES);
      if (target.k === 'arr') {
        // bugs: a prototype name, a duplicate, an unknown id, a lookalike, another model's knob, or emptied
        const cur = target.a.map(compact);
        const v = pick(r, [raw(name), raw('missing-tlbi'), raw('reset-no-tlb-flush'), raw('hdbss-fsc-ignored'), raw('pta-read-no-flush'),
          raw(''), raw(1), cur.length ? { k: 'raw', t: pick(r, cur) } as Node : raw('x'), raw(lookalikeOf(r, cur.length ? String(JSON.parse(pick(r, cur))) : 'missing-tlbi'))]);
        if (r.int(4) === 0) { target.a.length = 0; return `${family} emptied`; }
        target.a.splice(r.int(target.a.length + 1), 0, v);
        return `${family} += ${compact(v)}`;
      }
      if (target.k !== 'obj') return null;
      switch (r.int(5)) {
        case 0: target.e.push({ key: JSON.stringify(name), v: pick(r, [raw(true), raw(0), { k: 'obj', e: [] } as Node, raw('bitmap')]) }); return `${family}.${name} added`;
        case 1: target.e.push({ key: JSON.stringify(pick(r, ['extra', 'status2', 'comment', 'npagse', 'base'])), v: raw(1) }); return `${family}: unknown field added`;
        case 2: {
          if (!target.e.length) return null;
          const x = pick(r, target.e);
          // another value of the same kind: a neighbour number, a flipped boolean, a known option value
          const t = x.v.k === 'raw' ? x.v.t : '';
          x.v = t === 'true' ? raw(false) : t === 'false' ? raw(true) : Number.isFinite(Number(t)) && t !== '' ? raw(Number(t) + pick(r, [1, -1]))
            : raw(pick(r, ['bitmap', 'ring', 'wp', 'dbm', 'pta', 'hdbss', 'violated', 'ok', 'INV-NOLOSS', 'INV-FLUSH', 0, 4, 256, true]));
          return `${family}.${x.key} = ${compact(x.v)}`;
        }
        case 3: {
          if (!target.e.length) return null;
          const i = r.int(target.e.length);
          const was = target.e[i]?.key;
          target.e.splice(i, 1);
          return `${family}.${was} deleted`;
        }
        default: {
          if (family === 'labels') { target.e.push({ key: JSON.stringify(pick(r, ['01', '-1', '1e1', '0x1', '99999', ' 1', '1.0', name])), v: raw('hi') }); return 'labels: odd key'; }
          if (!target.e.length) return null;
          const x = pick(r, target.e);
          x.key = JSON.stringify(lookalikeOf(r, JSON.parse(x.key) as string));
          return `${family}: key lookalike ${x.key}`;
        }
      }
    }
    case 'number': {
      const nums = scalars(root, r).filter((s) => s.node.k === 'raw' && /^-?\d/.test(s.node.t));
      if (!nums.length) return null;
      const s = pick(r, nums);
      const t = mutateNumber(r, (s.node as { t: string }).t);
      s.set({ k: 'raw', t });
      return `${s.path} = ${t}`;
    }
    case 'structure': {
      const cs = containers(root, r);
      const w = pick(r, cs);
      const deepNode = (n: number): Node => { let v: Node = raw(1); for (let i = 0; i < n; i++) v = i % 2 ? { k: 'arr', a: [v] } : { k: 'obj', e: [{ key: '"a"', v }] }; return v; };
      const other = pick(r, [raw(null), raw(0), raw(''), raw([]), raw({}), raw(-1), raw('x'.repeat(5000)), deepNode(10 + r.int(200)),
        { k: 'arr', a: Array.from({ length: 2000 }, (_, i) => raw(i)) } as Node]);
      if (w.node.k === 'obj') {
        if (!w.node.e.length || r.int(4) === 0) { w.node.e.push({ key: JSON.stringify(pick(r, ['extra', 'Events', 'expect ', 'note2'])), v: other }); return `${w.path}: unknown field added`; }
        const i = r.int(w.node.e.length);
        const x = w.node.e[i] as { key: string; v: Node };
        if (r.int(2) === 0) { w.node.e.splice(i, 1); return `${w.path}.${x.key} deleted`; }
        x.v = other; return `${w.path}.${x.key} = ${compact(other).slice(0, 40)}`;
      }
      if (w.node.k === 'arr') {
        if (!w.node.a.length) { w.node.a.push(other); return `${w.path} += ${compact(other).slice(0, 40)}`; }
        const i = r.int(w.node.a.length);
        switch (r.int(3)) {
          case 0: w.node.a.splice(i, 1); return `${w.path}[${i}] deleted`;
          case 1: w.node.a.splice(i, 0, clone(w.node.a[i] as Node)); return `${w.path}[${i}] duplicated`;
          default: w.node.a[i] = other; return `${w.path}[${i}] = ${compact(other).slice(0, 40)}`;
        }
      }
      return null;
    }
    case 'version': {
      const which = r.int(2) === 0 ? get(root, 'formatVersion') : get(get(root, 'design'), 'modelVersion');
      if (!which || which.k !== 'raw') return null;
      which.t = pick(r, ['0', '-1', '1', '2', '3', '99', '1.5', '"2"', 'null', '2.0', '1e0', '-0']);
      return `version = ${which.t}`;
    }
    default: { const never: never = family; return never; }
  }
}

/** One mutation of the text itself. */
function mutateText(text: string, r: Prng): { text: string; what: string } {
  const lines = text.split('\n');
  const li = r.int(lines.length);
  switch (r.int(9)) {
    case 0: { const at = r.int(text.length + 1); return { text: text.slice(0, at), what: `truncated at ${at}` }; }
    case 1: { const at = r.int(text.length); const ch = pick(r, ['"', '{', '}', ']', ',', '\\', '\u0000', 'x', '9', ':', '\n']); return { text: text.slice(0, at) + ch + text.slice(at + 1), what: `char ${at} = ${JSON.stringify(ch)}` }; }
    case 2: lines.splice(li, 1); return { text: lines.join('\n'), what: `line ${li + 1} deleted` };
    case 3: lines.splice(li, 0, lines[li] as string); return { text: lines.join('\n'), what: `line ${li + 1} duplicated` };
    case 4: { const lj = r.int(lines.length); const a = lines[li] as string; lines[li] = lines[lj] as string; lines[lj] = a; return { text: lines.join('\n'), what: `lines ${li + 1} and ${lj + 1} swapped` }; }
    case 5: return { text: `\ufeff${text}`, what: 'BOM' };
    case 6: return { text: text.replace(/\n/g, '\r\n'), what: 'CRLF' };
    case 7: { const at = r.int(text.length); const ch = pick(r, ['\u2028', '\u0000', '\ud800', '\u00e9', '\t']); return { text: text.slice(0, at) + ch + text.slice(at), what: `inserted ${JSON.stringify(ch)} at ${at}` }; }
    default: return { text: text + pick(r, ['\n{}', '\n\n', ' ', 'x', ',']), what: 'trailing text' };
  }
}

/**
 * Corrupts a trace text with 1-3 mutations drawn from `stream(seed, 'fuzz/<label>')`. A text that is not JSON
 * (after an earlier text mutation) takes only further text mutations.
 */
export function fuzzCase(text: string, seed: string, label: string, families: readonly Family[] = FAMILIES): FuzzCase {
  const r = stream(seed, `fuzz/${label}`);
  const n = 1 + (r.int(4) === 0 ? 1 + r.int(2) : 0);
  const muts: Mutation[] = [];
  let t = text;
  for (let i = 0; i < n; i++) {
    const family = pick(r, families);
    if (family === 'text') { const m = mutateText(t, r); t = m.text; muts.push({ family, what: m.what }); continue; }
    let doc: unknown;
    try { doc = JSON.parse(t); } catch { const m = mutateText(t, r); t = m.text; muts.push({ family: 'text', what: m.what }); continue; }
    // A tree from JSON.parse has lost earlier key-level mutations (duplicates, raw numbers): apply tree mutations
    // to the original tree once, in order, and render at the end.
    const root = fromJson(doc);
    let what: string | null = null;
    let used: Exclude<Family, 'text'> = family;
    for (let tries = 0; tries < 4 && what === null; tries++) { used = tries === 0 ? family : 'structure'; what = mutateTree(root, used, r); }
    if (what === null) continue;
    muts.push({ family: used, what });
    t = render(root);
    // Further mutations re-parse `t`, which drops a duplicate key or a raw number: stop here to keep them.
    if (used === 'dupKey' || used === 'number' || used === 'protoKey' || used === 'lookalike') break;
  }
  return { text: t, mutations: muts };
}

/** How one corrupted trace ended in-process (parse, then replay when it parsed). */
export type CaseOutcome =
  | {
    readonly cls: 'parsed-ok' | 'parsed-violated' | 'rejected-event';
    /** The parsed trace means what the original meant (design, config, events, expect all equal). */
    readonly sameMeaning: boolean;
    /** Replay reproduced the expect block (what `dtsim replay` exits 0 on; otherwise it exits 1). */
    readonly matchesExpect: boolean;
    /** For a rejected event: the reason replay gives. */
    readonly message: string;
    /** What part of the meaning changed (first differing top-level part), when it did. */
    readonly changed: string;
  }
  | { readonly cls: 'parse-error'; readonly kind: string; readonly line: number | null; readonly field: string; readonly message: string }
  | { readonly cls: 'crash'; readonly message: string };

/** The meaning of a parsed trace: what replay and the expect check read. */
export function meaningOf(t: { design: unknown; config: unknown; events: readonly unknown[]; expect: unknown }): { [part: string]: string } {
  return { design: JSON.stringify(t.design), config: JSON.stringify(t.config), events: JSON.stringify(t.events), expect: JSON.stringify(t.expect) };
}

/**
 * The guarantees a reader error must keep, as a list of broken ones (empty when all hold): a kind, a line (>= 1),
 * a field (empty only for text that is not a JSON object), and a message that is one line of printable ASCII
 * (a lookalike or a control character in the input is shown escaped, never raw), of bounded length.
 */
export function errorProblems(e: { kind: string; line: number | null; field: string; message: string }): string[] {
  const out: string[] = [];
  if (e.line === null || !Number.isInteger(e.line) || e.line < 1) out.push(`no line (${String(e.line)})`);
  if (e.field === '' && e.kind !== 'notJson' && e.kind !== 'unknownFormat') out.push('no field');
  if (!/^[\x20-\x7e]*$/.test(e.field) || e.field.length > 200) out.push(`field not one short printable line: ${JSON.stringify(e.field.slice(0, 80))}`);
  if (e.message.length === 0 || !/^[\x20-\x7e]*$/.test(e.message) || e.message.length > 400) out.push(`message not one short printable line: ${JSON.stringify(e.message.slice(0, 120))}`);
  return out;
}

/** Every trace under traces/ (regressions, explore results, frozen fixtures), sorted: the fuzz's starting points. */
export function seedTraces(root: string): { file: string; text: string }[] {
  const dir = join(root, 'traces');
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort();
  return files.map((f) => ({ file: join('traces', f), text: readFileSync(join(dir, f), 'utf8') }));
}

const originals = new Map<string, { [part: string]: string } | null>();

/** Parses a corrupted text and replays it when it parses; a throw anywhere is a `crash` (the reader's bug). */
export function runCase(original: string, text: string): CaseOutcome {
  let base = originals.get(original);
  if (base === undefined) {
    const r0 = parseTrace(original, lookupModel);
    base = r0.ok ? meaningOf(r0.trace) : null;
    originals.set(original, base);
  }
  try {
    const r = parseTrace(text, lookupModel);
    if (!r.ok) return { cls: 'parse-error', kind: r.error.kind, line: r.error.line, field: r.error.field, message: r.error.message };
    const o = replay(r.model, r.trace.design, r.trace.config, r.trace.events as EventBase[], { path: 'fast' });
    const ex = r.trace.expect;
    const matchesExpect = o.status === ex.status && (ex.status !== 'violated' || (o.eventIndex === ex.eventIndex && o.invariant === ex.invariant));
    const m = meaningOf(r.trace);
    const changed = base === null ? 'original did not parse' : Object.keys(m).find((k) => m[k] !== base[k]) ?? '';
    const cls = o.status === 'ok' ? 'parsed-ok' : o.status === 'violated' ? 'parsed-violated' : 'rejected-event';
    return { cls, sameMeaning: changed === '', matchesExpect, message: o.status === 'rejected' ? o.message : '', changed };
  } catch (e) {
    return { cls: 'crash', message: String((e as Error).stack ?? e).split('\n').slice(0, 3).join(' | ') };
  }
}

// ---- shard result files (`dtsim check --merge`) ----

/**
 * Families of hostile edits to a `check --json` shard result, the untrusted input of `check --merge`
 * (src/cli/shard-file.ts), each aimed at one class:
 * - `protoKey`: a key renamed to, or added as, a prototype name (in the document, a result, its metrics/coverage);
 * - `dupKey`: a key repeated in one object with another value (JSON.parse keeps the last silently);
 * - `wrongType`: a value replaced by another type (string, array, object, null, boolean);
 * - `hugeNumber`: a number made huge, negative, fractional, out of range (`1e400`) or beyond 2^53;
 * - `missingField`: a field deleted;
 * - `failures`: the `failures` list given a hostile entry (a prototype-named key, a wrong type, a label naming no
 *   design, a missing field), or replaced by a non-list.
 */
export type ShardFamily = 'protoKey' | 'dupKey' | 'wrongType' | 'hugeNumber' | 'missingField' | 'failures';
export const SHARD_FAMILIES: readonly ShardFamily[] = ['protoKey', 'dupKey', 'wrongType', 'hugeNumber', 'missingField', 'failures'];

/** Every object in the tree with its path (the events of a failing run sampled, so the head is not drowned). */
function shardObjects(n: Node, path: string, out: { node: Node & { k: 'obj' }; path: string }[], r: Prng): void {
  if (n.k === 'obj') { out.push({ node: n, path }); for (const x of n.e) shardObjects(x.v, `${path}.${x.key}`, out, r); }
  if (n.k === 'arr') n.a.forEach((x, i) => { if (i < 3 || r.int(n.a.length) < 2) shardObjects(x, `${path}[${i}]`, out, r); });
}

const HOSTILE_VALUES: readonly string[] = ['"x"', '[]', '{}', 'null', 'true', '-1', '[1,2]', '{"__proto__":{"polluted":1}}', '""'];
const HUGE: readonly string[] = ['1e400', '-1e400', '9007199254740993', '1e300', '-1', '0.5', '-0', '1e21', '123456789012345678901234567890'];

/**
 * Corrupts a shard result text with 1-2 mutations drawn from `stream(seed, 'fuzz-shard/<label>')`, written back
 * as compact JSON (a shard file is one line). Returns the text and what was done.
 */
export function shardFuzzCase(text: string, seed: string, label: string, families: readonly ShardFamily[] = SHARD_FAMILIES): { text: string; mutations: string[] } {
  const r = stream(seed, `fuzz-shard/${label}`);
  const root = fromJson(JSON.parse(text));
  const muts: string[] = [];
  const n = 1 + r.int(2);
  for (let i = 0; i < n; i++) {
    const family = pick(r, families);
    const objs: { node: Node & { k: 'obj' }; path: string }[] = [];
    shardObjects(root, '', objs, r);
    const at = pick(r, objs);
    const o = at.node;
    const ei = o.e.length ? r.int(o.e.length) : -1;
    const entry = ei >= 0 ? o.e[ei] : undefined;
    switch (family) {
      case 'protoKey': {
        const name = JSON.stringify(pick(r, PROTO_NAMES));
        if (entry && r.int(2) === 0) { muts.push(`protoKey ${at.path}.${entry.key} -> ${name}`); entry.key = name; } else {
          o.e.push({ key: name, v: { k: 'raw', t: pick(r, ['1', '"x"', '{}', 'null']) } }); muts.push(`protoKey ${at.path} + ${name}`);
        }
        break;
      }
      case 'dupKey':
        if (!entry) continue;
        o.e.push({ key: entry.key, v: { k: 'raw', t: pick(r, HOSTILE_VALUES.concat(['0', '1'])) } });
        muts.push(`dupKey ${at.path}.${entry.key}`);
        break;
      case 'wrongType':
        if (!entry) continue;
        entry.v = { k: 'raw', t: pick(r, HOSTILE_VALUES) };
        muts.push(`wrongType ${at.path}.${entry.key} -> ${entry.v.t}`);
        break;
      case 'hugeNumber': {
        const nums = objs.flatMap((x) => x.node.e.filter((y) => y.v.k === 'raw' && /^-?\d/.test(y.v.t)).map((y) => ({ y, path: `${x.path}.${y.key}` })));
        if (!nums.length) continue;
        const t = pick(r, nums);
        t.y.v = { k: 'raw', t: pick(r, HUGE) };
        muts.push(`hugeNumber ${t.path} -> ${t.y.v.k === 'raw' ? t.y.v.t : ''}`);
        break;
      }
      case 'missingField':
        if (!entry) continue;
        o.e.splice(ei, 1);
        muts.push(`missingField ${at.path}.${entry.key}`);
        break;
      case 'failures': {
        if (root.k !== 'obj') continue;
        let fl = root.e.find((x) => x.key === '"failures"');
        if (!fl) { fl = { key: '"failures"', v: { k: 'arr', a: [] } }; root.e.push(fl); }
        const hostile = pick(r, [
          '{"__proto__":{"label":"x"},"constructor":1}', '"not a failure"', '{"label":"no such design","model":"dirty-bitmap","invariant":"INV-FLUSH","seed":"s",'
          + '"runIndex":0,"eventIndex":0,"message":"m","trace":"t","replay":"r","rerun":"x","shrunk":null}', '{"label":1}', '[]', 'null',
          '{"label":"L","shrunk":{"trace":1}}', '{"toString":"x","valueOf":"y","hasOwnProperty":"z"}']);
        if (fl.v.k === 'arr' && r.int(4) > 0) fl.v.a.push(fromJson(JSON.parse(hostile))); else fl.v = { k: 'raw', t: pick(r, ['{}', '"x"', '1', 'null']) };
        muts.push(`failures <- ${hostile}`);
        break;
      }
      default: { const never: never = family; return never; }
    }
  }
  const compactRoot = render(root).split('\n').map((l) => l.trim()).join('');
  return { text: compactRoot, mutations: muts };
}
