/**
 * Traces are untrusted input. Thousands of corrupted traces (truncated text, type swaps, deleted fields,
 * out-of-range and huge numbers, unknown event types, deep nesting, newer versions, unknown models and knobs)
 * go through the reader: it returns ok or an error with a kind, a field and a line, and never throws; an accepted
 * trace replays without throwing (an event that is not enabled is rejected, not crashed on). At the CLI,
 * `dtsim replay` of corrupted files exits 2 with one line naming the file and no stack.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseTrace, serializeTrace, TRACE_VERSION } from '../src/trace/format.ts';
import { replay } from '../src/core/engine.ts';
import { lookupModel } from '../src/cli/registry.ts';
import type { EventBase } from '../src/core/model.ts';
import { SEED, fcSeed } from './support/seed.ts';
import { knobTraces, regressionTraces } from './support/failing-traces.ts';
import { errorProblems, FAMILIES, fuzzCase, runCase, seedTraces } from './support/fuzz.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const samples = [...regressionTraces(), ...knobTraces().slice(0, 4)].map((t) => (t.file ? serializeTrace(t.trace) : serializeTrace(t.trace)));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path in a document (objects and arrays), root first. */
function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => { if (out.length < 5000) paths(x, [...at, i], out); });
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) { if (out.length < 5000) paths(v[k] as Json, [...at, k], out); }
  return out;
}

function setAt(doc: Json, p: Path, f: (old: Json) => Json | undefined): Json {
  if (p.length === 0) return f(doc) ?? null;
  const [h, ...rest] = p;
  if (Array.isArray(doc) && typeof h === 'number') {
    const c = [...doc];
    if (rest.length === 0) { const nv = f(c[h] as Json); if (nv === undefined) c.splice(h, 1); else c[h] = nv; } else c[h] = setAt(c[h] as Json, rest, f);
    return c;
  }
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && typeof h === 'string') {
    const c = { ...doc };
    if (rest.length === 0) { const nv = f(c[h] as Json); if (nv === undefined) delete c[h]; else c[h] = nv; } else c[h] = setAt(c[h] as Json, rest, f);
    return c;
  }
  return doc;
}

function deep(n: number, leaf: Json): Json {
  let v: Json = leaf;
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

const replacement = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e300, -1e300, '', 'x', [], {}, [1, 2], { type: 'x' }),
  fc.integer(), fc.double({ noNaN: true }).map((d) => (Number.isFinite(d) ? d : 0)), fc.string({ maxLength: 12 }),
  fc.constantFrom('guest/storeTeleported', 'vmm/vmStopped', 'kvm/ioctlReturned', '__proto__', 'constructor', 'toString'),
  fc.integer({ min: 10, max: 3000 }).map((n) => deep(n, 1)),
);

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'replace'; pick: number; value: Json }
  | { kind: 'delete'; pick: number }
  | { kind: 'version'; v: number }
  | { kind: 'garble'; at: number; ch: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: replacement }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: replacement }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('version' as const), v: fc.constantFrom(0, -1, 1, TRACE_VERSION, TRACE_VERSION + 1, 1e9, 1.5) }),
  fc.record({ kind: fc.constant('garble' as const), at: fc.nat(), ch: fc.constantFrom('"', '{', ']', ',', '\\', '\u0000', 'x', '9') }),
);

function corrupt(text: string, muts: readonly Mutation[]): string {
  let t = text;
  for (const m of muts) {
    if (m.kind === 'truncate') { t = t.slice(0, m.at % (t.length + 1)); continue; }
    if (m.kind === 'garble') { const i = m.at % (t.length + 1); t = t.slice(0, i) + m.ch + t.slice(i + 1); continue; }
    let doc: Json;
    try { doc = JSON.parse(t) as Json; } catch { continue; }
    if (m.kind === 'version') { doc = setAt(doc, ['formatVersion'], () => m.v); t = JSON.stringify(doc, null, 1); continue; }
    const ps = paths(doc);
    const p = ps[m.pick % ps.length] as Path;
    doc = setAt(doc, p, m.kind === 'delete' ? () => undefined : () => m.value);
    t = JSON.stringify(doc, null, 1);
  }
  return t;
}

