#!/usr/bin/env node
// Thin launcher: registers the tsx loader so the TypeScript sources run as they are, with no build step
// (a fresh `npm ci` is enough), then hands over to the CLI.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
