/**
 * Debian's headless Chromium for the page tests (show --html, compare --html): whether it is there (skipped
 * locally when missing, an error under CI, where .ci/run installs it), and one browser plus a temporary folder
 * per `describe` block, closed and removed after it.
 */
import { afterAll, beforeAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Is Chromium installed? Throws under CI when it is not; warns (the caller skips) otherwise. */
export function haveChromium(test: string): boolean {
  const have = existsSync(CHROMIUM);
  if (!have && process.env['CI']) throw new Error(`${CHROMIUM} is missing: .ci/run must apt-get install -y chromium before the tests`);
  if (!have) console.warn(`[${test}] skipping the browser test: ${CHROMIUM} not found (apt-get install -y chromium)`);
  return have;
}

/** Call inside a `describe`: a headless browser and a temporary folder for its tests, cleaned up after them. */
export function headlessBrowser(prefix: string): { browser(): Browser; dir(): string } {
  let browser: Browser | undefined;
  let dir = '';
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    browser: () => { if (!browser) throw new Error('the browser is not launched yet'); return browser; },
    dir: () => dir,
  };
}
