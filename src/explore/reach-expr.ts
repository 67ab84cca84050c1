/**
 * The `dtsim explore --reach` expression language: a tiny predicate over the JSON view of a model's state, read
 * generically (no mechanism knowledge: any model whose state is plain JSON). Grammar:
 *
 *   expr    := and ('||' and)*
 *   and     := unary ('&&' unary)*
 *   unary   := '!' unary | cmp
 *   cmp     := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
 *   operand := '(' expr ')' | number | "string" (JSON) | true | false | null | path
 *   path    := name ('.' name | '[' integer ']')*          name: [A-Za-z_$][A-Za-z0-9_$]*
 *
 * e.g. `vmm.phase == "done" && vcpus[0].run == "guest"`, `vmm.round >= 2`, `!vmm.finalCollect`,
 * `vmm.toCopyCount > 0 || stats.collections == 0`. A path reads own properties only (`length` of an array or a
 * string included; nothing of a prototype). `==`/`!=` compare any JSON values (arrays and objects by their
 * canonical JSON); `<`, `<=`, `>`, `>=` compare two numbers or two strings, else are false. `&&`, `||` and `!`
 * take booleans, and a bare path must be a boolean. A path missing in a state, or of the wrong type, makes the
 * comparison or the operator false there; `check` against the initial state turns those into errors (a
 * misspelled field is refused up front, not silently never reached). Pure: no I/O.
 */
import { canonicalJson } from '../core/fingerprint.ts';

type Node =
  | { readonly k: 'or' | 'and'; readonly a: Node; readonly b: Node; readonly col: number }
  | { readonly k: 'not'; readonly a: Node; readonly col: number }
  | { readonly k: 'cmp'; readonly op: '==' | '!=' | '<' | '<=' | '>' | '>='; readonly a: Node; readonly b: Node; readonly col: number }
  | { readonly k: 'lit'; readonly v: null | boolean | number | string; readonly col: number }
  | { readonly k: 'path'; readonly steps: readonly (string | number)[]; readonly text: string; readonly col: number };

/** A parse or check error: a message and the 1-based column of the expression it is about. */
export class ReachExprError extends Error {
  constructor(message: string, readonly column: number) { super(message); }
}

const MISSING: unique symbol = Symbol('missing');
type Val = unknown | typeof MISSING;

/** A compiled predicate: `test(state)` evaluates it; `check(state)` throws a ReachExprError where `test` would
 * read a missing field or a value of the wrong type (call it on the initial state). */
export interface ReachPredicate {
  readonly source: string;
  test(state: unknown): boolean;
  check(state: unknown): void;
}

