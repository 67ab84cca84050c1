/**
 * A state as a fixed-size word image (issue 15 item 2, stage 2 of the flat backing): read and write code compiled
 * from a schema's flat layout (schema-layout.ts) for one design and configuration, so that the explorer's frontier
 * (src/explore/store.ts) saves a state as exactly `words` int32 words at fixed offsets and loads it back, with no
 * generic walk, no tags, no shape lookups and no per-value calls through a sink.
 *
 * `imageOf(schema, sized)` generates, with `new Function` over the schema's own field names (as schema-compile.ts
 * does for the object operations), two straight-line functions:
 * - `write(v, w)`: zeroes the first `words` words of `w`, then writes every field of `v` at its layout offset. The
 *   image is a function of the state alone (a list's unused capacity, a null nullable's value and a counter pair
 *   not in use are zeros), so the store's delta between consecutive states is positional.
 * - `read(w, like)`: a fresh private copy of the state the words hold, its static fields `like`'s.
 * Per kind (the layout's words): `int` one word (an integer that is not int32 throws: the image never rounds;
 * one declared `u32` is kept as its int32 bit pattern and read back unsigned, as are the entries of a `u32` list);
 * `bool` 0/1; `enum` its index; `nums` a length word and the capacity; `paged`/`bits` an entry count and the
 * capacity's entries (bitset words are u32 in the state, models/machine/paged.ts: written as their int32 bit
 * pattern, `| 0`, read back unsigned, `>>> 0`; the radix shape is rebuilt from the count, and the writer checks
 * the state has that shape); `record` its fields inline; `nullable` a presence word; `array` a length word and
 * its capacity of elements (each read by a function compiled per array node); `counters` the declared ones, then
 * (1 + name id, value) pairs for counters added by name (ids from a table owned by the image: one image per
 * exploration); `parts` the sizing state's keys in sorted order (a state with other keys throws); `custom` the
 * kind's own `writeWords`/`readWords` (the stage-2 tables).
 *
 * A schema whose layout has an unbounded list (the PTA device's record lists when `deviceRecords` is 0, a `strs`)
 * or a custom kind without word operations has no image (`null`): the explorer then keeps the model's
 * `save`/`load` (schema-compiled, through a `SaveSink`). Exact: a test writes and reads back every state reached
 * in every proof configuration (schema-layout.test.ts) and every model's BFS and walk states (properties).
 *
 * Nothing here reads a clock or does I/O; it is mechanism-agnostic (the models declare the capacities).
 */
import { COUNTER_EXTRA, layoutOf } from './schema-layout.ts';
import { H, Names } from './schema-image-helpers.ts';
import type { CountersS, Schema } from './schema.ts';

/** A model's states of one exploration as fixed-size word images (`Model.image`, the explorer's frontier). */
export interface WordImage<S> {
  /** Words of every image. */
  readonly words: number;
  /** Writes `s` into the first `words` words of `w` (all of them: unused ones as 0). */
  write(s: S, w: Int32Array): void;
  /** A fresh private copy of the state in the first `words` words of `w`; static fields are `like`'s. */
  read(w: Int32Array, like: S): S;
  /**
   * The state in the first `words` words of `w`, read into `into` (a state of the same exploration no longer
   * used: its records, lists and per-page arrays are overwritten in place, what does not fit is allocated) and
   * returned; what `read` gives, without allocating a state per load. `into` must share nothing with a state
   * still in use.
   */
  readInto?(w: Int32Array, into: S, like: S): S;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** An offset: a base variable (or none) plus a constant. */
interface At { readonly b: string; readonly k: number }
const plus = (a: At, k: number): At => ({ b: a.b, k: a.k + k });
const expr = (a: At): string => (a.b === '' ? String(a.k) : a.k === 0 ? a.b : `${a.b} + ${a.k}`);


type Obj = { readonly [k: string]: unknown };

/**
 * Code for one node: its words, the statements writing the value `v` at `at`, the expression reading it, and the
 * statements reading it into the place `d` (an assignable expression holding the recycled value, reused where
 * its shape allows: `readInto`).
 */
interface Gen {
  readonly words: number;
  write(v: string, at: At): string;
  read(at: At, like: string): string;
  into(at: At, d: string, like: string): string;
}

/** `into` for a node read whole (a scalar, or one not worth reusing): the place gets a fresh value. */
const whole = (g: Omit<Gen, 'into'>): Gen => ({ ...g, into: (at, d, like) => `${d} = ${g.read(at, like)};` });

class ImageCompiler {
  private readonly env: unknown[] = [];
  private n = 0;
  constructor(private readonly root: unknown) {}

