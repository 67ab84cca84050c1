/**
 * The schema compiler (schema.ts `compile`): one function per operation and schema node, generated with
 * `new Function` over the schema's own field names, records inlining their scalar fields and calling their nested
 * nodes' functions, so every call site sees one shape. The helpers the generated code calls are below.
 */
import type { JsonValue, LoadSource, PackSink, SaveSink } from './model.ts';
import type { Compiled, IntRole, PackCtx, RecordS, Schema } from './schema.ts';
import { checkValue, viewValue } from './schema-check.ts';

// ---------------------------------------------------------------------------------------------------------------
// Helpers the compiled code calls (one shape each: monomorphic).

function copyLeaves(p: number[][][]): number[][][] {
  const out = new Array<number[][]>(p.length);
  for (let i = 0; i < p.length; i++) {
    const m = p[i] as number[][];
    const c = new Array<number[]>(m.length);
    for (let j = 0; j < m.length; j++) c[j] = (m[j] as number[]).slice();
    out[i] = c;
  }
  return out;
}

/** `dst` made equal to `a` when it is an array of the same length, else a fresh copy. */
export function copyNums(dst: unknown, a: readonly number[]): number[] {
  if (!Array.isArray(dst) || dst.length !== a.length) return a.slice();
  const d = dst as number[];
  for (let i = 0; i < a.length; i++) d[i] = a[i] as number;
  return d;
}

export function copyPagedInto(d: number[][][] | undefined | null, p: number[][][]): number[][][] {
  if (!d || d.length !== p.length) return copyLeaves(p);
  for (let i = 0; i < p.length; i++) {
    const dm = d[i] as number[][];
    const pm = p[i] as number[][];
    if (dm.length !== pm.length) { d[i] = pm.map((leaf) => leaf.slice()); continue; }
    for (let k = 0; k < pm.length; k++) dm[k] = copyNums(dm[k], pm[k] as number[]);
  }
  return d;
}

function copyLists(d: number[][] | undefined, a: readonly (readonly number[])[]): number[][] {
  if (!Array.isArray(d) || d.length !== a.length) return a.map((x) => x.slice());
  for (let i = 0; i < a.length; i++) d[i] = copyNums(d[i], a[i] as number[]);
  return d;
}

function savePaged(p: number[][][], out: SaveSink): void {
  out.int(p.length);
  for (let i = 0; i < p.length; i++) {
    const mid = p[i] as number[][];
    out.int(mid.length);
    // Leaves generically: the store keeps long runs of zeros short.
    for (let j = 0; j < mid.length; j++) out.value(mid[j], 1);
  }
}

function loadPaged(src: LoadSource): number[][][] {
  const n = src.int();
  const p: number[][][] = [];
  for (let i = 0; i < n; i++) {
    const m = src.int();
    const mid: number[][] = [];
    for (let j = 0; j < m; j++) mid.push(src.value() as number[]);
    p.push(mid);
  }
  return p;
}

function saveNums(a: readonly number[], out: SaveSink): void {
  out.int(a.length);
  for (let i = 0; i < a.length; i++) out.int(a[i] as number);
}

function loadNums(src: LoadSource): number[] {
  const n = src.int();
  if (n < 0) throw new Error('[dtsim] corrupt state store: a number list expected');
  const a = new Array<number>(n);
  for (let i = 0; i < n; i++) a[i] = src.int();
  return a;
}

function packPaged(p: number[][][], out: PackSink): void {
  for (let i = 0; i < p.length; i++) {
    const m = p[i] as number[][];
    for (let j = 0; j < m.length; j++) {
      const c = m[j] as number[];
      for (let k = 0; k < c.length; k++) out.num(c[k] as number);
    }
  }
}

export function isPaged(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const m of v) {
    if (!Array.isArray(m)) return false;
    for (const c of m) if (!Array.isArray(c) || !c.every((x) => typeof x === 'number')) return false;
  }
  return true;
}