export function parseReach(src: string): ReachPredicate {
  let i = 0;
  const ws = (): void => { while (i < src.length && /\s/.test(src[i]!)) i++; };
  const fail = (msg: string, at = i): never => { throw new ReachExprError(msg, at + 1); };
  const eat = (t: string): boolean => { ws(); if (src.startsWith(t, i)) { i += t.length; return true; } return false; };
  const expr = (): Node => {
    let a = and();
    for (;;) { const col = i; if (!eat('||')) return a; a = { k: 'or', a, b: and(), col }; }
  };
  const and = (): Node => {
    let a = unary();
    for (;;) { const col = i; if (!eat('&&')) return a; a = { k: 'and', a, b: unary(), col }; }
  };
  const unary = (): Node => {
    ws();
    const col = i;
    if (src[i] === '!' && src[i + 1] !== '=') { i++; return { k: 'not', a: unary(), col }; }
    return cmp();
  };
  const cmp = (): Node => {
    const a = operand();
    ws();
    const col = i;
    for (const op of ['==', '!=', '<=', '>=', '<', '>'] as const) {
      if (src.startsWith(op, i)) { i += op.length; return { k: 'cmp', op, a, b: operand(), col }; }
    }
    return a;
  };
  const operand = (): Node => {
    ws();
    const col = i;
    if (i >= src.length) return fail('expected a value, a path or (', i);
    if (eat('(')) { const e = expr(); if (!eat(')')) fail("expected ')'"); return e; }
    const num = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) { i += num[0].length; return { k: 'lit', v: Number(num[0]), col }; }
    if (src[i] === '"') {
      const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(src.slice(i));
      if (!m) return fail('unterminated or invalid string');
      i += m[0].length;
      return { k: 'lit', v: JSON.parse(m[0]) as string, col };
    }
    const name = /^[A-Za-z_$][\w$]*/.exec(src.slice(i));
    if (!name) return fail(`unexpected '${src[i]}'`);
    i += name[0].length;
    if (name[0] === 'true' || name[0] === 'false') return { k: 'lit', v: name[0] === 'true', col };
    if (name[0] === 'null') return { k: 'lit', v: null, col };
    const steps: (string | number)[] = [name[0]];
    for (;;) {
      if (src[i] === '.') {
        const n = /^[A-Za-z_$][\w$]*/.exec(src.slice(i + 1));
        if (!n) fail("expected a field name after '.'", i + 1);
        steps.push(n![0]); i += 1 + n![0].length;
      } else if (src[i] === '[') {
        const n = /^\[(0|[1-9]\d*)\]/.exec(src.slice(i));
        if (!n) fail("expected '[index]' (a non-negative integer)");
        steps.push(Number(n![1])); i += n![0].length;
      } else break;
    }
    return { k: 'path', steps, text: src.slice(col, i), col };
  };
  const root = expr();
  ws();
  if (i < src.length) fail(`unexpected '${src.slice(i, i + 10)}'`);
  if (root.k === 'lit') fail('the expression is a constant', 0);

  const read = (state: unknown, steps: readonly (string | number)[]): Val => {
    let v: unknown = state;
    for (const s of steps) {
      if (typeof v === 'string' && s === 'length') { v = v.length; continue; }
      if (typeof v !== 'object' || v === null) return MISSING;
      if (typeof s === 'number' ? !Array.isArray(v) : Array.isArray(v) && s !== 'length') return MISSING;
      if (!Object.hasOwn(v, s)) return MISSING;
      v = (v as Record<string | number, unknown>)[s];
    }
    return v;
  };
  // `strict`: throw where `test` would quietly be false (a missing field, a wrong type).
  const value = (n: Node, st: unknown, strict: boolean): Val => {
    switch (n.k) {
      case 'lit': return n.v;
      case 'path': {
        const v = read(st, n.steps);
        if (v === MISSING && strict) throw new ReachExprError(`'${n.text}' is not a field of the state`, n.col + 1);
        return v;
      }
      case 'or': case 'and': case 'not': case 'cmp': return truth(n, st, strict);
      default: { const never: never = n; throw new Error(`[dtsim] unknown node ${String(never)}`); }
    }
  };
  const bool = (n: Node, st: unknown, strict: boolean): boolean => {
    const v = value(n, st, strict);
    if (typeof v === 'boolean') return v;
    if (strict) throw new ReachExprError(`expected a boolean, got ${v === MISSING ? 'nothing' : canonicalJson(v as never)}`, n.col + 1);
    return false;
  };
  const truth = (n: Node, st: unknown, strict: boolean): boolean => {
    switch (n.k) {
      case 'or': return strict ? [bool(n.a, st, true), bool(n.b, st, true)].some((x) => x) : bool(n.a, st, false) || bool(n.b, st, false);
      case 'and': return strict ? [bool(n.a, st, true), bool(n.b, st, true)].every((x) => x) : bool(n.a, st, false) && bool(n.b, st, false);
      case 'not': return !bool(n.a, st, strict);
      case 'cmp': {
        const a = value(n.a, st, strict);
        const b = value(n.b, st, strict);
        if (a === MISSING || b === MISSING) return false;
        if (n.op === '==' || n.op === '!=') {
          const eq = typeof a === 'object' || typeof b === 'object' ? canonicalJson(a as never) === canonicalJson(b as never) : a === b;
          return n.op === '==' ? eq : !eq;
        }
        if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) {
          if (strict) throw new ReachExprError(`'${n.op}' compares two numbers or two strings`, n.col + 1);
          return false;
        }
        switch (n.op) {
          case '<': return a < b;
          case '<=': return a <= b;
          case '>': return a > b;
          case '>=': return a >= b;
          default: { const never: never = n.op; throw new Error(`[dtsim] unknown operator ${String(never)}`); }
        }
      }
      case 'lit': case 'path': return bool(n, st, strict);
      default: { const never: never = n; throw new Error(`[dtsim] unknown node ${String(never)}`); }
    }
  };
  return {
    source: src,
    test: (state) => bool(root, state, false),
    check: (state) => { bool(root, state, true); },
  };
}
