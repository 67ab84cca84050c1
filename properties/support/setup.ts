import fc from 'fast-check';
import { fcSeed } from './seed.ts';

// Every property uses the run's seed unless it passes its own (per-property labels give independent streams).
fc.configureGlobal({ seed: fcSeed('global') });
