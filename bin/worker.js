// Worker-thread entry for campaign pools: registers the TypeScript loader, then runs src/cli/worker.ts.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/worker.ts');