export function viewPaged(p: number[][][], asBits: boolean): JsonValue {
  if (asBits) {
    const set: number[] = [];
    let idx = 0;
    for (const m of p) for (const c of m) for (const w of c) {
      for (let b = 0; b < 32; b++) if ((w >>> b) & 1) set.push(idx * 32 + b);
      idx++;
    }
    return set;
  }
  const out: { [k: string]: JsonValue } = {};
  let idx = 0;
  let dflt: number | undefined;
  for (const m of p) for (const c of m) for (const w of c) {
    if (dflt === undefined) dflt = w;
    if (w !== dflt) out[String(idx)] = w;
    idx++;
  }
  return { default: dflt ?? 0, except: out };
}

/** `d` (or a fresh object) made equal to the counters `v`, without allocating when the key sets match. */
function copyCounters(d: { [k: string]: number } | undefined, v: { [k: string]: number }): { [k: string]: number } {
  if (d === undefined || d === null) return { ...v };
  let n = 0;
  for (const k in v) { d[k] = v[k] as number; n++; }
  let m = 0;
  for (const _ in d) m++;
  if (m !== n) for (const k in d) if (!(k in v)) delete d[k];
  return d;
}

export function sortedKeys(o: object): string[] {
  return Object.keys(o).sort();
}

const H = {
  copyLeaves, copyNums, copyPagedInto, copyLists, savePaged, loadPaged, saveNums, loadNums, packPaged, isPaged,
  viewPaged, sortedKeys, copyCounters,
};


