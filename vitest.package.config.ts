import { defineConfig } from 'vitest/config';

/**
 * `npm run test:package`: the pack-install-use test alone (packaging/), kept out of `npm test` because it builds,
 * packs and runs `npm install` in a temporary project (minutes, not seconds). `.ci/run` runs it after `npm test`.
 */
export default defineConfig({
  test: {
    include: ['packaging/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
