/**
 * Command-line design input is untrusted too: `--option __proto__=...` and `--config '{"__proto__": ...}'` are
 * refused as unknown fields (exit 2), never silently dropped by a prototype assignment.
 */
import { describe, expect, it } from 'vitest';
import { designFromFlags, parseOptionFlags } from './registry.ts';
import { UsageError } from './errors.ts';

describe('design flags, hostile keys', () => {
  it('--option with a prototype name is an own key, refused as an unknown option', () => {
    const o = parseOptionFlags(['__proto__={"consumer":"ring"}']);
    expect(Object.keys(o)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    for (const name of ['__proto__', 'constructor', 'toString']) {
      expect(() => designFromFlags({ model: 'dirty-bitmap', option: [`${name}={"consumer":"ring"}`] }, {})).toThrow(UsageError);
      expect(() => designFromFlags({ model: 'dirty-bitmap', option: [`${name}=1`] }, {})).toThrow(`--option options.${name}: unknown option`);
    }
  });
  it('--config with a prototype name is refused as an unknown field; a non-object --config is refused', () => {
    expect(() => designFromFlags({ model: 'dirty-bitmap', config: '{"__proto__":{"vcpus":5}}' }, {})).toThrow('--config config.__proto__: unknown field');
    expect(() => designFromFlags({ model: 'dirty-bitmap', config: '5' }, {})).toThrow('--config: must be a JSON object');
    expect(designFromFlags({ model: 'dirty-bitmap', config: '{"vcpus":3}' }, {}).config).toMatchObject({ vcpus: 3 });
  });
});