const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export class Compiler {
  node(s: Schema): Compiled<unknown> {
    switch (s.kind) {
      case 'record': return this.record(s);
      default: return this.leafNode(s);
    }
  }

  /** A non-record node: its operations as small closures over the field expressions below. */
  private leafNode(s: Schema): Compiled<unknown> {
    const env: unknown[] = [];
    const self = this.fieldOps(s, env);
    const mk = (args: string, body: string): never => new Function('E', 'H', `return function(${args}) { ${body} };`)(env, H) as never;
    return {
      schema: s,
      clone: mk('v, r', `if (r === undefined) r = v; return ${self.clone('v')};`),
      copyInto: mk('d, v, r', `if (r === undefined) r = v; return ${self.copyInto('d', 'v')};`),
      save: mk('v, out', self.save('v')),
      load: mk('src, like', `return ${self.load('like')};`),
      pack: mk('v, ctx, out', self.pack('v', 'undefined')),
      check: (v: unknown, path = '') => checkValue(s, v, path),
      view: (v: unknown) => viewValue(s, v),
    };
  }

  private record(s: RecordS): Compiled<unknown> {
    const env: unknown[] = [];
    const keys = Object.keys(s.fields);
    for (const k of keys) if (!IDENT.test(k)) throw new Error(`[dtsim] schema field name ${JSON.stringify(k)} is not an identifier`);
    const ops = keys.map((k) => ({ k, f: s.fields[k] as Schema, o: this.fieldOps(s.fields[k] as Schema, env, k) }));
    const mk = (args: string, body: string): never => new Function('E', 'H', `return function(${args}) { ${body} };`)(env, H) as never;
    const clone = `return {${ops.map(({ k, o }) => `${k}: ${o.clone(`v.${k}`)}`).join(', ')}};`;
    const copyInto = `if (d === undefined || d === null) return {${ops.map(({ k, o }) => `${k}: ${o.clone(`v.${k}`)}`).join(', ')}};\n`
      + ops.filter(({ f }) => f.kind !== 'static').map(({ k, f, o }) => {
        if (!f.stale) return `d.${k} = ${o.copyInto(`d.${k}`, `v.${k}`)};`;
        // Stale metric: left as the recycled state's, but for a counter set's live keys.
        if (f.kind !== 'counters') return '';
        return f.live.map((c) => `d.${k}[${JSON.stringify(c)}] = v.${k}[${JSON.stringify(c)}];`).join(' ');
      }).join('\n')
      + '\nreturn d;';
    const save = ops.filter(({ f }) => f.kind !== 'static').map(({ k, o }) => o.save(`v.${k}`)).join('\n');
    // Loads read fields in declaration order (saves wrote them so), then build the object in that same order.
    const load = ops.map(({ k, f, o }) => `const f_${k} = ${f.kind === 'static' ? `(like === undefined || like === null ? undefined : like.${k})` : o.load(`(like === undefined || like === null ? undefined : like.${k})`)};`).join('\n')
      + `\nreturn {${keys.map((k) => `${k}: f_${k}`).join(', ')}};`;
    let pack: string;
    if (s.packWith) pack = `${this.refIn(env, s.packWith)}(v, ctx, out);`;
    else pack = ops.map(({ k, o }) => o.pack(`v.${k}`, 'v')).join('\n');
    return {
      schema: s,
      clone: mk('v, r', `if (r === undefined) r = v; ${clone}`),
      copyInto: mk('d, v, r', `if (r === undefined) r = v; ${copyInto}`),
      save: mk('v, out', save),
      load: mk('src, like', load),
      pack: mk('v, ctx, out', pack),
      check: (v: unknown, path = '') => checkValue(s, v, path),
      view: (v: unknown) => viewValue(s, v),
    };
  }

  private refIn(env: unknown[], v: unknown): string {
    env.push(v);
    return `E[${env.length - 1}]`;
  }

  /** Expressions / statements for one field of kind `f`, its value at `v` (an expression). */
  private fieldOps(f: Schema, env: unknown[], name = 'value'): {
    clone(v: string): string;
    copyInto(d: string, v: string): string;
    save(v: string): string;
    load(like: string): string;
    pack(v: string, rec: string): string;
  } {
    const R = (x: unknown): string => this.refIn(env, x);
    // Canonical encoding of the field, wrapped by the common annotations.
    const wrapPack = (gen: (v: string, rec: string) => string) => (v: string, rec: string): string => {
      if (f.metric || f.fixed || f.kind === 'static' || f.kind === 'counters') return '';
      if (f.pack) return `${R(f.pack)}(${v}, ${rec}, ctx, out);`;
      const body = gen(v, rec);
      if (f.dead) return `if (${R(f.dead)}(${rec}, ctx)) out.num(-2); else { ${body} }`;
      return body;
    };
    const intPack = (role: IntRole, x: string): string => {
      switch (role) {
        case 'vcpu': return `out.num(${x} < 0 ? -1 : ctx.vcpu(${x}));`;
        case 'pe': return `out.num(${x} < 0 ? -1 : ctx.pe(${x}));`;
        case 'vmid': return `out.num(ctx.vmid(${x}));`;
        default: return `out.num(${x});`;
      }
    };
    switch (f.kind) {
      case 'int':
        return { clone: (v) => v, copyInto: (_d, v) => v, save: (v) => `out.int(${v});`, load: () => 'src.int()',
          pack: wrapPack((v) => intPack(f.role, v)) };
      case 'bool':
        return { clone: (v) => v, copyInto: (_d, v) => v, save: (v) => `out.int(${v} ? 1 : 0);`, load: () => '(src.int() === 1)',
          pack: wrapPack((v) => `out.num(${v} ? 1 : 0);`) };
      case 'enum': {
        const names = R(f.values);
        const what = JSON.stringify(` of ${name} (one of ${f.values.join(', ')})`);
        const bad = R((v: unknown): never => { throw new Error(`[dtsim] unknown value ${JSON.stringify(v)}${JSON.parse(what) as string}`); });
        // A chain of comparisons (interned strings: pointer compares), cheaper than a keyed lookup.
        const code = (v: string): string => `(${f.values.map((x, i) => `${v} === ${JSON.stringify(x)} ? ${i} : `).join('')}${bad}(${v}))`;
        return { clone: (v) => v, copyInto: (_d, v) => v, save: (v) => `out.int(${code(v)});`, load: () => `${names}[src.int()]`,
          pack: wrapPack((v) => `out.num(${code(v)});`) };
      }
      case 'nums':
        return {
          clone: (v) => `${v}.slice()`, copyInto: (d, v) => `H.copyNums(${d}, ${v})`, save: (v) => `H.saveNums(${v}, out);`,
          load: () => 'H.loadNums(src)',
          pack: wrapPack((v) => (f.role === 'vcpu' || f.role === 'pe' || f.role === 'vmid'
            ? `out.num(${v}.length); for (let i = 0; i < ${v}.length; i++) { const x = ${v}[i]; ${intPack(f.role, 'x')} }`
            : `out.nums(${v});`)),
        };
      case 'strs':
        return { clone: (v) => `${v}.slice()`, copyInto: (_d, v) => `${v}.slice()`, save: (v) => `out.value(${v}, 4);`,
          load: () => '(src.value())', pack: wrapPack((v) => `out.json(${v});`) };
      case 'paged':
        return { clone: (v) => `H.copyLeaves(${v})`, copyInto: (d, v) => `H.copyPagedInto(${d}, ${v})`, save: (v) => `H.savePaged(${v}, out);`,
          load: () => 'H.loadPaged(src)', pack: wrapPack((v) => `H.packPaged(${v}, out);`) };
      case 'static':
        return { clone: (v) => v, copyInto: (_d, v) => v, save: () => '', load: (like) => like, pack: () => '' };
      case 'counters':
        // Counters are metrics: copied and saved, never packed. Object spread: the key set may grow.
        return { clone: (v) => `({ ...${v} })`, copyInto: (d, v) => `H.copyCounters(${d}, ${v})`, save: (v) => `out.value(${v}, 3);`,
          load: () => '(src.value())', pack: () => '' };
      case 'custom': {
        const O = R(f.ops);
        return { clone: (v) => `${O}.clone(${v}, r)`, copyInto: (d, v) => `${O}.copyInto(${d}, ${v}, r)`, save: (v) => `${O}.save(${v}, out);`,
          load: () => `${O}.load(src)`, pack: wrapPack((v) => `${O}.pack(${v}, ctx, out);`) };
      }
      case 'record': {
        const c = R(this.node(f));
        return { clone: (v) => `${c}.clone(${v}, r)`, copyInto: (d, v) => `${c}.copyInto(${d}, ${v}, r)`, save: (v) => `${c}.save(${v}, out);`,
          load: (like) => `${c}.load(src, ${like})`, pack: wrapPack((v) => `${c}.pack(${v}, ctx, out);`) };
      }
      case 'nullable': {
        const c = R(this.node(f.of));
        return {
          clone: (v) => `(${v} === null ? null : ${c}.clone(${v}, r))`,
          copyInto: (d, v) => `(${v} === null ? null : ${c}.copyInto(${d} === null ? undefined : ${d}, ${v}, r))`,
          save: (v) => `if (${v} === null) out.int(0); else { out.int(1); ${c}.save(${v}, out); }`,
          load: (like) => `(src.int() === 0 ? null : ${c}.load(src, ${like} === null ? undefined : ${like}))`,
          pack: wrapPack((v) => `if (${v} === null) out.num(0); else { out.num(1); ${c}.pack(${v}, ctx, out); }`),
        };
      }
      case 'array': {
        const elem = this.node(f.of);
        const c = R(elem);
        // Compiled per array node (`new Function`), so that each array's calls of its element's operations are a
        // call site of their own (one element shape each), not one shared, megamorphic helper.
        const arrOps = new Function('c', `return {
          clone(a, r) { const o = new Array(a.length); for (let i = 0; i < a.length; i++) o[i] = c.clone(a[i], r); return o; },
          copyInto(d, a, r) {
            if (!Array.isArray(d) || d.length !== a.length) return this.clone(a, r);
            for (let i = 0; i < a.length; i++) d[i] = c.copyInto(d[i], a[i], r);
            return d;
          },
          save(a, out) { out.int(a.length); for (let i = 0; i < a.length; i++) c.save(a[i], out); },
          load(src, like) {
            const n = src.int();
            const o = new Array(n);
            for (let i = 0; i < n; i++) o[i] = c.load(src, like === undefined || like === null ? undefined : like[i]);
            return o;
          },
        };`)(elem) as object;
        const arr = R(arrOps);
        const g = f.group;
        return {
          clone: (v) => `${arr}.clone(${v}, r)`,
          copyInto: (d, v) => `${arr}.copyInto(${d}, ${v}, r)`,
          save: (v) => `${arr}.save(${v}, out);`,
          load: (like) => `${arr}.load(src, ${like})`,
          pack: wrapPack((v) => (g
            ? `for (let j = 0; j < ${v}.length; j++) ${c}.pack(${v}[ctx.order(${JSON.stringify(g)}, j)], ctx, out);`
            : `out.num(${v}.length); for (let i = 0; i < ${v}.length; i++) ${c}.pack(${v}[i], ctx, out);`)),
        };
      }
      case 'parts': {
        type Obj = { [k: string]: unknown };
        let lastKeys: string[] = [];
        let lastParts: Compiled<unknown>[] = [];
        const partOps: {
          resolve(key: string): Compiled<unknown>;
          clone(o: Obj, r: unknown): Obj;
          copyInto(d: Obj | undefined, o: Obj, r: unknown): Obj;
          save(o: Obj, out: SaveSink): void;
          load(src: LoadSource, like: Obj | undefined): Obj;
          pack(o: Obj, ctx: PackCtx, out: PackSink): void;
        } = {
          resolve(key: string): Compiled<unknown> {
            const c2 = f.resolve(key);
            if (!c2) throw new Error(`[dtsim] state part '${key}' has no schema (declare one where the part is defined)`);
            return c2;
          },
          clone(o: { [k: string]: unknown }, r: unknown): { [k: string]: unknown } {
            const out: { [k: string]: unknown } = {};
            for (const k in o) out[k] = this.resolve(k).clone(o[k], r);
            return out;
          },
          copyInto(d: { [k: string]: unknown } | undefined, o: { [k: string]: unknown }, r: unknown): { [k: string]: unknown } {
            if (d === undefined || d === null) return this.clone(o, r);
            for (const k in d) if (!(k in o)) delete d[k];
            for (const k in o) d[k] = this.resolve(k).copyInto(d[k], o[k], r);
            return d;
          },
          save(o: { [k: string]: unknown }, out: SaveSink): void {
            let n = 0;
            for (const _ in o) n++;
            out.int(n);
            for (const k in o) { out.value(k, 2); this.resolve(k).save(o[k], out); }
          },
          load(src: LoadSource, like: { [k: string]: unknown } | undefined): { [k: string]: unknown } {
            const n = src.int();
            const out: { [k: string]: unknown } = {};
            for (let i = 0; i < n; i++) {
              const k = src.value() as string;
              out[k] = this.resolve(k).load(src, like === undefined || like === null ? undefined : like[k]);
            }
            return out;
          },
          pack(o: { [k: string]: unknown }, ctx: PackCtx, out: PackSink): void {
            // The key set is fixed for a design (parts are added at init): reuse the last sorted key list when
            // `o` has exactly its keys, so the hot path sorts and allocates nothing.
            let n = 0;
            for (const _ in o) n++;
            let keys = lastKeys;
            let same = keys.length === n;
            for (let i = 0; same && i < keys.length; i++) same = (keys[i] as string) in o;
            if (!same) { keys = sortedKeys(o); lastKeys = keys; lastParts = keys.map((k) => this.resolve(k)); }
            out.num(n);
            for (let i = 0; i < keys.length; i++) {
              const k = keys[i] as string;
              let c2 = lastParts[i] as Compiled<unknown>;
              // A part registered again (tests swap parts) is looked up afresh.
              if (f.resolve(k) !== c2) { c2 = this.resolve(k); lastParts[i] = c2; }
              c2.pack(o[k], ctx, out);
            }
          },
        };
        const P = R(partOps);
        return { clone: (v) => `${P}.clone(${v}, r)`, copyInto: (d, v) => `${P}.copyInto(${d}, ${v}, r)`, save: (v) => `${P}.save(${v}, out);`,
          load: (like) => `${P}.load(src, ${like})`, pack: wrapPack((v) => `${P}.pack(${v}, ctx, out);`) };
      }
      default: {
        const never: never = f;
        throw new Error(`[dtsim] unknown schema kind ${JSON.stringify(never)}`);
      }
    }
  }
}

