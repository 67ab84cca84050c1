/** Programmer errors (a broken internal assumption) throw; expected outcomes are returned as data. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`[dtsim] assertion failed: ${message}`);
}

export function assertNever(x: never): never {
  throw new Error(`[dtsim] unexpected value: ${JSON.stringify(x)}`);
}
