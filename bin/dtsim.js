#!/usr/bin/env node
// The `dtsim` command. Two ways to run, chosen by what sits beside this file:
// - an installed package (npm install dtsim, or the packed tarball) ships no TypeScript sources, only the
//   compiled ESM in dist/ (`npm run build`, run by `prepack`): it runs dist/src/cli/main.js with plain node,
//   no tsx and no loader;
// - a source checkout (src/cli/main.ts exists: a clone right after `npm ci`, the tests, `npx dtsim` in the repo)
//   always runs the TypeScript sources through tsx, even when a dist/ from an earlier build is there, so the
//   sources you edit are the code that runs and a stale build can never answer for them (no build step needed).
// DTSIM_ENTRY=dist forces the compiled build in a checkout (after `npm run build`; bench/startup.ts uses it);
// DTSIM_ENTRY=src forces the sources. Worker threads follow the same choice (src/cli/pool.ts).
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const forced = process.env.DTSIM_ENTRY;
if (forced !== undefined && forced !== '' && forced !== 'dist' && forced !== 'src') {
  console.error(`dtsim: DTSIM_ENTRY must be 'dist' or 'src', not '${forced}'`);
  process.exit(2);
}
const useSources = forced === 'src' || (forced !== 'dist' && existsSync(sources));
if (useSources && !existsSync(sources)) {
  console.error(`dtsim: DTSIM_ENTRY=src but there are no sources at ${sources.pathname} (an installed package runs dist/)`);
  process.exit(2);
}
if (!useSources && !existsSync(compiled)) {
  console.error(`dtsim: no compiled build at ${compiled.pathname}: run \`npm run build\` first (or unset DTSIM_ENTRY)`);
  process.exit(2);
}
if (useSources) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { main } = await import(useSources ? sources.href : compiled.href);
process.exitCode = await main(process.argv.slice(2));