  ref(x: unknown): string {
    this.env.push(x);
    return `E[${this.env.length - 1}]`;
  }

  fresh(p: string): string {
    return `${p}${this.n++}`;
  }

  fn<T>(args: string, body: string): T {
    return new Function('E', 'H', `return function(${args}) { ${body} };`)(this.env, H) as T;
  }

  /** `sized`: the node's value in the sizing state (undefined where it has none). */
  node(x: Schema, sized: unknown, path: string): Gen {
    const P = JSON.stringify(path);
    const cap = (max: ((r: never) => number) | undefined): number => {
      const c = max ? max(this.root as never) : Infinity;
      if (!Number.isFinite(c)) throw new Error(`[dtsim] state word image: ${path} has no capacity`);
      return c;
    };
    switch (x.kind) {
      case 'int':
        if (x.u32) {
          return whole({
            words: 1,
            write: (v, at) => `x = ${v}; if (x >>> 0 !== x) H.notU32(${P}, x); w[${expr(at)}] = x | 0;`,
            read: (at) => `(w[${expr(at)}] >>> 0)`,
          });
        }
        return whole({
          words: 1,
          write: (v, at) => `x = ${v}; if ((x | 0) !== x) H.notInt(${P}, x); w[${expr(at)}] = x;`,
          read: (at) => `w[${expr(at)}]`,
        });
      case 'bool':
        return whole({ words: 1, write: (v, at) => `w[${expr(at)}] = ${v} ? 1 : 0;`, read: (at) => `(w[${expr(at)}] === 1)` });
      case 'enum': {
        const names = this.ref(x.values);
        const vals = this.ref(x.values);
        return whole({
          words: 1,
          write: (v, at) => `x = ${v}; w[${expr(at)}] = ${x.values.map((s, i) => `x === ${JSON.stringify(s)} ? ${i} : `).join('')}H.badEnum(${P}, ${vals}, x);`,
          read: (at) => `${names}[w[${expr(at)}]]`,
        });
      }
      case 'nums': {
        const c = cap(x.max);
        const u = x.u32 === true;
        return {
          words: 1 + c, write: (v, at) => `H.writeNums(${v}, w, ${expr(at)}, ${c}, ${u}, ${P});`, read: (at) => `H.readNums(w, ${expr(at)}, ${u})`,
          into: (at, d) => `${d} = H.readNumsInto(${d}, w, ${expr(at)}, ${u});`,
        };
      }
      case 'strs':
        throw new Error(`[dtsim] state word image: ${path} is a list of strings (no capacity)`);
      case 'paged': {
        const c = cap(x.max);
        return {
          words: 1 + c,
          write: (v, at) => `H.writePaged(${v}, w, ${expr(at)}, ${c}, ${x.bits}, ${P});`,
          read: (at) => `H.readPaged(w, ${expr(at)}, ${x.bits})`,
          into: (at, d) => `${d} = H.readPagedInto(${d}, w, ${expr(at)}, ${x.bits});`,
        };
      }
      case 'static':
        return { words: 0, write: () => '', read: () => 'undefined', into: () => '' };
      case 'record': {
        const keys = Object.keys(x.fields);
        for (const k of keys) if (!IDENT.test(k)) throw new Error(`[dtsim] schema field name ${JSON.stringify(k)} is not an identifier`);
        const gens: { k: string; f: Schema; g: Gen; off: number }[] = [];
        let words = 0;
        for (const k of keys) {
          const f = x.fields[k] as Schema;
          const o = sized !== null && typeof sized === 'object' ? (sized as Obj)[k] : undefined;
          const g = this.node(f, o, path ? `${path}.${k}` : k);
          gens.push({ k, f, g, off: words });
          words += g.words;
        }
        const readRec = (at: At, like: string): string => `{${gens.map(({ k, f, g, off }) => `${k}: ${f.kind === 'static' ? `${like}?.${k}` : g.read(plus(at, off), `${like}?.${k}`)}`).join(', ')}}`;
        return {
          words,
          write: (v, at) => {
            const r = this.fresh('r');
            return `{ const ${r} = ${v};\n${gens.map(({ k, g, off }) => g.write(`${r}.${k}`, plus(at, off))).filter((s) => s !== '').join('\n')} }`;
          },
          read: readRec,
          // Field by field into the recycled record (its static fields set to `like`'s, as `read` does).
          into: (at, d, like) => {
            const r = this.fresh('r');
            return `{ const ${r} = ${d}; if (!H.isObj(${r})) ${d} = ${readRec(at, like)}; else {\n`
              + gens.map(({ k, f, g, off }) => (f.kind === 'static' ? `${r}.${k} = ${like}?.${k};` : g.into(plus(at, off), `${r}.${k}`, `${like}?.${k}`))).join('\n')
              + ' } }';
          },
        };
      }
      case 'nullable': {
        const g = this.node(x.of, sized === null ? undefined : sized, path);
        return {
          words: 1 + g.words,
          write: (v, at) => {
            const t = this.fresh('t');
            return `{ const ${t} = ${v}; if (${t} !== null) { w[${expr(at)}] = 1; ${g.write(t, plus(at, 1))} } }`;
          },
          read: (at, like) => `(w[${expr(at)}] === 0 ? null : ${g.read(plus(at, 1), like)})`,
          into: (at, d, like) => `if (w[${expr(at)}] === 0) ${d} = null; else { ${g.into(plus(at, 1), d, like)} }`,
        };
      }
      case 'array': {
        const c = cap(x.max);
        const first = Array.isArray(sized) ? sized[0] : undefined;
        const g = this.node(x.of, first, `${path}[]`);
        const e = g.words;
        // One reader per array node (its element's reads inline; a call site of its own).
        const reader = this.ref(this.fn<unknown>('w, at, like', `const n = w[at]; const o = []; for (let i = 0; i < n; i++) { const b = at + 1 + i * ${e}; o.push(${g.read({ b: 'b', k: 0 }, 'like?.[i]')}); } return o;`));
        // Into a recycled list: its first elements in place, the rest read fresh, the length cut to the count.
        const intoer = this.ref(this.fn<unknown>('w, at, o, like', `if (!Array.isArray(o)) return ${reader}(w, at, like); const n = w[at]; const m = o.length < n ? o.length : n;\n`
          + `for (let i = 0; i < m; i++) { const b = at + 1 + i * ${e}; ${g.into({ b: 'b', k: 0 }, 'o[i]', 'like?.[i]')} }\n`
          + `for (let i = m; i < n; i++) { const b = at + 1 + i * ${e}; o.push(${g.read({ b: 'b', k: 0 }, 'like?.[i]')}); }\n`
          + 'if (o.length > n) o.length = n; return o;'));
        return {
          words: 1 + c * e,
          write: (v, at) => {
            const a = this.fresh('a');
            const i = this.fresh('i');
            const b = this.fresh('b');
            return `{ const ${a} = ${v}; const n = ${a}.length; if (n > ${c}) H.over(${P}, n, ${c}); w[${expr(at)}] = n;\n`
              + `for (let ${i} = 0; ${i} < n; ${i}++) { const ${b} = ${expr(plus(at, 1))} + ${i} * ${e}; ${g.write(`${a}[${i}]`, { b, k: 0 })} } }`;
          },
          read: (at, like) => `${reader}(w, ${expr(at)}, ${like})`,
          into: (at, d, like) => `${d} = ${intoer}(w, ${expr(at)}, ${d}, ${like});`,
        };
      }
      case 'counters': {
        const cs: CountersS = x;
        for (const k of cs.keys) if (!IDENT.test(k)) throw new Error(`[dtsim] counter name ${JSON.stringify(k)} is not an identifier`);
        const K = cs.keys.length;
        const declared = this.ref(new Set(cs.keys));
        const names = this.ref(new Names());
        // Read whole: a counter added by name in the recycled state would otherwise have to be deleted.
        return whole({
          words: K + 2 * COUNTER_EXTRA,
          write: (v, at) => {
            const c = this.fresh('c');
            return `{ const ${c} = ${v}; let n = 0;\n`
              + cs.keys.map((k, i) => `x = ${c}.${k}; if ((x | 0) !== x) H.notInt(${JSON.stringify(`${path}.${k}`)}, x); w[${expr(plus(at, i))}] = x; n++;`).join('\n')
              + `\nlet m = 0; for (const _ in ${c}) m++; if (m !== n) H.writeExtra(${c}, w, ${expr(plus(at, K))}, ${declared}, ${names}, ${P}); }`;
          },
          read: (at) => `H.readExtra({${cs.keys.map((k, i) => `${k}: w[${expr(plus(at, i))}]`).join(', ')}}, w, ${expr(plus(at, K))}, ${names})`,
        });
      }
      case 'parts': {
        const o = sized !== null && typeof sized === 'object' ? (sized as Obj) : {};
        const inOrder = Object.keys(o);
        const sorted = [...inOrder].sort();
        const gens = new Map<string, { g: Gen; off: number }>();
        let words = 0;
        for (const k of sorted) {
          const part = x.resolve(k);
          if (!part) throw new Error(`[dtsim] state part '${k}' has no schema (declare one where the part is defined)`);
          const g = this.node(part.schema, o[k], path ? `${path}.${k}` : k);
          gens.set(k, { g, off: words });
          words += g.words;
        }
        const want = this.ref(sorted);
        const readParts = (at: At, like: string): string => `{${inOrder.map((k) => { const { g, off } = gens.get(k) as { g: Gen; off: number }; return `${JSON.stringify(k)}: ${g.read(plus(at, off), `${like}?.[${JSON.stringify(k)}]`)}`; }).join(', ')}}`;
        return {
          words,
          write: (v, at) => {
            const p = this.fresh('p');
            return `{ const ${p} = ${v}; let m = 0; for (const _ in ${p}) m++;\n`
              + `if (m !== ${sorted.length}${sorted.map((k) => ` || !(${JSON.stringify(k)} in ${p})`).join('')}) H.partsKeys(${P}, ${want}, ${p});\n`
              + sorted.map((k) => { const { g, off } = gens.get(k) as { g: Gen; off: number }; return g.write(`${p}[${JSON.stringify(k)}]`, plus(at, off)); }).join('\n')
              + ' }';
          },
          // Built in the sizing state's key order (the order init added the parts).
          read: readParts,
          // Parts are fixed at init: the recycled state has the same keys.
          into: (at, d, like) => {
            const p = this.fresh('p');
            return `{ const ${p} = ${d}; if (!H.isObj(${p})) ${d} = ${readParts(at, like)}; else {\n`
              + inOrder.map((k) => { const { g, off } = gens.get(k) as { g: Gen; off: number }; return g.into(plus(at, off), `${p}[${JSON.stringify(k)}]`, `${like}?.[${JSON.stringify(k)}]`); }).join('\n')
              + ' } }';
          },
        };
      }
      case 'custom': {
        const ops = x.ops;
        if (!ops.words || !ops.writeWords || !ops.readWords) throw new Error(`[dtsim] state word image: ${path} (${x.name}) has no word operations`);
        const O = this.ref(ops);
        const R = this.ref(this.root);
        return whole({
          words: ops.words(this.root),
          write: (v, at) => `${O}.writeWords(${v}, w, ${expr(at)}, ${R});`,
          read: (at) => `${O}.readWords(w, ${expr(at)}, ${R})`,
        });
      }
      default: {
        const never: never = x;
        throw new Error(`[dtsim] unknown schema kind ${JSON.stringify(never)}`);
      }
    }
  }
}

/**
 * The word image of `s` for the state `sized` (the initial state of a design and configuration; `root`, default
 * `sized`, is what the capacities read), or null when the layout has an unbounded list or a custom kind without
 * word operations (the caller keeps its other save/load). Its words are the layout's (`layoutOf`).
 */
export function imageOf<T>(s: Schema, sized: T, root: unknown = sized): WordImage<T> | null {
  const layout = layoutOf(s, sized, root);
  if (layout.unbounded.length > 0) return null;
  const c = new ImageCompiler(root);
  let g: Gen;
  try {
    g = c.node(s, sized, '');
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('[dtsim] state word image:')) return null;
    throw e;
  }
  if (g.words !== layout.words) throw new Error(`[dtsim] state word image: ${g.words} words, the layout ${layout.words} (schema-image.ts and schema-layout.ts disagree)`);
  const words = g.words;
  const write = c.fn<(v: T, w: Int32Array) => void>('v, w', `w.fill(0, 0, ${words}); let x;\n${g.write('v', { b: '', k: 0 })}`);
  const read = c.fn<(w: Int32Array, like: T) => T>('w, like', `return ${g.read({ b: '', k: 0 }, 'like')};`);
  const readInto = c.fn<(w: Int32Array, into: T, like: T) => T>('w, into, like', `let d = into;\n${g.into({ b: '', k: 0 }, 'd', 'like')}\nreturn d;`);
  return { words, write, read, readInto };
}
