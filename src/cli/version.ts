/**
 * `dtsim --version` (also `dtsim version`, `-V`): the package's version, read from the package.json of the
 * installed dtsim (the nearest one above this file named `dtsim`, so it holds from the sources, from a compiled
 * build and from node_modules alike), and the trace format version this dtsim writes (src/trace/format.ts
 * TRACE_VERSION; every older one is migrated on read). Traces record TOOL_VERSION as `tool.version`: a test
 * keeps it equal to the package's version.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOL_VERSION, TRACE_VERSION } from '../trace/format.ts';

/** The `version` of the nearest package.json named `dtsim` above this module; TOOL_VERSION if none is found. */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'dtsim' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No (readable) package.json here: look in the parent folder.
    }
    const up = dirname(dir);
    if (up === dir) return TOOL_VERSION;
    dir = up;
  }
}

/** What `dtsim --version` prints. */
export function versionText(): string {
  return `dtsim ${packageVersion()}\ntrace format version ${TRACE_VERSION} (older versions are migrated on read)\n`;
}
