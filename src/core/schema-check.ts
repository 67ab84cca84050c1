/**
 * The interpreted (not hot) operations of a schema: the shape check and the labelled JSON view.
 */
import type { JsonValue } from './model.ts';
import type { Schema } from './schema.ts';
import { isPaged, sortedKeys, viewPaged } from './schema-compile.ts';

// Interpreted (not hot): shape checks and views.

export function checkValue(s: Schema, v: unknown, path: string): string | null {
  const at = path || '(state)';
  const isInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x);
  switch (s.kind) {
    case 'int': return isInt(v) ? null : `${at}: must be an integer`;
    case 'bool': return typeof v === 'boolean' ? null : `${at}: must be a boolean`;
    case 'enum': return typeof v === 'string' && (s.values as readonly string[]).includes(v) ? null : `${at}: must be one of ${s.values.join(', ')}`;
    case 'nums': return Array.isArray(v) && v.every(isInt) ? null : `${at}: must be a list of integers`;
    case 'strs': return Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : `${at}: must be a list of strings`;
    case 'paged': return isPaged(v) ? null : `${at}: must be a per-page array (number[][][])`;
    case 'static': return null;
    case 'counters': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at}: must be an object of counters`;
      for (const [k, x] of Object.entries(v)) if (typeof x !== 'number') return `${at}.${k}: must be a number`;
      return null;
    }
    case 'custom': { const e = s.ops.check(v); return e === null ? null : `${at}: ${e}`; }
    case 'nullable': return v === null ? null : checkValue(s.of, v, path);
    case 'array': {
      if (!Array.isArray(v)) return `${at}: must be an array`;
      for (let i = 0; i < v.length; i++) { const e = checkValue(s.of, v[i], `${path}[${i}]`); if (e) return e; }
      return null;
    }
    case 'record': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at}: must be an object`;
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!Object.prototype.hasOwnProperty.call(s.fields, k)) return `${path ? `${path}.` : ''}${k}: not in the schema (declare it)`;
      for (const k of Object.keys(s.fields)) {
        if (!(k in o)) return `${path ? `${path}.` : ''}${k}: missing`;
        const e = checkValue(s.fields[k] as Schema, o[k], path ? `${path}.${k}` : k);
        if (e) return e;
      }
      return null;
    }
    case 'parts': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at}: must be an object`;
      for (const [k, x] of Object.entries(v)) {
        const c = s.resolve(k);
        if (!c) return `${path}.${k}: no schema for this part`;
        const e = c.check(x, `${path}.${k}`);
        if (e) return e;
      }
      return null;
    }
    default: { const never: never = s; return `unknown kind ${JSON.stringify(never)}`; }
  }
}

export function viewValue(s: Schema, v: unknown): JsonValue {
  switch (s.kind) {
    case 'int': case 'bool': case 'enum': return v as JsonValue;
    case 'nums': case 'strs': return (v as JsonValue[]).slice();
    case 'paged': return viewPaged(v as number[][][], s.bits);
    case 'static': return null;
    case 'counters': return { ...(v as { [k: string]: number }) };
    case 'custom': return s.ops.view(v as never);
    case 'nullable': return v === null ? null : viewValue(s.of, v);
    case 'array': return (v as unknown[]).map((x) => viewValue(s.of, x));
    case 'record': {
      const out: { [k: string]: JsonValue } = {};
      for (const k of Object.keys(s.fields)) if ((s.fields[k] as Schema).kind !== 'static') out[k] = viewValue(s.fields[k] as Schema, (v as Record<string, unknown>)[k]);
      return out;
    }
    case 'parts': {
      const out: { [k: string]: JsonValue } = {};
      for (const k of sortedKeys(v as object)) {
        const c = s.resolve(k);
        out[k] = c ? c.view((v as Record<string, unknown>)[k]) : ((v as Record<string, JsonValue>)[k] as JsonValue);
      }
      return out;
    }
    default: { const never: never = s; return never; }
  }
}
