/**
 * Every saved trace: the `*.json` files under traces/ (recursively, sorted), for the tests that walk them all
 * (each replays to its expect block; each mechanism's `pendingIndex` agrees with its `pending` along them).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function savedTraceFiles(dir = 'traces'): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...savedTraceFiles(p));
    else if (n.endsWith('.json')) out.push(p);
  }
  return out.sort();
}