describe(`trace reader never crashes (seed ${SEED})`, () => {
  it('returns ok or an error with kind, field and line for thousands of corrupted traces; accepted ones replay without throwing', () => {
    expect(samples.length).toBeGreaterThan(0);
    fc.assert(fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (si, muts) => {
      const text = corrupt(samples[si % samples.length] as string, muts);
      const r = parseTrace(text, lookupModel);
      if (!r.ok) {
        expect(typeof r.error.kind).toBe('string');
        expect(typeof r.error.field).toBe('string');
        expect(typeof r.error.message).toBe('string');
        expect(r.error.message.length).toBeGreaterThan(0);
        expect(r.error.message).not.toContain('\n');
        if (r.error.line !== null) expect(r.error.line).toBeGreaterThanOrEqual(1);
        return;
      }
      const o = replay(r.model, r.trace.design, r.trace.config, r.trace.events as EventBase[], { path: 'fast' });
      expect(['ok', 'violated', 'rejected']).toContain(o.status);
    }), { numRuns: 2000, seed: fcSeed('trace-reader-fuzz') });
  });

  it('dtsim replay exits 2 with one line naming the file and no stack for corrupted files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-bad-'));
    try {
      const good = samples[0] as string;
      const doc = JSON.parse(good) as { [k: string]: Json };
      const events = doc['events'] as Json[];
      const withEvent = (i: number, f: (e: { [k: string]: Json }) => void): string => {
        const d = JSON.parse(good) as { [k: string]: Json };
        f((d['events'] as { [k: string]: Json }[])[i] as { [k: string]: Json });
        return serializeLike(d);
      };
      const serializeLike = (d: { [k: string]: Json }): string => {
        const { events: ev, ...head } = d;
        return `{\n${Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`).join('\n')}\n  "events": [\n${(ev as Json[]).map((e) => `    ${JSON.stringify(e)}`).join(',\n')}\n  ]\n}\n`;
      };
      const last = events.length - 1;
      const cases: { name: string; text: string; field: RegExp }[] = [
        { name: 'truncated', text: good.slice(0, Math.floor(good.length / 2)), field: /:\d+: not valid JSON/ },
        { name: 'unknown-event', text: withEvent(last, (e) => { e['type'] = 'guest/storeTeleported'; }), field: new RegExp(`:\\d+: events\\[${last}\\]\\.type: unknown event type`) },
        { name: 'wrong-type', text: withEvent(0, (e) => { for (const k of Object.keys(e)) if (k !== 'type') e[k] = 'seven'; }), field: /:\d+: events\[0\]\.\w+: / },
        { name: 'page-out-of-range', text: good.replace(/"gfn":\d+/, '"gfn":99999999'), field: /:\d+: events\[\d+\]\.gfn: page 99999999 out of range/ },
        { name: 'vcpu-out-of-range', text: good.replace(/"vcpu":\d+/, '"vcpu":42'), field: /:\d+: events\[\d+\]\.vcpu: vCPU 42 out of range/ },
        { name: 'unknown-model', text: good.replace(/"model":"[^"]+"/, '"model":"no-such-model"'), field: /:\d+: design\.model: unknown model "no-such-model"/ },
        { name: 'unknown-knob', text: good.replace(/"bugs":\[[^\]]*\]/, '"bugs":["no-such-knob"]'), field: /:\d+: design\.bugs\[0\]: unknown bug/ },
        { name: 'newer-version', text: good.replace(/"formatVersion": \d+/, `"formatVersion": ${TRACE_VERSION + 1}`), field: /:\d+: formatVersion: version \d+ is newer/ },
        { name: 'deep-nesting', text: good.replace(/"note": "[^"]*"/, `"note": ${JSON.stringify(deep(5000, 1))}`), field: /: / },
        { name: 'not-an-object', text: '[1,2,3]\n', field: /:1: a trace must be a JSON object/ },
        { name: 'null', text: 'null\n', field: /:1: a trace must be a JSON object/ },
        { name: 'empty', text: '', field: /:1: not valid JSON/ },
      ];
      for (const c of cases) {
        const file = join(dir, `${c.name}.json`);
        writeFileSync(file, c.text);
        const r = spawnSync(process.execPath, [join(ROOT, 'bin/dtsim.js'), 'replay', file], { encoding: 'utf8' });
        expect(r.status, `${c.name}: ${r.stderr}`).toBe(2);
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines.length, `${c.name}: ${r.stderr}`).toBe(1);
        expect(r.stderr, c.name).toContain(file);
        expect(r.stderr, c.name).toMatch(c.field);
        expect(r.stderr, c.name).not.toMatch(/\n\s+at /);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Hostile input (issue 20): the mutators bench/fuzz-reader.ts runs at >= 20,000 cases, a sample here.
  it('hostile keys, types, options, bugs, config, numbers and text: every case parses (then replays) or fails with a line and a one-line field error', () => {
    const seeds = seedTraces(ROOT);
    expect(seeds.length).toBeGreaterThan(10);
    const seen = new Set<string>();
    const bad: string[] = [];
    for (let i = 0; i < 600; i++) {
      const base = seeds[i % seeds.length] as { file: string; text: string };
      const c = fuzzCase(base.text, SEED, `test/${i}`);
      for (const m of c.mutations) seen.add(m.family);
      const o = runCase(base.text, c.text);
      const label = `case test/${i} of ${base.file} (${c.mutations.map((m) => `${m.family}: ${m.what}`).join('; ')})`;
      if (o.cls === 'crash') bad.push(`${label}: threw ${o.message}`);
      else if (o.cls === 'parse-error') { const p = errorProblems(o); if (p.length) bad.push(`${label}: ${p.join('; ')}`); }
      else if (o.cls === 'rejected-event' && (o.message === '' || o.message.includes('\n'))) bad.push(`${label}: rejected without a one-line reason`);
    }
    expect(bad.slice(0, 10)).toEqual([]);
    expect([...seen].sort()).toEqual([...FAMILIES].sort());
  });

  it('the CLI on hostile files: exit 0/1/2, at most one stderr line, no stack, no hang, no file created or modified', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsim-hostile-'));
    try {
      const good = readFileSync(join(ROOT, 'traces/regressions/dirty-ring-reset-no-tlb-flush.json'), 'utf8');
      const hostile: { name: string; text: string }[] = [
        { name: 'option-proto', text: good.replace('"options":{', '"options":{"__proto__":{"consumer":"ring"},') },
        { name: 'option-constructor', text: good.replace('"options":{', '"options":{"constructor":true,') },
        { name: 'type-constructor', text: good.replace(/"type":"vmm\/pageCopied"/, '"type":"constructor"') },
        { name: 'type-toString', text: good.replace(/"type":"vmm\/pageCopied"/, '"type":"toString"') },
        { name: 'type-lookalike', text: good.replace(/"type":"vmm\/pageCopied"/, '"type":"vmm/pageC\u043epied"') },
        { name: 'event-hasOwnProperty', text: good.replace(/"gfn":(\d+)/, '"gfn":$1,"hasOwnProperty":1') },
        { name: 'dup-key', text: good.replace(/"gfn":(\d+)/, '"gfn":$1,"gfn":0') },
        { name: 'minus-zero', text: good.replace(/"gfn":\d+/, '"gfn":-0') },
        { name: 'huge-number', text: good.replace(/"gfn":\d+/, '"gfn":1e400') },
        { name: 'bug-proto', text: good.replace(/"bugs":\[/, '"bugs":["__proto__",') },
        { name: 'config-proto', text: good.replace('"config": {', '"config": {"__proto__":{"vcpus":9},') },
        { name: 'expect-lookalike', text: good.replace('"expect"', '"expe\u0441t"') },
        { name: 'labels-proto', text: good.replace('"labels": {}', '"labels": {"__proto__":"x"}') },
        { name: 'control-chars', text: good.replace(/"type":"vmm\/pageCopied"/, '"type":"vmm/\u0000\u001b[2J\u2028x"') },
      ];
      for (const h of hostile) writeFileSync(join(dir, `${h.name}.json`), h.text);
      const before = readdirSync(dir).sort();
      const run = (args: string[]): Promise<{ code: number | null; stderr: string; timedOut: boolean }> => new Promise((resolve) => {
        const p = spawn(process.execPath, [join(ROOT, 'bin/dtsim.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        let timedOut = false;
        const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, 60_000);
        p.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
        p.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr, timedOut }); });
      });
      const jobs = hostile.map((h, i) => {
        const file = join(dir, `${h.name}.json`);
        return i % 3 === 2 ? ['shrink', file, '--out', join(dir, `${h.name}.shrunk.json`), '--max-tests', '50'] : ['replay', file];
      });
      const results: { args: string[]; code: number | null; stderr: string; timedOut: boolean }[] = [];
      for (let k = 0; k < jobs.length; k += 2) {
        const pair = jobs.slice(k, k + 2);
        results.push(...(await Promise.all(pair.map(async (args) => ({ args, ...(await run(args)) })))));
      }
      for (const r of results) {
        const what = `${r.args.join(' ')}: ${r.stderr}`;
        expect(r.timedOut, what).toBe(false);
        expect([0, 1, 2], what).toContain(r.code);
        expect(r.stderr.trimEnd().split('\n').length, what).toBeLessThanOrEqual(1);
        expect(r.stderr, what).not.toMatch(/\n\s+at |internal error/);
        expect(r.stderr, what).toMatch(/^(dtsim: .*\.json:\d+: [\x20-\x7e]+\n)?$/);
        // every hostile file here is refused
        expect(r.code, what).toBe(2);
      }
      expect(readdirSync(dir).sort()).toEqual(before);
      for (const h of hostile) expect(readFileSync(join(dir, `${h.name}.json`), 'utf8')).toBe(h.text);
      expect(existsSync(join(dir, 'option-proto.shrunk.json'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
